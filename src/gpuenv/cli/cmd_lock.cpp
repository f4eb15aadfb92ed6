// gpuenv lock: write a lock of the installed environment in gpuenv's format or one the conda
// world reads (explicit, conda-lock, environment.yml, requirements).
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/env_options.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv::cli {
namespace {

struct LockRequest {
    core::env::EnvSelection env;
    std::string format = "gpuenv";
    std::string output = "-";
};

int run_lock(const LockRequest& request) {
    const auto format = core::lock::parse_lock_format(request.format);
    if (!format || *format == core::lock::LockFormat::list_json)
        throw Error(ExitCode::usage, "unknown lock format '" + request.format +
                                         "' (gpuenv, explicit, conda-lock, environment, "
                                         "requirements)");
    const auto prefix = open_selected_env(request.env);
    const auto inventory = core::env::read_inventory(prefix);
    auto locked = core::lock::lock_from_inventory(inventory);
    locked.name = prefix.path.filename().string();
    auto rendered = core::lock::render_lock(locked, *format);
    print_warnings(inventory.warnings);
    print_warnings(locked.warnings);
    print_warnings(rendered.warnings);
    write_result(request.output, rendered.text);
    return 0;
}

}  // namespace

CommandAction setup_lock(CLI::App& command) {
    auto request = std::make_shared<LockRequest>();
    add_env_options(command, request->env);
    command
        .add_option("--format", request->format,
                    "gpuenv (default: everything, with hashes and variables), explicit (CEP 23 "
                    "@EXPLICIT for conda create --file), conda-lock (CEP 37), environment "
                    "(environment.yml), requirements (pip)")
        ->type_name("FORMAT");
    command.add_option("-o,--output", request->output, "file to write atomically; - for stdout")
        ->type_name("FILE");
    return [request] { return run_lock(*request); };
}

}  // namespace gpuenv::cli
