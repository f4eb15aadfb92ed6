#include <gpuenv/core/verify/file_check_plan.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>

namespace gpuenv::core::verify::file_check_detail {
namespace {

namespace fs = std::filesystem;
using env::PathType;

constexpr std::string_view k_site_dir = "site-packages/";
constexpr std::string_view k_scripts_dir = "python-scripts/";

bool is_pyc(std::string_view path) {
    return path.ends_with(".pyc") || path.ends_with(".pyo");
}

// Returns the prefix-relative form of an absolute path, or the path itself when outside.
std::string relative_to(const fs::path& full, const fs::path& prefix) {
    const fs::path rel = full.lexically_relative(prefix);
    if (rel.empty() || *rel.begin() == "..")
        return full.generic_string();
    return rel.generic_string();
}

// Returns whether a relative path has only named components (no "", "." or ".."), so that
// joining it to a normal path gives a normal path.
bool is_plain_relative(std::string_view path) {
    if (path.empty() || path.front() == '/')
        return false;
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        const std::string_view part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..")
            return false;
        if (end == path.size())
            return true;
        start = end + 1;
    }
}

// Returns whether `path`, read with '/' for '\' (old micromamba records written on Windows),
// starts with `start`.
bool starts_with_slashed(std::string_view path, std::string_view start) {
    if (path.size() < start.size())
        return false;
    for (std::size_t i = 0; i < start.size(); ++i) {
        const char c = path[i] == '\\' ? '/' : path[i];
        if (c != start[i])
            return false;
    }
    return true;
}

// Returns the site-packages a conda-written noarch:python record was linked into, from its
// own files[] (which conda writes with final paths), or "" when none says so.
std::string site_packages_from_files(const std::vector<std::string_view>& files) {
    constexpr std::string_view k_marker = "/site-packages/";
    for (const std::string_view file : files) {
        if (file.find('\\') == std::string_view::npos) {
            if (const auto at = file.find(k_marker); at != std::string_view::npos && at > 0)
                return std::string(file.substr(0, at + k_marker.size() - 1));
            continue;
        }
        std::string copy(file);
        std::replace(copy.begin(), copy.end(), '\\', '/');
        if (const auto at = copy.find(k_marker); at != std::string::npos && at > 0)
            return copy.substr(0, at + k_marker.size() - 1);
    }
    return {};
}

// Rewrites record paths into one buffer reserved up front, so that the views it hands out
// stay valid: '\' becomes '/', and for noarch:python `site-packages/x` becomes
// `<site>/x` and `python-scripts/x` `bin/x` (as env::map_noarch_path does).
class PathRewriter {
  public:
    PathRewriter(std::string& buffer, std::string_view site, bool noarch_python)
        : m_buffer(buffer), m_site(site), m_noarch_python(noarch_python) {}

    // Returns how many bytes rewriting `path` takes (0: it is used as written).
    [[nodiscard]] std::size_t size(std::string_view path) const {
        if (m_noarch_python && starts_with_slashed(path, k_site_dir))
            return m_site.size() + 1 + path.size() - k_site_dir.size();
        if (m_noarch_python && starts_with_slashed(path, k_scripts_dir))
            return 4 + path.size() - k_scripts_dir.size();
        return path.find('\\') == std::string_view::npos ? 0 : path.size();
    }

    // Returns the path rewritten, or as written; at most the size reserved is appended.
    std::string_view rewrite(std::string_view path) {
        const std::size_t n = size(path);
        if (n == 0 || m_buffer.size() + n > m_buffer.capacity())
            return path;
        const std::size_t start = m_buffer.size();
        if (m_noarch_python && starts_with_slashed(path, k_site_dir)) {
            m_buffer.append(m_site).append("/").append(path.substr(k_site_dir.size()));
        } else if (m_noarch_python && starts_with_slashed(path, k_scripts_dir)) {
            m_buffer.append("bin/").append(path.substr(k_scripts_dir.size()));
        } else {
            m_buffer.append(path);
        }
        std::replace(m_buffer.begin() + static_cast<std::ptrdiff_t>(start), m_buffer.end(), '\\',
                     '/');
        return std::string_view(m_buffer).substr(start);
    }

