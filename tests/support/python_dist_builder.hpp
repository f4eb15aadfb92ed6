#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpuenv::test {

/// Describes one Python distribution for the builders below to write.
struct PythonDistSpec {
    std::string name{};
    std::string version{};
    std::string installer = "pip";                 ///< INSTALLER content; "" writes no INSTALLER
    bool requested = false;                        ///< writes an empty REQUESTED (dist-info only)
    std::optional<std::string> direct_url_json{};  ///< direct_url.json, verbatim (dist-info only)
    std::vector<std::string> files{};              ///< package files under site-packages, in RECORD
    std::string metadata_extra{};  ///< extra header lines after Version, ending in "\n"
    /// Console scripts written to site-packages/../../../bin/<name> (prefix/bin for a
    /// lib/pythonX.Y/site-packages), listed in RECORD as pip does: "../../../bin/<name>".
    std::vector<std::string> scripts{};
    /// Lists "<dir>/__pycache__/<stem>.cpython-311.pyc,," in RECORD for each .py file without
    /// writing it, as if Python never compiled it (or it was cleaned away).
    bool listed_pyc = false;
};

/// Escapes a distribution name as wheel file names do (PEP 427): runs of "-_." become "_".
[[nodiscard]] std::string wheel_escape(std::string_view name);

/// Returns the core metadata text written for a spec: headers, a blank line, then a body.
[[nodiscard]] std::string core_metadata(const PythonDistSpec& spec);

/// Returns a RECORD hash as pip writes it: "sha256=" and the urlsafe base64 digest, unpadded.
[[nodiscard]] std::string record_hash(std::string_view content);

/// Returns the directory name write_dist_info uses: "<escaped name>-<version>.dist-info".
[[nodiscard]] std::string dist_info_name(const PythonDistSpec& spec);

/// Returns every file write_dist_info writes, relative to site-packages and sorted (the
/// package files and the dist-info's own, RECORD included), so a conda record can claim them.
[[nodiscard]] std::vector<std::string> dist_info_files(const PythonDistSpec& spec);

/// Writes the package files and "<escaped name>-<version>.dist-info" with METADATA, WHEEL,
/// INSTALLER, REQUESTED, direct_url.json as the spec asks and a RECORD listing every file with
/// its hash and size; returns the dist-info's path (site_packages / dist_info_name(spec)).
std::filesystem::path write_dist_info(const std::filesystem::path& site_packages,
                                      const PythonDistSpec& spec);

/// Writes the package files and "<escaped name>-<version>.egg-info/" with PKG-INFO,
/// installed-files.txt and INSTALLER (when spec.installer is not empty); returns its path.
std::filesystem::path write_egg_info_dir(const std::filesystem::path& site_packages,
                                         const PythonDistSpec& spec);

/// Writes the package files and "<escaped name>-<version>.egg-info" as a single PKG-INFO
/// file (the distutils form); returns its path.
std::filesystem::path write_egg_info_file(const std::filesystem::path& site_packages,
                                          const PythonDistSpec& spec);

/// Writes "<escaped name>-<version>-py3.egg/" with EGG-INFO/PKG-INFO and the package files
/// inside it (as easy_install lays an unzipped egg out); returns its path.
std::filesystem::path write_egg(const std::filesystem::path& site_packages,
                                const PythonDistSpec& spec);

}  // namespace gpuenv::test
