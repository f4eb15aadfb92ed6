#pragma once

// Internal to check_files: judging what inspecting (and hashing) found.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <gpuenv/core/verify/file_check_plan.hpp>
#include <gpuenv/util/sha256.hpp>

namespace gpuenv::core::verify::file_check_detail {

/// Holds one file to hash (full mode) and what hashing it gave.
struct HashJob {
    std::filesystem::path full;
    std::uint64_t size = 0;
    std::optional<util::Sha256Digest> digest;
    std::string error;
};

/// Turns inspected checks into findings, by the rules of check_files.
struct Judge {
    const std::vector<PackagePlan>& externals;  ///< external distributions, by Check::owner
    const std::vector<HashJob>& hashes;
    const std::unordered_multimap<std::string_view, SharedRow>& shared;
    FileCheck level;

    /// Appends the findings of one inspected package: its planning findings, then either
    /// record_files_gone (every file of a conda record is missing) or one per failed check.
    void judge_plan(const PackagePlan& plan, Findings& out) const;

    /// Returns the finding for one inspected check of `owner`, if any.
    [[nodiscard]] std::optional<Finding> judge(const Check& c, const Owner& owner) const;

    /// Returns "overwritten by <distribution>" when an external distribution other than
    /// `owner` lists `path` with the content found (by hash, or in quick mode by size), else "".
    [[nodiscard]] std::string attribution(std::string_view path, std::uint32_t owner,
                                          const util::Sha256Digest* found,
                                          std::int64_t found_size) const;

  private:
    [[nodiscard]] const util::Sha256Digest* digest(const Check& c) const;
    [[nodiscard]] std::string attribution(const Check& c) const;
    [[nodiscard]] std::optional<Finding> hash_error(const Check& c, const Owner& owner) const;
    [[nodiscard]] std::optional<Finding> file(const Check& c, const Owner& owner) const;
    [[nodiscard]] std::optional<Finding> symlink(const Check& c, const Owner& owner) const;
};

}  // namespace gpuenv::core::verify::file_check_detail
