#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gpuenv/core/env/prefix.hpp>
#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::run {

/// Maps environment variable names to values (a process environment).
using Environment = std::map<std::string, std::string>;

/// Says what a variable the environment marks "***unset***" does to a value the child would
/// inherit: conda's activate only skips it (`skip`); `unset` removes it from the child.
enum class UnsetMarker { skip, unset };

/// Names the environment to activate and how.
struct ActivationTarget {
    env::Prefix prefix;
    /// The environment's name ("base" for a conda root, the name given with -n), "" when it
    /// was given by path: then CONDA_DEFAULT_ENV is the directory name inside an envs/ folder,
    /// else the full path, as conda does.
    std::string name;
    UnsetMarker unset_marker = UnsetMarker::skip;
};

/// Holds what an environment's own files say about its activation.
struct ActivationFiles {
    /// The effective env_vars.d and conda-meta/state variables (env::read_env_vars's rules).
    std::map<std::string, std::string> vars;
    /// Uppercased names whose last value across env_vars.d then state is "***unset***" and
    /// that no later spelling sets.
    std::vector<std::string> unset_markers;
    /// PREFIX/etc/conda/activate.d/*.sh regular files, sorted by path.
    std::vector<std::filesystem::path> activate_scripts;
    std::string venv_prompt;  ///< pyvenv.cfg's prompt, "" when it has none
    bool venv_tool = false;   ///< pyvenv.cfg names virtualenv or uv (they write a bare prompt)
    gpuenv::Diagnostics warnings;
};

/// Describes how a child's environment differs from the current one after activation.
struct Activation {
    std::vector<std::pair<std::string, std::string>> set;  ///< in the order they are applied
    std::vector<std::string> unset;                        ///< removed before `set` applies
    std::vector<std::filesystem::path> activate_scripts;   ///< to source, in this order
    gpuenv::Diagnostics warnings;
};

/// Reads a prefix's activation files: env_vars.d/*.json and conda-meta/state (conda prefixes),
/// activate.d/*.sh (conda prefixes), pyvenv.cfg's prompt (venvs). Unreadable files become
/// warnings.
[[nodiscard]] ActivationFiles read_activation_files(const env::Prefix& prefix);

/// Returns the uppercased names conda's merge leaves at "***unset***": `packages` are the
/// env_vars.d files in sorted order, `state` is conda-meta/state's env_vars.
[[nodiscard]] std::vector<std::string> unset_marker_names(
    const std::vector<std::vector<std::pair<std::string, std::string>>>& packages,
    const std::vector<std::pair<std::string, std::string>>& state);

/// Computes what activating `target` changes in `current`, following conda's activate (conda
/// prefix), bin/activate (venv), or only PATH (plain Python installation).
[[nodiscard]] Activation compute_activation(const ActivationTarget& target,
                                            const ActivationFiles& files,
                                            const Environment& current);

/// Returns `path_list` (a PATH value) with `dir` first and no other entry equal to it, and the
/// first entry equal to `replaced` (when not empty) removed; other entries keep their order.
[[nodiscard]] std::string prepend_path(const std::string& path_list,
                                       const std::filesystem::path& dir,
                                       const std::filesystem::path& replaced);

/// Builds the "NAME=value" strings for execve: `current` minus the activation's unsets, plus
/// its sets, then `overrides` (which win, e.g. a command-line GPU choice), sorted by name.
[[nodiscard]] std::vector<std::string> build_environment(
    const Activation& activation, const Environment& current,
    const std::vector<std::pair<std::string, std::string>>& overrides = {});

/// Returns the environment an envp array holds (each "NAME=value"; entries without '=' are
/// left out, and a repeated name keeps its first value, as getenv does).
[[nodiscard]] Environment environment_from_envp(const char* const* envp);

/// Returns `argv` unchanged when `scripts` is empty, else an argv for /bin/sh that sources
/// each script in order and then execs `argv`; scripts and arguments travel as positional
/// parameters, never inside the shell text.
[[nodiscard]] std::vector<std::string> wrap_with_activate_scripts(
    const std::vector<std::string>& argv, const std::vector<std::filesystem::path>& scripts);

}  // namespace gpuenv::core::run
