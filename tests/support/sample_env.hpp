#pragma once

#include <filesystem>
#include <string>

#include <support/conda_prefix_builder.hpp>
#include <support/python_dist_builder.hpp>

namespace gpuenv::test {

/// Names the site-packages directory of the sample environments.
inline const std::string k_sample_site_packages = "lib/python3.11/site-packages";

/// Writes a small, consistent conda environment as `writer` would leave it: python 3.11,
/// libzlib, numpy (conda, owning its dist-info, requested), pip (noarch: python), requests and
/// idna installed by pip (requests requested, requiring idna), a history with the requested
/// specs and an activation variable in conda-meta/state. Returns the builder.
CondaPrefixBuilder write_sample_env(const std::filesystem::path& prefix,
                                    CondaWriter writer = CondaWriter::conda);

/// Installs a Python package the way conda does: its dist-info on disk, owned by a record.
void add_conda_python_package(CondaPrefixBuilder& builder, const std::string& conda_name,
                              const PythonDistSpec& dist, const std::string& build = "py311_0",
                              std::vector<std::string> depends = {});

}  // namespace gpuenv::test
