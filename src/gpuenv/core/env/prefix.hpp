#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace gpuenv::core::env {

/// Names what kind of environment a prefix is.
enum class PrefixKind {
    conda,   ///< has conda-meta/ (conda, micromamba, pixi)
    venv,    ///< has pyvenv.cfg (venv, virtualenv, uv)
    python,  ///< a plain Python installation (/usr, /usr/local, pyenv, a framework build)
};

/// Returns "conda", "venv" or "python".
[[nodiscard]] const char* to_string(PrefixKind kind);

/// Describes an environment's directory: what it is and where its Python packages live.
struct Prefix {
    std::filesystem::path path;  ///< absolute, lexically normal
    PrefixKind kind = PrefixKind::python;
    /// Absolute site-packages / dist-packages directories, in search order, each once.
    std::vector<std::filesystem::path> site_packages;
    std::string python_version;  ///< "3.11" from lib/pythonX.Y, "" when unknown
};

/// Inspects a directory and returns what it is. Throws Error(not_found) when the directory
/// is missing or unreadable, or holds neither conda-meta/, pyvenv.cfg nor a site-packages.
[[nodiscard]] Prefix open_prefix(const std::filesystem::path& path);

/// Returns the site-packages directories under a prefix, in the order Python searches them:
/// lib/pythonX.Y[t]/site-packages, lib/pythonX.Y/dist-packages, lib/python3/dist-packages
/// (Debian), lib64/..., Lib/site-packages (Windows layout). Directories reached twice through
/// symlinks (lib64 -> lib) appear once.
[[nodiscard]] std::vector<std::filesystem::path> find_site_packages(
    const std::filesystem::path& prefix);

}  // namespace gpuenv::core::env
