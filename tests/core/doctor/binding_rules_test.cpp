// Rules 10 (binding), 12 (kernelspecs) and 15 (zombie memory) over built prefixes, kernel.json
// files in temp directories and NVML, lease and zombie facts constructed directly.
#include <gpuenv/core/doctor/doctor.hpp>

#include <gtest/gtest.h>

#include <algorithm>

#include <gpuenv/core/env/prefix.hpp>

#include <support/conda_prefix_builder.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::doctor {
namespace {

namespace fs = std::filesystem;

const std::string k_gpu0 = "GPU-3eb79704-1571-707c-aee8-f43ce747313d";
const std::string k_gpu1 = "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6";
const std::string k_gpu2 = "GPU-96de99c9-d68f-84c8-424c-7c75e59cc0a0";
const std::string k_mig = "MIG-d184f67c-c95f-5ef2-a935-195bd0094fbd";
constexpr std::uint32_t k_uid = 1000;
constexpr std::uint64_t k_gib = std::uint64_t{1} << 30u;

gpu::GpuInfo gpu_info(unsigned index, const std::string& uuid, const std::string& name) {
    gpu::GpuInfo info;
    info.index = index;
    info.handle.value = true;
    info.uuid.value = uuid;
    info.name.value = name;
    info.mig_mode.value = gpu::MigMode{false, false};
    info.mig_devices.value = std::vector<gpu::MigDevice>{};
    info.processes.value = std::vector<gpu::GpuProcess>{};
    return info;
}

gpu::NvmlSnapshot two_gpus() {
    gpu::NvmlSnapshot snapshot;
    snapshot.gpus = {gpu_info(0, k_gpu0, "NVIDIA A100-SXM4-80GB"),
                     gpu_info(1, k_gpu1, "NVIDIA A100-SXM4-80GB")};
    return snapshot;
}

std::string state_json(std::initializer_list<std::pair<std::string, std::string>> vars) {
    nlohmann::ordered_json env_vars = nlohmann::ordered_json::object();
    for (const auto& [name, value] : vars)
        env_vars[name] = value;
    return nlohmann::ordered_json{{"env_vars", env_vars}}.dump(2);
}

// A conda prefix with an activation state, read as doctor reads it, and the caller "alice".
class BoundEnv {
  public:
    BoundEnv(std::initializer_list<std::pair<std::string, std::string>> state = {}) {
        test::CondaPrefixBuilder builder(m_prefix);
        if (state.size() != 0)
            test::write_file(m_prefix / "conda-meta/state", state_json(state));
        reload();
        input.machine.uid = k_uid;
        input.machine.user = "alice";
    }
    BoundEnv(const BoundEnv&) = delete;
    BoundEnv& operator=(const BoundEnv&) = delete;

    // Re-reads the prefix after files were added.
    void reload() {
        m_inventory = env::read_inventory(env::open_prefix(m_prefix));
        input.inventory = &m_inventory;
        input.env_vars = env::read_env_vars(m_prefix);
    }

    [[nodiscard]] const fs::path& prefix() const { return m_prefix; }
    [[nodiscard]] fs::path tmp(std::string_view relative) const { return m_dir / relative; }

    DoctorInput input;

  private:
    test::TempDir m_dir;
    fs::path m_prefix = m_dir / "envs/train";
    env::Inventory m_inventory;
};

DoctorFindings run(void (*rule)(const DoctorInput&, DoctorReport&), const DoctorInput& input) {
    DoctorReport report;
    rule(input, report);
    EXPECT_TRUE(report.warnings.empty()) << report.warnings.front().to_string();
    return report.findings;
}

const DoctorFinding* find_rule(const DoctorFindings& findings, std::string_view rule) {
    const auto it = std::find_if(findings.begin(), findings.end(),
                                 [&](const DoctorFinding& f) { return f.rule == rule; });
    return it == findings.end() ? nullptr : &*it;
}

bool mentions(const DoctorFinding& finding, std::string_view text) {
    return std::any_of(
        finding.evidence.begin(), finding.evidence.end(),
        [&](const std::string& line) { return line.find(text) != std::string::npos; });
}

std::string evidence_of(const DoctorFinding& finding) {
    std::string out;
    for (const std::string& line : finding.evidence)
        out += line + "\n";
    return out;
}

// ---- rule 10 -------------------------------------------------------------------------------

TEST(BindingRule, UnboundEnvironmentHasNoFinding) {
    BoundEnv env;
    env.input.machine.nvml = two_gpus();
    EXPECT_TRUE(run(check_binding, env.input).empty());
}

TEST(BindingRule, UuidBindingOnFreeGpusHasNoFinding) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", k_gpu1}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}});
    env.input.machine.nvml = two_gpus();
    EXPECT_TRUE(run(check_binding, env.input).empty());
}

