#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace gpuenv::core::env {

/// Holds one row of a PEP 376/627 RECORD file.
struct RecordRow {
    std::string path;  ///< as written: relative to site-packages (may start with ../), or absolute
    std::string hash_algorithm;  ///< "sha256", or "" when the row has no hash
    std::string hash;            ///< urlsafe-base64 without padding, as written
    std::int64_t size = -1;      ///< -1 when empty
    int line = 0;
};

/// Parses a RECORD (CSV as Python's csv module writes it: commas, optional double quotes with
/// "" escapes, \n or \r\n). Throws gpuenv::Error(not_found) naming the file and line for a row
/// that is not path,hash,size (an unterminated quote, a bad size, a hash without '=').
[[nodiscard]] std::vector<RecordRow> parse_dist_record(std::string_view text,
                                                       const std::filesystem::path& path);

}  // namespace gpuenv::core::env
