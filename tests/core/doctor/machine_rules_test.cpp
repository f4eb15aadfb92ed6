#include <gpuenv/core/doctor/doctor.hpp>

#include <gtest/gtest.h>

#include <sched.h>

#include <algorithm>
#include <string>

#include <gpuenv/core/env/env_vars.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/env/prefix.hpp>

#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::doctor {
namespace {

constexpr std::uint64_t k_mib = std::uint64_t{1} << 20u;
constexpr std::uint64_t k_gib = std::uint64_t{1} << 30u;

// An environment that is no conda prefix: the thread fix then says `export`.
env::Inventory venv_inventory() {
    env::Inventory inventory;
    inventory.prefix.path = "/opt/venvs/train";
    inventory.prefix.kind = env::PrefixKind::venv;
    return inventory;
}

gpu::NvmlSnapshot gpus(std::size_t count) {
    gpu::NvmlSnapshot snapshot;
    snapshot.gpus.resize(count);
    for (std::size_t i = 0; i < count; ++i)
        snapshot.gpus[i].index = static_cast<unsigned>(i);
    return snapshot;
}

DoctorInput machine(const env::Inventory& inventory, std::size_t gpu_count, unsigned logical,
                    unsigned physical) {
    DoctorInput input;
    input.inventory = &inventory;
    if (gpu_count > 0)
        input.machine.nvml = gpus(gpu_count);
    input.machine.cpus = {logical, physical};
    return input;
}

DoctorReport shm_report(std::optional<std::uint64_t> size, std::size_t gpu_count,
                        std::string error = {}) {
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, gpu_count, 16, 8);
    input.machine.shm = {"/dev/shm", size, std::move(error)};
    DoctorReport report;
    check_shm(input, report);
    return report;
}

DoctorReport threads_report(const DoctorInput& input) {
    DoctorReport report;
    check_threads(input, report);
    return report;
}

bool contains(const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
        return line.find(text) != std::string::npos;
    });
}

// ---- read_cpu_facts / read_shm_facts -------------------------------------------------------

TEST(ReadCpuFacts, CountsNoMoreThanTheAffinityAllows) {
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
    const auto allowed = static_cast<unsigned>(CPU_COUNT(&set));

    const CpuFacts facts = read_cpu_facts();
    EXPECT_GE(facts.logical, 1u);
    EXPECT_GE(facts.physical, 1u);
    EXPECT_LE(facts.physical, facts.logical);
    EXPECT_LE(facts.logical, allowed);
}

TEST(ReadCpuFacts, FollowsANarrowedAffinity) {
    cpu_set_t saved;
    CPU_ZERO(&saved);
    ASSERT_EQ(::sched_getaffinity(0, sizeof saved, &saved), 0);
    std::size_t first = 0;
    while (!CPU_ISSET(first, &saved))
        ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
    const CpuFacts facts = read_cpu_facts();
    ASSERT_EQ(::sched_setaffinity(0, sizeof saved, &saved), 0);

    EXPECT_EQ(facts.logical, 1u);
    EXPECT_EQ(facts.physical, 1u);
}

TEST(ReadShmFacts, ReadsTheSizeOfAMountPoint) {
    const test::TempDir dir;
    const ShmFacts facts = read_shm_facts(dir.path());
    EXPECT_EQ(facts.path, dir.path());
    ASSERT_TRUE(facts.size_bytes.has_value()) << facts.error;
    EXPECT_GT(*facts.size_bytes, 0u);
    EXPECT_TRUE(facts.error.empty());
}

TEST(ReadShmFacts, SaysWhyAMissingPathHasNoSize) {
    const test::TempDir dir;
    const ShmFacts facts = read_shm_facts(dir / "no-shm");
    EXPECT_FALSE(facts.size_bytes.has_value());
    EXPECT_EQ(facts.error, "No such file or directory");
}

// ---- check_shm ------------------------------------------------------------------------------

