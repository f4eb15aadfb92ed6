#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace gpuenv::test {

/// Names the tool whose conda-meta record style a builder imitates (reference/conda.md 1.3).
enum class CondaWriter { conda, micromamba, rattler };

/// Tells add_package whether to write the listed files under the prefix.
enum class CreateFiles { no, yes };

/// Describes one installed conda package for CondaPrefixBuilder::add_package.
struct CondaPackageSpec {
    std::string name{};
    std::string version{};
    std::string build{};  ///< empty: "h0000000_<build_number>"
    int build_number = 0;
    std::string channel = "conda-forge";  ///< a name (on conda.anaconda.org) or a URL
    std::string subdir = "linux-64";
    std::string noarch{};  ///< "", "python" or "generic" (with subdir "noarch")
    std::vector<std::string> depends{};
    std::vector<std::string> constrains{};
    /// Prefix-relative files owned by the package ("lib/python3.11/site-packages/x/__init__.py").
    std::vector<std::string> files{};
    /// Content for some of `files`; others get a placeholder line. Files that already exist
    /// (written by another builder) are left as they are and hashed as found.
    std::map<std::string, std::string> contents{};
    /// Files that were prefix-replaced at install: path -> content as shipped in the package.
    /// The record's sha256 and size_in_bytes describe this; what is installed (from `contents`
    /// or the default line) gives sha256_in_prefix, in each writer's style.
    std::map<std::string, std::string> shipped{};
    /// Symlinks owned by the package: prefix-relative path -> link text (as readlink gives it).
    std::map<std::string, std::string> symlinks{};
    /// Generated entry points (path_type unix_python_entry_point): prefix-relative paths.
    std::vector<std::string> entry_points{};
    /// Directories recorded with path_type directory: prefix-relative paths.
    std::vector<std::string> directories{};
    CreateFiles create_files = CreateFiles::yes;
    bool requested = false;                   ///< the user asked for it by name (requested_spec(s))
    std::string python_site_packages_path{};  ///< set on the python package (CEP 17)
    std::int64_t timestamp = 1700000000000;   ///< milliseconds, as written
    /// Applied last to the record as a JSON merge patch (RFC 7386: null removes a key).
    nlohmann::json extra = nlohmann::json::object();
};

/// Returns the lowercase hex sha256 of some bytes.
[[nodiscard]] std::string sha256_hex(std::string_view data);

/// Writes a conda prefix (conda-meta/history and one record per package, plus the packages'
/// files, symlinks, entry points and directories) the way conda, micromamba or rattler would
/// leave it, with the hashes each writes (reference/conda.md 1.3).
class CondaPrefixBuilder {
  public:
    /// Creates prefix/conda-meta/history (empty), making the directory an environment.
    explicit CondaPrefixBuilder(std::filesystem::path prefix,
                                CondaWriter writer = CondaWriter::conda);

    /// Writes the package's files and its conda-meta/<name>-<version>-<build>.json in the
    /// writer's style; returns the record's path.
    std::filesystem::path add_package(const CondaPackageSpec& spec);

    /// Appends one line (a newline is added) to conda-meta/history.
    void add_history_line(std::string_view line);

    /// Returns the record add_package writes for a spec, without writing anything.
    [[nodiscard]] nlohmann::json record_json(const CondaPackageSpec& spec) const;

    /// Returns the prefix directory.
    [[nodiscard]] const std::filesystem::path& prefix() const { return m_prefix; }

    /// Returns the writer whose style the records follow.
    [[nodiscard]] CondaWriter writer() const { return m_writer; }

  private:
    std::filesystem::path m_prefix;
    CondaWriter m_writer;
};

}  // namespace gpuenv::test
