#include <gpuenv/util/sha256.hpp>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>

namespace gpuenv::util {

struct Sha256::Impl {
    EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : m_impl(std::make_unique<Impl>()) {
    m_impl->ctx = EVP_MD_CTX_new();
    if (m_impl->ctx == nullptr || EVP_DigestInit_ex(m_impl->ctx, EVP_sha256(), nullptr) != 1)
        throw Error(ExitCode::internal, "cannot initialise sha256 (libcrypto)");
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(m_impl->ctx);
}

void Sha256::update(std::string_view data) {
    EVP_DigestUpdate(m_impl->ctx, data.data(), data.size());
}

Sha256Digest Sha256::finish() {
    Sha256Digest digest{};
    unsigned int size = 0;
    EVP_DigestFinal_ex(m_impl->ctx, digest.data(), &size);
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
