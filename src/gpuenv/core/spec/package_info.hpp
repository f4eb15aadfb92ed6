#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gpuenv::core::spec {

/// Holds the fields of one conda package that a MatchSpec can test; it lives in spec/ so that
/// spec/ does not depend on env/ (env/ fills it from a conda-meta record).
struct PackageInfo {
    std::string name;
    std::string version;
    std::string build;
    std::int64_t build_number = 0;
    std::string
        channel;  ///< canonical name as conda list shows it: "conda-forge", "pkgs/main", or a URL
    std::string channel_url;  ///< as recorded, may include the subdir
    std::string subdir;
    std::string fn;
    std::string url;
    std::string md5;
    std::string sha256;
    std::string license;
    std::string license_family;
    std::vector<std::string> track_features;
    std::vector<std::string> features;  ///< the legacy `features` field; empty in current packages
};

}  // namespace gpuenv::core::spec
