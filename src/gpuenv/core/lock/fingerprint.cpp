#include <gpuenv/core/lock/fingerprint.hpp>

#include <algorithm>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/sha256.hpp>

namespace gpuenv::core::lock {
namespace {

// Returns the artifact identity of a package: what was installed, independent of where the
// record says it came from. Record writers agree on sha256 when they write it; older records
// only have md5, which is then marked so the two cannot collide.
std::string artifact_of(const LockedPackage& p) {
    if (p.manager == Manager::conda) {
        if (!p.sha256.empty())
            return p.sha256;
        return p.md5.empty() ? std::string() : "md5:" + p.md5;
    }
    return p.pypi_sha256;
}

}  // namespace

std::string fingerprint_text(const std::vector<LockedPackage>& packages) {
    std::vector<std::string> lines;
    lines.reserve(packages.size());
    for (const auto& p : packages) {
        std::string line = to_string(p.manager);
        // Keys are normalized here, whatever the source wrote, so that a lock, a list --json
        // and the installed environment give the same text.
        for (const std::string& field : {spec::normalize_pypi_name(p.name), p.version,
                                         p.manager == Manager::conda ? p.build : std::string(),
                                         p.manager == Manager::conda ? p.channel : std::string(),
                                         artifact_of(p), p.installer}) {
            line += '\t';
            line += field;
        }
        line += '\n';
        lines.push_back(std::move(line));
    }
    std::sort(lines.begin(), lines.end());
    std::string text;
    for (const auto& line : lines)
        text += line;
    return text;
}

std::string fingerprint(const std::vector<LockedPackage>& packages) {
    return util::sha256_hex(fingerprint_text(packages));
}

}  // namespace gpuenv::core::lock
