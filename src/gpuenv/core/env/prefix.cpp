#include <gpuenv/core/env/prefix.hpp>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;

// Returns the names in a directory that start with `prefix_text` (unsorted), none on error.
std::vector<std::string> names_starting_with(const fs::path& dir, std::string_view prefix_text) {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr)
        return names;
    while (const dirent* entry = ::readdir(d)) {
        const std::string_view name(entry->d_name);
        if (name.substr(0, prefix_text.size()) == prefix_text)
            names.emplace_back(name);
    }
    ::closedir(d);
    return names;
}

// Orders "python3.9" before "python3.10" and "python3" before both (numeric version order).
bool python_dir_less(const std::string& a, const std::string& b) {
    auto key = [](const std::string& s) {
        std::vector<long> parts;
        std::size_t i = std::string_view("python").size();
        while (i < s.size()) {
            if (s[i] >= '0' && s[i] <= '9') {
                long v = 0;
                while (i < s.size() && s[i] >= '0' && s[i] <= '9')
                    v = v * 10 + (s[i++] - '0');
                parts.push_back(v);
            } else {
                ++i;
            }
        }
        return std::make_pair(parts, s);
    };
    return key(a) < key(b);
}

// Identifies a directory by device and inode so that symlinked duplicates are dropped.
std::pair<dev_t, ino_t> identity(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0)
        return {0, 0};
    return {st.st_dev, st.st_ino};
}

// Returns "3.11" for "python3.11" and "python3.13t", "" for anything else.
std::string version_of_lib_dir(const std::string& dir) {
    if (dir.size() <= 8 || dir.compare(0, 8, "python3.") != 0)
        return {};
    std::string version = dir.substr(6);
    while (!version.empty() && (version.back() < '0' || version.back() > '9'))
        version.pop_back();
    return version;
}

}  // namespace

const char* to_string(PrefixKind kind) {
    switch (kind) {
        case PrefixKind::conda:
            return "conda";
        case PrefixKind::venv:
            return "venv";
        case PrefixKind::python:
            return "python";
    }
    return "python";
}

std::vector<fs::path> find_site_packages(const fs::path& prefix) {
    std::vector<fs::path> candidates;
    for (const char* lib : {"lib", "lib64"}) {
        auto dirs = names_starting_with(prefix / lib, "python");
        std::sort(dirs.begin(), dirs.end(), python_dir_less);
        for (const auto& d : dirs) {
            candidates.push_back(prefix / lib / d / "site-packages");
            candidates.push_back(prefix / lib / d / "dist-packages");
        }
    }
    candidates.push_back(prefix / "Lib" / "site-packages");

    std::vector<fs::path> found;
    std::set<std::pair<dev_t, ino_t>> seen;
    for (auto& c : candidates) {
        if (!util::is_directory(c))
            continue;
        if (!seen.insert(identity(c)).second)
            continue;
        found.push_back(std::move(c));
    }
    return found;
}

Prefix open_prefix(const fs::path& path) {
    std::error_code ec;
    fs::path absolute = fs::absolute(path, ec);
    if (ec)
        absolute = path;
    absolute = absolute.lexically_normal();
    if (absolute.has_filename() == false && absolute != absolute.root_path()) {
        absolute = absolute.parent_path();  // drop the trailing separator of "/x/y/"
    }

    struct stat st {};
    if (::stat(absolute.c_str(), &st) != 0) {
        throw Error(ExitCode::not_found, "environment " + absolute.string() +
                                             " does not exist: " + std::strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        throw Error(ExitCode::not_found,
                    "environment " + absolute.string() + " is not a directory");
    }

    Prefix prefix;
    prefix.path = absolute;
    prefix.site_packages = find_site_packages(absolute);
    if (util::is_directory(absolute / "conda-meta")) {
        prefix.kind = PrefixKind::conda;
    } else if (util::is_regular_file(absolute / "pyvenv.cfg")) {
        prefix.kind = PrefixKind::venv;
    } else if (!prefix.site_packages.empty()) {
        prefix.kind = PrefixKind::python;
    } else {
        throw Error(ExitCode::not_found, "not an environment: " + absolute.string() +
                                             " (no conda-meta/, pyvenv.cfg or site-packages)");
    }
    // The version of the first site-packages' lib/pythonX.Y, else of the newest lib/pythonX.Y
    // (Debian's /usr keeps its packages in lib/python3/dist-packages).
    for (const auto& sp : prefix.site_packages) {
        prefix.python_version = version_of_lib_dir(sp.parent_path().filename().string());
        if (!prefix.python_version.empty())
            break;
    }
    if (prefix.python_version.empty()) {
        auto dirs = names_starting_with(absolute / "lib", "python3.");
        std::sort(dirs.begin(), dirs.end(), python_dir_less);
        for (auto it = dirs.rbegin(); it != dirs.rend() && prefix.python_version.empty(); ++it) {
            if (util::is_directory(absolute / "lib" / *it))
                prefix.python_version = version_of_lib_dir(*it);
        }
    }
    return prefix;
}

}  // namespace gpuenv::core::env