TEST(CheckShm, WarnsAboutDockersDefault) {
    const DoctorReport report = shm_report(64 * k_mib, 1);
    ASSERT_EQ(report.findings.size(), 1u);
    const DoctorFinding& finding = report.findings[0];
    EXPECT_EQ(finding.rule, "shm_small");
    EXPECT_EQ(finding.severity, Severity::warning);
    EXPECT_NE(finding.title.find("/dev/shm is only 64 MiB"), std::string::npos);
    EXPECT_NE(finding.title.find("bus error"), std::string::npos);
    EXPECT_TRUE(contains(finding.evidence, "/dev/shm: 64 MiB in all (statvfs), Docker's default"));
    EXPECT_TRUE(contains(finding.evidence, "GPUs: 1 (NVML)"));
    EXPECT_TRUE(contains(finding.evidence, "threshold: 1 GiB per GPU, at least 1 GiB: 1 GiB"));
    EXPECT_NE(finding.fix.find("--shm-size=16g"), std::string::npos);
    EXPECT_NE(finding.fix.find("--ipc=host"), std::string::npos);
    EXPECT_NE(finding.fix.find("medium: Memory"), std::string::npos);
    EXPECT_NE(finding.fix.find("mount -o remount,size=16G /dev/shm"), std::string::npos);
}

TEST(CheckShm, AppliesOneGibWithoutGpus) {
    const DoctorReport small = shm_report(512 * k_mib, 0);
    ASSERT_EQ(small.findings.size(), 1u);
    EXPECT_TRUE(contains(small.findings[0].evidence, "NVML could not be used"));
    EXPECT_FALSE(contains(small.findings[0].evidence, "Docker's default"));
    EXPECT_TRUE(shm_report(2 * k_gib, 0).findings.empty());
}

TEST(CheckShm, AcceptsExactlyTheThreshold) {
    EXPECT_TRUE(shm_report(k_gib, 1).findings.empty());
    EXPECT_TRUE(shm_report(8 * k_gib, 8).findings.empty());
    EXPECT_EQ(shm_report(8 * k_gib - k_mib, 8).findings.size(), 1u);
}

TEST(CheckShm, RaisesTheThresholdWithTheGpuCount) {
    const DoctorReport report = shm_report(3 * k_gib / 2, 4);
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_NE(report.findings[0].title.find("only 1.5 GiB"), std::string::npos);
    EXPECT_TRUE(contains(report.findings[0].evidence, "GPUs: 4 (NVML)"));
    EXPECT_TRUE(contains(report.findings[0].evidence, "at least 1 GiB: 4 GiB"));
    EXPECT_TRUE(shm_report(3 * k_gib / 2, 1).findings.empty());
}

TEST(CheckShm, SuggestsMoreForManyGpus) {
    const DoctorReport report = shm_report(4 * k_gib, 16);
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_NE(report.findings[0].fix.find("--shm-size=32g"), std::string::npos);
}

TEST(CheckShm, WarnsWhenTheMountCannotBeRead) {
    const test::TempDir dir;
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, 2, 16, 8);
    input.machine.shm = read_shm_facts(dir / "missing");
    DoctorReport report;
    check_shm(input, report);
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_EQ(report.findings[0].rule, "shm_unreadable");
    EXPECT_EQ(report.findings[0].severity, Severity::warning);
    EXPECT_TRUE(contains(report.findings[0].evidence, "missing: No such file or directory"));
}

TEST(CheckShm, ReadsARealMountPoint) {
    const test::TempDir dir;
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, 0, 16, 8);
    input.machine.shm = read_shm_facts(dir.path());
    ASSERT_TRUE(input.machine.shm.size_bytes.has_value());
    DoctorReport report;
    check_shm(input, report);
    // Whatever the test machine's disk, the size read is the one judged.
    EXPECT_EQ(report.findings.empty(), *input.machine.shm.size_bytes >= k_gib);
}

