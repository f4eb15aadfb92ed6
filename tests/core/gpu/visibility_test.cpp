#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <gpuenv/core/gpu/visibility.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv::core::gpu {
namespace {

// UUIDs 4, 5 and 6 are those of nvitop's documented 10-GPU examples; 1 and 2 share the
// prefix "GPU-8932".
const std::vector<std::string> k_uuids = {
    "GPU-3eb79704-1571-707c-aee8-f43ce747313d", "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6",
    "GPU-8932a1b0-5f3e-4c1d-9a2b-0e7d6c5b4a39", "GPU-0d2c6f1e-77aa-4b1c-8e2d-3f4a5b6c7d8e",
    "GPU-96de99c9-d68f-84c8-424c-7c75e59cc0a0", "GPU-18ef14e9-dec6-1d7e-1284-3010c6ce98b1",
    "GPU-849d5a8d-610e-eeea-1fd4-81ff44a23794", "GPU-c1a2b3d4-e5f6-4789-a0b1-c2d3e4f5a6b7",
    "GPU-5b7e2f90-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "GPU-e4d3c2b1-a098-4765-b432-10fedcba9876"};
const std::string k_mig_a = "MIG-d184f67c-c95f-5ef2-a935-195bd0094fbd";  // GPU 0, 1/0
const std::string k_mig_b = "MIG-37b51284-1df4-5451-979d-3231ccb0822e";  // GPU 0, 13/0

// Builds `count` GPUs with the UUIDs above, in NVML order, MIG disabled.
std::vector<GpuId> machine(unsigned count = 10) {
    std::vector<GpuId> gpus;
    for (unsigned i = 0; i < count; ++i) {
        const std::string bus = std::to_string(0x17 + 16 * i);
        gpus.push_back(GpuId{i, k_uuids[i], "00000000:" + bus + ":00.0", false, {}});
    }
    return gpus;
}

// Builds four GPUs: GPU 0 with MIG enabled and two MIG devices, GPU 2 with MIG enabled and none.
std::vector<GpuId> mig_machine() {
    std::vector<GpuId> gpus = machine(4);
    gpus[0].mig_enabled = true;
    gpus[0].mig_devices = {{k_mig_a, 1, 0}, {k_mig_b, 13, 0}};
    gpus[2].mig_enabled = true;
    return gpus;
}

std::vector<std::string> uuids(const std::vector<VisibleDevice>& devices) {
    std::vector<std::string> out;
    for (const VisibleDevice& device : devices)
        out.push_back(device.uuid);
    return out;
}

std::vector<std::string> of(const std::vector<unsigned>& indices) {
    std::vector<std::string> out;
    for (const unsigned i : indices)
        out.push_back(k_uuids[i]);
    return out;
}

// Resolves a value on the 10-GPU machine with CUDA_DEVICE_ORDER=PCI_BUS_ID.
VisibilityResult resolve(std::optional<std::string_view> value,
                         DeviceOrder order = DeviceOrder::pci_bus_id) {
    return resolve_visible_devices(value, machine(), order);
}

std::vector<std::string> visible(std::optional<std::string_view> value) {
    return uuids(resolve(value).devices);
}

std::string notes(const VisibilityResult& result) {
    std::string out;
    for (const std::string& note : result.notes)
        out += note + "\n";
    return out;
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        const auto it = vars.find(std::string(name));
        if (it == vars.end())
            return std::nullopt;
        return it->second;
    };
}

std::vector<std::string> outer(std::map<std::string, std::string> vars, unsigned count = 10) {
    return uuids(resolve_outer_restriction(env_of(std::move(vars)), machine(count)).devices);
}

std::string usage_error(const std::vector<VisibleDevice>& devices,
                        const std::vector<unsigned>& indices) {
    try {
        (void)select_relative(devices, indices);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        return e.what();
    }
    return "";
}

}  // namespace

