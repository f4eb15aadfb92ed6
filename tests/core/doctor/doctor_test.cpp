// Tests of doctor's frame: severities, CUDA version text, and that run_doctor runs every
// rule and orders the findings by severity.
#include <gtest/gtest.h>

#include <gpuenv/core/doctor/doctor.hpp>
#include <gpuenv/core/env/inventory.hpp>

#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::doctor {
namespace {

TEST(DoctorFrame, ParsesCudaVersionsAsPackagesAndBuildsWriteThem) {
    const auto check = [](std::string_view text, int major, int minor) {
        const auto v = parse_cuda_version(text);
        ASSERT_TRUE(v.has_value()) << text;
        EXPECT_EQ(v->major, major) << text;
        EXPECT_EQ(v->minor, minor) << text;
    };
    check("12.6", 12, 6);
    check("12.6.3", 12, 6);
    check("11.8.89", 11, 8);
    check("12", 12, 0);
    check("12.1.105", 12, 1);
    for (const char* bad : {"", "cu126", "12.", ".6", "12.6.", "12.x", "12.6.3.1", "1234567.1"})
        EXPECT_FALSE(parse_cuda_version(bad).has_value()) << bad;
    EXPECT_EQ(format_cuda_version({12, 4}), "12.4");
}

TEST(DoctorFrame, OnlyWarningsAndErrorsMakeAnEnvironmentUnhealthy) {
    DoctorFindings findings;
    EXPECT_FALSE(unhealthy(findings));
    findings.push_back({"mixed_precision", Severity::info, "t", {}, "", false});
    EXPECT_FALSE(unhealthy(findings));
    findings.push_back({"small_shm", Severity::warning, "t", {}, "", false});
    EXPECT_TRUE(unhealthy(findings));
    EXPECT_EQ(severity_name(Severity::info), "info");
    EXPECT_EQ(severity_name(Severity::warning), "warning");
    EXPECT_EQ(severity_name(Severity::error), "error");
}

// A healthy environment on a machine without GPUs and with ample /dev/shm: no rule fires.
TEST(DoctorFrame, HealthyInputHasNoFinding) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    const auto inventory = env::read_inventory(env::open_prefix(dir / "env"));
    DoctorInput input;
    input.inventory = &inventory;
    input.env_vars = env::read_env_vars(inventory.prefix.path);
    input.machine.cpus = {2, 2};
    input.machine.shm = {"/dev/shm", std::uint64_t{16} << 30u, ""};
    const DoctorReport report = run_doctor(input);
    for (const auto& f : report.findings)
        ADD_FAILURE() << f.rule << ": " << f.title;
    EXPECT_TRUE(report.warnings.empty());
}

// Errors first, then warnings, then information; within a severity, rule order.
TEST(DoctorFrame, FindingsComeOrderedBySeverity) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    const auto inventory = env::read_inventory(env::open_prefix(dir / "env"));
    DoctorInput input;
    input.inventory = &inventory;
    input.machine.cpus = {64, 32};
    // A tiny /dev/shm (warning) and, with GPUs, mixed-precision advice (information) and a
    // CPU-only torch (error).
    input.machine.shm = {"/dev/shm", std::uint64_t{64} << 20u, ""};
    gpu::NvmlSnapshot snapshot;
    snapshot.driver_version.value = "550.54.15";
    snapshot.cuda_driver_version.value = gpu::CudaVersion{12, 4};
    gpu::GpuInfo gpu;
    gpu.name.value = "NVIDIA A100-SXM4-80GB";
    gpu.uuid.value = "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6";
    gpu.compute_capability.value = gpu::ComputeCapability{8, 0};
    snapshot.gpus.push_back(gpu);
    input.machine.nvml = snapshot;
    input.torch = TorchBuild{
        "torch",      "pip",        "2.3.0+cpu",
        std::nullopt, std::nullopt, dir / "env/lib/python3.11/site-packages/torch/version.py"};
    const DoctorReport report = run_doctor(input);
    ASSERT_GE(report.findings.size(), 3u);
    EXPECT_EQ(report.findings.front().severity, Severity::error);
    EXPECT_EQ(report.findings.front().rule, "cpu_only_torch");
    EXPECT_EQ(report.findings.back().severity, Severity::info);
    for (std::size_t i = 1; i < report.findings.size(); ++i)
        EXPECT_GE(static_cast<int>(report.findings[i - 1].severity),
                  static_cast<int>(report.findings[i].severity));
}

}  // namespace
}  // namespace gpuenv::core::doctor
