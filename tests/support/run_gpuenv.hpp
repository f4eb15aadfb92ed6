#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gpuenv::test {

/// Holds what a finished command printed and how it exited.
struct RunResult {
    int exit_code = -1;  ///< exit status, or 128+signal
    std::string out;
    std::string err;
};

/// Describes the environment variables a command runs with: the current environment, minus
/// the variables that select an environment (so the developer's own conda env never leaks
/// into a test), plus `set` (a std::nullopt value unsets the variable).
struct RunEnv {
    std::map<std::string, std::optional<std::string>> set;
};

/// Runs argv (argv[0] is an executable path) with the given environment, waits, and captures
/// stdout and stderr. Throws std::runtime_error when it cannot be started.
[[nodiscard]] RunResult run_command(const std::vector<std::string>& argv, const RunEnv& env = {});

/// Starts a command in the background as run_command does (same environment rules, output
/// captured to files); wait() collects it. Kills and reaps it on destruction if still running.
class BackgroundCommand {
  public:
    BackgroundCommand(const std::vector<std::string>& argv, const RunEnv& env = {});
    ~BackgroundCommand();
    BackgroundCommand(const BackgroundCommand&) = delete;
    BackgroundCommand& operator=(const BackgroundCommand&) = delete;

    /// Returns the process id.
    [[nodiscard]] int pid() const { return m_pid; }
    /// Waits for the command to end and returns what it printed and how it exited.
    RunResult wait();

  private:
    int m_pid = 0;
    bool m_reaped = false;
    std::string m_capture;  ///< a temp dir holding stdout and stderr
};

/// Starts the built gpuenv binary in the background (see BackgroundCommand).
[[nodiscard]] std::unique_ptr<BackgroundCommand> start_gpuenv(const std::vector<std::string>& args,
                                                              const RunEnv& env = {});

/// Runs the built gpuenv binary with the given arguments (see run_command).
[[nodiscard]] RunResult run_gpuenv(const std::vector<std::string>& args, const RunEnv& env = {});

}  // namespace gpuenv::test
