// Strict GPU lists for bind and run: every entry must name a device, and bind's plan warns
// about busy, leased and unreachable GPUs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <gpuenv/core/gpu/gpu_selection.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv::core::gpu {
namespace {

const std::string k_a = "GPU-3eb79704-1571-707c-aee8-f43ce747313d";
const std::string k_b = "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6";
const std::string k_c = "GPU-8932a1b0-5f3e-4c1d-9a2b-0e7d6c5b4a39";
const std::string k_mig_gpu = "GPU-96de99c9-d68f-84c8-424c-7c75e59cc0a0";
const std::string k_mig = "MIG-d184f67c-c95f-5ef2-a935-195bd0094fbd";

std::vector<GpuId> machine() {
    std::vector<GpuId> gpus = {{0, k_a, "00000000:07:00.0", false, {}},
                               {1, k_b, "00000000:0F:00.0", false, {}},
                               {2, k_c, "00000000:47:00.0", false, {}},
                               {3, k_mig_gpu, "00000000:4E:00.0", true, {{k_mig, 1, 0}}}};
    return gpus;
}

std::vector<VisibleDevice> resolve(std::string_view list, IndexBase base = IndexBase::machine) {
    const auto gpus = machine();
    return resolve_gpu_list(list, gpus, all_devices(gpus), base);
}

std::string usage_error(std::string_view list) {
    try {
        (void)resolve(list);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        return e.what();
    }
    ADD_FAILURE() << "no error for " << list;
    return "";
}

TEST(GpuSelection, IndicesAreNvidiaSmiIndices) {
    const auto devices = resolve("2, 0");
    ASSERT_EQ(devices.size(), 2U);
    EXPECT_EQ(devices[0].uuid, k_c);
    EXPECT_EQ(devices[1].uuid, k_a);
}

TEST(GpuSelection, UuidsMayBeAbbreviatedWhenUnique) {
    EXPECT_EQ(resolve("GPU-3eb7").front().uuid, k_a);
    EXPECT_EQ(resolve(k_b).front().uuid, k_b);
    EXPECT_NE(usage_error("GPU-8932").find("ambiguous"), std::string::npos);
}

TEST(GpuSelection, NoneMeansNoGpu) {
    EXPECT_TRUE(resolve("none").empty());
    EXPECT_TRUE(resolve(" none ").empty());
}

TEST(GpuSelection, RefusesWhatCudaWouldSilentlyDrop) {
    EXPECT_NE(usage_error("0,7").find("GPU '7': no such GPU on this machine (GPUs: 0, 1, 2, 3)"),
              std::string::npos);
    EXPECT_NE(usage_error("GPU-ffff").find("no GPU or MIG device"), std::string::npos);
    EXPECT_NE(usage_error("0,0").find("listed twice"), std::string::npos);
    EXPECT_NE(usage_error("0,GPU-3eb7").find("listed twice"), std::string::npos);
    EXPECT_NE(usage_error("0,,1").find("empty entry"), std::string::npos);
    EXPECT_NE(usage_error("zero").find("expected an index"), std::string::npos);
    EXPECT_NE(usage_error("-1").find("expected an index"), std::string::npos);
}

TEST(GpuSelection, MigGpusAreNamedByTheirMigDevices) {
    EXPECT_NE(usage_error("3").find("MIG mode"), std::string::npos);
    EXPECT_NE(usage_error(k_mig_gpu).find("MIG mode"), std::string::npos);
    const auto mig = resolve("MIG-d184");
    ASSERT_EQ(mig.size(), 1U);
    EXPECT_TRUE(mig[0].mig);
    EXPECT_EQ(mig[0].gpu_index, 3U);
    EXPECT_NE(usage_error("0,MIG-d184").find("at most one MIG device"), std::string::npos);
}

TEST(GpuSelection, PoolIndicesCountInsideTheOuterRestriction) {
    const auto gpus = machine();
    const std::vector<VisibleDevice> outer = {{k_c, 2, false}, {k_a, 0, false}};
    const auto devices = resolve_gpu_list("1", gpus, outer, IndexBase::pool);
    ASSERT_EQ(devices.size(), 1U);
    EXPECT_EQ(devices[0].uuid, k_a);
    EXPECT_THROW((void)resolve_gpu_list("2", gpus, outer, IndexBase::pool), Error);
    try {
        (void)resolve_gpu_list(k_b, gpus, outer, IndexBase::pool);
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("outside the GPUs this process may use"),
                  std::string::npos);
    }
}

