// End-to-end tests of `gpuenv doctor` and `gpuenv check`: the real binary on built prefixes,
// the fake NVML for the GPU-dependent parts, and machines without a GPU or conda. Each rule's
// logic has its own tests in tests/core/doctor/.
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <support/conda_prefix_builder.hpp>
#include <support/python_dist_builder.hpp>
#include <support/run_gpuenv.hpp>
#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using test::run_gpuenv;

const std::string k_site = test::k_sample_site_packages;

Json two_h100s() {
    return Json::parse(R"({
      "driver_version": "550.54.15", "cuda_version": 12040,
      "gpus": [
        {"uuid": "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6", "name": "NVIDIA H100 80GB HBM3",
         "pci_bus_id": "00000000:07:00.0", "memory_total": 85899345920, "memory_used": 1048576,
         "compute_capability": [9, 0]},
        {"uuid": "GPU-18ef14e9-0000-0000-0000-000000000001", "name": "NVIDIA H100 80GB HBM3",
         "pci_bus_id": "00000000:0F:00.0", "memory_total": 85899345920, "memory_used": 1048576,
         "compute_capability": [9, 0]}
      ]})");
}

// Runs gpuenv with a machine the test decides: the fake NVML with `scenario`, or no NVML at
// all; its own state dir and home (no real leases or kernelspecs), thread limits set (the
// thread rule depends on the core count of the machine running the tests).
class CmdDoctor : public ::testing::Test {
  protected:
    test::RunResult run(std::vector<std::string> args, const Json* scenario = nullptr,
                        std::map<std::string, std::optional<std::string>> extra = {}) {
        test::RunEnv env;
        env.set = {{"GPUENV_STATE_DIR", (m_dir / "state").string()},
                   {"HOME", (m_dir / "home").string()},
                   {"JUPYTER_PATH", std::nullopt},
                   {"JUPYTER_DATA_DIR", std::nullopt},
                   {"XDG_DATA_HOME", std::nullopt},
                   {"OMP_NUM_THREADS", "1"},
                   {"MKL_NUM_THREADS", "1"}};
        if (scenario != nullptr) {
            const auto path = m_dir / "scenario.json";
            test::write_file(path, scenario->dump(2));
            env.set["GPUENV_NVML_LIBRARY"] = GPUENV_FAKE_NVML_CURRENT;
            env.set["GPUENV_FAKE_NVML_SCENARIO"] = path.string();
        } else {
            env.set["GPUENV_NVML_LIBRARY"] = (m_dir / "no-such-libnvidia-ml.so.1").string();
        }
        for (auto& [name, value] : extra)
            env.set[name] = value;
        return run_gpuenv(args, env);
    }

    // A healthy conda environment (python, numpy, pip, requests) plus a pip torch whose
    // version.py says `torch_cuda` (nullopt: a CPU build).
    fs::path env_with_torch(const std::optional<std::string>& torch_cuda,
                            const std::string& version) {
        const auto env = m_dir / "env";
        test::write_sample_env(env);
        test::write_dist_info(env / k_site, {.name = "torch",
                                             .version = version,
                                             .files = {"torch/__init__.py", "torch/version.py"}});
        const std::string cuda = torch_cuda ? "'" + *torch_cuda + "'" : "None";
        test::write_file(env / k_site / "torch/version.py",
                         "from typing import Optional\n\n__all__ = ['__version__', 'debug', "
                         "'cuda', 'git_version', 'hip']\n__version__ = '" +
                             version + "'\ndebug = False\ncuda: Optional[str] = " + cuda +
                             "\ngit_version = '0123456789abcdef'\nhip: Optional[str] = None\n");
        return env;
    }

    test::TempDir m_dir;
};

std::vector<std::string> rules_of(const Json& doc) {
    std::vector<std::string> rules;
    for (const auto& f : doc.at("findings"))
        rules.push_back(f.at("rule").get<std::string>());
    return rules;
}

bool has_rule(const Json& doc, const std::string& rule) {
    const auto rules = rules_of(doc);
    return std::find(rules.begin(), rules.end(), rule) != rules.end();
}

