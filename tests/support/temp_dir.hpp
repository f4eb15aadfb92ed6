#pragma once

#include <filesystem>
#include <string_view>

namespace gpuenv::test {

/// Creates a fresh directory under $TMPDIR and removes it, with its contents, on destruction.
class TempDir {
  public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    /// Returns the directory's path.
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

    /// Returns path() / relative.
    [[nodiscard]] std::filesystem::path operator/(std::string_view relative) const {
        return m_path / relative;
    }

  private:
    std::filesystem::path m_path;
};

/// Writes text to a file, creating parent directories.
void write_file(const std::filesystem::path& path, std::string_view text);

}  // namespace gpuenv::test
