#pragma once

#include <string>
#include <vector>

#include <gpuenv/core/lock/locked_env.hpp>

namespace gpuenv::core::lock {

/// Returns the canonical text the fingerprint hashes: one line per package,
/// "manager\tkey\tversion\tbuild\tchannel\tartifact\tinstaller\n", sorted bytewise. The
/// artifact is the conda sha256 (else "md5:" + md5) or the archive hash of a pip direct URL.
[[nodiscard]] std::string fingerprint_text(const std::vector<LockedPackage>& packages);

/// Returns the SHA-256 (lowercase hex) of fingerprint_text: equal for equal package sets,
/// whatever tool wrote the records, the order of files on disk or the machine.
[[nodiscard]] std::string fingerprint(const std::vector<LockedPackage>& packages);

}  // namespace gpuenv::core::lock
