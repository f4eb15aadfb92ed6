#include <gpuenv/core/gpu/gpu_report.hpp>

#include <gtest/gtest.h>

namespace gpuenv::core::gpu {
namespace {

TEST(GpuReport, JoinsProcessesWithLookupAndListsFailedFields) {
    NvmlSnapshot snapshot;
    snapshot.driver_version.value = "550.54.15";
    snapshot.gpu_count.value = 1;
    snapshot.cuda_driver_version.error = "Not Supported";
    GpuInfo g;
    g.index = 0;
    g.handle.value = true;
    g.uuid.value = "GPU-1";
    g.name.value = "A100";
    g.pci_bus_id.value = "00000000:07:00.0";
    g.memory.value = GpuMemory{1, 2};
    g.utilisation.value = GpuUtilisation{};
    g.temperature_c.value = 40;
    g.power_mw.error = "Not Supported";
    g.compute_capability.value = ComputeCapability{8, 0};
    g.processes.value = {{42, 1024}, {43, std::nullopt}};
    snapshot.gpus.push_back(g);

    const GpuReport report = build_gpu_report(snapshot, [](unsigned pid) {
        ProcessInfo info;
        info.pid = pid;
        info.visible = pid == 42;
        info.user = info.visible ? "alice" : "";
        return info;
    });
    ASSERT_EQ(report.gpus.size(), 1u);
    ASSERT_EQ(report.gpus[0].processes.size(), 2u);
    EXPECT_EQ(report.gpus[0].processes[0].info.user, "alice");
    EXPECT_FALSE(report.gpus[0].processes[1].info.visible);
    EXPECT_EQ(report.gpus[0].processes[0].lease, "");
    EXPECT_EQ(report.errors, (std::vector<std::string>{"cuda_version: Not Supported",
                                                       "gpu 0: power: Not Supported"}));
}

}  // namespace
}  // namespace gpuenv::core::gpu