TEST(BindingRule, CpuOnlyBindingIsNotAnUnknownGpu) {
    for (const std::string value : {"-1", ""}) {
        BoundEnv env({{"CUDA_VISIBLE_DEVICES", value}});
        env.input.machine.nvml = two_gpus();
        EXPECT_TRUE(run(check_binding, env.input).empty()) << value;
    }
}

TEST(BindingRule, IndexPastTheGpuCountIsAnErrorNamingWhatCudaGives) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", "0,5,1"}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}});
    env.input.machine.nvml = two_gpus();
    const DoctorFindings findings = run(check_binding, env.input);
    ASSERT_EQ(findings.size(), 1U);
    const DoctorFinding& finding = findings.front();
    EXPECT_EQ(finding.rule, "binding_unknown_gpu");
    EXPECT_EQ(finding.severity, Severity::error);
    EXPECT_TRUE(mentions(finding, "conda-meta/state sets CUDA_VISIBLE_DEVICES=0,5,1"))
        << evidence_of(finding);
    EXPECT_TRUE(mentions(finding, "stops at '5'")) << evidence_of(finding);
    EXPECT_TRUE(mentions(finding, "ignored after it: 1")) << evidence_of(finding);
    // CUDA keeps the entries before the invalid one: GPU 0 only.
    EXPECT_EQ(finding.evidence.back(),
              "CUDA gives processes of this environment: GPU 0 (NVIDIA A100-SXM4-80GB) " + k_gpu0);
    EXPECT_NE(finding.fix.find("gpuenv bind -p " + env.prefix().string() + " --gpus 0 "),
              std::string::npos)
        << finding.fix;
}

TEST(BindingRule, UnknownUuidLeavesNoGpu) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", "GPU-deadbeef"}});
    env.input.machine.nvml = two_gpus();
    const DoctorFindings findings = run(check_binding, env.input);
    const DoctorFinding* finding = find_rule(findings, "binding_unknown_gpu");
    ASSERT_NE(finding, nullptr);
    EXPECT_TRUE(mentions(*finding, "no device has a UUID starting with 'GPU-deadbeef'"));
    EXPECT_TRUE(mentions(*finding, "no GPU at all"));
    EXPECT_NE(finding->fix.find("--gpus N, or --gpus none"), std::string::npos) << finding->fix;
    // A UUID binding does not depend on the device order.
    EXPECT_EQ(find_rule(findings, "binding_index_order"), nullptr);
}

TEST(BindingRule, UuidPrefixOfAnExistingGpuIsFine) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", "GPU-8932f937"}});
    env.input.machine.nvml = two_gpus();
    EXPECT_TRUE(run(check_binding, env.input).empty());
}

TEST(BindingRule, UnknownMigDeviceIsAnError) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", k_mig}});
    env.input.machine.nvml = two_gpus();
    const DoctorFindings findings = run(check_binding, env.input);
    const DoctorFinding* finding = find_rule(findings, "binding_unknown_gpu");
    ASSERT_NE(finding, nullptr);
    EXPECT_TRUE(mentions(*finding, "no GPU at all"));
}

TEST(BindingRule, KnownMigDeviceIsFine) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", k_mig}});
    gpu::NvmlSnapshot snapshot = two_gpus();
    snapshot.gpus[1].mig_mode.value = gpu::MigMode{true, true};
    gpu::MigDevice mig;
    mig.uuid.value = k_mig;
    mig.gpu_instance_id.value = 1;
    mig.compute_instance_id.value = 0;
    snapshot.gpus[1].mig_devices.value = std::vector<gpu::MigDevice>{mig};
    env.input.machine.nvml = snapshot;
    EXPECT_TRUE(run(check_binding, env.input).empty());
}

TEST(BindingRule, MigEnabledGpuListedWithOthersHidesThem) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", k_gpu0 + "," + k_gpu1}});
    gpu::NvmlSnapshot snapshot = two_gpus();
    snapshot.gpus[0].mig_mode.value = gpu::MigMode{true, true};
    gpu::MigDevice mig;
    mig.uuid.value = k_mig;
    snapshot.gpus[0].mig_devices.value = std::vector<gpu::MigDevice>{mig};
    env.input.machine.nvml = snapshot;
    const DoctorFindings findings = run(check_binding, env.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_EQ(findings[0].rule, "binding_hidden_devices");
    EXPECT_EQ(findings[0].severity, Severity::warning);
    EXPECT_TRUE(mentions(findings[0], "has MIG enabled")) << evidence_of(findings[0]);
}