NvmlSnapshot snapshot_of(const std::vector<GpuId>& gpus) {
    NvmlSnapshot snapshot;
    for (const GpuId& id : gpus) {
        GpuInfo info;
        info.index = id.index;
        info.uuid.value = id.uuid;
        info.mig_mode.value = MigMode{id.mig_enabled, id.mig_enabled};
        std::vector<MigDevice> migs;
        for (const auto& m : id.mig_devices) {
            MigDevice d;
            d.uuid.value = m.uuid;
            d.gpu_instance_id.value = m.gpu_instance;
            d.compute_instance_id.value = m.compute_instance;
            migs.push_back(d);
        }
        info.mig_devices.value = migs;
        info.processes.value = std::vector<GpuProcess>{};
        snapshot.gpus.push_back(info);
    }
    return snapshot;
}

TEST(GpuSelection, MachineGpusRoundTripsTheSnapshot) {
    const auto gpus = machine();
    NvmlSnapshot snapshot = snapshot_of(gpus);
    GpuInfo lost;
    lost.index = 4;
    lost.uuid.error_code = 15;
    snapshot.gpus.push_back(lost);
    const auto ids = machine_gpus(snapshot);
    ASSERT_EQ(ids.size(), 4U);  // a GPU without a UUID cannot be named to CUDA
    EXPECT_EQ(ids[3].uuid, k_mig_gpu);
    EXPECT_TRUE(ids[3].mig_enabled);
    ASSERT_EQ(ids[3].mig_devices.size(), 1U);
    EXPECT_EQ(ids[3].mig_devices[0].uuid, k_mig);
}

TEST(GpuSelection, BindPlanWritesUuidsWithPciOrder) {
    const auto gpus = machine();
    const NvmlSnapshot snapshot = snapshot_of(gpus);
    VisibilityResult caller;
    caller.devices = all_devices(gpus);
    const BindPlan plan = plan_binding("0,2", snapshot, caller, {});
    ASSERT_EQ(plan.vars.size(), 2U);
    EXPECT_EQ(plan.vars[0].first, "CUDA_VISIBLE_DEVICES");
    EXPECT_EQ(plan.vars[0].second, k_a + "," + k_c);
    EXPECT_EQ(plan.vars[1].first, "CUDA_DEVICE_ORDER");
    EXPECT_EQ(plan.vars[1].second, "PCI_BUS_ID");
    EXPECT_TRUE(plan.warnings.empty());
    const BindPlan none = plan_binding("none", snapshot, caller, {});
    EXPECT_EQ(none.vars[0].second, "-1");
}

TEST(GpuSelection, BindPlanWarnsAboutBusyLeasedAndUnreachableGpus) {
    const auto gpus = machine();
    NvmlSnapshot snapshot = snapshot_of(gpus);
    snapshot.gpus[1].processes.value = std::vector<GpuProcess>{{4242, 2147483648ULL}};
    VisibilityResult caller;
    caller.devices = {{k_a, 0, false}, {k_b, 1, false}};  // e.g. CUDA_VISIBLE_DEVICES=0,1
    const BindPlan plan = plan_binding("0,1,2", snapshot, caller, {{k_a, "alice"}});
    ASSERT_EQ(plan.warnings.size(), 3U);
    EXPECT_EQ(plan.warnings[0].message, "GPU 0 is leased by alice");
    EXPECT_EQ(plan.warnings[1].message,
              "GPU 1 is busy: 1 process holds 2048 MiB (see `gpuenv gpus`)");
    EXPECT_NE(plan.warnings[2].message.find("GPU 2 is outside this shell's own GPU restriction"),
              std::string::npos);
}

}  // namespace
}  // namespace gpuenv::core::gpu
