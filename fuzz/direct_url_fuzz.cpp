// Fuzzes direct_url.json reading: any bytes give a distribution, with at most a warning.
#include <cstdint>

#include <gpuenv/core/env/python_dist.hpp>
#include <gpuenv/util/error.hpp>

#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto dist_info = gpuenv::fuzz::scratch_dir() / "site-packages" / "fuzz-1.0.dist-info";
    static const bool metadata_written = [&] {
        const std::string metadata = "Metadata-Version: 2.1\nName: fuzz\nVersion: 1.0\n\n";
        gpuenv::fuzz::write_input(dist_info / "METADATA",
                                  reinterpret_cast<const std::uint8_t*>(metadata.data()),
                                  metadata.size());
        return true;
    }();
    (void)metadata_written;
    gpuenv::fuzz::write_input(dist_info / "direct_url.json", data, size);
    gpuenv::Diagnostics warnings;
    // METADATA is valid, so an error here is a bug: let it escape and crash the fuzzer.
    const auto dist = gpuenv::core::env::read_python_dist(
        dist_info, gpuenv::core::env::DistFormat::dist_info, warnings);
    if (dist.direct_url && dist.direct_url->url.empty())
        __builtin_trap();
    return 0;
}
