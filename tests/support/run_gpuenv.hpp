#pragma once

#include <map>
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

/// Runs the built gpuenv binary with the given arguments (see run_command).
[[nodiscard]] RunResult run_gpuenv(const std::vector<std::string>& args, const RunEnv& env = {});

}  // namespace gpuenv::test
