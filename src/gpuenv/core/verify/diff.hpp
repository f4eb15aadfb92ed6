#pragma once

#include <optional>
#include <string>
#include <vector>

#include <gpuenv/core/lock/locked_env.hpp>
#include <gpuenv/core/verify/finding.hpp>

namespace gpuenv::core::verify {

/// Names the fields of a package that differ between two sides.
struct PackageChange {
    std::string key;
    std::optional<lock::LockedPackage> a;  ///< absent: added in B
    std::optional<lock::LockedPackage> b;  ///< absent: removed from A
    std::vector<FindingKind> changes;      ///< version, build, channel, installer, content
};

/// Holds one variable that differs.
struct VarChange {
    std::string name;
    std::optional<std::string> a;
    std::optional<std::string> b;
};

/// Holds the differences between two environments.
struct DiffResult {
    std::vector<PackageChange> added;    ///< in B only
    std::vector<PackageChange> removed;  ///< in A only
    std::vector<PackageChange> changed;
    std::vector<VarChange> variables;
    std::optional<std::pair<std::string, std::string>> platform;  ///< set when they differ
    std::vector<std::string> notes;  ///< what could not be compared (fields one side lacks)

    /// Returns whether anything differs.
    [[nodiscard]] bool empty() const;
};

/// Compares two environments field by field, looking only at what both sides know
/// (KnownFields): a requirements file is compared with the other side's Python view, an
/// explicit file with its conda packages. Packages pair by key, conda with conda and pypi
/// with pypi first; a conda package on one side and a pypi one of the same key on the other
/// is one change of installer.
[[nodiscard]] DiffResult diff(const lock::LockedEnv& a, const lock::LockedEnv& b);

/// Turns a diff of lock (A) against installed (B) into verify findings.
[[nodiscard]] Findings findings_from_diff(const DiffResult& diff);

}  // namespace gpuenv::core::verify