TEST(BindingRule, DuplicateEntryIsAnError) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", "0,0"}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}});
    env.input.machine.nvml = two_gpus();
    const DoctorFindings findings = run(check_binding, env.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_EQ(findings[0].rule, "binding_unknown_gpu");
    EXPECT_TRUE(mentions(findings[0], "no GPU at all"));
}

TEST(BindingRule, IndicesWithoutPciOrderOnSeveralGpusWarn) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", "1"}});
    env.input.machine.nvml = two_gpus();
    const DoctorFindings findings = run(check_binding, env.input);
    ASSERT_EQ(findings.size(), 1U);
    const DoctorFinding& finding = findings[0];
    EXPECT_EQ(finding.rule, "binding_index_order");
    EXPECT_EQ(finding.severity, Severity::warning);
    EXPECT_TRUE(mentions(finding, "CUDA_DEVICE_ORDER is not set"));
    EXPECT_TRUE(mentions(finding, "NVML lists 2 GPU(s)"));
    EXPECT_TRUE(mentions(finding, "all GPUs are NVIDIA A100-SXM4-80GB"));
    EXPECT_NE(finding.fix.find("--gpus 1"), std::string::npos) << finding.fix;
}

TEST(BindingRule, OrderFixRebindsOnlyTheEntriesCudaKeeps) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", "1,4"}});
    env.input.machine.nvml = two_gpus();
    const DoctorFindings findings = run(check_binding, env.input);
    ASSERT_EQ(findings.size(), 2U);
    EXPECT_EQ(findings[0].rule, "binding_unknown_gpu");
    const DoctorFinding* order = find_rule(findings, "binding_index_order");
    ASSERT_NE(order, nullptr);
    EXPECT_NE(order->fix.find("--gpus 1 "), std::string::npos) << order->fix;
    EXPECT_EQ(order->fix.find("1,4"), std::string::npos) << order->fix;
}

TEST(BindingRule, MixedModelsMakeTheOrderLikelyToDiffer) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", "0"}});
    gpu::NvmlSnapshot snapshot = two_gpus();
    snapshot.gpus[0].name.value = "Tesla T4";
    env.input.machine.nvml = snapshot;
    const DoctorFindings findings = run(check_binding, env.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_TRUE(mentions(findings[0], "the GPUs differ (Tesla T4, NVIDIA A100-SXM4-80GB)"))
        << evidence_of(findings[0]);
}

