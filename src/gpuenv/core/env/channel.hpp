#pragma once

#include <string>

#include <gpuenv/core/env/conda_record.hpp>

namespace gpuenv::core::env {

/// Returns the channel as conda list shows it: "conda-forge" for
/// https://conda.anaconda.org/conda-forge/linux-64, "pkgs/main" for
/// https://repo.anaconda.com/pkgs/main, other URLs without subdir or trailing slash.
[[nodiscard]] std::string channel_display_name(const CondaRecord& record);

}  // namespace gpuenv::core::env
