#pragma once

// Internal to doctor: the helpers the inventory rules share, package_rules.cpp (rules 4, 6, 7,
// 13) and openmp_rules.cpp (rule 5), which defines them. They describe packages and the files
// they were read from as findings quote them, and list directories for the rules that look at
// the libraries wheels bundle.

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/util/diagnostic.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::doctor::package_facts {

/// Returns `path` relative to `prefix`, or whole when it lies outside the prefix.
[[nodiscard]] std::string relative_path(const std::filesystem::path& path,
                                        const std::filesystem::path& prefix);

/// Returns where a package was read: its conda-meta record or its metadata directory.
[[nodiscard]] std::string read_from(const env::Package& p, const std::filesystem::path& prefix);

/// Describes a package as "conda cudnn 8.9.2.26 (conda-forge)" or "pip nvidia-cudnn-cu12 9.1.0.70".
[[nodiscard]] std::string describe(const env::Package& p);

/// Describes a package and the file it was read from.
[[nodiscard]] std::string describe_at(const env::Package& p, const std::filesystem::path& prefix);

/// Joins items with a separator between each two.
using util::join;

/// Joins as prose: "a", "a and b", "a, b and c".
[[nodiscard]] std::string join_and(const std::vector<std::string>& items);

/// Calls `visit` for each entry of a directory. A missing directory has none; one that exists
/// but cannot be listed is a warning.
void list_directory(const std::filesystem::path& dir, gpuenv::Diagnostics& warnings,
                    const std::function<void(const std::filesystem::directory_entry&)>& visit);

}  // namespace gpuenv::core::doctor::package_facts
