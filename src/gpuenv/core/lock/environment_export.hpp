#pragma once

#include <string>
#include <vector>

#include <gpuenv/core/env/history.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/lock/locked_env.hpp>
#include <gpuenv/core/spec/environment_yml.hpp>

namespace gpuenv::core::lock {

/// Holds an environment.yml about to be written.
struct ExportedEnv {
    std::string name;
    std::vector<std::string> channels;
    std::vector<std::string> conda;  ///< MatchSpec strings
    std::vector<std::string> pip;    ///< pip requirement lines
    std::vector<std::pair<std::string, std::string>> variables;
};

/// Says whether pinned exports carry build strings (`conda env export --no-builds`).
enum class Builds { no, yes };

/// Exports every package pinned: conda `name=version=build` (or `name=version`), external
/// distributions as `name==version` under `pip:` (adding `pip` to the conda list when the
/// environment has it), channels by use, the environment's variables.
[[nodiscard]] ExportedEnv export_pinned(const LockedEnv& env, Builds builds = Builds::yes);

/// Exports what the user asked for: the requested specs replayed from conda-meta/history
/// (kept only while still installed, as conda does), with the channels those packages came
/// from, and the external distributions that have a REQUESTED file, pinned with `==`.
[[nodiscard]] ExportedEnv export_from_history(const env::Inventory& inventory,
                                              const env::History& history, const LockedEnv& locked);

/// Renders an environment.yml that conda, micromamba and gpuenv read back.
[[nodiscard]] std::string render_environment_yml(const ExportedEnv& env);

/// Converts a parsed environment.yml whose every spec is pinned (conda `name=version[=build]`
/// or `name==version`, pip `name==version`) to the lock model. Throws gpuenv::Error
/// (not_found) naming the file and line of the first spec that is not pinned.
[[nodiscard]] LockedEnv locked_env_from_environment_yml(const spec::EnvironmentFile& file);

}  // namespace gpuenv::core::lock
