#include <gpuenv/cli/cli.hpp>

#include <algorithm>
#include <cstdio>
#include <string_view>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::cli {

const std::vector<CommandSpec>& commands() {
    static const std::vector<CommandSpec> table = {
        {"check",
         "the main job: one screen on an environment and this machine (packages, integrity, "
         "drift, doctor findings, GPUs)",
         setup_check},
        {"list", "list every package of an environment: conda records and Python distributions",
         setup_list},
        {"envs", "list the conda environments on this machine with their package counts",
         setup_envs},
        {"lock",
         "write a lock of an environment (gpuenv, explicit, conda-lock, environment, "
         "requirements)",
         setup_lock},
        {"export",
         "write the environment.yml of an environment (--from-history: what was asked for)",
         setup_export},
        {"fingerprint", "print one SHA-256 over an environment's package set", setup_fingerprint},
        {"diff", "show what differs between two environments, locks or saved inventories",
         setup_diff},
        {"verify", "check an environment against a lock, an environment.yml and its own files",
         setup_verify},
        {"fleet", "compare environments or GPUs across many nodes (ssh, srun, kubectl, template)",
         setup_fleet},
        {"gpus", "show every GPU and who uses it: user, elapsed time, environment, command",
         setup_gpus},
        {"bind", "make `conda activate` of an environment set CUDA_VISIBLE_DEVICES to chosen GPUs",
         setup_bind},
        {"unbind", "remove exactly what `gpuenv bind` added to an environment", setup_unbind},
        {"run", "run a command in an environment, on free GPUs held under a lease", setup_run},
        {"leases", "show who holds which GPU lease, since when, for which command", setup_leases},
        {"zombies", "find processes that hold GPU memory and should not; --kill ends your own",
         setup_zombies},
        {"doctor", "find why an environment is slow or broken on this machine, with the fix",
         setup_doctor},
    };
    return table;
}

namespace {

// Returns the command closest to a mistyped word: two edits at most (an adjacent swap counts
// one), and fewer than half the word ("lst" finds list, "x" finds nothing); "" when none is.
std::string_view nearest_command(std::string_view word) {
    std::string_view best;
    std::size_t best_distance = std::min<std::size_t>(3, (word.size() + 1) / 2 + 1);
    for (const auto& spec : commands()) {
        const std::size_t distance = util::edit_distance(word, spec.name);
        if (distance < best_distance) {
            best = spec.name;
            best_distance = distance;
        }
    }
    return best;
}

}  // namespace

int run(int argc, char** argv) {
    CLI::App app("gpuenv: GPU environments for conda and pip on shared servers and clusters",
                 "gpuenv");
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("gpuenv ") + GPUENV_VERSION);

    // Every command is declared (for dispatch and the root --help), but only the one the
    // command line names gets its options: the root takes no option with a value, so that is
    // the first argument not starting with '-'. Declaring every command's options cost 35
    // page faults of heap at each start (about 0.5 ms on the benchmark VM), which `gpuenv
    // run` adds to every job it starts.
    std::string_view named;
    for (int i = 1; i < argc; ++i) {
        if (argv[i][0] != '-') {
            named = argv[i];
            break;
        }
    }
    std::vector<std::pair<CLI::App*, CommandAction>> actions;
    for (const auto& spec : commands()) {
        CLI::App* sub = app.add_subcommand(spec.name, spec.summary);
        if (named == spec.name)
            actions.emplace_back(sub, spec.setup(*sub));
    }
    if (!named.empty() && actions.empty()) {
        // CLI11 would only say that a subcommand is required; name what was given, and the
        // command it is closest to, as git does.
        const std::string_view nearest = nearest_command(named);
        fmt::print(stderr, "gpuenv: '{}' is not a gpuenv command{}; see 'gpuenv --help'\n", named,
                   nearest.empty() ? "" : fmt::format(" (did you mean '{}'?)", nearest));
        return static_cast<int>(ExitCode::usage);
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : static_cast<int>(ExitCode::usage);
    }

    try {
        for (const auto& [sub, action] : actions) {
            if (sub->parsed())
                return action();
        }
        return static_cast<int>(ExitCode::usage);
    } catch (const Error& e) {
        std::fflush(stdout);
        fmt::print(stderr, "gpuenv: error: {}\n", e.what());
        return static_cast<int>(e.code());
    } catch (const std::exception& e) {
        std::fflush(stdout);
        fmt::print(stderr, "gpuenv: internal error: {}\n", e.what());
        return static_cast<int>(ExitCode::internal);
    }
}

}  // namespace gpuenv::cli
