#include <gpuenv/cli/progress_bar.hpp>

#include <cstdio>
#include <cstdlib>

#include <unistd.h>

#include <fmt/core.h>

namespace gpuenv::cli {

void TerminalProgress::start(std::string_view what, std::uint64_t total) {
    const std::lock_guard lock(m_mutex);
    m_what = what;
    m_total = total;
    m_done = 0;
    draw(true);
}

void TerminalProgress::advance(std::uint64_t units) {
    const std::lock_guard lock(m_mutex);
    m_done += units;
    draw(false);
}

void TerminalProgress::finish() {
    const std::lock_guard lock(m_mutex);
    if (m_drawn)
        fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
    m_drawn = false;
}

void TerminalProgress::draw(bool force) {
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - m_last < std::chrono::milliseconds(100))
        return;
    m_last = now;
    constexpr int k_width = 30;
    const double fraction =
        m_total == 0 ? 1.0 : static_cast<double>(m_done) / static_cast<double>(m_total);
    const int filled = static_cast<int>(fraction * k_width);
    std::string bar(static_cast<std::size_t>(std::min(filled, k_width)), '#');
    bar.resize(k_width, '-');
    fmt::print(stderr, "\r{} [{}] {:3.0f}%", m_what, bar, fraction * 100.0);
    std::fflush(stderr);
    m_drawn = true;
}

std::unique_ptr<util::Progress> make_progress(bool quiet) {
    const char* term = std::getenv("TERM");
    if (quiet || ::isatty(STDERR_FILENO) == 0 ||
        (term != nullptr && std::string_view(term) == "dumb"))
        return std::make_unique<util::NullProgress>();
    return std::make_unique<TerminalProgress>();
}

}  // namespace gpuenv::cli
