#pragma once

#include <nlohmann/json.hpp>

#include <gpuenv/core/lock/locked_env.hpp>
#include <gpuenv/core/verify/finding.hpp>

namespace gpuenv::cli {

/// Converts a locked package to the object diff --json shows for one side.
[[nodiscard]] nlohmann::ordered_json to_json(const core::lock::LockedPackage& package);

/// Converts a finding to its --json object; `check` names the check that made it.
[[nodiscard]] nlohmann::ordered_json to_json(const core::verify::Finding& finding,
                                             const char* check);

/// Returns "version build (channel)" for conda, "version (installer)" for pypi.
[[nodiscard]] std::string describe(const core::lock::LockedPackage& package);

}  // namespace gpuenv::cli
