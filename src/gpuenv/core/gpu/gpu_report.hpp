#pragma once

// `gpuenv gpus`: NVML's GPUs and their processes, each process joined with what /proc says
// about it (who runs it, what, for how long, in which environment).

#include <map>
#include <string>
#include <vector>

#include <gpuenv/core/gpu/nvml.hpp>
#include <gpuenv/core/gpu/process_info.hpp>

namespace gpuenv::core::gpu {

/// Describes one process on a GPU: NVML's view joined with /proc's.
struct GpuProcessRow {
    GpuProcess nvml;
    ProcessInfo info;
    /// The lease this process runs under: the GPU's lease when the process is its holder or
    /// a descendant of it; "" when it runs outside any lease.
    std::string lease;
};

/// Describes the held lease of a GPU for the report.
struct GpuLease {
    long pid = 0;        ///< the holder's pid (gpuenv run)
    std::string holder;  ///< "bob (pid 4242, since ...: python train.py)"
};

/// Describes one GPU with its processes.
struct GpuRow {
    GpuInfo gpu;
    std::string lease;  ///< who holds the GPU's lease; "" when nobody does
    std::vector<GpuProcessRow> processes;
};

/// Holds the result of `gpuenv gpus`.
struct GpuReport {
    NvmlField<std::string> driver_version;
    NvmlField<CudaVersion> cuda_driver_version;
    std::vector<GpuRow> gpus;
    std::vector<std::string> errors;  ///< "gpu 0: power: Not Supported", one per failed field
};

/// Joins a snapshot's GPUs and processes with `lookup`'s process info and the held leases
/// (GPU UUID -> lease), and lists failed fields. A process belongs to a lease when the lease's
/// holder is the process or one of its ancestors (`lookup` gives the parents).
[[nodiscard]] GpuReport build_gpu_report(const NvmlSnapshot& snapshot, const ProcessLookup& lookup,
                                         const std::map<std::string, GpuLease>& leases = {});

}  // namespace gpuenv::core::gpu
