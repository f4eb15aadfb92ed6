#pragma once

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/spec/match_spec.hpp>
#include <gpuenv/core/spec/requirement.hpp>

namespace gpuenv::core::env {

/// Returns the PEP 508 marker values of the environment's own Python and platform (not of the
/// machine running gpuenv): the python record's version and subdir for a conda environment,
/// the site-packages' pythonX.Y and this machine's platform otherwise.
[[nodiscard]] spec::MarkerEnvironment marker_environment(const Inventory& inventory);

/// Returns the fields of a conda package that a MatchSpec tests.
[[nodiscard]] spec::PackageInfo package_info(const Package& package);

}  // namespace gpuenv::core::env