  private:
    std::string& m_buffer;
    std::string_view m_site;
    bool m_noarch_python;
};

Check conda_check(const env::PathEntryView& entry, std::string_view path) {
    Check c;
    c.path = path;
    switch (entry.type) {
        case PathType::directory:
            c.expect = Expect::directory;
            break;
        case PathType::softlink:
            c.expect = Expect::symlink;
            c.sha = entry.sha256_in_prefix;
            c.sha_alt = entry.sha256;
            break;
        case PathType::unix_python_entry_point:
        case PathType::windows_python_entry_point_script:
        case PathType::windows_python_entry_point_exe:
            c.expect = Expect::entry_point;  // generated, so no recorded hash applies
            break;
        case PathType::linked_package_record:
            c.expect = Expect::exists;
            break;
        case PathType::hardlink:
        case PathType::pyc_file: {
            c.expect = Expect::file;
            c.sha = entry.sha256_in_prefix.empty() ? entry.sha256 : entry.sha256_in_prefix;
            // size_in_bytes is the size before prefix replacement: meaningful only for files
            // that were not patched (micromamba records no placeholder, but a differing hash).
            const bool patched =
                !entry.prefix_placeholder.empty() ||
                (!entry.sha256_in_prefix.empty() && entry.sha256_in_prefix != entry.sha256);
            if (!patched)
                c.size = entry.size_in_bytes;
            break;
        }
    }
    return c;
}

// Fills `view` with views of an owned record.
void view_of(const env::RecordPaths& record, env::RecordPathsView& view) {
    view.name = record.name;
    view.version = record.version;
    view.build = record.build;
    view.noarch = record.noarch;
    view.paths_version = record.paths_version;
    view.files.assign(record.files.begin(), record.files.end());
    view.paths.clear();
    view.paths.reserve(record.paths.size());
    for (const auto& e : record.paths) {
        view.paths.push_back({e.path, e.type, e.sha256, e.sha256_in_prefix, e.size_in_bytes,
                              e.prefix_placeholder, e.file_mode, e.no_link});
    }
}

// Plans a record's paths; `site` (prefix-relative) is where a noarch:python record's
// site-packages/ paths go.
void plan_record(const env::RecordPathsView& paths, bool noarch_python, std::string site,
                 PackagePlan& plan) {
    if (paths.paths.empty()) {
        env::PathEntryView exists;  // a record without paths_data: files[] existence only
        exists.type = PathType::linked_package_record;
        PathRewriter slashes(plan.rewritten, {}, false);
        std::size_t size = 0;
        for (const auto file : paths.files)
            size += slashes.size(file);
        plan.rewritten.reserve(size);
        for (const auto file : paths.files) {
            if (!is_pyc(file))
                plan.checks.push_back(conda_check(exists, slashes.rewrite(file)));
        }
        return;
    }
    while (!site.empty() && site.back() == '/')
        site.pop_back();
    PathRewriter rewriter(plan.rewritten, site, noarch_python);
    std::size_t size = 0;
    for (const auto& entry : paths.paths)
        size += rewriter.size(entry.path);
    plan.rewritten.reserve(size);
    plan.checks.reserve(paths.paths.size());
    for (const auto& entry : paths.paths) {
        if (entry.type == PathType::pyc_file || is_pyc(entry.path))
            continue;  // compiled at install time; a missing one is not reported (conda doctor)
        plan.checks.push_back(conda_check(entry, rewriter.rewrite(entry.path)));
    }
}

Found classify(mode_t mode) {
    if (S_ISREG(mode))
        return Found::file;
    if (S_ISDIR(mode))
        return Found::directory;
    if (S_ISLNK(mode))
        return Found::symlink;
    return Found::other;
}

}  // namespace

