// Fuzzes conda-meta/history parsing: any bytes give a History (never an exception), and
// replaying it gives a name -> spec map.
#include <cstdint>
#include <string_view>

#include <gpuenv/core/env/history.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto history = gpuenv::core::env::parse_history(text, "conda-meta/history");
    const auto specs = gpuenv::core::env::requested_specs_map(history);
    for (const auto& [name, spec] : specs)
        (void)name.size();
    return 0;
}
