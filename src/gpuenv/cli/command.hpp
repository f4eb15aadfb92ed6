#pragma once

#include <functional>
#include <vector>

namespace CLI {
class App;
}

namespace gpuenv::cli {

/// Runs a parsed command and returns its exit code.
using CommandAction = std::function<int()>;

/// Describes one subcommand: its name, a one-line summary, and a function that declares its
/// options on the CLI11 subcommand and returns the action to run once parsing succeeded.
struct CommandSpec {
    const char* name;
    const char* summary;
    CommandAction (*setup)(CLI::App& command);
};

/// Returns the table of every command; it drives dispatch and `--help`.
[[nodiscard]] const std::vector<CommandSpec>& commands();

/// Declares `gpuenv list`.
CommandAction setup_list(CLI::App& command);
/// Declares `gpuenv envs`.
CommandAction setup_envs(CLI::App& command);
/// Declares `gpuenv lock`.
CommandAction setup_lock(CLI::App& command);
/// Declares `gpuenv export`.
CommandAction setup_export(CLI::App& command);
/// Declares `gpuenv fingerprint`.
CommandAction setup_fingerprint(CLI::App& command);
/// Declares `gpuenv diff`.
CommandAction setup_diff(CLI::App& command);
/// Declares `gpuenv verify`.
CommandAction setup_verify(CLI::App& command);
/// Declares `gpuenv fleet` (check, gpus).
CommandAction setup_fleet(CLI::App& command);
/// Declares `gpuenv gpus`.
CommandAction setup_gpus(CLI::App& command);
/// Declares `gpuenv bind`.
CommandAction setup_bind(CLI::App& command);
/// Declares `gpuenv unbind`.
CommandAction setup_unbind(CLI::App& command);
/// Declares `gpuenv run`.
CommandAction setup_run(CLI::App& command);
/// Declares `gpuenv leases`.
CommandAction setup_leases(CLI::App& command);
/// Declares `gpuenv zombies`.
CommandAction setup_zombies(CLI::App& command);
/// Declares `gpuenv doctor`.
CommandAction setup_doctor(CLI::App& command);
/// Declares `gpuenv check`.
CommandAction setup_check(CLI::App& command);

}  // namespace gpuenv::cli
