#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::env {

/// Names the on-disk form of a Python distribution's metadata.
enum class DistFormat {
    dist_info,      ///< name-version.dist-info/METADATA (PEP 376/627)
    egg_info_dir,   ///< name-version.egg-info/PKG-INFO (setuptools, Debian)
    egg_info_file,  ///< name-version.egg-info as a single PKG-INFO-style file
    egg,            ///< name-version.egg/EGG-INFO/PKG-INFO
};

/// Holds direct_url.json (PEP 610): how a distribution was installed from a URL.
struct DirectUrl {
    enum class Kind { dir, vcs, archive };
    Kind kind = Kind::archive;
    std::string url;
    bool editable = false;           ///< dir_info.editable
    std::string vcs;                 ///< vcs_info.vcs ("git", ...)
    std::string commit_id;           ///< vcs_info.commit_id
    std::string requested_revision;  ///< vcs_info.requested_revision
    std::string
        archive_hash;  ///< archive_info.hashes.sha256 as "sha256=<hex>", or archive_info.hash
    std::string subdirectory;
};

/// Holds one installed Python distribution found in a site-packages directory.
struct PythonDist {
    std::string name;             ///< METADATA Name as written
    std::string normalized_name;  ///< PEP 503 form of name
    std::string version;          ///< METADATA Version as written
    std::string installer;        ///< INSTALLER content, trimmed; "" when the file is absent
    bool requested = false;       ///< a REQUESTED file exists (dist-info only)
    std::optional<DirectUrl> direct_url;
    DistFormat format = DistFormat::dist_info;
    std::filesystem::path metadata_path;  ///< the .dist-info / .egg-info / .egg path
    std::filesystem::path site_packages;  ///< the directory it was found in
};

/// Reads one distribution's metadata. Throws gpuenv::Error naming the file (and line) when
/// METADATA/PKG-INFO is unreadable or lacks Name or Version. Problems in optional files
/// (an unreadable direct_url.json) are appended to `warnings` instead.
[[nodiscard]] PythonDist read_python_dist(const std::filesystem::path& metadata_path,
                                          DistFormat format, gpuenv::Diagnostics& warnings);

/// Finds and reads every distribution in one site-packages directory, sorted by normalized
/// name. A distribution that cannot be read becomes a warning and is left out. When the same
/// normalized name appears twice, the .dist-info wins over the egg forms (as pip's importlib
/// backend keeps one per name); a warning is added when their versions differ.
[[nodiscard]] std::vector<PythonDist> scan_site_packages(const std::filesystem::path& site_packages,
                                                         gpuenv::Diagnostics& warnings);

/// Returns the lowercase name of a DistFormat for output ("dist-info", "egg-info", "egg").
[[nodiscard]] const char* to_string(DistFormat format);

}  // namespace gpuenv::core::env
