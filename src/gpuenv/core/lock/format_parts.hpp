#pragma once

// Internal to core/lock: the reader and writer of each lock format behind lock_format.hpp,
// and the helpers they share. Not part of gpuenv's public API.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/core/lock/locked_env.hpp>
#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::lock::detail {

/// Limits the size of a lock file any reader accepts (far beyond any real environment).
inline constexpr std::size_t k_max_lock_size = 64U << 20;

/// Renders gpuenv's own YAML lock (deterministic bytes for equal input).
[[nodiscard]] RenderedLock render_gpuenv_lock(const LockedEnv& env);
/// Parses gpuenv's own YAML lock.
[[nodiscard]] LockedEnv parse_gpuenv_lock(std::string_view text, const std::filesystem::path& path);

/// Renders a CEP 23 @EXPLICIT file (conda packages only, in topological order).
[[nodiscard]] RenderedLock render_explicit_lock(const LockedEnv& env);
/// Parses a CEP 23 @EXPLICIT file.
[[nodiscard]] LockedEnv parse_explicit_lock(std::string_view text,
                                            const std::filesystem::path& path);

/// Renders a CEP 37 conda-lock.yml (version 1) for the environment's platform.
[[nodiscard]] RenderedLock render_conda_lock(const LockedEnv& env);
/// Parses a CEP 37 conda-lock.yml (version 1), keeping one platform.
[[nodiscard]] LockedEnv parse_conda_lock(std::string_view text, const std::filesystem::path& path);

/// Renders pip requirements pinning every Python distribution.
[[nodiscard]] RenderedLock render_requirements_lock(const LockedEnv& env);
/// Parses pip requirements whose every requirement is an exact pin or a direct URL.
[[nodiscard]] LockedEnv parse_requirements_lock(std::string_view text,
                                                const std::filesystem::path& path);

/// Parses a saved `gpuenv list --json` document (gpuenv.list/1).
[[nodiscard]] LockedEnv parse_list_json_lock(std::string_view text,
                                             const std::filesystem::path& path);

// ---- shared helpers (defined in lock_format.cpp) ----

/// Throws gpuenv::Error(not_found) as "path:line:column: message" (line/column left out when 0).
[[noreturn]] void fail_at(const std::filesystem::path& path, int line, int column,
                          std::string_view message);

/// Throws when a lock text is larger than k_max_lock_size.
void check_size(std::string_view text, const std::filesystem::path& path);

/// Quotes a string as a YAML double-quoted scalar that yaml-cpp and PyYAML read back as the
/// same string (bytes that are not UTF-8 are escaped and so read back as U+0080..U+00FF).
[[nodiscard]] std::string yaml_quote(std::string_view text);

/// Returns one `key: value` line of a block mapping at `indent`, both quoted; a key too long
/// for a YAML simple key (1024 characters) is written as an explicit `? key` / `: value` pair.
[[nodiscard]] std::string yaml_map_entry(std::size_t indent, std::string_view key,
                                         std::string_view value);

/// Reads YAML nodes of a lock with errors and warnings that name the file, line and column.
class YamlReader {
  public:
    /// Creates a reader reporting against `path`, appending warnings to `warnings`.
    YamlReader(const std::filesystem::path& path, gpuenv::Diagnostics& warnings)
        : m_path(path), m_warnings(warnings) {}

    /// Parses a whole document; throws naming the line and column of a syntax error.
    [[nodiscard]] YAML::Node load(std::string_view text) const;

    /// Throws an error located at the node.
    [[noreturn]] void fail(const YAML::Node& node, std::string_view message) const;

    /// Returns a scalar as written; null reads as ""; other kinds are an error.
    [[nodiscard]] std::string string(const YAML::Node& node, std::string_view what) const;

    /// Returns an integer scalar; other values are an error.
    [[nodiscard]] std::int64_t integer(const YAML::Node& node, std::string_view what) const;

    /// Returns a boolean scalar (true/false, yes/no, on/off); other values are an error.
    [[nodiscard]] bool boolean(const YAML::Node& node, std::string_view what) const;

    /// Returns a list of scalars; null reads as an empty list.
    [[nodiscard]] std::vector<std::string> strings(const YAML::Node& node,
                                                   std::string_view what) const;

    /// Checks that the node is a mapping (null allowed when `null_ok`).
    void expect_map(const YAML::Node& node, std::string_view what, bool null_ok = false) const;

    /// Checks that the node is a sequence (null allowed when `null_ok`).
    void expect_list(const YAML::Node& node, std::string_view what, bool null_ok = false) const;

    /// Adds a warning located at the node.
    void warn(const YAML::Node& node, std::string message) const;

  private:
    const std::filesystem::path& m_path;
    gpuenv::Diagnostics& m_warnings;
};

/// Holds what a conda artifact URL tells: `<channel>/<subdir>/<name>-<version>-<build>.conda`.
struct ArtifactUrl {
    std::string name;
    std::string version;
    std::string build;
    std::string channel;  ///< display name (conda-forge, pkgs/main, or the URL without subdir)
    std::string subdir;   ///< "" when the directory is not a known subdir
};

/// Splits an artifact URL or path (a file name ending in .conda or .tar.bz2, without a
/// fragment); returns false when the file name is not name-version-build.
[[nodiscard]] bool parse_artifact_url(std::string_view url, ArtifactUrl& out);

/// Returns the subdir of the first conda package that is not noarch; "" when none.
[[nodiscard]] std::string platform_of(const std::vector<LockedPackage>& packages);

/// Returns the channels of the conda packages, most used first (ties by name).
[[nodiscard]] std::vector<std::string> channels_by_use(const std::vector<LockedPackage>& packages);

/// Returns the package name a conda depends string names ("python >=3.11" -> "python").
[[nodiscard]] std::string depends_name(std::string_view depends);

/// Returns "a, b and c" (names in the order given).
[[nodiscard]] std::string join_names(const std::vector<std::string>& names);

/// Adds a warning when the environment has variables a format cannot hold.
void warn_dropped_env_vars(const LockedEnv& env, std::string_view format,
                           gpuenv::Diagnostics& warnings);

/// Drops earlier packages with the same manager and key (the later line wins, as conda
/// replaces a same-name package), adding a warning naming each.
void drop_duplicates(LockedEnv& env, const std::filesystem::path& path);

}  // namespace gpuenv::core::lock::detail
