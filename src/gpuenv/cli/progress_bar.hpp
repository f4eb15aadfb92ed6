#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <gpuenv/util/progress.hpp>

namespace gpuenv::cli {

/// Draws a one-line progress bar on stderr, at most ten times a second, and clears it when
/// done. Used only when stderr is a terminal.
class TerminalProgress final : public util::Progress {
  public:
    void start(std::string_view what, std::uint64_t total) override;
    void advance(std::uint64_t units) override;
    void finish() override;

  private:
    void draw(bool force);

    std::mutex m_mutex;
    std::string m_what;
    std::uint64_t m_total = 0;
    std::uint64_t m_done = 0;
    std::chrono::steady_clock::time_point m_last{};
    bool m_drawn = false;
};

/// Returns a bar when stderr is a terminal and `quiet` is false (e.g. --json), else a
/// progress that shows nothing.
[[nodiscard]] std::unique_ptr<util::Progress> make_progress(bool quiet);

}  // namespace gpuenv::cli
