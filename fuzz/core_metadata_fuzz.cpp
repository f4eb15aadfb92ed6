// Fuzzes METADATA/PKG-INFO reading: any bytes give a distribution or a gpuenv::Error.
#include <cstdint>

#include <gpuenv/core/env/python_dist.hpp>
#include <gpuenv/util/error.hpp>

#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto file = gpuenv::fuzz::scratch_dir() / "site-packages" / "fuzz-1.0.egg-info";
    gpuenv::fuzz::write_input(file, data, size);
    gpuenv::Diagnostics warnings;
    try {
        const auto dist = gpuenv::core::env::read_python_dist(
            file, gpuenv::core::env::DistFormat::egg_info_file, warnings);
        if (dist.name.empty() || dist.version.empty())
            __builtin_trap();
    } catch (const gpuenv::Error&) {
    }
    return 0;
}