std::string default_site_packages(const env::Inventory& inventory) {
    std::string site;
    for (const auto& p : inventory.packages) {
        if (p.record && p.record->name == "python" &&
            !p.record->python_site_packages_path.empty()) {
            site = p.record->python_site_packages_path;
            break;
        }
    }
    if (site.empty() && !inventory.prefix.site_packages.empty())
        site = relative_to(inventory.prefix.site_packages.front(), inventory.prefix.path);
    if (site.empty() && !inventory.prefix.python_version.empty())
        site = "lib/python" + inventory.prefix.python_version + "/site-packages";
    if (site.empty())
        site = "site-packages";
    while (!site.empty() && site.back() == '/')
        site.pop_back();
    return site;
}

Finding finding(FindingKind kind, const Owner& owner, std::string_view path, std::string expected,
                std::string found, std::string detail) {
    return {kind,
            owner.package,
            std::move(expected),
            std::move(found),
            std::string(path),
            std::move(detail)};
}

CondaPlanned plan_conda_file(const fs::path& record_file, const fs::path& prefix,
                             std::string_view noarch, std::string_view site_packages,
                             RecordText text, PlanState& state, PackagePlan& plan) {
    plan.owner.conda = true;
    plan.owner.record = relative_to(record_file, prefix);
    plan.rewritten.clear();
    plan.checks.clear();
    plan.findings.clear();
    const env::RecordPathsView* paths = nullptr;
    try {
        if (text == RecordText::owned) {
            plan.record = state.reader.read(record_file);
            view_of(plan.record, state.owned_view);
            paths = &state.owned_view;
        } else {
            paths = &state.reader.view(record_file);
        }
    } catch (const Error& e) {
        plan.findings.push_back(finding(FindingKind::unreadable_file, plan.owner, plan.owner.record,
                                        "", "unreadable", e.what()));
        return {};
    }
    CondaPlanned planned;
    planned.python = (noarch.empty() ? paths->noarch : noarch) == "python";
    std::string site;
    if (planned.python && !paths->paths.empty()) {
        site = site_packages_from_files(paths->files);
        if (site.empty() && site_packages.empty()) {
            planned.needs_site = true;
            return planned;
        }
        if (site.empty())
            site = site_packages;
    }
    plan_record(*paths, planned.python, std::move(site), plan);
    return planned;
}

void plan_conda(const env::Package& package, const fs::path& prefix, std::string_view site_packages,
                RecordText text, PlanState& state, PackagePlan& plan) {
    const auto& record = *package.record;
    plan.owner.package = package.name;
    plan.units = record.file_count;
    (void)plan_conda_file(record.record_path, prefix, record.noarch, site_packages, text, state,
                          plan);
}