TEST(Visibility, ParsesDeviceOrder) {
    EXPECT_EQ(parse_device_order("PCI_BUS_ID"), DeviceOrder::pci_bus_id);
    EXPECT_EQ(parse_device_order("FASTEST_FIRST"), DeviceOrder::fastest_first);
    EXPECT_EQ(parse_device_order(std::nullopt), DeviceOrder::fastest_first);
    EXPECT_EQ(parse_device_order("PCI_BUS_I"), DeviceOrder::fastest_first);  // task-spooler typo
}

TEST(Visibility, UnsetShowsAllInPciOrder) {
    const VisibilityResult result = resolve(std::nullopt);
    EXPECT_EQ(uuids(result.devices), k_uuids);
    EXPECT_FALSE(result.order_uncertain);
    EXPECT_TRUE(result.notes.empty());
    EXPECT_TRUE(result.invalid_entry.empty());
    EXPECT_EQ(result.devices[3], (VisibleDevice{k_uuids[3], 3, false}));
}

TEST(Visibility, UnsetUnderFastestFirstSaysTheOrderIsUncertain) {
    const VisibilityResult result = resolve(std::nullopt, DeviceOrder::fastest_first);
    EXPECT_EQ(uuids(result.devices), k_uuids);
    EXPECT_TRUE(result.order_uncertain);
    EXPECT_EQ(result.notes, std::vector<std::string>{std::string(core::gpu::k_order_note)});
    EXPECT_TRUE(result.invalid_entry.empty());
}

TEST(Visibility, EmptyHidesEverything) {
    const VisibilityResult result = resolve("");
    EXPECT_TRUE(result.devices.empty());
    EXPECT_NE(notes(result).find("empty"), std::string::npos);
    EXPECT_TRUE(visible("  ").empty());
}

TEST(Visibility, StopsAtTheFirstInvalidIndex) {
    const VisibilityResult result = resolve("0,2,-1,1");
    EXPECT_EQ(uuids(result.devices), of({0, 2}));
    EXPECT_NE(notes(result).find("stops at '-1' (a negative index); ignored after it: 1"),
              std::string::npos)
        << notes(result);
    // The stop is also kept on its own: the doctor tells it from the MIG rule's notes by it.
    EXPECT_EQ(result.invalid_entry, result.notes.at(0));
    EXPECT_TRUE(visible("-1").empty());
    EXPECT_TRUE(visible("-5,0").empty());
    EXPECT_EQ(visible("1,,2"), of({1}));  // an empty entry is invalid too
}

TEST(Visibility, OutOfRangeIndexStops) {
    EXPECT_TRUE(visible("16").empty());
    EXPECT_EQ(visible("3,16,4"), of({3}));
    EXPECT_EQ(visible("9"), of({9}));
    EXPECT_TRUE(visible("99999999999999999999999").empty());
}

TEST(Visibility, DuplicateHidesEverything) {
    const VisibilityResult result = resolve("0,0");
    EXPECT_TRUE(result.devices.empty());
    EXPECT_NE(notes(result).find("twice"), std::string::npos);
    EXPECT_NE(result.invalid_entry.find("twice"), std::string::npos);
    EXPECT_TRUE(visible("2,1,+2").empty());
    EXPECT_TRUE(visible("GPU-18ef14e9,GPU-18ef14e9-dec6").empty());
    EXPECT_EQ(visible("1,-1,1"), of({1}));  // the stop comes first
}

TEST(Visibility, IntegersIgnoreTrailingCharacters) {
    EXPECT_EQ(visible("1abc"), of({1}));
    EXPECT_EQ(visible("+1"), of({1}));
    EXPECT_EQ(visible("2.5,3x"), of({2, 3}));
    EXPECT_EQ(visible("-0"), of({0}));
}

TEST(Visibility, StripsWhitespaceAroundEntries) {
    EXPECT_EQ(visible(" 2 ,\t3\n"), of({2, 3}));
    EXPECT_EQ(visible(" GPU-18ef14e9 , GPU-849d5a8d "), of({5, 6}));
}

TEST(Visibility, KeepsTheListedOrder) {
    EXPECT_EQ(visible("6,5,0"), of({6, 5, 0}));
}

