// Fuzzes torch/version.py reading and CUDA version text: any bytes give a build or nothing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <gpuenv/core/doctor/doctor.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    namespace doctor = gpuenv::core::doctor;
    if (const auto build = doctor::parse_torch_version_py(text)) {
        if (build->cuda)
            (void)doctor::parse_cuda_version(*build->cuda);
    }
    if (const auto version = doctor::parse_cuda_version(text))
        (void)doctor::format_cuda_version(*version);
    return 0;
}
