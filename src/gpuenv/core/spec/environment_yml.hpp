#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gpuenv/core/spec/match_spec.hpp>
#include <gpuenv/core/spec/requirement.hpp>
#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::spec {

/// Holds one conda dependency of an environment.yml with the line it came from.
struct CondaDependency {
    MatchSpec spec;
    int line = 0;  ///< 1-based line in the file
};

/// Holds one line of the `pip:` list: a PEP 508 requirement, or a line pip understands but
/// that names no checkable requirement (`-r file`, `--index-url URL`, `-e ./pkg`, a bare URL).
struct PipDependency {
    std::string text;                        ///< the line as written
    std::optional<Requirement> requirement;  ///< set when the line is a PEP 508 requirement
    std::string unchecked_reason;            ///< why it cannot be checked, when it is not
    int line = 0;
};

/// Holds an environment.yml (CEP 24) as conda reads it.
struct EnvironmentFile {
    std::filesystem::path path;
    std::string name;
    std::string prefix;
    std::vector<std::string> channels;  ///< with environment variables expanded, nodefaults removed
    bool nodefaults = false;  ///< `nodefaults` was listed: conda's default channels are not added
    std::vector<CondaDependency> conda;
    std::vector<PipDependency> pip;
    std::vector<std::pair<std::string, std::string>> variables;  ///< in file order
    gpuenv::Diagnostics warnings;  ///< unknown keys, `pip:` without `pip`, unchecked pip lines
};

/// Returns the value of an environment variable, or std::nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// Says which platform `sel(...)` dict selectors (micromamba) are evaluated for.
struct SelectorPlatform {
    std::string subdir = "linux-64";  ///< the target's conda subdir
};

/// Parses an environment.yml. Throws gpuenv::Error(not_found) naming the file, line and
/// column for invalid YAML, a wrong shape (dependencies not a list, ...), an invalid
/// MatchSpec or an unknown sub-installer section (CEP 24: an error, not a warning).
[[nodiscard]] EnvironmentFile parse_environment_yml(std::string_view text,
                                                    const std::filesystem::path& path,
                                                    const EnvLookup& lookup,
                                                    const SelectorPlatform& platform = {});

/// Reads and parses an environment.yml file with this process's environment variables.
[[nodiscard]] EnvironmentFile read_environment_yml(const std::filesystem::path& path,
                                                   const SelectorPlatform& platform = {});

/// Expands $NAME and ${NAME} as Python's os.path.expandvars does: unknown names stay as written.
[[nodiscard]] std::string expand_vars(std::string_view text, const EnvLookup& lookup);

}  // namespace gpuenv::core::spec