TEST_F(CmdDoctor, HealthyEnvironmentWithoutGpuHasNoFinding) {
    const auto env = m_dir / "env";
    test::write_sample_env(env);
    const auto r = run({"doctor", "-p", env.string(), "--shm-path", m_dir.path().string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("no NVIDIA GPU"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("torch: not installed"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("no findings: healthy"), std::string::npos) << r.out;
}

TEST_F(CmdDoctor, CpuOnlyTorchOnAGpuMachineIsAnError) {
    const auto env = env_with_torch(std::nullopt, "2.3.0+cpu");
    const Json scenario = two_h100s();
    const auto r = run(
        {"doctor", "-p", env.string(), "--json", "--shm-path", m_dir.path().string()}, &scenario);
    ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
    const Json doc = Json::parse(r.out);
    EXPECT_EQ(doc.at("schema"), "gpuenv.doctor/1");
    EXPECT_EQ(doc.at("torch").at("version"), "2.3.0+cpu");
    EXPECT_TRUE(doc.at("torch").at("cuda").is_null());
    EXPECT_EQ(doc.at("machine").at("gpus").size(), 2u);
    EXPECT_EQ(doc.at("machine").at("driver"), "550.54.15");
    ASSERT_FALSE(doc.at("findings").empty());
    // Errors come first.
    EXPECT_EQ(doc.at("findings")[0].at("rule"), "cpu_only_torch") << r.out;
    EXPECT_EQ(doc.at("findings")[0].at("severity"), "error");
    EXPECT_FALSE(doc.at("healthy").get<bool>());
    EXPECT_GE(doc.at("summary").at("error").get<int>(), 1);
}

TEST_F(CmdDoctor, MatchingCudaBuildOnTheSameMachineIsHealthy) {
    const auto env = env_with_torch("12.4", "2.4.1+cu124");
    const Json scenario = two_h100s();
    const auto r = run(
        {"doctor", "-p", env.string(), "--json", "--shm-path", m_dir.path().string()}, &scenario);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const Json doc = Json::parse(r.out);
    EXPECT_EQ(doc.at("torch").at("cuda"), "12.4");
    EXPECT_TRUE(doc.at("healthy").get<bool>());
    for (const auto& f : doc.at("findings"))
        EXPECT_EQ(f.at("severity"), "info") << f.dump();
    // The GPUs' mixed-precision advice is information, not a problem.
    EXPECT_TRUE(has_rule(doc, "mixed_precision")) << r.out;
}

TEST_F(CmdDoctor, TorchBuiltForANewerCudaThanTheDriverIsFound) {
    const auto env = env_with_torch("12.8", "2.7.1+cu128");
    Json scenario = two_h100s();
    scenario["driver_version"] = "470.82.01";
    scenario["cuda_version"] = 11040;
    const auto r = run(
        {"doctor", "-p", env.string(), "--json", "--shm-path", m_dir.path().string()}, &scenario);
    ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
    const Json doc = Json::parse(r.out);
    EXPECT_TRUE(has_rule(doc, "cuda_newer_than_driver")) << r.out;
}

TEST_F(CmdDoctor, DriverAndLibraryMismatchIsAnErrorButNoDriverIsNot) {
    const auto env = m_dir / "env";
    test::write_sample_env(env);
    // nvmlInit returns 18 (NVML_ERROR_LIB_RM_VERSION_MISMATCH): upgraded without a reboot.
    const Json mismatch = {{"init", 18}};
    auto r = run({"doctor", "-p", env.string(), "--json", "--shm-path", m_dir.path().string()},
                 &mismatch);
    ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
    Json doc = Json::parse(r.out);
    EXPECT_TRUE(has_rule(doc, "driver_library_mismatch")) << r.out;
    EXPECT_FALSE(doc.at("machine").at("nvml_error").is_null());
    // No driver at all: a machine without GPUs, not a finding.
    r = run({"doctor", "-p", env.string(), "--json", "--shm-path", m_dir.path().string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    doc = Json::parse(r.out);
    EXPECT_FALSE(has_rule(doc, "driver_library_mismatch")) << r.out;
}

TEST_F(CmdDoctor, ScanFindsCudaVisibleDevicesSetAfterImportingTorch) {
    const auto env = m_dir / "env";
    test::write_sample_env(env);
    const auto src = m_dir / "src";
    test::write_file(src / "train.py",
                     "import os\nimport torch\n\nos.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n");
    test::write_file(src / "ok.py",
                     "import os\nos.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\nimport torch\n");
    const auto r = run({"doctor", "-p", env.string(), "--scan", src.string(), "--shm-path",
                        m_dir.path().string()});
    ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("train.py"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("ok.py"), std::string::npos) << r.out;
}

TEST_F(CmdDoctor, SmallShmMountIsAFinding) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "mounting a small tmpfs needs root; core/doctor tests cover the rule";
    const auto mount_point = m_dir / "shm";
    fs::create_directories(mount_point);
    if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=64m") != 0)
        GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                     << "); core/doctor tests cover the rule";
    const auto env = m_dir / "env";
    test::write_sample_env(env);
    const auto r =
        run({"doctor", "-p", env.string(), "--json", "--shm-path", mount_point.string()});
    ::umount(mount_point.c_str());
    ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
    const Json doc = Json::parse(r.out);
    EXPECT_EQ(doc.at("machine").at("shm").at("size_bytes"), 64u * 1024 * 1024);
    EXPECT_TRUE(has_rule(doc, "shm_small")) << r.out;
}

TEST_F(CmdDoctor, ProbeRunsTheEnvironmentsOwnPython) {
    const auto env = env_with_torch("12.4", "2.4.1+cu124");
    // The environment's interpreter: a script answering as the probe's Python would.
    const auto python = env / "bin/python";
    test::write_file(
        python,
        "#!/bin/sh\necho '{\"python_version\": \"3.11.7\", \"torch_imported\": true, "
        "\"torch_version\": \"2.4.1+cu124\", \"cuda\": \"12.4\", "
        "\"cuda_available\": true, \"device_count\": 2, \"cudnn_version\": 90100, "
        "\"arch_list\": [\"sm_80\", \"sm_90\"], \"devices\": [{\"name\": \"NVIDIA H100 "
        "80GB HBM3\", \"capability\": [9, 0]}, {\"name\": \"NVIDIA H100 80GB HBM3\", "
        "\"capability\": [9, 0]}]}'\n");
    fs::permissions(python, fs::perms::owner_all);
    const Json scenario = two_h100s();
    const auto r = run(
        {"doctor", "-p", env.string(), "--probe", "--json", "--shm-path", m_dir.path().string()},
        &scenario);
    const Json doc = Json::parse(r.out);
    ASSERT_FALSE(doc.at("probe").is_null()) << r.out << r.err;
    EXPECT_EQ(doc.at("probe").at("python"), python.string());
    EXPECT_TRUE(doc.at("probe").at("ran").get<bool>()) << doc.at("probe").dump();
    EXPECT_EQ(doc.at("probe").at("torch_version"), "2.4.1+cu124");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(CmdDoctor, WithoutProbeNothingIsExecuted) {
    const auto env = env_with_torch("12.4", "2.4.1+cu124");
    const auto marker = m_dir / "ran";
    const auto python = env / "bin/python";
    test::write_file(python, "#!/bin/sh\ntouch " + marker.string() + "\n");
    fs::permissions(python, fs::perms::owner_all);
    const auto r = run({"doctor", "-p", env.string(), "--shm-path", m_dir.path().string()});
    EXPECT_LE(r.exit_code, 1) << r.err;
    EXPECT_FALSE(fs::exists(marker));
}

TEST_F(CmdDoctor, BadOptionsAreUsageErrors) {
    const auto env = m_dir / "env";
    test::write_sample_env(env);
    auto r = run({"doctor", "-p", env.string(), "--probe", "--probe-timeout", "soon"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--probe-timeout"), std::string::npos) << r.err;
    r = run({"doctor", "-p", env.string(), "--scan", (m_dir / "nowhere").string()});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("nowhere"), std::string::npos) << r.err;
}

// ---- gpuenv check -------------------------------------------------------------------------

TEST_F(CmdDoctor, CheckShowsOneScreenWithoutGpuOrConda) {
    // A venv: no conda-meta, no GPU.
    const auto env = m_dir / "venv";
    test::write_file(env / "pyvenv.cfg", "home = /usr/bin\nversion = 3.11.7\n");
    test::write_dist_info(env / k_site, {.name = "six", .version = "1.16.0", .files = {"six.py"}});
    const auto r = run({"check", "-p", env.string(), "--shm-path", m_dir.path().string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    for (const char* part : {"environment  ", "packages     1 (1 pip)", "fingerprint  ",
                             "GPU binding  none", "# integrity", "files: ok", "lock: none",
                             "# doctor: no findings", "# GPUs", "no NVIDIA GPU", "healthy"})
        EXPECT_NE(r.out.find(part), std::string::npos) << part << "\n" << r.out;
}

TEST_F(CmdDoctor, CheckFindsALockBesideTheEnvironmentAndReportsDrift) {
    const auto env = m_dir / "env";
    test::write_sample_env(env);
    const Json scenario = two_h100s();
    // A lock of the environment as it is: no drift.
    auto r = run({"lock", "-p", env.string(), "-o", (env / "gpuenv.lock").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run({"check", "-p", env.string(), "--shm-path", m_dir.path().string()}, &scenario);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("lock: no drift against " + (env / "gpuenv.lock").string()),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("NVIDIA H100 80GB HBM3"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\nhealthy\n"), std::string::npos) << r.out;
    // A pip package installed since: drift, exit 1, and in the JSON document.
    test::write_dist_info(env / k_site, {.name = "six", .version = "1.16.0", .files = {"six.py"}});
    r = run({"check", "-p", env.string(), "--json", "--shm-path", m_dir.path().string()},
            &scenario);
    ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
    const Json doc = Json::parse(r.out);
    EXPECT_EQ(doc.at("schema"), "gpuenv.check/1");
    EXPECT_TRUE(doc.at("integrity").at("drift").get<bool>());
    EXPECT_EQ(doc.at("integrity").at("lock"), (env / "gpuenv.lock").string());
    bool extra_six = false;
    for (const auto& f : doc.at("integrity").at("findings"))
        extra_six =
            extra_six || (f.at("kind") == "extra" && f.dump().find("six") != std::string::npos);
    EXPECT_TRUE(extra_six) << doc.at("integrity").dump();
    EXPECT_EQ(doc.at("gpus").at("gpus").size(), 2u);
    EXPECT_EQ(doc.at("environment").at("kind"), "conda");
    EXPECT_FALSE(doc.at("healthy").get<bool>());
}

TEST_F(CmdDoctor, CheckShowsTheBindingAndDoctorFindings) {
    const auto env = env_with_torch(std::nullopt, "2.3.0+cpu");
    const Json scenario = two_h100s();
    auto r = run({"bind", "-p", env.string(), "--gpus", "1"}, &scenario);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run({"check", "-p", env.string(), "--shm-path", m_dir.path().string()}, &scenario);
    ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(
        r.out.find("GPU binding  CUDA_VISIBLE_DEVICES=GPU-18ef14e9-0000-0000-0000-000000000001 "
                   "CUDA_DEVICE_ORDER=PCI_BUS_ID"),
        std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("error: cpu_only_torch: "), std::string::npos) << r.out;
    // The last line says why: version.py was rewritten after pip's RECORD (a file problem),
    // and the doctor's error.
    EXPECT_NE(r.out.find("\nnot healthy: 1 file problem; doctor: 1 error, 1 note\n"),
              std::string::npos)
        << r.out;
}

TEST_F(CmdDoctor, CheckRunsTheDependencyChecksOnceForDoctorAndIntegrity) {
    auto builder = test::write_sample_env(m_dir / "env");
    // An unreadable depends entry (a warning from the dependency check) and a missing
    // dependency (a finding): the doctor and the integrity section share one run of the check.
    builder.add_package({.name = "tool",
                         .version = "1.0",
                         .build = "0",
                         .depends = {"python >=3.8 [", "libmissing >=2"}});
    const auto env = m_dir / "env";
    const auto r = run({"check", "-p", env.string(), "--shm-path", m_dir.path().string()});
    ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
    const std::string warning = "cannot check depends entry 'python >=3.8 ['";
    const auto first = r.err.find(warning);
    ASSERT_NE(first, std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(warning, first + 1), std::string::npos) << "printed twice:\n" << r.err;
    EXPECT_NE(r.out.find("broken_dependencies"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("libmissing"), std::string::npos) << r.out;
}

TEST_F(CmdDoctor, CheckRefusesABrokenLockBeforeDoingAnything) {
    const auto env = m_dir / "env";
    test::write_sample_env(env);
    test::write_file(m_dir / "broken.lock", "version: [\n");
    const auto r = run({"check", "-p", env.string(), "--lock", (m_dir / "broken.lock").string()});
    EXPECT_GE(r.exit_code, 2) << r.out;
    EXPECT_NE(r.err.find("broken.lock"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace gpuenv