TEST(Visibility, ResolvesFullAndAbbreviatedUuids) {
    EXPECT_EQ(visible("GPU-18ef14e9,GPU-849d5a8d"), of({5, 6}));
    EXPECT_EQ(visible(k_uuids[7] + "," + k_uuids[2]), of({7, 2}));
    EXPECT_EQ(visible("GPU-8932f"), of({1}));
}

TEST(Visibility, AmbiguousOrUnknownUuidStops) {
    const VisibilityResult result = resolve("GPU-18ef14e9,GPU-8932,GPU-849d5a8d");
    EXPECT_EQ(uuids(result.devices), of({5}));
    EXPECT_NE(notes(result).find("ambiguous"), std::string::npos);
    EXPECT_EQ(visible("GPU-849d5a8d,GPU-ffffffff,0"), of({6}));
    EXPECT_TRUE(visible("GPU-").empty());
    EXPECT_TRUE(visible("gpu-18ef14e9").empty());
    EXPECT_TRUE(visible("ef14e9").empty());  // a bare UUID has no GPU- prefix
}

TEST(Visibility, FirstTokenFixesTheKind) {
    EXPECT_EQ(visible("0,GPU-18ef14e9,1"), of({0}));
    EXPECT_EQ(visible("GPU-18ef14e9,0,GPU-849d5a8d"), of({5}));
}

TEST(Visibility, IndicesUnderFastestFirstAreFlagged) {
    const VisibilityResult indices = resolve("1,0", DeviceOrder::fastest_first);
    EXPECT_EQ(uuids(indices.devices), of({1, 0}));  // PCI order assumed
    EXPECT_TRUE(indices.order_uncertain);
    EXPECT_FALSE(resolve("GPU-18ef14e9", DeviceOrder::fastest_first).order_uncertain);
    EXPECT_FALSE(resolve("1,0", DeviceOrder::pci_bus_id).order_uncertain);
    EXPECT_FALSE(resolve_visible_devices("0", machine(1), DeviceOrder::fastest_first)
                     .order_uncertain);  // one GPU has one order
}

TEST(Visibility, ResolvesMigForms) {
    const std::vector<GpuId> gpus = mig_machine();
    const auto mig = [&gpus](std::string_view value) {
        return uuids(resolve_visible_devices(value, gpus, DeviceOrder::pci_bus_id).devices);
    };
    using V = std::vector<std::string>;
    EXPECT_EQ(mig("MIG-GPU-3eb79704/13/0"), V{k_mig_b});
    EXPECT_EQ(mig("MIG-GPU-3eb79704-1571-707c-aee8-f43ce747313d/13/0"), V{k_mig_b});
    EXPECT_EQ(mig(k_mig_a), V{k_mig_a});
    EXPECT_EQ(mig("MIG-37b51284"), V{k_mig_b});
    EXPECT_TRUE(mig("MIG-GPU-3eb79704/2/0").empty());
    EXPECT_TRUE(mig("MIG-GPU-3eb79704").empty());
    EXPECT_TRUE(mig("MIG-GPU-3eb79704/13/x").empty());
    const VisibilityResult result = resolve_visible_devices(k_mig_a, gpus, DeviceOrder::pci_bus_id);
    EXPECT_EQ(result.devices.front(), (VisibleDevice{k_mig_a, 0, true}));
}

TEST(Visibility, OnlyOneMigDeviceIsVisible) {
    const std::vector<GpuId> gpus = mig_machine();
    const VisibilityResult two =
        resolve_visible_devices("MIG-d184f67c,MIG-37b51284", gpus, DeviceOrder::pci_bus_id);
    EXPECT_EQ(uuids(two.devices), std::vector<std::string>{k_mig_a});
    EXPECT_NE(notes(two).find("only one MIG device"), std::string::npos);
    EXPECT_TRUE(two.invalid_entry.empty());  // every entry named a device; MIG hid one
    const VisibilityResult mixed = resolve_visible_devices("GPU-8932f937,MIG-37b51284,GPU-0d2c6f1e",
                                                           gpus, DeviceOrder::pci_bus_id);
    EXPECT_EQ(uuids(mixed.devices), std::vector<std::string>{k_mig_b});
}

