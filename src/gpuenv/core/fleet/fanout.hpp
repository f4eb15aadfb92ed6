#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/util/progress.hpp>

namespace gpuenv::core::fleet {

/// Names how a task ended.
enum class TaskEnd {
    exited,            ///< the command exited (exit_code holds its status)
    signaled,          ///< the command was killed by a signal it did not get from us
    timed_out,         ///< it ran past the timeout; its process group was killed
    output_too_large,  ///< stdout passed the cap; its process group was killed
    not_started,       ///< it could not be started (start_errno; ENOENT: not found)
};

/// Holds how one task ended and what it wrote.
struct TaskResult {
    TaskEnd end = TaskEnd::not_started;
    int exit_code = -1;                     ///< the exit status, for TaskEnd::exited
    int signal = 0;                         ///< the signal, for TaskEnd::signaled
    int start_errno = 0;                    ///< why it could not start, for TaskEnd::not_started
    std::string out;                        ///< stdout (empty unless it exited or was signaled)
    std::string err_tail;                   ///< the last bytes of stderr
    std::chrono::milliseconds duration{0};  ///< from start to end

    /// Returns whether the command exited with status 0.
    [[nodiscard]] bool ok() const { return end == TaskEnd::exited && exit_code == 0; }
};

/// Bounds a fan-out.
struct FanoutOptions {
    std::size_t jobs = 32;                           ///< tasks in flight at most (at least 1)
    std::chrono::milliseconds timeout{30'000};       ///< per task, from its start
    std::size_t max_output = std::size_t{64} << 20;  ///< stdout bytes kept per task
    std::size_t stderr_tail = 4096;                  ///< stderr bytes kept per task (the last ones)
    /// Asked after every wake-up (a signal, an output, an exit); once it returns true, the
    /// running tasks are killed and reaped and run_fanout returns without reporting the rest.
    /// The cli sets a flag from its SIGINT handler: the children, in their own process groups,
    /// do not get the terminal's Ctrl-C themselves.
    std::function<bool()> cancelled;
};

/// Returns the argv of task `index` (called once per task, just before it starts).
using TaskArgv = std::function<std::vector<std::string>(std::size_t index)>;

/// Receives each finished task once, in completion order; the result's output is the
/// callee's to keep or drop, so memory stays bounded by what it keeps.
using TaskDone = std::function<void(std::size_t index, TaskResult&& result)>;

/// Runs `count` commands with at most options.jobs in flight, each in its own process group
/// with stdin from /dev/null and bounded by options.timeout, on one thread (poll over pipes);
/// reports each through on_done and progress ("nodes", one unit a task). Every child is
/// reaped before it returns or throws. Throws gpuenv::Error (usage) when jobs is 0.
void run_fanout(std::size_t count, const TaskArgv& argv_of, const FanoutOptions& options,
                const TaskDone& on_done, util::Progress& progress);

/// Returns why a task failed in words ("ssh not found", "timed out after 10 s",
/// "gpuenv not found on the node", "exit 255: ssh: connect to host ... refused"), or "" when it
/// exited with status 0; `runner` is the local program, `remote` the program it runs.
[[nodiscard]] std::string failure_reason(const TaskResult& result, std::string_view runner,
                                         std::string_view remote);

}  // namespace gpuenv::core::fleet
