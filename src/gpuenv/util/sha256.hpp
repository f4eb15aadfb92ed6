#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpuenv::util {

/// Holds a SHA-256 digest.
using Sha256Digest = std::array<std::uint8_t, 32>;

/// Computes SHA-256 incrementally (OpenSSL libcrypto, which uses the CPU's SHA extensions).
class Sha256 {
  public:
    /// Starts a new digest.
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    /// Feeds bytes into the digest.
    void update(std::string_view data);
    /// Returns the digest; the object must not be updated afterwards.
    [[nodiscard]] Sha256Digest finish();

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

/// Returns the lowercase hex SHA-256 of some bytes.
[[nodiscard]] std::string sha256_hex(std::string_view data);

/// Returns the lowercase hex form of a digest.
[[nodiscard]] std::string to_hex(const Sha256Digest& digest);

/// Returns the URL-safe base64 form without padding, as PEP 376 RECORD files write hashes.
[[nodiscard]] std::string to_base64url_nopad(const Sha256Digest& digest);

/// Hashes a file's content, reading through `buffer` (reused across calls, grown as needed);
/// returns std::nullopt and sets `error` to the reason when the file cannot be read.
[[nodiscard]] std::optional<Sha256Digest> sha256_file(const std::filesystem::path& path,
                                                      std::vector<char>& buffer,
                                                      std::string& error);

}  // namespace gpuenv::util
