#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/lock/locked_env.hpp>
#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::lock {

/// Names every format gpuenv reads as a lock (list_json and environment are read, the others
/// are also written).
enum class LockFormat {
    gpuenv,        ///< gpuenv's own YAML lock (`version: 1`)
    explicit_,     ///< CEP 23 @EXPLICIT file
    conda_lock,    ///< CEP 37 conda-lock.yml version 1
    environment,   ///< environment.yml (CEP 24) with pinned specs
    requirements,  ///< pip requirements, `name==version` lines
    list_json,     ///< a saved `gpuenv list --json` (gpuenv.list/1)
};

/// Returns the name used on the command line ("gpuenv", "explicit", "conda-lock", ...).
[[nodiscard]] const char* to_string(LockFormat format);

/// Parses a --format value; std::nullopt when unknown.
[[nodiscard]] std::optional<LockFormat> parse_lock_format(std::string_view name);

/// Holds a rendered lock and what could not be expressed in it.
struct RenderedLock {
    std::string text;
    gpuenv::Diagnostics warnings;  ///< e.g. pip distributions an explicit file cannot hold
};

/// Renders an environment in a format; `list_json` is not a writable format (Error usage).
[[nodiscard]] RenderedLock render_lock(const LockedEnv& env, LockFormat format);

/// Guesses the format of a file from its content (and name as a tie-breaker): `@EXPLICIT`,
/// `version: 1` + `package:` (conda-lock), `version:` + `conda:`/`pypi:` (gpuenv), a JSON
/// object with schema gpuenv.list/1, a `dependencies:` mapping (environment), else
/// requirements lines.
[[nodiscard]] LockFormat detect_lock_format(std::string_view text,
                                            const std::filesystem::path& path);

/// Parses a lock in a known format. Throws gpuenv::Error(not_found) naming the file, line
/// and column for malformed input.
[[nodiscard]] LockedEnv parse_lock(std::string_view text, const std::filesystem::path& path,
                                   LockFormat format);

/// Reads a lock file of any supported format (detected from its content).
[[nodiscard]] LockedEnv read_lock(const std::filesystem::path& path);

/// Returns the indexes of the conda packages in dependency (topological) order: every
/// package after the packages its depends name; cycles are broken deterministically (by
/// name) and ties are kept in name order, as conda's PrefixGraph does for `list --explicit`.
[[nodiscard]] std::vector<std::size_t> topological_order(
    const std::vector<LockedPackage>& packages);

}  // namespace gpuenv::core::lock
