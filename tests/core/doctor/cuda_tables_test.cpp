#include <gpuenv/core/doctor/cuda_tables.hpp>

#include <gtest/gtest.h>

namespace gpuenv::core::doctor {
namespace {

using gpu::ComputeCapability;
using gpu::CudaVersion;

std::string format(std::optional<CudaVersion> v) {
    return v ? std::to_string(v->major) + "." + std::to_string(v->minor) : "none";
}

std::string format(std::optional<ComputeCapability> cc) {
    return cc ? format_cc(*cc) : "none";
}

TEST(CompareDriverVersions, ComparesFieldsAsNumbers) {
    EXPECT_LT(compare_driver_versions("550.54.15", "550.127.05"), 0);
    EXPECT_GT(compare_driver_versions("560.28.03", "555.42.06"), 0);
    EXPECT_EQ(compare_driver_versions("570.26", "570.26"), 0);
    EXPECT_EQ(compare_driver_versions("570.26", "570.26.0"), 0);
    EXPECT_LT(compare_driver_versions("525", "525.60.13"), 0);
    EXPECT_LT(compare_driver_versions("99.1", "100"), 0);
    EXPECT_TRUE(driver_at_least("525.60.13", "525"));
    EXPECT_TRUE(driver_at_least("450.80.02", "450.80.02"));
    EXPECT_FALSE(driver_at_least("450.66", "450.80.02"));
}

// §5.1: the GA row of each release.
TEST(MinDriverForCuda, MatchesTheReleaseNotesGaRows) {
    const std::pair<CudaVersion, std::string_view> rows[] = {
        {{10, 0}, "410.48"},    {{10, 1}, "418.39"},    {{10, 2}, "440.33"},
        {{11, 0}, "450.51.05"}, {{11, 1}, "455.23"},    {{11, 2}, "460.27.03"},
        {{11, 3}, "465.19.01"}, {{11, 4}, "470.42.01"}, {{11, 5}, "495.29.05"},
        {{11, 6}, "510.39.01"}, {{11, 7}, "515.43.04"}, {{11, 8}, "520.61.05"},
        {{12, 0}, "525.60.13"}, {{12, 1}, "530.30.02"}, {{12, 2}, "535.54.03"},
        {{12, 3}, "545.23.06"}, {{12, 4}, "550.54.14"}, {{12, 5}, "555.42.02"},
        {{12, 6}, "560.28.03"}, {{12, 8}, "570.26"},    {{12, 9}, "575.51.03"},
        {{13, 0}, "580.65.06"}, {{13, 1}, "590.44.01"}, {{13, 2}, "595.45.04"},
    };
    for (const auto& [cuda, driver] : rows)
        EXPECT_EQ(min_driver_for_cuda(cuda).value_or("none"), driver) << format(cuda);
    EXPECT_FALSE(min_driver_for_cuda({12, 7}));  // there is no CUDA 12.7 toolkit
    EXPECT_FALSE(min_driver_for_cuda({14, 0}));
    EXPECT_FALSE(min_driver_for_cuda({9, 2}));
}

// §5.2: a branch supports the newest toolkit whose GA minimum it meets.
TEST(MaxCudaForDriver, MatchesTheBranchTable) {
    const std::pair<std::string_view, std::string_view> rows[] = {
        {"450.80.02", "11.0"}, {"455.32", "11.1"},     {"460.32.03", "11.2"},
        {"465.19.01", "11.3"}, {"470.82.01", "11.4"},  {"495.29.05", "11.5"},
        {"510.47.03", "11.6"}, {"515.65.01", "11.7"},  {"520.61.05", "11.8"},
        {"525.60.13", "12.0"}, {"530.30.02", "12.1"},  {"535.104.05", "12.2"},
        {"545.23.08", "12.3"}, {"550.54.15", "12.4"},  {"555.42.06", "12.5"},
        {"560.35.03", "12.6"}, {"570.124.06", "12.8"}, {"575.57.08", "12.9"},
        {"580.82.07", "13.0"}, {"590.48.01", "13.1"},  {"595.71.05", "13.2"},
        {"410.48", "10.0"},    {"440.33.01", "10.2"},
    };
    for (const auto& [driver, cuda] : rows)
        EXPECT_EQ(format(max_cuda_for_driver(driver)), cuda) << driver;
}

TEST(MaxCudaForDriver, DerivesConservativelyAtTheEdges) {
    // R565 reports 12.7 through NVML, but no 12.7 toolkit exists: the derivation says 12.6.
    EXPECT_EQ(format(max_cuda_for_driver("565.57.01")), "12.6");
    // An early 525 below 12.0's GA minimum (§5.2's edge).
    EXPECT_EQ(format(max_cuda_for_driver("525.53")), "11.8");
    EXPECT_EQ(format(max_cuda_for_driver("550.54.13")), "12.3");
    EXPECT_EQ(format(max_cuda_for_driver("550.54.14")), "12.4");
    EXPECT_EQ(format(max_cuda_for_driver("390.157")), "none");
    EXPECT_EQ(format(max_cuda_for_driver("")), "none");
    EXPECT_EQ(format(max_cuda_for_driver("unknown")), "none");
}

// §5.3.
TEST(MinorCompat, MinimumDriverPerMajor) {
    EXPECT_EQ(minor_compat_min_driver(11).value_or("none"), "450.80.02");
    EXPECT_EQ(minor_compat_min_driver(12).value_or("none"), "525");
    EXPECT_EQ(minor_compat_min_driver(13).value_or("none"), "580");
    EXPECT_FALSE(minor_compat_min_driver(10));
    EXPECT_FALSE(minor_compat_min_driver(14));
}

TEST(MinDriverToRun, RaisesTheCompatMinimumToTheFamilysFirstRelease) {
    EXPECT_EQ(min_driver_to_run({12, 1}).value_or("none"), "525.60.13");
    EXPECT_EQ(min_driver_to_run({12, 8}).value_or("none"), "525.60.13");
    EXPECT_EQ(min_driver_to_run({11, 8}).value_or("none"), "450.80.02");
    EXPECT_EQ(min_driver_to_run({13, 2}).value_or("none"), "580.65.06");
    EXPECT_EQ(min_driver_to_run({10, 2}).value_or("none"), "440.33");  // no minor compat
    EXPECT_FALSE(min_driver_to_run({9, 0}));
}

TEST(DriverFit, FollowsTheMinorCompatibilityRule) {
    EXPECT_EQ(driver_fit({12, 8}, {12, 8}, "570.124.06"), DriverFit::supported);
    EXPECT_EQ(driver_fit({12, 4}, {12, 8}, "570.124.06"), DriverFit::supported);
    EXPECT_EQ(driver_fit({12, 6}, {12, 2}, "535.104.05"), DriverFit::minor_compat);
    EXPECT_EQ(driver_fit({12, 8}, {12, 4}, "550.127.08"), DriverFit::minor_compat);
    EXPECT_EQ(driver_fit({12, 1}, {11, 4}, "470.82.01"), DriverFit::too_old);
    EXPECT_EQ(driver_fit({11, 8}, {11, 4}, "470.82.01"), DriverFit::minor_compat);
    EXPECT_EQ(driver_fit({11, 8}, {11, 0}, "450.66"), DriverFit::too_old);
    // Minor compatibility never crosses a major version.
    EXPECT_EQ(driver_fit({13, 0}, {12, 9}, "575.57.08"), DriverFit::too_old);
    EXPECT_EQ(driver_fit({10, 2}, {10, 1}, "418.39"), DriverFit::too_old);
    // Without the driver's version, a driver of the same major family is taken to meet it.
    EXPECT_EQ(driver_fit({12, 8}, {12, 2}, ""), DriverFit::minor_compat);
    EXPECT_EQ(driver_fit({12, 8}, {11, 8}, ""), DriverFit::too_old);
}

// §5.5.
TEST(MaxCcForCuda, MatchesTheToolkitTable) {
    const std::pair<CudaVersion, std::string_view> rows[] = {
        {{11, 0}, "8.0"},  {{11, 1}, "8.6"},  {{11, 6}, "8.6"}, {{11, 7}, "8.7"},
        {{11, 8}, "9.0"},  {{12, 0}, "9.0"},  {{12, 6}, "9.0"}, {{12, 8}, "12.0"},
        {{12, 9}, "12.1"}, {{13, 0}, "12.1"}, {{10, 2}, "7.5"},
    };
    for (const auto& [cuda, cc] : rows)
        EXPECT_EQ(format(max_cc_for_cuda(cuda)), cc) << format(cuda);
    EXPECT_EQ(format(max_cc_for_cuda({12, 7})), "none");
    EXPECT_EQ(format(max_cc_for_cuda({14, 0})), "none");
}

TEST(MinCcForCuda, FollowsDroppedArchitectures) {
    EXPECT_EQ(format(min_cc_for_cuda({11, 8})), "3.5");
    EXPECT_EQ(format(min_cc_for_cuda({12, 0})), "5.0");
    EXPECT_EQ(format(min_cc_for_cuda({12, 9})), "5.0");
    EXPECT_EQ(format(min_cc_for_cuda({13, 0})), "7.5");  // CUDA 13 drops Maxwell to Volta
    EXPECT_EQ(format(min_cc_for_cuda({9, 0})), "none");
}

TEST(ParseArchList, ReadsGetArchListEntries) {
    const ArchList arches =
        parse_arch_list({"sm_50", "sm_90a", "sm_120", "compute_120", "gfx90a", "sm_", "sm_x0"});
    ASSERT_EQ(arches.size(), 4u);
    EXPECT_EQ(format_cc(arches[0].cc), "5.0");
    EXPECT_TRUE(arches[1].arch_specific);
    EXPECT_EQ(format_cc(arches[2].cc), "12.0");
    EXPECT_FALSE(arches[2].ptx);
    EXPECT_TRUE(arches[3].ptx);
    EXPECT_EQ(format_arch_list(arches), "sm_50 sm_90a sm_120 compute_120");
}

TEST(ParseTorchCudaArchList, AddsPtxForPlusPtxEntries) {
    EXPECT_EQ(format_arch_list(parse_torch_cuda_arch_list("7.5;8.0;12.0+PTX")),
              "sm_75 sm_80 sm_120 compute_120");
    EXPECT_EQ(format_arch_list(parse_torch_cuda_arch_list("8.0 9.0a")), "sm_80 sm_90a");
    EXPECT_EQ(format_arch_list(parse_torch_cuda_arch_list("")), "");
}

TEST(ArchListRunsOn, FollowsTheCubinAndPtxRules) {
    const ArchList cubins = parse_arch_list({"sm_80", "sm_86"});
    EXPECT_TRUE(arch_list_runs_on(cubins, {8, 0}));
    EXPECT_TRUE(arch_list_runs_on(cubins, {8, 9}));  // same major, higher minor
    EXPECT_TRUE(arch_list_runs_on(cubins, {8, 7}));
    EXPECT_FALSE(arch_list_runs_on(cubins, {9, 0}));  // an 8.x cubin never runs on 9.0
    EXPECT_FALSE(arch_list_runs_on(cubins, {7, 5}));
    const ArchList ptx = parse_arch_list({"sm_80", "compute_90"});
    EXPECT_TRUE(arch_list_runs_on(ptx, {12, 0}));  // PTX is JIT-compiled for newer GPUs
    EXPECT_FALSE(arch_list_runs_on(ptx, {7, 0}));
    EXPECT_FALSE(arch_list_runs_on(parse_arch_list({"compute_120"}), {10, 0}));
    const ArchList specific = parse_arch_list({"sm_90a"});
    EXPECT_TRUE(arch_list_runs_on(specific, {9, 0}));
    EXPECT_FALSE(arch_list_runs_on(specific, {9, 1}));
    EXPECT_TRUE(arch_list_runs_on(parse_arch_list({"sm_120"}), {12, 1}));
    EXPECT_FALSE(arch_list_runs_on({}, {8, 0}));
}

// §5.5's lists, and the Volta changes of 2.8 and 2.11.
TEST(PytorchWheelArchList, UsesPublishedLists) {
    const TorchArchList cu126 = pytorch_wheel_arch_list("2.7.1+cu126", {12, 6});
    EXPECT_TRUE(cu126.published);
    EXPECT_EQ(format_arch_list(cu126.arches), "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90");
    EXPECT_EQ(cu126.basis, "PyTorch 2.7 cu126 wheels");

    EXPECT_EQ(format_arch_list(pytorch_wheel_arch_list("2.7.1+cu128", {12, 8}).arches),
              "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120");
    EXPECT_EQ(format_arch_list(pytorch_wheel_arch_list("2.8.0+cu128", {12, 8}).arches),
              "sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120");
    EXPECT_EQ(format_arch_list(pytorch_wheel_arch_list("2.10.0", {12, 8}).arches),
              "sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120");
    EXPECT_EQ(format_arch_list(pytorch_wheel_arch_list("2.11.0+cu128", {12, 8}).arches),
              "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120");
    EXPECT_EQ(format_arch_list(pytorch_wheel_arch_list("2.8.0+cu129", {12, 9}).arches),
              "sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120 compute_120");
    EXPECT_EQ(format_arch_list(pytorch_wheel_arch_list("2.9.0+cu130", {13, 0}).arches),
              "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120 compute_120");
    EXPECT_EQ(format_arch_list(pytorch_wheel_arch_list("2.0.1+cu118", {11, 8}).arches),
              "sm_37 sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90");
    const TorchArchList newest = pytorch_wheel_arch_list("", {12, 8});
    EXPECT_TRUE(newest.published);
    EXPECT_EQ(newest.basis, "PyTorch's newest cu128 wheels");
}

TEST(PytorchWheelArchList, DerivesOlderListsFromTheToolkit) {
    const TorchArchList cu121 = pytorch_wheel_arch_list("2.3.1+cu121", {12, 1});
    EXPECT_FALSE(cu121.published);
    EXPECT_EQ(format_arch_list(cu121.arches), "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90");
    EXPECT_EQ(format_arch_list(pytorch_wheel_arch_list("2.4.0+cu118", {11, 8}).arches),
              "sm_37 sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90");
    EXPECT_EQ(format_arch_list(pytorch_wheel_arch_list("1.12.1+cu113", {11, 3}).arches),
              "sm_37 sm_50 sm_60 sm_70 sm_75 sm_80 sm_86");
    EXPECT_EQ(format_arch_list(pytorch_wheel_arch_list("1.5.0", {10, 2}).arches),
              "sm_50 sm_60 sm_70 sm_75");
    EXPECT_TRUE(pytorch_wheel_arch_list("2.7.1", {12, 7}).arches.empty());
}

TEST(ToolkitArchList, CoversTheToolkitRangeWithPtxForTheNewest) {
    EXPECT_EQ(format_arch_list(toolkit_arch_list({12, 6}).arches),
              "sm_50 sm_60 sm_61 sm_70 sm_75 sm_80 sm_86 sm_89 sm_90 compute_90");
    EXPECT_EQ(format_arch_list(toolkit_arch_list({13, 0}).arches),
              "sm_75 sm_80 sm_86 sm_89 sm_90 sm_100 sm_120 compute_120");
    EXPECT_TRUE(toolkit_arch_list({12, 7}).arches.empty());
}

TEST(WheelTag, JoinsMajorAndMinor) {
    EXPECT_EQ(wheel_tag({12, 6}), "cu126");
    EXPECT_EQ(wheel_tag({13, 0}), "cu130");
    EXPECT_EQ(wheel_tag(pytorch_wheel_cudas().back()), "cu130");
}

}  // namespace
}  // namespace gpuenv::core::doctor
