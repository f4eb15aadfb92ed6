#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gpuenv/core/env/env_vars.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/env/python_dist.hpp>
#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::lock {

/// Tells which package manager a locked package belongs to.
enum class Manager {
    conda,  ///< a conda record
    pypi,   ///< a Python distribution no conda record owns
};

/// Returns "conda" or "pypi".
[[nodiscard]] const char* to_string(Manager manager);

/// Holds one package as a lock (or an installed environment) describes it. Fields a format
/// cannot express stay empty; LockedEnv::fields says which ones a source knows.
struct LockedPackage {
    Manager manager = Manager::conda;
    std::string name;  ///< as written (conda name, or the distribution's Name)
    std::string key;   ///< conda name / PEP 503 name: the identity used to compare
    std::string version;
    // conda only
    std::string build;
    std::int64_t build_number = 0;
    std::string channel;  ///< display name as `conda list` shows it: conda-forge, pkgs/main, URL
    std::string subdir;
    std::string url;
    std::string md5;
    std::string sha256;
    std::int64_t size = 0;
    std::vector<std::string> depends;  ///< conda MatchSpecs (conda); PEP 508 lines (pypi)
    /// conda: the Python distribution the record owns (PEP 503 name and version), when any;
    /// lets a conda package be compared with a pip requirements line (pytorch -> torch).
    std::string python_name;
    std::string python_version;
    // both
    std::string installer;  ///< "conda" for records; pip, uv, uv-pixi, debian, unknown, ...
    bool requested = false;
    // pypi (and the distribution a conda record owns, in python_record_sha256)
    std::optional<env::DirectUrl> direct_url;
    std::string pypi_sha256;    ///< sha256 of the wheel/sdist when known (direct_url, conda-lock)
    std::string record_sha256;  ///< SHA-256 of the distribution's RECORD file, the content hash
};

/// Says which fields of LockedPackage a source knows, so that comparisons only look at
/// what both sides have (a requirements.txt knows no builds, an explicit file no pip side).
struct KnownFields {
    bool conda = true;         ///< conda packages are listed
    bool pypi = true;          ///< external Python distributions are listed
    bool python_only = false;  ///< every Python distribution is listed with no conda side
                               ///< (requirements.txt): compare against the Python view
    bool build = true;
    bool channel = true;
    bool installer = true;
    bool hashes = true;  ///< conda sha256/md5 and pypi RECORD hashes
    bool env_vars = true;
};

/// Holds a whole locked (or installed) environment in the form every format maps to.
struct LockedEnv {
    std::string platform;                         ///< conda subdir (linux-64); "" when unknown
    std::vector<std::string> channels;            ///< display names, most used first
    std::vector<LockedPackage> packages;          ///< sorted by key, conda before pypi
    std::map<std::string, std::string> env_vars;  ///< effective activation variables
    std::string fingerprint;  ///< as stored by the source ("" when it stores none)
    std::string name;         ///< environment name when the source has one
    std::string source;       ///< what it was read from, for messages ("gpuenv.lock (gpuenv)")
    KnownFields fields;
    gpuenv::Diagnostics warnings;
};

/// Sorts packages by key, conda before pypi, then by version (the canonical order).
void sort_packages(std::vector<LockedPackage>& packages);

/// Returns an environment's conda platform: the python record's subdir, else the subdir most
/// records have, else (venvs, plain Pythons) this machine's ("linux-64").
[[nodiscard]] std::string environment_platform(const env::Inventory& inventory);

/// Says whether to hash each distribution's RECORD file while converting.
enum class HashRecords { no, yes };

/// Converts an installed environment to the lock model: every conda record, every external
/// distribution, the environment variables (env_vars.d and conda-meta/state), the platform
/// (the records' subdir) and the channels; with HashRecords::yes each distribution's RECORD
/// is hashed (an unreadable one becomes a warning). Computes the fingerprint.
[[nodiscard]] LockedEnv lock_from_inventory(const env::Inventory& inventory,
                                            HashRecords hash_records = HashRecords::yes);

}  // namespace gpuenv::core::lock
