// Fuzzes CUDA_VISIBLE_DEVICES resolution: any bytes against a fixed 8-GPU machine (one GPU with
// MIG enabled) never crash and give a subset of the machine, without duplicates, with at most
// one MIG device, and only alone; the result always formats.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/gpu/visibility.hpp>

namespace {

using gpuenv::core::gpu::DeviceOrder;
using gpuenv::core::gpu::GpuId;
using gpuenv::core::gpu::VisibleDevice;

const std::vector<GpuId>& machine() {
    static const std::vector<GpuId> gpus = [] {
        const char* uuids[] = {
            "GPU-3eb79704-1571-707c-aee8-f43ce747313d", "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6",
            "GPU-8932a1b0-5f3e-4c1d-9a2b-0e7d6c5b4a39", "GPU-0d2c6f1e-77aa-4b1c-8e2d-3f4a5b6c7d8e",
            "GPU-96de99c9-d68f-84c8-424c-7c75e59cc0a0", "GPU-18ef14e9-dec6-1d7e-1284-3010c6ce98b1",
            "GPU-849d5a8d-610e-eeea-1fd4-81ff44a23794", "GPU-c1a2b3d4-e5f6-4789-a0b1-c2d3e4f5a6b7"};
        std::vector<GpuId> out;
        for (unsigned i = 0; i < 8; ++i)
            out.push_back(
                GpuId{i, uuids[i], "00000000:" + std::to_string(0x10 + i) + ":00.0", false, {}});
        out[0].mig_enabled = true;
        out[0].mig_devices = {{"MIG-d184f67c-c95f-5ef2-a935-195bd0094fbd", 1, 0},
                              {"MIG-37b51284-1df4-5451-979d-3231ccb0822e", 13, 0}};
        return out;
    }();
    return gpus;
}

bool on_machine(const VisibleDevice& device) {
    for (const GpuId& gpu : machine()) {
        if (!device.mig && gpu.uuid == device.uuid && gpu.index == device.gpu_index)
            return !gpu.mig_enabled;
        for (const auto& mig : gpu.mig_devices) {
            if (device.mig && mig.uuid == device.uuid && gpu.index == device.gpu_index)
                return true;
        }
    }
    return false;
}

void check(const std::vector<VisibleDevice>& devices) {
    std::size_t migs = 0;
    for (std::size_t i = 0; i < devices.size(); ++i) {
        if (!on_machine(devices[i]))
            __builtin_trap();
        for (std::size_t j = 0; j < i; ++j) {
            if (devices[j].uuid == devices[i].uuid)
                __builtin_trap();
        }
        migs += devices[i].mig ? 1 : 0;
    }
    if (migs > 1 || (migs == 1 && devices.size() != 1))
        __builtin_trap();
    if (gpuenv::core::gpu::format_cuda_visible_devices(devices).empty())
        __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (const DeviceOrder order : {DeviceOrder::fastest_first, DeviceOrder::pci_bus_id}) {
        const auto result = gpuenv::core::gpu::resolve_visible_devices(text, machine(), order);
        check(result.devices);
    }
    const std::string value(text);
    const auto outer = gpuenv::core::gpu::resolve_outer_restriction(
        [&value](std::string_view name) -> std::optional<std::string> {
            if (name == "CUDA_VISIBLE_DEVICES" || name == "SLURM_JOB_GPUS" ||
                name == "NVIDIA_VISIBLE_DEVICES")
                return value;
            return std::nullopt;
        },
        machine());
    check(outer.devices);
    return 0;
}
