// Fuzzes the conda-meta record reader: any bytes give a record or a gpuenv::Error.
#include <cstdint>

#include <gpuenv/core/env/channel.hpp>
#include <gpuenv/core/env/conda_record.hpp>
#include <gpuenv/util/error.hpp>

#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static gpuenv::core::env::CondaRecordReader reader;  // reused, as read_inventory does
    const auto file = gpuenv::fuzz::scratch_dir() / "conda-meta" / "fuzz-1.0-0.json";
    gpuenv::fuzz::write_input(file, data, size);
    try {
        const auto record = reader.read(file);
        if (record.name.empty() || record.version.empty() || record.build.empty())
            __builtin_trap();
        (void)gpuenv::core::env::channel_display_name(record);
    } catch (const gpuenv::Error&) {
    }
    return 0;
}