TEST(CheckShm, SaysNothingWhenNotRead) {
    const env::Inventory inventory = venv_inventory();
    const DoctorInput input = machine(inventory, 1, 16, 8);
    DoctorReport report;
    check_shm(input, report);
    EXPECT_TRUE(report.findings.empty());
}

// ---- check_threads --------------------------------------------------------------------------

TEST(CheckThreads, WarnsWhenUnsetWithOneProcessPerGpu) {
    const env::Inventory inventory = venv_inventory();
    const DoctorReport report = threads_report(machine(inventory, 4, 64, 32));
    ASSERT_EQ(report.findings.size(), 1u);
    const DoctorFinding& finding = report.findings[0];
    EXPECT_EQ(finding.rule, "threads_unset");
    EXPECT_EQ(finding.severity, Severity::warning);
    EXPECT_NE(finding.title.find("4 processes"), std::string::npos);
    EXPECT_TRUE(contains(finding.evidence, "64 logical, 32 physical cores"));
    EXPECT_TRUE(contains(finding.evidence, "GPUs: 4 (NVML)"));
    EXPECT_TRUE(contains(finding.evidence, "nor in the caller's environment"));
    // 32 cores / 4 processes; 75% of 32 / 4.
    EXPECT_TRUE(contains(finding.evidence, "OMP_NUM_THREADS=8 (32 physical cores / 4 processes)"));
    EXPECT_TRUE(contains(finding.evidence, "DataLoader(num_workers=6)"));
    EXPECT_NE(finding.fix.find("export OMP_NUM_THREADS=8 MKL_NUM_THREADS=8"), std::string::npos);
    EXPECT_NE(finding.fix.find("torchrun sets OMP_NUM_THREADS=1"), std::string::npos);
}

TEST(CheckThreads, FixesACondaEnvironmentThroughItsVariables) {
    const test::TempDir dir;
    test::write_sample_env(dir / "env");
    const env::Inventory inventory = env::read_inventory(env::open_prefix(dir / "env"));
    DoctorInput input = machine(inventory, 8, 128, 64);
    input.env_vars = env::read_env_vars(inventory.prefix.path);
    const DoctorReport report = threads_report(input);
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_NE(report.findings[0].fix.find("conda env config vars set OMP_NUM_THREADS=8 "
                                          "MKL_NUM_THREADS=8 -p " +
                                          inventory.prefix.path.string()),
              std::string::npos);
}

TEST(CheckThreads, AcceptsTheEnvironmentsOwnSetting) {
    const test::TempDir dir;
    test::write_sample_env(dir / "env");
    test::write_file(dir / "env/conda-meta/state",
                     R"({"env_vars": {"OMP_NUM_THREADS": "8", "MKL_NUM_THREADS": "8"}})");
    const env::Inventory inventory = env::read_inventory(env::open_prefix(dir / "env"));
    DoctorInput input = machine(inventory, 4, 64, 32);
    input.env_vars = env::read_env_vars(inventory.prefix.path);
    EXPECT_TRUE(threads_report(input).findings.empty());
}

TEST(CheckThreads, AcceptsTheCallersSetting) {
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, 4, 64, 32);
    input.machine.environment["OMP_NUM_THREADS"] = "4";
    EXPECT_TRUE(threads_report(input).findings.empty());
}

TEST(CheckThreads, AcceptsMklNumThreadsAlone) {
    // torch reads MKL_NUM_THREADS when OMP_NUM_THREADS is unset.
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, 4, 64, 32);
    input.env_vars.vars["MKL_NUM_THREADS"] = "8";
    EXPECT_TRUE(threads_report(input).findings.empty());
}

TEST(CheckThreads, TreatsAnEmptyValueAsUnset) {
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, 2, 32, 16);
    input.machine.environment["OMP_NUM_THREADS"] = "";
    const DoctorReport report = threads_report(input);
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_EQ(report.findings[0].rule, "threads_unset");
}

