#pragma once

// `gpuenv gpus`: NVML's GPUs and their processes, each process joined with what /proc says
// about it (who runs it, what, for how long, in which environment).

#include <string>
#include <vector>

#include <gpuenv/core/gpu/nvml.hpp>
#include <gpuenv/core/gpu/process_info.hpp>

namespace gpuenv::core::gpu {

/// Describes one process on a GPU: NVML's view joined with /proc's.
struct GpuProcessRow {
    GpuProcess nvml;
    ProcessInfo info;
    std::string lease;  ///< TODO(#6): the lease holding this GPU; always empty until leases exist
};

/// Describes one GPU with its processes.
struct GpuRow {
    GpuInfo gpu;
    std::vector<GpuProcessRow> processes;
};

/// Holds the result of `gpuenv gpus`.
struct GpuReport {
    NvmlField<std::string> driver_version;
    NvmlField<CudaVersion> cuda_driver_version;
    std::vector<GpuRow> gpus;
    std::vector<std::string> errors;  ///< "gpu 0: power: Not Supported", one per failed field
};

/// Joins a snapshot's GPUs and processes with `lookup`'s process info and lists failed fields.
[[nodiscard]] GpuReport build_gpu_report(const NvmlSnapshot& snapshot, const ProcessLookup& lookup);

}  // namespace gpuenv::core::gpu