TEST(Visibility, WholeGpuWithMigEnabledBecomesItsFirstMigDevice) {
    const std::vector<GpuId> gpus = mig_machine();
    const VisibilityResult listed = resolve_visible_devices("1,0,3", gpus, DeviceOrder::pci_bus_id);
    EXPECT_EQ(uuids(listed.devices), std::vector<std::string>{k_mig_a});
    EXPECT_NE(notes(listed).find("has MIG enabled"), std::string::npos);
    EXPECT_NE(notes(listed).find(k_uuids[1]), std::string::npos);
    EXPECT_NE(notes(listed).find(k_uuids[3]), std::string::npos);
    const VisibilityResult all =
        resolve_visible_devices(std::nullopt, gpus, DeviceOrder::pci_bus_id);
    EXPECT_EQ(uuids(all.devices), std::vector<std::string>{k_mig_a});
    // GPU 2 has MIG enabled but no MIG device: it is skipped, the others stay.
    const VisibilityResult empty_mig =
        resolve_visible_devices("1,2,3", gpus, DeviceOrder::pci_bus_id);
    EXPECT_EQ(uuids(empty_mig.devices), of({1, 3}));
    EXPECT_NE(notes(empty_mig).find("no MIG device"), std::string::npos);
}

TEST(Visibility, OuterRestrictionThenRelativeIndex) {
    const VisibilityResult result = resolve_outer_restriction(
        env_of({{"CUDA_VISIBLE_DEVICES", "2,3"}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}}), machine());
    EXPECT_EQ(uuids(result.devices), of({2, 3}));
    EXPECT_FALSE(result.order_uncertain);
    EXPECT_EQ(uuids(select_relative(result.devices, {1})), of({3}));
    EXPECT_EQ(uuids(select_relative(result.devices, {1, 0})), of({3, 2}));
    EXPECT_TRUE(resolve_outer_restriction(env_of({{"CUDA_VISIBLE_DEVICES", "2,3"}}), machine())
                    .order_uncertain);
    EXPECT_EQ(outer({}), k_uuids);  // nothing set: every GPU
}

TEST(Visibility, OuterEmptyLeavesNothing) {
    const std::vector<std::string> none = outer({{"CUDA_VISIBLE_DEVICES", ""}});
    EXPECT_TRUE(none.empty());
    EXPECT_EQ(usage_error({}, {0}),
              "gpu index 0 is out of range: no gpu is visible to this process");
}

TEST(Visibility, SelectRelativeRefusesOutOfRangeAndRepeats) {
    const std::vector<VisibleDevice> two = {{k_uuids[2], 2, false}, {k_uuids[3], 3, false}};
    EXPECT_EQ(usage_error(two, {2}),
              "gpu index 2 is out of range: this process may use 2 gpu(s), numbered 0 to 1");
    EXPECT_EQ(usage_error(two, {1, 1}), "gpu index 1 is given twice");
    EXPECT_TRUE(select_relative(two, {}).empty());
}

// 2.6: SLURM_STEP_GPUS (the step's GPUs) is narrower than SLURM_JOB_GPUS and wins.
TEST(Visibility, SlurmStepGpusArePreferredOverJobGpus) {
    EXPECT_EQ(outer({{"SLURM_JOB_GPUS", "2,3,4"}, {"SLURM_STEP_GPUS", "3"}}), of({3}));
    EXPECT_EQ(outer({{"SLURM_JOB_GPUS", "2,3,4"}}), of({2, 3, 4}));
    EXPECT_EQ(outer({{"SLURM_JOB_GPUS", "2,3,4"}, {"SLURM_STEP_GPUS", ""}}), of({2, 3, 4}));
}