TEST(CheckThreads, StaysQuietForOneProcessOrFewCores) {
    const env::Inventory inventory = venv_inventory();
    EXPECT_TRUE(threads_report(machine(inventory, 1, 64, 32)).findings.empty());
    EXPECT_TRUE(threads_report(machine(inventory, 0, 64, 32)).findings.empty());
    EXPECT_TRUE(threads_report(machine(inventory, 2, 8, 4)).findings.empty());
    EXPECT_EQ(threads_report(machine(inventory, 2, 16, 8)).findings.size(), 1u);
}

TEST(CheckThreads, WarnsAboutMoreThreadsThanCores) {
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, 1, 32, 16);
    input.machine.environment["OMP_NUM_THREADS"] = "32";
    const DoctorReport report = threads_report(input);
    ASSERT_EQ(report.findings.size(), 1u);
    const DoctorFinding& finding = report.findings[0];
    EXPECT_EQ(finding.rule, "threads_oversubscribed");
    EXPECT_EQ(finding.severity, Severity::warning);
    EXPECT_NE(finding.title.find("OMP_NUM_THREADS=32 oversubscribes the 16 physical cores"),
              std::string::npos);
    EXPECT_TRUE(contains(finding.evidence,
                         "OMP_NUM_THREADS=32 (the caller's environment): more "
                         "threads than the 16 physical cores"));
    EXPECT_NE(finding.fix.find("OMP_NUM_THREADS=16"), std::string::npos);
}

TEST(CheckThreads, WarnsAboutThreadsTimesGpusAboveTheCores) {
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, 4, 64, 32);
    input.env_vars.vars["MKL_NUM_THREADS"] = "16";
    const DoctorReport report = threads_report(input);
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_EQ(report.findings[0].rule, "threads_oversubscribed");
    EXPECT_TRUE(contains(report.findings[0].evidence,
                         "MKL_NUM_THREADS=16 (the environment's activation variables): 4 "
                         "processes (one per GPU) x 16 threads = 64 threads on 32 physical cores"));
}

// With more GPUs than cores one thread per process is already the least there is.
TEST(CheckThreads, AcceptsOneThreadPerProcessWithMoreGpusThanCores) {
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, 8, 2, 2);
    input.env_vars.vars["OMP_NUM_THREADS"] = "1";
    EXPECT_TRUE(threads_report(input).findings.empty());
    input.env_vars.vars["OMP_NUM_THREADS"] = "2";
    const DoctorReport report = threads_report(input);
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_EQ(report.findings[0].rule, "threads_oversubscribed");
}

TEST(CheckThreads, LetsTheEnvironmentOverrideTheCaller) {
    // Activation sets the environment's value over the caller's.
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, 2, 32, 16);
    input.env_vars.vars["OMP_NUM_THREADS"] = "8";
    input.machine.environment["OMP_NUM_THREADS"] = "64";
    EXPECT_TRUE(threads_report(input).findings.empty());
    input.env_vars.vars["OMP_NUM_THREADS"] = "64";
    input.machine.environment["OMP_NUM_THREADS"] = "8";
    EXPECT_EQ(threads_report(input).findings.size(), 1u);
}

TEST(CheckThreads, ReadsNestedValuesAndIgnoresGarbage) {
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, 2, 32, 16);
    input.machine.environment["OMP_NUM_THREADS"] = "8,2";
    EXPECT_TRUE(threads_report(input).findings.empty());
    input.machine.environment["OMP_NUM_THREADS"] = "24,2";
    EXPECT_EQ(threads_report(input).findings.size(), 1u);
    input.machine.environment["OMP_NUM_THREADS"] = "many";
    EXPECT_TRUE(threads_report(input).findings.empty());
}

TEST(CheckThreads, AcceptsAHealthyMachine) {
    const env::Inventory inventory = venv_inventory();
    DoctorInput input = machine(inventory, 8, 128, 64);
    input.machine.environment["OMP_NUM_THREADS"] = "8";
    input.machine.environment["MKL_NUM_THREADS"] = "8";
    EXPECT_TRUE(threads_report(input).findings.empty());
}

}  // namespace
}  // namespace gpuenv::core::doctor
