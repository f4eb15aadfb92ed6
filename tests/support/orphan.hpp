#pragma once

#include <sys/types.h>

namespace gpuenv::test {

/// Makes a real orphaned worker: `sh -c 'sleep 60 &'` runs as its own process-group leader and
/// exits, leaving the sleep in a group whose leader is gone. The test process becomes a child
/// subreaper first, so the sleep is re-parented to it (not to init) and is reaped here.
class Orphan {
  public:
    /// Starts the job, waits until the shell exited and the sleep runs, and records both pids.
    Orphan();
    /// Kills the sleep if it still runs and reaps it.
    ~Orphan();
    Orphan(const Orphan&) = delete;
    Orphan& operator=(const Orphan&) = delete;

    /// Returns the orphaned sleep's pid.
    [[nodiscard]] unsigned pid() const { return static_cast<unsigned>(m_pid); }
    /// Returns the pid of the exited group leader (the shell).
    [[nodiscard]] unsigned leader() const { return static_cast<unsigned>(m_leader); }
    /// Reaps the sleep if it has exited; returns whether it had (no process is left).
    [[nodiscard]] bool reap_if_exited();

  private:
    pid_t m_pid = 0;
    pid_t m_leader = 0;
    bool m_reaped = false;
};

}  // namespace gpuenv::test
