#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gpuenv::core::env {

/// Holds the process environment variables that decide which environment a command means;
/// the cli fills it from the real environment, tests fill it by hand.
struct LocatorContext {
    std::string conda_prefix;       ///< $CONDA_PREFIX
    std::string conda_default_env;  ///< $CONDA_DEFAULT_ENV
    std::string virtual_env;        ///< $VIRTUAL_ENV
    std::string conda_envs_path;    ///< $CONDA_ENVS_PATH or $CONDA_ENVS_DIRS (':'-separated)
    std::string mamba_root_prefix;  ///< $MAMBA_ROOT_PREFIX
    std::string conda_exe;          ///< $CONDA_EXE (…/bin/conda of the base install)
    std::string conda_root;         ///< $CONDA_ROOT
    std::string path;               ///< $PATH
    std::filesystem::path home;     ///< $HOME
    /// Install roots that are looked at when nothing above names one (e.g. ~/miniforge3).
    std::vector<std::filesystem::path> default_roots;

    /// Reads the variables above from this process's environment, with the usual default roots.
    [[nodiscard]] static LocatorContext from_environment();
};

/// Says how the user selected the environment on the command line.
struct EnvSelection {
    std::string name;              ///< -n NAME; "" when not given
    std::filesystem::path prefix;  ///< -p PREFIX; empty when not given
};

/// Tells where an environment came from (for messages and `envs`).
enum class EnvOrigin { flag_prefix, flag_name, conda_prefix, virtual_env, python_on_path };

/// Holds the chosen environment directory and how it was chosen.
struct LocatedEnv {
    std::filesystem::path prefix;
    EnvOrigin origin = EnvOrigin::flag_prefix;
};

/// Resolves -n/-p or the defaults ($CONDA_PREFIX, $VIRTUAL_ENV, then the prefix of the
/// python3 on PATH) to a directory. Throws Error(usage) when both -n and -p are given and
/// Error(not_found) when the name is unknown or no default exists.
[[nodiscard]] LocatedEnv locate_env(const EnvSelection& selection, const LocatorContext& context);

/// Returns the conda install roots (base environments) known from the context, each once.
[[nodiscard]] std::vector<std::filesystem::path> conda_roots(const LocatorContext& context);

/// Returns the directories where named environments live ("envs dirs"), in conda's search order.
[[nodiscard]] std::vector<std::filesystem::path> envs_dirs(const LocatorContext& context);

/// Describes one environment known on this machine, for `gpuenv envs`.
struct KnownEnv {
    std::string
        name;  ///< "base" for a root, the directory name for others, "" when outside envs dirs
    std::filesystem::path prefix;
    bool active = false;  ///< equals $CONDA_PREFIX (or $VIRTUAL_ENV)
};

/// Lists the conda environments on this machine: roots, every envs dir's children with a
/// conda-meta/, and the entries of ~/.conda/environments.txt that still exist; each once, in
/// that order.
[[nodiscard]] std::vector<KnownEnv> list_known_envs(const LocatorContext& context);

/// Returns the prefix of a Python interpreter path: the venv or conda prefix it lives in, else
/// the prefix of its resolved executable, else (for a launcher script such as a pyenv shim)
/// what the interpreter itself reports as sys.prefix. Returns "" when none can be found.
[[nodiscard]] std::filesystem::path python_prefix(const std::filesystem::path& python);

}  // namespace gpuenv::core::env
