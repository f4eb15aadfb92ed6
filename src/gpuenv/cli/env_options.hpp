#pragma once

#include <gpuenv/core/env/env_locator.hpp>
#include <gpuenv/core/env/prefix.hpp>

namespace CLI {
class App;
}

namespace gpuenv::cli {

/// Adds -n/--name and -p/--prefix to a command, filling `selection`.
void add_env_options(CLI::App& command, core::env::EnvSelection& selection);

/// Resolves the selection against this process's environment and opens the prefix; errors
/// say where the prefix came from ($CONDA_PREFIX, $VIRTUAL_ENV, python3 on PATH).
[[nodiscard]] core::env::Prefix open_selected_env(const core::env::EnvSelection& selection);

}  // namespace gpuenv::cli
