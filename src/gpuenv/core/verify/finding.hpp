#pragma once

#include <string>
#include <vector>

namespace gpuenv::core::verify {

/// Names every kind of drift or problem verify and diff report (the `kind` in --json).
enum class FindingKind {
    // against a lock, or between two environments
    missing,    ///< in the lock (or A), not installed (or not in B)
    extra,      ///< installed (or in B), not in the lock (or A)
    version,    ///< same package, other version
    build,      ///< same version, other build string
    channel,    ///< other channel
    installer,  ///< other installer (conda <-> pip, pip <-> uv)
    content,    ///< same version, other artifact hash or RECORD content hash
    env_var,    ///< an activation variable added, removed or changed
    platform,   ///< the lock is for another platform (subdir)
    // against an environment.yml
    spec_missing,      ///< no installed package of that name
    spec_unsatisfied,  ///< installed, but the version/build/channel does not match
    wrong_installer,   ///< met by a pip install over (or instead of) a conda package
    spec_unchecked,    ///< a pip line that names no checkable requirement (informational)
    // installed files
    missing_file,   ///< a file a record or RECORD lists is gone
    wrong_type,     ///< a file where a symlink/directory was recorded, or the reverse
    size_mismatch,  ///< size differs from the record where the size is meaningful
    modified_file,  ///< content hash differs from the record
    unreadable_file,
    record_files_gone,  ///< a conda record whose package files are all gone
    // always
    dependency_missing,      ///< a depends / Requires-Dist names nothing installed
    dependency_unsatisfied,  ///< installed, but the version does not match
    constraint_violated,     ///< a conda constrains entry not met by the installed package
    shadowed,                ///< an external distribution installed over a conda package
    duplicate,               ///< two distributions of one name in one site-packages
};

/// Returns the snake_case name of a kind ("missing_file").
[[nodiscard]] const char* to_string(FindingKind kind);

/// Holds one finding: what kind, which package, what was expected and what was found.
struct Finding {
    FindingKind kind = FindingKind::missing;
    std::string package;   ///< "numpy" or "numpy (pypi)"; the variable name for env_var
    std::string expected;  ///< "" when it does not apply
    std::string found;     ///< "" when it does not apply
    std::string path;      ///< the file concerned (prefix-relative), for file findings
    std::string detail;    ///< one human sentence with more context, may be ""
};

/// Holds findings in the order they were made.
using Findings = std::vector<Finding>;

}  // namespace gpuenv::core::verify
