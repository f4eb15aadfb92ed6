#pragma once

#include <filesystem>
#include <string_view>

namespace gpuenv::util {

/// Writes `content` to `path` atomically: a new temporary file in the same directory
/// (created with O_EXCL, so a planted symlink is never followed), fsync, then rename over the
/// target. On any failure the temporary file is removed, the target is left untouched and
/// Error(not_found) names the file and the reason. A new file gets mode 0644 (less umask);
/// an existing target keeps its mode.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

}  // namespace gpuenv::util
