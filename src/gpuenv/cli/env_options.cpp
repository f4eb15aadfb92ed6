#include <gpuenv/cli/env_options.hpp>

#include <CLI/CLI.hpp>

#include <gpuenv/util/error.hpp>

namespace gpuenv::cli {

void add_env_options(CLI::App& command, core::env::EnvSelection& selection) {
    auto* name = command.add_option("-n,--name", selection.name,
                                    "environment name (searched in the conda envs dirs)");
    auto* prefix =
        command.add_option("-p,--prefix", selection.prefix,
                           "environment prefix: a conda env, venv or Python installation");
    name->excludes(prefix);
}

core::env::Prefix open_selected_env(const core::env::EnvSelection& selection) {
    using core::env::EnvOrigin;
    const auto located =
        core::env::locate_env(selection, core::env::LocatorContext::from_environment());
    try {
        return core::env::open_prefix(located.prefix);
    } catch (const Error& e) {
        switch (located.origin) {
            case EnvOrigin::conda_prefix:
                throw e.with_context("$CONDA_PREFIX");
            case EnvOrigin::virtual_env:
                throw e.with_context("$VIRTUAL_ENV");
            case EnvOrigin::python_on_path:
                throw e.with_context("python3 on PATH");
            case EnvOrigin::flag_name:
                throw e.with_context("-n " + selection.name);
            case EnvOrigin::flag_prefix:
                throw;
        }
        throw;
    }
}

}  // namespace gpuenv::cli
