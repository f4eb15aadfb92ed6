#pragma once

// Turning what a user types for GPUs ("0,2", UUIDs, "none") into devices, strictly: where CUDA
// silently stops at the first entry it does not know (visibility.hpp), a command that binds
// or hands out GPUs refuses it and says why.

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gpuenv/util/diagnostic.hpp>

#include <gpuenv/core/gpu/device_id.hpp>
#include <gpuenv/core/gpu/nvml.hpp>
#include <gpuenv/core/gpu/visibility.hpp>

namespace gpuenv::core::gpu {

/// Returns the GPUs of a snapshot that NVML could identify (a GPU without a UUID cannot be
/// named to CUDA), with their MIG devices, in NVML index order.
[[nodiscard]] std::vector<GpuId> machine_gpus(const NvmlSnapshot& snapshot);

/// Says what integer entries of a GPU list count.
enum class IndexBase {
    machine,  ///< NVML's index, as nvidia-smi numbers GPUs (bind: a property of the env)
    pool,     ///< the position in the pool, as inside an outer CUDA_VISIBLE_DEVICES (run)
};

/// Resolves a comma-separated GPU list: integer indices (see IndexBase), full or uniquely
/// abbreviated GPU-/MIG- UUIDs, or "none" (no GPU: an empty result). Every entry must name a
/// device of `pool`; throws gpuenv::Error (usage) naming the entry when one is unknown,
/// ambiguous, outside the pool, repeated, a MIG-enabled GPU named by index, or a MIG device
/// listed with another device (CUDA shows at most one MIG device to a process).
[[nodiscard]] std::vector<VisibleDevice> resolve_gpu_list(std::string_view list,
                                                          const std::vector<GpuId>& machine,
                                                          const std::vector<VisibleDevice>& pool,
                                                          IndexBase base);

/// Returns every device a process could be given on this machine: each GPU without MIG, and
/// each MIG device of a MIG-enabled GPU, in NVML order.
[[nodiscard]] std::vector<VisibleDevice> all_devices(const std::vector<GpuId>& machine);

/// Holds what `gpuenv bind` will write and what the user should know first.
struct BindPlan {
    std::vector<VisibleDevice> devices;                     ///< empty for "none" (no GPU)
    std::vector<std::pair<std::string, std::string>> vars;  ///< CUDA_VISIBLE_DEVICES, ...
    gpuenv::Diagnostics warnings;  ///< chosen GPUs that are busy, leased or outside `caller`
};

/// Plans a binding of `gpu_list` (indices as nvidia-smi numbers GPUs, UUIDs, or "none") on the
/// machine of `snapshot`: the devices as UUIDs with CUDA_DEVICE_ORDER=PCI_BUS_ID, and a
/// warning for each chosen GPU that has compute processes, is leased (`lease_holders`: GPU
/// UUID -> who holds it) or lies outside the caller's own restriction `caller`. Throws
/// gpuenv::Error (usage) as resolve_gpu_list does.
[[nodiscard]] BindPlan plan_binding(std::string_view gpu_list, const NvmlSnapshot& snapshot,
                                    const VisibilityResult& caller,
                                    const std::map<std::string, std::string>& lease_holders);

}  // namespace gpuenv::core::gpu
