#include <gpuenv/core/verify/file_check_judge.hpp>

#include <algorithm>
#include <cctype>
#include <utility>

namespace gpuenv::core::verify::file_check_detail {
namespace {

// micromamba records a dangling symlink with the sha256 of no bytes (MAMBA_EMPTY_SHA).
constexpr std::string_view k_empty_sha =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const char* found_name(Found found) {
    switch (found) {
        case Found::missing:
            return "missing";
        case Found::file:
            return "file";
        case Found::directory:
            return "directory";
        case Found::symlink:
            return "symlink";
        case Found::other:
            return "special file";
        case Found::error:
            return "unreadable";
    }
    return "unknown";
}

// Returns whether a RECORD hash is written in hex (as some Debian builds do) rather than
// PEP 376's urlsafe base64: 64 hex digits, where base64 of a sha256 has 43 characters.
bool is_hex_sha256(std::string_view hash) {
    return hash.size() == 64 &&
           hash.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

// Returns the digest in the form `expected` is written in (hex or urlsafe base64).
std::string in_form_of(const util::Sha256Digest& digest, std::string_view expected) {
    if (!is_hex_sha256(expected))
        return util::to_base64url_nopad(digest);
    std::string hex = util::to_hex(digest);
    if (expected.find_first_of("ABCDEF") != std::string_view::npos) {
        for (char& c : hex)
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return hex;
}

}  // namespace

const util::Sha256Digest* Judge::digest(const Check& c) const {
    if (c.hash_job == k_no_hash || !hashes[c.hash_job].digest)
        return nullptr;
    return &*hashes[c.hash_job].digest;
}

// Names the other distribution whose RECORD explains what a path now holds: by hash in full
// mode, by size (so only "probably") in quick mode.
std::string Judge::attribution(std::string_view path, std::uint32_t owner,
                               const util::Sha256Digest* found, std::int64_t found_size) const {
    const auto [first, last] = shared.equal_range(path);
    for (auto it = first; it != last; ++it) {
        const SharedRow& row = it->second;
        if (row.owner == owner)
            continue;
        if (found && !row.hash.empty() && row.hash == in_form_of(*found, row.hash))
            return "overwritten by " + externals[row.owner].owner.description;
        if (level == FileCheck::quick && row.size >= 0 && row.size == found_size) {
            return "probably overwritten by " + externals[row.owner].owner.description +
                   " (its RECORD lists this size)";
        }
    }
    return {};
}

std::string Judge::attribution(const Check& c) const {
    return attribution(c.path, c.owner, digest(c), c.found_size);
}

std::optional<Finding> Judge::hash_error(const Check& c, const Owner& owner) const {
    if (c.hash_job != k_no_hash && !hashes[c.hash_job].digest) {
        return finding(FindingKind::unreadable_file, owner, c.path, "", "unreadable",
                       hashes[c.hash_job].error);
    }
    return std::nullopt;
}

std::optional<Finding> Judge::file(const Check& c, const Owner& owner) const {
    if (c.size >= 0 && c.found_size != c.size) {
        return finding(FindingKind::size_mismatch, owner, c.path, std::to_string(c.size),
                       std::to_string(c.found_size), attribution(c));
    }
    if (auto error = hash_error(c, owner))
        return error;
    const auto* found = digest(c);
    if (!found)
        return std::nullopt;
    if (owner.conda) {
        const std::string hex = util::to_hex(*found);
        if (hex == c.sha)
            return std::nullopt;
        return finding(FindingKind::modified_file, owner, c.path, std::string(c.sha), hex,
                       attribution(c));
    }
    const std::string text = in_form_of(*found, c.sha);
    if (text == c.sha)
        return std::nullopt;
    return finding(FindingKind::modified_file, owner, c.path, "sha256=" + std::string(c.sha),
                   "sha256=" + text, attribution(c));
}

std::optional<Finding> Judge::symlink(const Check& c, const Owner& owner) const {
    if (c.target == Found::missing) {
        if (c.sha == k_empty_sha || c.sha_alt == k_empty_sha)
            return std::nullopt;  // micromamba recorded it dangling
        return finding(FindingKind::missing_file, owner, c.path, "symlink target",
                       "dangling symlink", "the symlink's target is missing");
    }
    if (level != FileCheck::full || (c.sha.empty() && c.sha_alt.empty()))
        return std::nullopt;
    // rattler hashes the link text; conda and micromamba the target's content.
    if (!c.sha.empty() && !c.link_text.empty() && util::sha256_hex(c.link_text) == c.sha)
        return std::nullopt;
    if (c.target != Found::file)
        return std::nullopt;  // a link to a directory has no content hash to compare
    if (auto error = hash_error(c, owner))
        return error;
    const auto* found = digest(c);
    if (!found)
        return std::nullopt;
    const std::string text = util::to_hex(*found);
    if (text == c.sha || text == c.sha_alt)
        return std::nullopt;
    return finding(FindingKind::modified_file, owner, c.path,
                   std::string(c.sha.empty() ? c.sha_alt : c.sha), text,
                   "the symlink -> " + c.link_text + " points at other content");
}

std::optional<Finding> Judge::judge(const Check& c, const Owner& owner) const {
    if (c.found == Found::missing) {
        const char* what = c.expect == Expect::directory ? "directory"
                           : c.expect == Expect::symlink ? "symlink"
                                                         : "file";
        return finding(FindingKind::missing_file, owner, c.path, what, "missing");
    }
    if (c.found == Found::error)
        return finding(FindingKind::unreadable_file, owner, c.path, "", "unreadable", c.error);
    auto wrong = [&](const char* expected, Found found) -> std::optional<Finding> {
        return finding(FindingKind::wrong_type, owner, c.path, expected, found_name(found));
    };
    switch (c.expect) {
        case Expect::exists:
            return std::nullopt;
        case Expect::directory:
            return c.found == Found::directory ? std::nullopt : wrong("directory", c.found);
        case Expect::entry_point:
            return c.found == Found::file ? std::nullopt : wrong("file", c.found);
        case Expect::file:
            return c.found == Found::file ? file(c, owner) : wrong("file", c.found);
        case Expect::symlink:
            return c.found == Found::symlink ? symlink(c, owner) : wrong("symlink", c.found);
        case Expect::record_row:
            if (c.found == Found::symlink && c.target == Found::missing) {
                return finding(FindingKind::missing_file, owner, c.path, "file",
                               "dangling symlink");
            }
            if (c.found == Found::directory || c.found == Found::other)
                return wrong("file", c.found);
            if (c.found == Found::symlink && c.target != Found::file)
                return wrong("file", c.target);
            return file(c, owner);
    }
    return std::nullopt;
}

// A conda record whose files are all gone is reported once, not file by file.
void Judge::judge_plan(const PackagePlan& plan, Findings& out) const {
    out.insert(out.end(), plan.findings.begin(), plan.findings.end());
    const bool all_missing = plan.owner.conda && !plan.checks.empty() &&
                             std::all_of(plan.checks.begin(), plan.checks.end(),
                                         [](const Check& c) { return c.found == Found::missing; });
    if (all_missing) {
        out.push_back(finding(FindingKind::record_files_gone, plan.owner, plan.owner.record,
                              std::to_string(plan.checks.size()) + " files", "none",
                              "every file of the record is gone"));
        return;
    }
    for (const Check& c : plan.checks) {
        if (auto f = judge(c, plan.owner))
            out.push_back(std::move(*f));
    }
}

}  // namespace gpuenv::core::verify::file_check_detail
