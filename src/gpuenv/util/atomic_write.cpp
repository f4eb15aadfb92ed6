#include <gpuenv/util/atomic_write.hpp>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gpuenv/util/error.hpp>

namespace gpuenv::util {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int err) {
    throw Error(ExitCode::not_found,
                "cannot write " + path.string() + ": " + what + ": " + std::strerror(err));
}

std::string random_suffix() {
    std::random_device device;
    std::uniform_int_distribution<unsigned> digit(0, 35);
    static constexpr char k_chars[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string out;
    for (int i = 0; i < 8; ++i)
        out.push_back(k_chars[digit(device)]);
    return out;
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
    const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    mode_t mode = 0644;
    struct stat existing {};
    if (::stat(path.c_str(), &existing) == 0)
        mode = existing.st_mode & 07777;

    std::filesystem::path temp;
    int fd = -1;
    for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
        temp = dir / ("." + path.filename().string() + ".tmp-" + random_suffix());
        fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            fail(path, "cannot create a temporary file in " + dir.string(), errno);
    }
    if (fd < 0)
        fail(path, "cannot create a temporary file in " + dir.string(), EEXIST);

    auto abandon = [&](const std::string& what, int err) {
        ::close(fd);
        ::unlink(temp.c_str());
        fail(path, what, err);
    };
    const char* data = content.data();
    std::size_t left = content.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, data, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            abandon("write", errno);
        }
        data += n;
        left -= static_cast<std::size_t>(n);
    }
    const mode_t mask = ::umask(0);
    ::umask(mask);
    if (::fchmod(fd, existing.st_mode != 0 ? mode : (mode & ~mask)) != 0)
        abandon("chmod", errno);
    if (::fsync(fd) != 0)
        abandon("fsync", errno);
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        fail(path, "close", err);
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        fail(path, "rename", err);
    }
}

}  // namespace gpuenv::util
