// Fuzzes the full conda-meta record reader (files[] and paths_data): any bytes give the
// record's paths or a gpuenv::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <gpuenv/core/env/record_paths.hpp>
#include <gpuenv/util/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace env = gpuenv::core::env;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const auto paths = env::parse_record_paths(text, "conda-meta/fuzz-1.0-0.json");
        for (const auto& entry : paths.paths) {
            if (entry.size_in_bytes < -1)
                __builtin_trap();
            (void)env::map_noarch_path(entry.path, paths.noarch, "lib/python3.11/site-packages");
        }
        if (paths.paths_version < 0)
            __builtin_trap();
    } catch (const gpuenv::Error&) {
    }
    return 0;
}