TEST(BindingRule, PciOrderFromTheEnvironmentOrTheCallerSilencesTheOrderWarning) {
    BoundEnv in_state({{"CUDA_VISIBLE_DEVICES", "1"}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}});
    in_state.input.machine.nvml = two_gpus();
    EXPECT_TRUE(run(check_binding, in_state.input).empty());

    BoundEnv in_caller({{"CUDA_VISIBLE_DEVICES", "1"}});
    in_caller.input.machine.nvml = two_gpus();
    in_caller.input.machine.environment["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
    EXPECT_TRUE(run(check_binding, in_caller.input).empty());

    // The environment's own value wins over the caller's, as activation does.
    BoundEnv overridden({{"CUDA_VISIBLE_DEVICES", "1"}, {"CUDA_DEVICE_ORDER", "FASTEST_FIRST"}});
    overridden.input.machine.nvml = two_gpus();
    overridden.input.machine.environment["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
    const DoctorFindings findings = run(check_binding, overridden.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_TRUE(mentions(findings[0], "conda-meta/state sets CUDA_DEVICE_ORDER=FASTEST_FIRST"));
}

TEST(BindingRule, IndexOnASingleGpuMachineIsFine) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", "0"}});
    gpu::NvmlSnapshot snapshot;
    snapshot.gpus = {gpu_info(0, k_gpu0, "NVIDIA L4")};
    env.input.machine.nvml = snapshot;
    EXPECT_TRUE(run(check_binding, env.input).empty());
}

TEST(BindingRule, WithoutNvmlOnlyTheOrderIsChecked) {
    BoundEnv by_index({{"CUDA_VISIBLE_DEVICES", "7"}});
    by_index.input.machine.nvml_failure =
        gpu::NvmlLoadFailure{gpu::NvmlLoadFailureKind::library_not_found, 0, "no driver"};
    const DoctorFindings findings = run(check_binding, by_index.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_EQ(findings[0].rule, "binding_index_order");
    EXPECT_TRUE(mentions(findings[0], "number of GPUs here is unknown"));

    BoundEnv by_uuid({{"CUDA_VISIBLE_DEVICES", "GPU-deadbeef"}});
    EXPECT_TRUE(run(check_binding, by_uuid.input).empty());
}

TEST(BindingRule, BindingFromEnvVarsDirectoryIsRead) {
    BoundEnv env;
    test::write_file(env.prefix() / "etc/conda/env_vars.d/gpu.json",
                     R"({"CUDA_VISIBLE_DEVICES": "3", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"})");
    env.reload();
    env.input.machine.nvml = two_gpus();
    const DoctorFindings findings = run(check_binding, env.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_EQ(findings[0].rule, "binding_unknown_gpu");
    EXPECT_TRUE(mentions(findings[0], "etc/conda/env_vars.d sets CUDA_VISIBLE_DEVICES=3"));
}

gpu::LeaseInfo held_lease(const std::string& uuid, unsigned uid, const std::string& user) {
    gpu::LeaseHolder holder;
    holder.pid = 4242;
    holder.uid = uid;
    holder.user = user;
    holder.start_unix_ns = std::int64_t{1795381500} * 1'000'000'000;
    holder.command = {"python", "train.py"};
    gpu::LeaseRecord record;
    record.owner_uid = uid;
    record.holder = holder;
    gpu::LeaseInfo lease;
    lease.uuid = uuid;
    lease.state = gpu::LeaseState::held;
    lease.current = record;
    return lease;
}

TEST(BindingRule, GpuLeasedByAnotherUserWarnsWithWhoAndSince) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", k_gpu1}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}});
    env.input.machine.nvml = two_gpus();
    env.input.machine.leases = {held_lease(k_gpu1, 1001, "bob")};
    const DoctorFindings findings = run(check_binding, env.input);
    ASSERT_EQ(findings.size(), 1U);
    const DoctorFinding& finding = findings[0];
    EXPECT_EQ(finding.rule, "binding_gpu_taken");
    EXPECT_EQ(finding.severity, Severity::warning);
    EXPECT_NE(finding.title.find("GPU 1"), std::string::npos) << finding.title;
    EXPECT_TRUE(mentions(finding,
                         "leased by bob since 2026-11-22T21:05:00Z (pid 4242: python "
                         "train.py)"))
        << evidence_of(finding);
}

TEST(BindingRule, OwnLeaseOrALeaseOnAnotherGpuIsFine) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", k_gpu1}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}});
    env.input.machine.nvml = two_gpus();
    gpu::LeaseInfo free_lease = held_lease(k_gpu1, 1001, "bob");
    free_lease.state = gpu::LeaseState::free;
    env.input.machine.leases = {held_lease(k_gpu1, k_uid, "alice"),
                                held_lease(k_gpu0, 1001, "bob")};
    EXPECT_TRUE(run(check_binding, env.input).empty());
    env.input.machine.leases = {free_lease};
    EXPECT_TRUE(run(check_binding, env.input).empty());
}

gpu::GpuReport report_with_process(unsigned gpu_index, const std::string& user) {
    gpu::GpuReport report;
    const gpu::NvmlSnapshot snapshot = two_gpus();
    for (const gpu::GpuInfo& info : snapshot.gpus)
        report.gpus.push_back({info, "", {}});
    gpu::GpuProcessRow row;
    row.nvml.pid = 31337;
    row.nvml.used_memory = 20 * k_gib;
    row.info.pid = 31337;
    row.info.visible = true;
    row.info.user = user;
    row.info.command = "python finetune.py";
    row.info.elapsed_s = 3 * 3600 + 5 * 60;
    report.gpus[gpu_index].processes.push_back(row);
    return report;
}

TEST(BindingRule, GpuBusyWithAnotherUsersProcessWarns) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", "GPU-3eb7"}});
    env.input.machine.nvml = two_gpus();
    env.input.machine.gpus = report_with_process(0, "carol");
    const DoctorFindings findings = run(check_binding, env.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_EQ(findings[0].rule, "binding_gpu_taken");
    EXPECT_TRUE(mentions(findings[0],
                         "pid 31337 of carol, running for 3h05m, 20.0 GiB: python "
                         "finetune.py"))
        << evidence_of(findings[0]);
}

