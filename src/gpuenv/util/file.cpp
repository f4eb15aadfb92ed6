#include <gpuenv/util/file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <gpuenv/util/error.hpp>

namespace gpuenv::util {
namespace {

// Reads up to max_bytes into out; returns errno on failure, 0 on success.
int read_fd(int fd, std::string& out, std::size_t max_bytes) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    std::size_t want = st.st_size > 0 ? static_cast<std::size_t>(st.st_size) : 4096;
    if (want > max_bytes)
        want = max_bytes;
    // One byte more than the size, so that finding the end of the file needs no second,
    // doubled buffer (and no zero-filling of it).
    out.resize(want < max_bytes ? want + 1 : want);
    std::size_t got = 0;
    while (got < max_bytes) {
        if (got == out.size())
            out.resize(std::min(max_bytes, out.size() * 2 + 4096));
        const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return 0;
}

int read_path(const std::filesystem::path& path, std::string& out, std::size_t max_bytes) {
    const FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        return errno;
    return read_fd(fd.get(), out, max_bytes);
}

}  // namespace

FdGuard::~FdGuard() {
    if (m_fd >= 0)
        ::close(m_fd);
}

bool read_file_into(const std::filesystem::path& path, std::string& out, std::string& error) {
    const int err = read_path(path, out, static_cast<std::size_t>(-1));
    if (err != 0) {
        error = std::strerror(err);
        return false;
    }
    return true;
}

std::string read_file(const std::filesystem::path& path) {
    std::string out;
    std::string error;
    if (!read_file_into(path, out, error)) {
        throw Error(ExitCode::not_found, "cannot read " + path.string() + ": " + error);
    }
    return out;
}

std::optional<std::string> read_file_head(const std::filesystem::path& path,
                                          std::size_t max_bytes) {
    std::string out;
    if (read_path(path, out, max_bytes) != 0)
        return std::nullopt;
    return out;
}

bool is_directory(const std::filesystem::path& path) noexcept {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_regular_file(const std::filesystem::path& path) noexcept {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool exists(const std::filesystem::path& path) noexcept {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

}  // namespace gpuenv::util
