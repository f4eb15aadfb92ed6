#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gpuenv::core::env {

/// Names a paths_data entry's path_type (CEP 32).
enum class PathType {
    hardlink,  ///< also the default when path_type is absent
    softlink,
    directory,
    pyc_file,
    unix_python_entry_point,
    windows_python_entry_point_script,
    windows_python_entry_point_exe,
    linked_package_record,
};

/// Holds one paths_data.paths[] entry as written (reference/conda.md 1.3).
struct PathEntry {
    std::string path;  ///< `_path` as written (conda noarch:python keeps `site-packages/...`)
    PathType type = PathType::hardlink;
    std::string sha256;
    std::string sha256_in_prefix;
    std::int64_t size_in_bytes = -1;  ///< -1 when absent
    std::string prefix_placeholder;
    std::string file_mode;  ///< "text", "binary" or ""
    bool no_link = false;
};

/// Holds what verify needs from one conda record: every file it owns.
struct RecordPaths {
    std::string name, version, build;
    std::string noarch;              ///< "python" maps site-packages/ and python-scripts/ paths
    std::vector<std::string> files;  ///< files[] as written
    std::vector<PathEntry> paths;    ///< paths_data.paths[] (empty for old records)
    int paths_version = 0;           ///< 0 when paths_data is absent
};

/// Views one paths_data.paths[] entry as written; its text lives in the reader that made it.
struct PathEntryView {
    std::string_view path;  ///< `_path` as written
    PathType type = PathType::hardlink;
    std::string_view sha256;
    std::string_view sha256_in_prefix;
    std::int64_t size_in_bytes = -1;  ///< -1 when absent
    std::string_view prefix_placeholder;
    std::string_view file_mode;
    bool no_link = false;
};

/// Views what RecordPaths holds, without a copy of any string; valid until the reader that
/// made it reads again or is destroyed.
struct RecordPathsView {
    std::string_view name, version, build;
    std::string_view noarch;
    std::vector<std::string_view> files;
    std::vector<PathEntryView> paths;
    int paths_version = 0;
};

/// Parses a record's files[] and paths_data fully. Throws gpuenv::Error(not_found) naming the
/// file, line and column for invalid JSON or wrongly typed fields.
[[nodiscard]] RecordPaths parse_record_paths(std::string_view json,
                                             const std::filesystem::path& record_file);

/// Reads and parses one record file.
[[nodiscard]] RecordPaths read_record_paths(const std::filesystem::path& record_file);

/// Reads records fully, reusing one parser and buffer across calls (verify reads hundreds).
class RecordPathsReader {
  public:
    /// Creates a reader with its own parser and buffer.
    RecordPathsReader();
    ~RecordPathsReader();
    RecordPathsReader(const RecordPathsReader&) = delete;
    RecordPathsReader& operator=(const RecordPathsReader&) = delete;

    /// Reads and parses one record file, as read_record_paths does.
    [[nodiscard]] RecordPaths read(const std::filesystem::path& record_file);

    /// Reads and parses one record file as read() does, but views the text instead of copying
    /// it (no allocation per entry once the reader is warm); valid until the next call.
    [[nodiscard]] const RecordPathsView& view(const std::filesystem::path& record_file);

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

/// Maps a paths_data/files path to where it lives in the prefix: for noarch:python records
/// written by conda, `site-packages/x` -> `<site_packages>/x` and `python-scripts/x` ->
/// `bin/x`; every other path is returned as is. `site_packages` is prefix-relative.
[[nodiscard]] std::string map_noarch_path(std::string_view path, std::string_view noarch,
                                          std::string_view site_packages);

/// Returns the PathType for a path_type string; hardlink for unknown values.
[[nodiscard]] PathType parse_path_type(std::string_view text);

}  // namespace gpuenv::core::env
