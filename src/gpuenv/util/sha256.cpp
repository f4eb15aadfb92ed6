#include <gpuenv/util/sha256.hpp>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

// The one-shot SHA256_* functions, deprecated in OpenSSL 3 but kept through 3.x, instead of
// EVP: they run the same assembly (SHA-NI, AVX2), and linked from the static libcrypto they
// pull in only the digest and the CPU-feature probe. EVP pulls in the provider machinery
// (object tables, encoders, parameter lists: 340 KB of pointers to relocate), which cost
// every gpuenv command about 85 page faults at start-up, 1.5 ms on the benchmark VM
// (docs/BENCHMARKS.md, `gpuenv run` overhead).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>

namespace gpuenv::util {

struct Sha256::Impl {
    SHA256_CTX ctx{};
};

Sha256::Sha256() : m_impl(std::make_unique<Impl>()) {
    if (SHA256_Init(&m_impl->ctx) != 1)
        throw Error(ExitCode::internal, "cannot initialise sha256 (libcrypto)");
}

Sha256::~Sha256() = default;

void Sha256::update(std::string_view data) {
    SHA256_Update(&m_impl->ctx, data.data(), data.size());
}

Sha256Digest Sha256::finish() {
    Sha256Digest digest{};
    SHA256_Final(digest.data(), &m_impl->ctx);
    return digest;
}

std::string sha256_hex(std::string_view data) {
    Sha256 hash;
    hash.update(data);
    return to_hex(hash.finish());
}

std::string to_hex(const Sha256Digest& digest) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(digest.size() * 2);
    for (const std::uint8_t byte : digest) {
        out.push_back(k_digits[byte >> 4U]);
        out.push_back(k_digits[byte & 0x0FU]);
    }
    return out;
}

std::string to_base64url_nopad(const Sha256Digest& digest) {
    static constexpr char k_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= digest.size(); i += 3) {
        const std::uint32_t n = (std::uint32_t{digest[i]} << 16U) |
                                (std::uint32_t{digest[i + 1]} << 8U) | digest[i + 2];
        out.push_back(k_alphabet[(n >> 18U) & 63U]);
        out.push_back(k_alphabet[(n >> 12U) & 63U]);
        out.push_back(k_alphabet[(n >> 6U) & 63U]);
        out.push_back(k_alphabet[n & 63U]);
    }
    const std::size_t rest = digest.size() - i;  // 32 bytes: 2 left over
    if (rest == 2) {
        const std::uint32_t n =
            (std::uint32_t{digest[i]} << 16U) | (std::uint32_t{digest[i + 1]} << 8U);
        out.push_back(k_alphabet[(n >> 18U) & 63U]);
        out.push_back(k_alphabet[(n >> 12U) & 63U]);
        out.push_back(k_alphabet[(n >> 6U) & 63U]);
    } else if (rest == 1) {
        const std::uint32_t n = std::uint32_t{digest[i]} << 16U;
        out.push_back(k_alphabet[(n >> 18U) & 63U]);
        out.push_back(k_alphabet[(n >> 12U) & 63U]);
    }
    return out;
}

std::optional<Sha256Digest> sha256_file(const std::filesystem::path& path,
                                        std::vector<char>& buffer, std::string& error) {
    // O_NOFOLLOW is not used: verify hashes what a symlink points at on purpose (softlink
    // entries compare the target's content); the caller decides whether to follow.
    const FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        error = std::strerror(errno);
        return std::nullopt;
    }
    if (buffer.size() < 256 * 1024)
        buffer.resize(256 * 1024);
    Sha256 hash;
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            error = std::strerror(errno);
            return std::nullopt;
        }
        if (n == 0)
            break;
        hash.update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    }
    return hash.finish();
}

}  // namespace gpuenv::util
