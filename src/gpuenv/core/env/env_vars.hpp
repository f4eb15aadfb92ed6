#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::env {

/// Holds the variables an environment sets on activation and where they came from.
struct EnvVars {
    /// Effective variables after conda's rules (reference/conda.md 2.2): env_vars.d/*.json in
    /// sorted order, then conda-meta/state over them; names uppercased; PATH dropped;
    /// "***unset***" values dropped.
    std::map<std::string, std::string> vars;
    /// The raw conda-meta/state document's env_vars, as written (for bind, which must keep
    /// every other key and value), in file order.
    std::vector<std::pair<std::string, std::string>> state_vars;
    gpuenv::Diagnostics warnings;  ///< unreadable files, PATH set, non-string values
};

/// Applies conda's activation rules to the parsed sources: `packages` are the env_vars.d files
/// (already in sorted path order), `state` is conda-meta/state's env_vars.
[[nodiscard]] std::map<std::string, std::string> effective_env_vars(
    const std::vector<std::vector<std::pair<std::string, std::string>>>& packages,
    const std::vector<std::pair<std::string, std::string>>& state, gpuenv::Diagnostics& warnings);

/// Parses one JSON document of string values: conda-meta/state's {"env_vars": {...}} when
/// `state_file` is true, else an env_vars.d file's flat object. Throws gpuenv::Error
/// (not_found) naming the file, line and column when it is not valid JSON or not that shape.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> parse_env_vars_json(
    std::string_view text, const std::filesystem::path& path, bool state_file);

/// Parses as the overload above does, appending a warning (file, line, column) for each
/// value that is not a string (left out by both overloads).
[[nodiscard]] std::vector<std::pair<std::string, std::string>> parse_env_vars_json(
    std::string_view text, const std::filesystem::path& path, bool state_file,
    gpuenv::Diagnostics& warnings);

/// Reads a prefix's etc/conda/env_vars.d/*.json and conda-meta/state (each optional). A file
/// that cannot be read or parsed becomes a warning and is skipped.
[[nodiscard]] EnvVars read_env_vars(const std::filesystem::path& prefix);

}  // namespace gpuenv::core::env
