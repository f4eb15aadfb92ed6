#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace gpuenv::core::env {

/// Holds one installed conda package as recorded in conda-meta/<name>-<version>-<build>.json
/// by conda, micromamba or rattler/pixi (reference/conda.md section 1).
struct CondaRecord {
    std::string name;
    std::string version;
    std::string build;  ///< "build", or conda's alias "build_string"
    std::int64_t build_number = 0;
    std::string channel;  ///< as written: a URL with or without subdir, or a name
    std::string subdir;
    std::string fn;
    std::string url;
    std::string md5;
    std::string sha256;
    std::int64_t size = 0;
    std::int64_t timestamp = 0;  ///< milliseconds since the epoch (seconds are converted)
    std::string noarch;          ///< "", "python" or "generic" (also from package_type)
    std::vector<std::string> depends;
    std::vector<std::string> constrains;
    /// The specs the user asked for: requested_specs, else requested_spec unless it is
    /// absent, empty or conda's literal "None".
    std::vector<std::string> requested_specs;
    std::string python_site_packages_path;  ///< only on the python record (CEP 17)
    /// Prefix-relative Python metadata anchors among files[]: "*.dist-info" and "*.egg-info"
    /// directories or files, "*.egg/EGG-INFO" directories (without a trailing slash).
    std::vector<std::string> python_anchors;
    std::size_t file_count = 0;  ///< entries in files[]
    std::filesystem::path record_path;
};

/// Reads conda-meta records, reusing one parser and buffer across calls.
///
/// The large files[] array is scanned only for Python metadata anchors, and paths_data is
/// skipped without being materialized, so the cost is bounded by the record's size.
class CondaRecordReader {
  public:
    /// Creates a reader with its own parser and buffer.
    CondaRecordReader();
    ~CondaRecordReader();
    CondaRecordReader(const CondaRecordReader&) = delete;
    CondaRecordReader& operator=(const CondaRecordReader&) = delete;

    /// Reads one record. Throws gpuenv::Error naming the file and, for invalid JSON, the line
    /// and column; a record without name, version or build is also an error.
    [[nodiscard]] CondaRecord read(const std::filesystem::path& record_file);

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

/// Returns the conda-meta/*.json files of a prefix in sorted order (none when absent).
[[nodiscard]] std::vector<std::filesystem::path> list_conda_records(
    const std::filesystem::path& prefix);

}  // namespace gpuenv::core::env