TEST(Visibility, SlurmAllocationNarrowsCudaVisibleDevices) {
    // Without device cgroups CUDA reads CUDA_VISIBLE_DEVICES against every GPU.
    EXPECT_EQ(outer({{"CUDA_VISIBLE_DEVICES", "3,2,7"}, {"SLURM_JOB_GPUS", "2,3"}}), of({3, 2}));
    // Inside a constrained cgroup NVML lists just the allocated GPUs, renumbered from 0.
    EXPECT_EQ(outer({{"SLURM_JOB_GPUS", "5,7"}, {"CUDA_VISIBLE_DEVICES", "0,1"}}, 2), of({0, 1}));
    const VisibilityResult bad =
        resolve_outer_restriction(env_of({{"SLURM_JOB_GPUS", "gpu:2"}}), machine());
    EXPECT_EQ(uuids(bad.devices), k_uuids);  // unreadable: ignored, with a note
    EXPECT_NE(notes(bad).find("SLURM_JOB_GPUS"), std::string::npos);
}

TEST(Visibility, NvidiaVisibleDevicesForms) {
    EXPECT_EQ(outer({{"NVIDIA_VISIBLE_DEVICES", "all"}}), k_uuids);
    EXPECT_TRUE(outer({{"NVIDIA_VISIBLE_DEVICES", "none"}}).empty());
    EXPECT_TRUE(outer({{"NVIDIA_VISIBLE_DEVICES", "void"}}).empty());
    EXPECT_TRUE(outer({{"NVIDIA_VISIBLE_DEVICES", ""}}).empty());
    EXPECT_EQ(outer({{"NVIDIA_VISIBLE_DEVICES", "GPU-18ef14e9"}}), of({5}));
    EXPECT_EQ(outer({{"NVIDIA_VISIBLE_DEVICES", "4,1"}}), of({1, 4}));     // CUDA's order stays
    EXPECT_EQ(outer({{"NVIDIA_VISIBLE_DEVICES", "4,5"}}, 2), of({0, 1}));  // in the container
    const VisibilityResult noted = resolve_outer_restriction(
        env_of({{"NVIDIA_VISIBLE_DEVICES", "1"}, {"CUDA_VISIBLE_DEVICES", "0,1"}}), machine());
    EXPECT_EQ(uuids(noted.devices), of({1}));
    EXPECT_NE(notes(noted).find("NVIDIA_VISIBLE_DEVICES=1 leaves out " + k_uuids[0]),
              std::string::npos);
}

TEST(Visibility, FormatsUuidsOrMinusOne) {
    const std::vector<VisibleDevice> two = {{k_uuids[3], 3, false}, {k_uuids[1], 1, false}};
    EXPECT_EQ(format_cuda_visible_devices(two), k_uuids[3] + "," + k_uuids[1]);
    EXPECT_EQ(format_cuda_visible_devices({}), "-1");
    EXPECT_EQ(format_cuda_visible_devices({{k_mig_a, 0, true}}), k_mig_a);
    EXPECT_THROW((void)format_cuda_visible_devices({two[0], two[0]}), Error);
    EXPECT_THROW((void)format_cuda_visible_devices({two[0], {k_mig_a, 0, true}}), Error);
}

TEST(Visibility, ChildEnvironmentUsesUuidsAndPciOrder) {
    using Vars = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(child_gpu_environment({{k_uuids[5], 5, false}}),
              (Vars{{"CUDA_VISIBLE_DEVICES", k_uuids[5]}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}}));
    EXPECT_EQ(child_gpu_environment({}),
              (Vars{{"CUDA_VISIBLE_DEVICES", "-1"}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}}));
}

// What gpuenv writes reads back as the same devices.
TEST(Visibility, FormattedValueRoundTrips) {
    const std::vector<VisibleDevice> devices = resolve("7,2,5").devices;
    EXPECT_EQ(resolve(format_cuda_visible_devices(devices)).devices, devices);
    EXPECT_TRUE(resolve(format_cuda_visible_devices({})).devices.empty());
}

}  // namespace gpuenv::core::gpu