TEST(BindingRule, OwnProcessesOrProcessesOnOtherGpusAreFine) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", k_gpu0}});
    env.input.machine.nvml = two_gpus();
    env.input.machine.gpus = report_with_process(0, "alice");
    EXPECT_TRUE(run(check_binding, env.input).empty());
    env.input.machine.gpus = report_with_process(1, "carol");
    EXPECT_TRUE(run(check_binding, env.input).empty());
}

TEST(BindingRule, LeasedMigDeviceWarnsButOthersProcessesOnTheParentDoNot) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", k_mig}});
    gpu::NvmlSnapshot snapshot = two_gpus();
    snapshot.gpus[1].mig_mode.value = gpu::MigMode{true, true};
    gpu::MigDevice mig;
    mig.uuid.value = k_mig;
    snapshot.gpus[1].mig_devices.value = std::vector<gpu::MigDevice>{mig};
    env.input.machine.nvml = snapshot;
    env.input.machine.gpus = report_with_process(1, "carol");
    EXPECT_TRUE(run(check_binding, env.input).empty());
    env.input.machine.leases = {held_lease(k_mig, 1001, "bob")};
    const DoctorFindings findings = run(check_binding, env.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_EQ(findings[0].rule, "binding_gpu_taken");
    EXPECT_EQ(findings[0].title.rfind("MIG device " + k_mig + " of GPU 1", 0), 0U)
        << findings[0].title;
}

// ---- rule 12 -------------------------------------------------------------------------------

TEST(DefaultKernelDirs, FollowsJupyterOrderOnLinux) {
    const std::map<std::string, std::string> environment = {{"HOME", "/home/alice"}};
    const std::vector<fs::path> expected = {
        "/home/alice/.local/share/jupyter/kernels", "/opt/envs/train/share/jupyter/kernels",
        "/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels"};
    EXPECT_EQ(default_kernel_dirs(environment, "/opt/envs/train"), expected);
}

TEST(DefaultKernelDirs, HonoursJupyterPathDataDirAndUserBase) {
    const std::map<std::string, std::string> environment = {
        {"HOME", "/home/alice"},
        {"JUPYTER_PATH", "/srv/jupyter/:/opt/shared::"},
        {"JUPYTER_DATA_DIR", "/data/jupyter"},
        {"PYTHONUSERBASE", "/home/alice/pybase"}};
    const std::vector<fs::path> expected = {
        "/srv/jupyter/kernels",      "/opt/shared/kernels",
        "/data/jupyter/kernels",     "/home/alice/pybase/share/jupyter/kernels",
        "/p/share/jupyter/kernels",  "/usr/local/share/jupyter/kernels",
        "/usr/share/jupyter/kernels"};
    EXPECT_EQ(default_kernel_dirs(environment, "/p"), expected);
}

TEST(DefaultKernelDirs, HonoursXdgDataHomeAndPreferEnvPath) {
    const std::map<std::string, std::string> environment = {
        {"HOME", "/home/alice"}, {"XDG_DATA_HOME", "/xdg"}, {"JUPYTER_PREFER_ENV_PATH", "1"}};
    const std::vector<fs::path> expected = {"/p/share/jupyter/kernels", "/xdg/jupyter/kernels",
                                            "/home/alice/.local/share/jupyter/kernels",
                                            "/usr/local/share/jupyter/kernels",
                                            "/usr/share/jupyter/kernels"};
    EXPECT_EQ(default_kernel_dirs(environment, "/p"), expected);
}

TEST(DefaultKernelDirs, NoUserSiteAndASystemPrefixAppearOnce) {
    const std::map<std::string, std::string> environment = {
        {"HOME", "/root"}, {"PYTHONNOUSERSITE", "1"}, {"JUPYTER_PREFER_ENV_PATH", "no"}};
    const std::vector<fs::path> expected = {"/root/.local/share/jupyter/kernels",
                                            "/usr/local/share/jupyter/kernels",
                                            "/usr/share/jupyter/kernels"};
    EXPECT_EQ(default_kernel_dirs(environment, "/usr/local"), expected);
}

// Writes DIR/NAME/kernel.json.
fs::path write_kernel(const fs::path& dir, const std::string& name, const nlohmann::json& spec) {
    const fs::path file = dir / name / "kernel.json";
    test::write_file(file, spec.dump(1));
    return file;
}

nlohmann::json kernel(const std::string& python) {
    return {{"argv", {python, "-m", "ipykernel_launcher", "-f", "{connection_file}"}},
            {"display_name", "Train (GPU)"},
            {"language", "python"}};
}

