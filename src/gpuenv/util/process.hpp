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

/// Finds an executable file named `name` in a PATH-style list of directories; "" when none.
[[nodiscard]] std::string find_on_path(const std::string& name, const std::string& path_list);

}  // namespace gpuenv::util
