#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace gpuenv::util {

/// Holds what a finished child process wrote and how it ended.
struct ProcessOutput {
    int exit_status = -1;  ///< exit code, or 128+signal when killed by a signal
    std::string out;       ///< everything written to stdout
};

/// Runs argv (looked up on PATH when argv[0] has no '/') with stdin from /dev/null and stderr
/// discarded, and captures stdout. Returns std::nullopt when it cannot be started or does not
/// finish within the timeout (it is then killed). No shell is involved.
[[nodiscard]] std::optional<ProcessOutput> run_capture(const std::vector<std::string>& argv,
                                                       std::chrono::milliseconds timeout);

/// Starts argv with stdin from /dev/null and stdout and stderr on `out_fd` and `err_fd`, in a
/// process group of its own (so that a timeout can end whatever it started too), with an
/// empty signal mask and SIGPIPE at its default whatever the caller set for itself. argv[0]
/// is looked up on PATH when `search_path`; `envp` null means the caller's environment.
/// Returns 0 and sets `pid`, or posix_spawn's error number. No shell is involved.
[[nodiscard]] int spawn_in_own_group(const std::vector<std::string>& argv, char* const* envp,
                                     int out_fd, int err_fd, bool search_path, int& pid);

/// Finds an executable file named `name` in a PATH-style list of directories; "" when none.
[[nodiscard]] std::string find_on_path(const std::string& name, const std::string& path_list);

}  // namespace gpuenv::util
