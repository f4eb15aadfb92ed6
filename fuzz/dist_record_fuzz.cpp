// Fuzzes the RECORD (PEP 376 CSV) parser: any bytes give rows or a gpuenv::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <gpuenv/core/env/dist_record.hpp>
#include <gpuenv/util/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const auto rows =
            gpuenv::core::env::parse_dist_record(text, "site-packages/fuzz-1.0.dist-info/RECORD");
        int previous_line = 0;
        for (const auto& row : rows) {
            // Every row names a path, starts after the one before, and has a hash only with
            // its algorithm.
            if (row.path.empty() || row.size < -1 || row.line <= previous_line ||
                (!row.hash.empty() && row.hash_algorithm.empty())) {
                __builtin_trap();
            }
            previous_line = row.line;
        }
    } catch (const gpuenv::Error&) {
    }
    return 0;
}
