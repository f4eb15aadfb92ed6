#pragma once

#include <string>
#include <vector>

namespace gpuenv::core::gpu {

/// Identifies one MIG device as CUDA_VISIBLE_DEVICES can name it (reference/gpu.md 2.4).
struct MigDeviceId {
    std::string uuid;               ///< "MIG-..." (R470+ form)
    unsigned gpu_instance = 0;      ///< GI id, for the old "MIG-GPU-<uuid>/<gi>/<ci>" form
    unsigned compute_instance = 0;  ///< CI id, for the same form
};

/// Identifies one physical GPU as the visibility rules need it; NVML fills it, tests build it.
struct GpuId {
    unsigned index = 0;  ///< NVML index, which is PCI bus order
    std::string uuid;    ///< "GPU-..."
    std::string pci_bus_id;
    bool mig_enabled = false;
    std::vector<MigDeviceId> mig_devices;  ///< in NVML's MIG index order
};

}  // namespace gpuenv::core::gpu