// A bound environment whose bin/python3.11 is the interpreter (python, python3 link to it).
class KernelEnv : public BoundEnv {
  public:
    KernelEnv()
        : BoundEnv({{"CUDA_VISIBLE_DEVICES", k_gpu1}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}}) {
        test::write_file(prefix() / "bin/python3.11", "#!/bin/sh\n");
        fs::create_symlink("python3.11", prefix() / "bin/python3");
        fs::create_symlink("python3.11", prefix() / "bin/python");
        user_kernels = tmp("home/.local/share/jupyter/kernels");
        input.machine.environment["HOME"] = tmp("home").string();
        input.kernel_dirs = {user_kernels, prefix() / "share/jupyter/kernels"};
    }

    fs::path user_kernels;
};

TEST(KernelspecRule, KernelOfThisPythonWithoutTheBindingWarns) {
    KernelEnv env;
    const fs::path file =
        write_kernel(env.user_kernels, "train", kernel((env.prefix() / "bin/python").string()));
    const DoctorFindings findings = run(check_kernelspecs, env.input);
    ASSERT_EQ(findings.size(), 1U);
    const DoctorFinding& finding = findings[0];
    EXPECT_EQ(finding.rule, "kernelspec_without_binding");
    EXPECT_EQ(finding.severity, Severity::warning);
    EXPECT_TRUE(mentions(finding, "kernelspec: " + file.string()));
    EXPECT_TRUE(mentions(finding, "argv[0]: " + (env.prefix() / "bin/python").string()));
    EXPECT_TRUE(mentions(finding, "CUDA_VISIBLE_DEVICES=" + k_gpu1));
    EXPECT_TRUE(mentions(finding, "does not set CUDA_VISIBLE_DEVICES"));
    EXPECT_NE(finding.fix.find(R"("env": {"CUDA_VISIBLE_DEVICES": ")" + k_gpu1 +
                               R"(", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"} to )" + file.string()),
              std::string::npos)
        << finding.fix;
    EXPECT_NE(finding.fix.find("-m ipykernel install --user --name train --display-name "
                               "'Train (GPU)' --env CUDA_VISIBLE_DEVICES " +
                               k_gpu1 + " --env CUDA_DEVICE_ORDER PCI_BUS_ID"),
              std::string::npos)
        << finding.fix;
}

TEST(KernelspecRule, KernelWithTheBindingIsFine) {
    KernelEnv env;
    nlohmann::json spec = kernel((env.prefix() / "bin/python").string());
    spec["env"] = {{"CUDA_VISIBLE_DEVICES", k_gpu1}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}};
    write_kernel(env.user_kernels, "train", spec);
    EXPECT_TRUE(run(check_kernelspecs, env.input).empty());
}

