#include <gpuenv/cli/nvml_loader.hpp>

#include <cstdlib>

#include <gpuenv/util/error.hpp>

namespace gpuenv::cli {

core::gpu::Nvml load_nvml() {
    const char* library = std::getenv("GPUENV_NVML_LIBRARY");
    core::gpu::NvmlLoadFailure failure;
    auto nvml = core::gpu::Nvml::load(library != nullptr ? library : "", failure);
    if (!nvml)
        throw Error(ExitCode::no_gpu,
                    failure.message);  // says what failed, NVML not found included
    return std::move(*nvml);
}

}  // namespace gpuenv::cli
