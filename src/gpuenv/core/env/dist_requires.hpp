#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/env/python_dist.hpp>
#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::env {

/// Returns the Requires-Dist values of a METADATA / PKG-INFO header block, in file order.
[[nodiscard]] std::vector<std::string> parse_requires_dist(std::string_view metadata);

/// Converts a setuptools requires.txt to PEP 508 lines: `[extra]`, `[:marker]` and
/// `[extra:marker]` sections become `; extra == "..."` / `; (marker)` markers, as
/// importlib.metadata does for egg-info distributions.
[[nodiscard]] std::vector<std::string> parse_requires_txt(std::string_view text);

/// Reads a distribution's declared requirements (METADATA Requires-Dist, or requires.txt for
/// egg-info forms). An unreadable file becomes a warning and yields nothing.
[[nodiscard]] std::vector<std::string> read_requires_dist(const PythonDist& dist,
                                                          gpuenv::Diagnostics& warnings);

}  // namespace gpuenv::core::env