TEST(KernelspecRule, KernelWithAnotherBindingWarns) {
    KernelEnv env;
    nlohmann::json spec = kernel((env.prefix() / "bin/python3.11").string());
    spec["env"] = {{"CUDA_VISIBLE_DEVICES", "0"}};
    write_kernel(env.user_kernels, "train", spec);
    const DoctorFindings findings = run(check_kernelspecs, env.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_TRUE(mentions(findings[0], "the kernelspec's env sets CUDA_VISIBLE_DEVICES=0"));
}

TEST(KernelspecRule, IndexBindingAlsoNeedsTheOrder) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", "1"}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}});
    const fs::path kernels = env.tmp("kernels");
    env.input.kernel_dirs = {kernels};
    test::write_file(env.prefix() / "bin/python", "#!/bin/sh\n");
    nlohmann::json spec = kernel((env.prefix() / "bin/python").string());
    spec["env"] = {{"CUDA_VISIBLE_DEVICES", "1"}};
    write_kernel(kernels, "train", spec);
    const DoctorFindings findings = run(check_kernelspecs, env.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_TRUE(mentions(findings[0],
                         "the environment sets CUDA_DEVICE_ORDER=PCI_BUS_ID; the "
                         "kernelspec does not"))
        << evidence_of(findings[0]);
    // A kernelspec outside any share/jupyter is only edited in place.
    EXPECT_EQ(findings[0].fix.find("ipykernel install"), std::string::npos) << findings[0].fix;
}

TEST(KernelspecRule, KernelsOfOtherPythonsAreIgnored) {
    KernelEnv env;
    write_kernel(env.user_kernels, "system", kernel("/usr/bin/python3"));
    write_kernel(env.user_kernels, "other", kernel(env.tmp("envs/other/bin/python").string()));
    write_kernel(env.user_kernels, "julia", {{"argv", {"julia", "-i"}}});
    // A bare "python" outside the environment's own share/jupyter is Jupyter's own Python.
    write_kernel(env.user_kernels, "python3", kernel("python"));
    EXPECT_TRUE(run(check_kernelspecs, env.input).empty());
}

TEST(KernelspecRule, BarePythonInTheEnvironmentsOwnKernelsCounts) {
    KernelEnv env;
    write_kernel(env.prefix() / "share/jupyter/kernels", "python3", kernel("python3"));
    const DoctorFindings findings = run(check_kernelspecs, env.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_NE(findings[0].fix.find("--prefix " + env.prefix().string() + " --name python3"),
              std::string::npos)
        << findings[0].fix;
}

TEST(KernelspecRule, PathThroughASymlinkedDirectoryCounts) {
    KernelEnv env;
    fs::create_directory_symlink(env.prefix(), env.tmp("train-link"));
    write_kernel(env.user_kernels, "train", kernel(env.tmp("train-link/bin/python3").string()));
    EXPECT_EQ(run(check_kernelspecs, env.input).size(), 1U);
}

TEST(KernelspecRule, UnboundEnvironmentHasNoFinding) {
    BoundEnv env;
    const fs::path kernels = env.tmp("kernels");
    env.input.kernel_dirs = {kernels};
    write_kernel(kernels, "train", kernel((env.prefix() / "bin/python").string()));
    EXPECT_TRUE(run(check_kernelspecs, env.input).empty());
}

TEST(KernelspecRule, VenvInterpreterLinkDoesNotClaimTheBasePython) {
    BoundEnv env({{"CUDA_VISIBLE_DEVICES", k_gpu0}});
    const fs::path venv = env.tmp("venv");
    test::write_file(venv / "pyvenv.cfg", "home = /usr/bin\n");
    fs::create_directories(venv / "bin");
    fs::create_symlink("/usr/bin/python3", venv / "bin/python");
    fs::create_directories(venv / "lib/python3.11/site-packages");
    const env::Inventory inventory = env::read_inventory(env::open_prefix(venv));
    env.input.inventory = &inventory;
    const fs::path kernels = env.tmp("kernels");
    env.input.kernel_dirs = {kernels};
    write_kernel(kernels, "system", kernel("/usr/bin/python3"));
    EXPECT_TRUE(run(check_kernelspecs, env.input).empty());
    write_kernel(kernels, "venv", kernel((venv / "bin/python").string()));
    EXPECT_EQ(run(check_kernelspecs, env.input).size(), 1U);
}

TEST(KernelspecRule, InvalidKernelJsonIsAWarningWithLineAndColumn) {
    KernelEnv env;
    const fs::path file = env.user_kernels / "broken/kernel.json";
    test::write_file(file, "{\n  \"argv\": [\"python\",\n  ]\n}\n");
    write_kernel(env.user_kernels, "train", kernel((env.prefix() / "bin/python").string()));
    DoctorReport report;
    check_kernelspecs(env.input, report);
    EXPECT_EQ(report.findings.size(), 1U);  // the rest is still checked
    ASSERT_EQ(report.warnings.size(), 1U);
    EXPECT_EQ(report.warnings[0].path, file.string());
    EXPECT_EQ(report.warnings[0].line, 3);
    EXPECT_EQ(report.warnings[0].column, 3);
    EXPECT_EQ(report.warnings[0].message, "invalid kernelspec JSON: expected a value, found ']'");
}

TEST(KernelspecRule, MissingDirectoriesAreSkipped) {
    KernelEnv env;
    env.input.kernel_dirs.push_back(env.tmp("nowhere/kernels"));
    EXPECT_TRUE(run(check_kernelspecs, env.input).empty());
}

TEST(KernelspecRule, ADirectoryListedTwiceIsReadOnce) {
    KernelEnv env;
    write_kernel(env.user_kernels, "train", kernel((env.prefix() / "bin/python").string()));
    env.input.kernel_dirs.push_back(env.user_kernels / "../kernels");
    EXPECT_EQ(run(check_kernelspecs, env.input).size(), 1U);
}

// ---- rule 15 -------------------------------------------------------------------------------

gpu::Zombie zombie(unsigned gpu_index, unsigned pid, gpu::ZombieKind kind,
                   std::optional<std::uint64_t> memory, const std::string& user, bool killable) {
    gpu::Zombie z;
    z.gpu_index = gpu_index;
    z.pid = pid;
    z.kind = kind;
    z.used_memory = memory;
    z.user = user;
    z.command = "python train.py";
    z.reason = "stopped by a signal (state T, e.g. Ctrl-Z) while holding GPU memory";
    z.killable = killable;
    if (!killable)
        z.not_killable_reason = "not yours (owned by " + user + ")";
    return z;
}

TEST(ZombieMemoryRule, NothingWithoutAScanOrWithNoZombies) {
    BoundEnv env;
    env.input.machine.nvml = two_gpus();
    EXPECT_TRUE(run(check_zombie_memory, env.input).empty());
    env.input.machine.zombies = std::vector<gpu::Zombie>{};
    EXPECT_TRUE(run(check_zombie_memory, env.input).empty());
}

TEST(ZombieMemoryRule, SumsMemoryPerGpuWithEvidenceAndFix) {
    BoundEnv env;
    env.input.machine.nvml = two_gpus();
    gpu::Zombie defunct = zombie(0, 28190, gpu::ZombieKind::defunct, k_gib, "bob", false);
    defunct.not_killable_reason = "a defunct process cannot be signalled; its parent must reap it";
    env.input.machine.zombies = std::vector<gpu::Zombie>{
        zombie(0, 28124, gpu::ZombieKind::stopped, 2 * k_gib, "alice", true), defunct,
        zombie(1, 30511, gpu::ZombieKind::orphaned, k_gib / 2, "alice", true)};
    const DoctorFindings findings = run(check_zombie_memory, env.input);
    ASSERT_EQ(findings.size(), 2U);
    const DoctorFinding& gpu0 = findings[0];
    EXPECT_EQ(gpu0.rule, "zombie_memory");
    EXPECT_EQ(gpu0.severity, Severity::warning);
    EXPECT_EQ(gpu0.title,
              "3.0 GiB on GPU 0 (NVIDIA A100-SXM4-80GB) held by 2 stopped/defunct processes");
    EXPECT_TRUE(mentions(gpu0, "pid 28124 (alice, stopped, 2.0 GiB) python train.py: stopped"))
        << evidence_of(gpu0);
    EXPECT_TRUE(mentions(gpu0, "pid 28190 (bob, defunct, 1.0 GiB)"));
    EXPECT_NE(gpu0.fix.find("gpuenv zombies --kill ends pid 28124"), std::string::npos);
    EXPECT_NE(gpu0.fix.find("pid 28190: a defunct process cannot be signalled"), std::string::npos);
    EXPECT_NE(gpu0.fix.find("ask bob or an administrator"), std::string::npos) << gpu0.fix;
    EXPECT_EQ(findings[1].title,
              "512 MiB on GPU 1 (NVIDIA A100-SXM4-80GB) held by 1 orphaned process");
}

TEST(ZombieMemoryRule, UnknownMemoryIsALowerBound) {
    BoundEnv env;
    env.input.machine.zombies = std::vector<gpu::Zombie>{
        zombie(0, 1, gpu::ZombieKind::stopped, k_gib, "alice", true),
        zombie(0, 2, gpu::ZombieKind::stopped, std::nullopt, "alice", true)};
    const DoctorFindings findings = run(check_zombie_memory, env.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_EQ(findings[0].title, "at least 1.0 GiB on GPU 0 held by 2 stopped processes");
    EXPECT_TRUE(mentions(findings[0], "memory not reported"));
}

TEST(ZombieMemoryRule, NotVisibleRowsAreNoFinding) {
    BoundEnv env;
    env.input.machine.zombies = std::vector<gpu::Zombie>{
        zombie(0, 4194303, gpu::ZombieKind::not_visible, std::nullopt, "", false)};
    EXPECT_TRUE(run(check_zombie_memory, env.input).empty());
}

TEST(ZombieMemoryRule, MemoryWithoutProcessSuggestsAnAdminReset) {
    BoundEnv env;
    env.input.machine.nvml = two_gpus();
    gpu::Zombie row = zombie(1, 0, gpu::ZombieKind::no_process, 3 * k_gib, "", false);
    row.reason = "NVML reports 3072 MiB used and no process";
    env.input.machine.zombies = std::vector<gpu::Zombie>{row};
    const DoctorFindings findings = run(check_zombie_memory, env.input);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_EQ(findings[0].rule, "gpu_memory_without_process");
    EXPECT_EQ(findings[0].title,
              "3.0 GiB used on GPU 1 (NVIDIA A100-SXM4-80GB) with no process listed");
    EXPECT_TRUE(mentions(findings[0], "NVML reports 3072 MiB used and no process"));
    EXPECT_NE(findings[0].fix.find("administrator can reset it: nvidia-smi --gpu-reset -i 1"),
              std::string::npos);
}

}  // namespace
}  // namespace gpuenv::core::doctor
