#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

namespace gpuenv::util {

/// Owns a file descriptor and closes it on scope exit; ownership moves.
class FdGuard {
  public:
    FdGuard() = default;
    /// Takes ownership of fd (a negative value owns nothing).
    explicit FdGuard(int fd) : m_fd(fd) {}
    FdGuard(FdGuard&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
    FdGuard& operator=(FdGuard&& other) noexcept {
        std::swap(m_fd, other.m_fd);
        return *this;
    }
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    ~FdGuard();

    /// Returns the descriptor.
    [[nodiscard]] int get() const { return m_fd; }
    /// Gives up ownership and returns the descriptor.
    [[nodiscard]] int release() {
        const int fd = m_fd;
        m_fd = -1;
        return fd;
    }

  private:
    int m_fd = -1;
};

/// Reads a whole file into a string; throws Error(not_found) naming the file and the reason.
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

/// Reads a whole file into `out` (reusing its capacity); returns false and sets `error`
/// to the reason when it cannot be read.
bool read_file_into(const std::filesystem::path& path, std::string& out, std::string& error);

/// Reads at most `max_bytes` from the start of a file; std::nullopt when it cannot be read.
[[nodiscard]] std::optional<std::string> read_file_head(const std::filesystem::path& path,
                                                        std::size_t max_bytes);

/// Returns whether the path is an existing directory (following symlinks), without throwing.
[[nodiscard]] bool is_directory(const std::filesystem::path& path) noexcept;

/// Returns whether the path is an existing regular file (following symlinks), without throwing.
[[nodiscard]] bool is_regular_file(const std::filesystem::path& path) noexcept;

/// Returns whether anything exists at the path (a dangling symlink counts as nothing).
[[nodiscard]] bool exists(const std::filesystem::path& path) noexcept;

}  // namespace gpuenv::util
