#pragma once

#include <filesystem>
#include <optional>

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/lock/locked_env.hpp>
#include <gpuenv/core/spec/environment_yml.hpp>
#include <gpuenv/core/verify/early_file_check.hpp>
#include <gpuenv/core/verify/file_check.hpp>
#include <gpuenv/core/verify/finding.hpp>
#include <gpuenv/util/progress.hpp>

namespace gpuenv::core::verify {

/// Holds what `gpuenv verify` checks an environment against.
struct VerifyRequest {
    std::optional<lock::LockedEnv> lock;        ///< --lock, already read
    std::optional<spec::EnvironmentFile> spec;  ///< --spec, already read
    FileCheckOptions files;
    EarlyFileCheck* early_files = nullptr;  ///< started before the inventory was read, or null
    /// check_consistency's findings when the caller already has them (`gpuenv check` shares
    /// them with the doctor), or null to run it here.
    const Findings* consistency = nullptr;
};

/// Holds verify's result: every finding, grouped by the check that made it.
struct VerifyResult {
    Findings lock;         ///< differences from the lock
    Findings spec;         ///< environment.yml specs not met
    Findings files;        ///< installed files
    Findings consistency;  ///< dependencies, shadowing, duplicates, stale records
    gpuenv::Diagnostics warnings;

    /// Returns whether any finding counts as drift (spec_unchecked does not).
    [[nodiscard]] bool drift() const;
};

/// Checks `spec`'s conda specs against the installed records and its pip requirements against
/// the installed distributions (markers evaluated for the environment).
[[nodiscard]] Findings check_spec(const env::Inventory& inventory,
                                  const spec::EnvironmentFile& spec);

/// Checks dependency consistency (conda depends/constrains, Requires-Dist like pip check),
/// shadowing, duplicate distributions and records whose Python metadata is gone.
[[nodiscard]] Findings check_consistency(const env::Inventory& inventory,
                                         gpuenv::Diagnostics& warnings);

/// Runs every check the request names, plus the consistency checks.
[[nodiscard]] VerifyResult verify(const env::Inventory& inventory, const VerifyRequest& request,
                                  util::Progress& progress);

}  // namespace gpuenv::core::verify
