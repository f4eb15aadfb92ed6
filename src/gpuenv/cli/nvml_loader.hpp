#pragma once

#include <gpuenv/core/gpu/nvml.hpp>

namespace gpuenv::cli {

/// Loads NVML from GPUENV_NVML_LIBRARY when set, else the driver's libnvidia-ml.so.1; throws
/// gpuenv::Error (no_gpu) with NVML's reason when it cannot be loaded or initialised.
[[nodiscard]] core::gpu::Nvml load_nvml();

}  // namespace gpuenv::cli
