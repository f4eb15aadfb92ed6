#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace gpuenv::fuzz {

/// Returns a per-process scratch directory (under $TMPDIR), created on first use.
inline const std::filesystem::path& scratch_dir() {
    static const std::filesystem::path dir = [] {
        const char* base = std::getenv("TMPDIR");
        std::filesystem::path p =
            std::filesystem::path(base != nullptr && *base != '\0' ? base : "/tmp") /
            ("gpuenv-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(p);
        return p;
    }();
    return dir;
}

/// Writes the fuzzer's bytes to a file, creating its directory; the parsers under test read
/// files, so the harness goes through the same entry point as gpuenv itself.
inline void write_input(const std::filesystem::path& path, const std::uint8_t* data,
                        std::size_t size) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace gpuenv::fuzz
