#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gpuenv/core/env/conda_record.hpp>
#include <gpuenv/core/env/prefix.hpp>
#include <gpuenv/core/env/python_dist.hpp>
#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::env {

/// Tells whether a package is a conda record or a Python distribution no record owns.
enum class PackageKind {
    conda,  ///< a conda-meta record (possibly carrying Python metadata of its own)
    pypi,   ///< an external Python distribution (pip, uv, uv-pixi, debian, ...)
};

/// Returns "conda" or "pypi".
[[nodiscard]] const char* to_string(PackageKind kind);

/// Identifies the other side of a shadowing pair (pip installed over a conda package).
struct ShadowPeer {
    std::string name;
    std::string version;
    std::string build;      ///< conda build string, "" for a Python distribution
    std::string channel;    ///< conda channel display name, "" for a Python distribution
    std::string installer;  ///< "conda" or the distribution's installer
};

/// Holds one entry of the unified package list.
struct Package {
    PackageKind kind = PackageKind::conda;
    std::string name;  ///< conda name, or the distribution's Name as written
    std::string key;   ///< name used for sorting and matching: conda name / PEP 503 name
    std::string version;
    std::string build;       ///< conda build string; "" for external distributions
    std::string channel;     ///< conda channel display name; "" for external distributions
    std::string installer;   ///< "conda" for records; pip, uv, uv-pixi, debian, unknown, ...
    bool requested = false;  ///< the user asked for it (conda requested specs, pip REQUESTED)
    std::optional<CondaRecord> record;  ///< set for conda packages
    /// The Python distribution: for an external package, itself; for a conda package, the
    /// distribution it owns, when there is one on disk.
    std::optional<PythonDist> dist;
    std::optional<ShadowPeer> shadows;      ///< external package: the conda package it shadows
    std::optional<ShadowPeer> shadowed_by;  ///< conda package: the external package over it
};

/// Holds everything `gpuenv list` knows about one environment.
struct Inventory {
    Prefix prefix;
    std::vector<Package> packages;  ///< sorted by key, then conda before pypi
    gpuenv::Diagnostics warnings;   ///< unreadable records and distributions, skipped

    /// Returns the number of conda records.
    [[nodiscard]] std::size_t conda_count() const;
    /// Returns the number of external Python distributions.
    [[nodiscard]] std::size_t pypi_count() const;
};

/// Reads an environment's conda records and Python distributions into one list. A record or
/// distribution that cannot be read becomes a warning and the rest is still listed.
[[nodiscard]] Inventory read_inventory(const Prefix& prefix);

/// Returns the installer an external distribution is attributed to: its INSTALLER lowercased,
/// else "debian" in a dist-packages directory, else "unknown".
[[nodiscard]] std::string attribute_installer(const PythonDist& dist);

}  // namespace gpuenv::core::env