void plan_pypi(const env::Package& package, const fs::path& prefix, std::string& text,
               PackagePlan& plan) {
    const auto& dist = *package.dist;
    plan.owner.package = package.name + " (pypi)";
    plan.owner.conda = false;
    const bool known_installer = !package.installer.empty() && package.installer != "unknown";
    plan.owner.description = (known_installer ? package.installer + " " : std::string()) +
                             package.name + " " + package.version;
    const fs::path record_file = dist.metadata_path / "RECORD";
    const std::string& record_rel = plan.paths.emplace_back(relative_to(record_file, prefix));
    std::string error;
    if (!util::read_file_into(record_file, text, error)) {
        const bool gone = !util::exists(record_file);
        plan.findings.push_back(
            finding(gone ? FindingKind::missing_file : FindingKind::unreadable_file, plan.owner,
                    record_rel, "file", gone ? "missing" : error,
                    "the distribution's RECORD cannot be read, so its files cannot be checked"));
        return;
    }
    try {
        plan.rows = env::parse_dist_record(text, record_file);
    } catch (const Error& e) {
        plan.findings.push_back(finding(FindingKind::unreadable_file, plan.owner, record_rel, "",
                                        "unreadable", e.what()));
        return;
    }
    // RECORD paths are relative to the directory holding the .dist-info (site-packages).
    const fs::path root = dist.metadata_path.parent_path();
    // Most rows name a plain path below it, which needs none of fs::path's normalisation.
    std::string root_rel = relative_to(root, prefix);
    const bool plain_root = root == root.lexically_normal() && !root_rel.starts_with('/') &&
                            !root_rel.starts_with("..") && !root_rel.empty();
    if (root_rel == ".")
        root_rel.clear();
    plan.checks.reserve(plan.rows.size());
    for (auto& row : plan.rows) {
        if (is_pyc(row.path))
            continue;  // rewritten by Python at will; pip does not check them either
        Check c;
        c.expect = Expect::record_row;
        std::replace(row.path.begin(), row.path.end(), '\\', '/');
        if (plain_root && is_plain_relative(row.path)) {
            c.path =
                plan.paths.emplace_back(root_rel.empty() ? row.path : root_rel + "/" + row.path);
        } else {
            c.path =
                plan.paths.emplace_back(relative_to((root / row.path).lexically_normal(), prefix));
        }
        if (row.hash_algorithm == "sha256") {
            while (!row.hash.empty() && row.hash.back() == '=')
                row.hash.pop_back();
            c.sha = row.hash;
        }
        c.size = row.size;
        plan.checks.push_back(c);
    }
    plan.units = plan.checks.size();
}

PathInspector::~PathInspector() {
    if (m_dir_fd >= 0)
        ::close(m_dir_fd);
}

// A failed open of the directory is remembered too, and its paths are then looked up whole,
// so that every error reads as it would without the shortcut.
void PathInspector::inspect(int prefix_fd, Check& c, FileCheck level) {
    int dir_fd = prefix_fd;
    std::string_view name = c.path;
    const std::size_t slash = c.path.rfind('/');
    if (slash != std::string_view::npos && slash != 0 && slash + 1 < c.path.size()) {
        const std::string_view dir = c.path.substr(0, slash);
        if (dir != m_dir) {
            if (m_dir_fd >= 0)
                ::close(m_dir_fd);
            m_dir.assign(dir);
            m_dir_fd = ::openat(prefix_fd, m_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        }
        if (m_dir_fd >= 0) {
            dir_fd = m_dir_fd;
            name = c.path.substr(slash + 1);
        }
    }
    m_name.assign(name);  // NUL-terminated
    const char* path = m_name.c_str();
    struct stat st {};
    if (::fstatat(dir_fd, path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        c.found = errno == ENOENT || errno == ENOTDIR ? Found::missing : Found::error;
        if (c.found == Found::error)
            c.error = std::strerror(errno);
        return;
    }
    c.found = classify(st.st_mode);
    c.found_size = static_cast<std::int64_t>(st.st_size);
    if (c.found != Found::symlink)
        return;
    c.target = Found::missing;
    if (::fstatat(dir_fd, path, &st, 0) == 0) {
        c.target = classify(st.st_mode);
        c.found_size = static_cast<std::int64_t>(st.st_size);
    }
    if (level == FileCheck::full && c.expect == Expect::symlink) {
        std::array<char, 4096> link{};
        const ssize_t n = ::readlinkat(dir_fd, path, link.data(), link.size());
        if (n > 0)
            c.link_text.assign(link.data(), static_cast<std::size_t>(n));
    }
}

bool wants_hash(const Check& c) {
    switch (c.expect) {
        case Expect::file:
            return c.found == Found::file && !c.sha.empty();
        case Expect::record_row:
            return !c.sha.empty() && (c.found == Found::file ||
                                      (c.found == Found::symlink && c.target == Found::file));
        case Expect::symlink:
            return c.found == Found::symlink && c.target == Found::file &&
                   !(c.sha.empty() && c.sha_alt.empty());
        case Expect::entry_point:
        case Expect::directory:
        case Expect::exists:
            return false;
    }
    return false;
}

}  // namespace gpuenv::core::verify::file_check_detail
