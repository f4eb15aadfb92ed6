#pragma once

#include <sys/types.h>

namespace gpuenv::test {

/// Makes a real defunct process: a forked child that exits at once and is not waited for, so
/// /proc shows it in state Z with the test process as its parent; reaps it on destruction.
class DefunctChild {
  public:
    /// Forks the child and waits until /proc shows it in state Z.
    DefunctChild();
    ~DefunctChild();
    DefunctChild(const DefunctChild&) = delete;
    DefunctChild& operator=(const DefunctChild&) = delete;

    /// Returns the child's pid.
    [[nodiscard]] unsigned pid() const { return static_cast<unsigned>(m_pid); }

  private:
    pid_t m_pid = 0;
};

}  // namespace gpuenv::test
