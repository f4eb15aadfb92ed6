#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gpuenv/core/gpu/device_id.hpp>

namespace gpuenv::core::gpu {

/// Lists the values of CUDA_DEVICE_ORDER (reference/gpu.md 2.3).
enum class DeviceOrder { fastest_first, pci_bus_id };

/// Parses a CUDA_DEVICE_ORDER value; unset or unknown gives fastest_first, CUDA's default.
[[nodiscard]] DeviceOrder parse_device_order(std::optional<std::string_view> value);

/// Holds one device a CUDA process sees: a whole GPU or a MIG device.
struct VisibleDevice {
    std::string uuid;        ///< "GPU-..." or "MIG-..."
    unsigned gpu_index = 0;  ///< NVML index of the physical GPU (the MIG device's parent)
    bool mig = false;        ///< true for a MIG device

    friend bool operator==(const VisibleDevice&, const VisibleDevice&) = default;
};

/// Holds the devices a CUDA process would see, in CUDA's order, and why others are missing.
struct VisibilityResult {
    std::vector<VisibleDevice> devices;
    /// True when integer indices (or "all devices") were ordered under FASTEST_FIRST: CUDA's
    /// order then cannot be derived from NVML, and `devices` follows PCI bus order instead.
    bool order_uncertain = false;
    /// One human-readable line per rule that removed devices ("stopped at '-1' ...").
    std::vector<std::string> notes;
    /// The note of rule 6 (CUDA stopped at an entry naming no GPU) or rule 7 (a device named
    /// twice), also in `notes`; "" when every entry named a GPU of this machine.
    std::string invalid_entry;
};

/// The note added when CUDA_DEVICE_ORDER makes the order uncertain (order_uncertain).
inline constexpr std::string_view k_order_note =
    "CUDA_DEVICE_ORDER is not PCI_BUS_ID: CUDA numbers GPUs fastest first, which NVML cannot "
    "tell; PCI bus order is assumed";

/// Resolves a CUDA_VISIBLE_DEVICES value (nullopt when unset) against the GPUs the process
/// can open, as CUDA does (reference/gpu.md 2.2 rules 1-9).
[[nodiscard]] VisibilityResult resolve_visible_devices(
    std::optional<std::string_view> cuda_visible_devices, const std::vector<GpuId>& gpus,
    DeviceOrder order);

/// Looks up an environment variable by name; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

/// Resolves the caller's environment (CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER, SLURM_STEP_GPUS
/// or SLURM_JOB_GPUS, NVIDIA_VISIBLE_DEVICES) into the ordered devices this process may use
/// (reference/gpu.md 2.8).
[[nodiscard]] VisibilityResult resolve_outer_restriction(const EnvLookup& env,
                                                         const std::vector<GpuId>& gpus);

/// Returns the devices that relative indices name inside `outer`; throws gpuenv::Error (usage)
/// when an index is out of range or repeated.
[[nodiscard]] std::vector<VisibleDevice> select_relative(
    const std::vector<VisibleDevice>& outer, const std::vector<unsigned>& relative_indices);

/// Formats devices as a CUDA_VISIBLE_DEVICES value of UUIDs, "-1" when empty; throws
/// gpuenv::Error (usage) on a duplicate, or on a MIG device listed with any other device.
[[nodiscard]] std::string format_cuda_visible_devices(const std::vector<VisibleDevice>& devices);

/// Returns the variables gpuenv sets for a child: CUDA_VISIBLE_DEVICES as UUIDs ("-1" when
/// `devices` is empty, as for --cpu) and CUDA_DEVICE_ORDER=PCI_BUS_ID.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> child_gpu_environment(
    const std::vector<VisibleDevice>& devices);

}  // namespace gpuenv::core::gpu
