#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace gpuenv::test {

/// Runs `exe 30` (a sleep) with exactly `env` as its environment, so that tests can look at a
/// real process in /proc; kills and reaps it on destruction.
class Sleeper {
  public:
    /// Starts the process and waits until its exec finished (its command line is in /proc).
    Sleeper(const std::string& exe, const std::vector<std::string>& env);
    ~Sleeper();
    Sleeper(const Sleeper&) = delete;
    Sleeper& operator=(const Sleeper&) = delete;

    /// Stops the child with SIGSTOP and waits until the kernel reports it stopped.
    void stop();
    /// Returns the child's pid.
    [[nodiscard]] unsigned pid() const { return static_cast<unsigned>(m_pid); }

  private:
    pid_t m_pid = 0;
};

}  // namespace gpuenv::test
