#include <gpuenv/core/env/python_dist.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/json_value.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Name and Version sit in the first lines, so one small read usually settles them; only
// old PKG-INFO files whose folded Description comes first need more. The long description
// after the header block is never read.
constexpr std::size_t k_first_chunk_bytes = std::size_t{8} * 1024;
constexpr std::size_t k_max_header_bytes = std::size_t{64} * 1024;
constexpr std::size_t k_max_installer_bytes = 256;
constexpr std::size_t k_max_direct_url_bytes = std::size_t{1024} * 1024;

using Fd = util::FdGuard;

// Closes a directory stream on scope exit.
class Dir {
  public:
    explicit Dir(DIR* dir) : m_dir(dir) {}
    Dir(const Dir&) = delete;
    Dir& operator=(const Dir&) = delete;
    ~Dir() {
        if (m_dir != nullptr)
            ::closedir(m_dir);
    }
    [[nodiscard]] DIR* get() const { return m_dir; }

  private:
    DIR* m_dir;
};

// Appends from fd until `out` holds max_bytes or the file ends (then sets at_end);
// returns errno, or 0.
int read_until(int fd, std::string& out, std::size_t max_bytes, bool& at_end) {
    std::size_t got = out.size();
    out.resize(max_bytes);
    at_end = false;
    while (got < max_bytes) {
        const ssize_t n = ::read(fd, out.data() + got, max_bytes - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int err = errno;
            out.resize(got);
            return err;
        }
        if (n == 0) {
            at_end = true;
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return 0;
}

// Reads at most max_bytes of a small file; returns errno, or 0.
int read_small_file(const fs::path& path, std::size_t max_bytes, std::string& out) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        return errno;
    bool at_end = false;
    return read_until(fd.get(), out, max_bytes, at_end);
}

bool is_absent(int err) {
    return err == ENOENT || err == ENOTDIR;
}

// What one pass over a core-metadata header block found.
struct HeaderScan {
    std::string name;
    std::string version;
    bool found_name = false;
    bool found_version = false;
    bool needs_more = false;  // the text stopped inside the block before Name and Version settled
    int problem_line = 0;
    std::string problem;
};

void unfold(std::string& value, std::string_view piece) {
    if (!value.empty() && !piece.empty())
        value += ' ';
    value += piece;
}

// Parses RFC 822 headers up to the first empty line, stopping once Name and Version (and
// their continuation lines) are known. When `complete` is false the text is a file head:
// its last, partial line is not parsed. A line without ':' after Name and Version ends the
// block as it does for Python's email parser (so pip still lists the dist); before them it
// is an error.
HeaderScan scan_headers(std::string_view text, bool complete) {
    HeaderScan scan;
    if (text.substr(0, 3) == "\xEF\xBB\xBF")
        text.remove_prefix(3);
    std::string* current = nullptr;  // the Name or Version value that continuation lines extend
    std::size_t pos = 0;
    for (int line_no = 1;; ++line_no) {
        const std::size_t newline = text.find('\n', pos);
        if (pos >= text.size() || (newline == std::string_view::npos && !complete)) {
            scan.needs_more = !complete;
            return scan;
        }
        const std::size_t end = newline == std::string_view::npos ? text.size() : newline;
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
            if (line_no == 1) {
                scan.problem_line = 1;
                scan.problem = "continuation line before the first header";
                return scan;
            }
            if (current != nullptr)
                unfold(*current, util::trim(line));
            continue;
        }
        current = nullptr;
        if (line.empty() || (scan.found_name && scan.found_version))
            return scan;
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            scan.problem_line = line_no;
            scan.problem = "expected ':' in header line";
            return scan;
        }
        const std::string_view key = util::trim(line.substr(0, colon));
        const std::string_view value = util::trim(line.substr(colon + 1));
        if (!scan.found_name && util::iequals(key, "Name")) {
            scan.found_name = true;
            scan.name = value;
            current = &scan.name;
        } else if (!scan.found_version && util::iequals(key, "Version")) {
            scan.found_version = true;
            scan.version = value;
            current = &scan.version;
        }
    }
}

// Reads Name and Version from a METADATA / PKG-INFO file into `dist`; on failure fills
// `problem` with the reason and returns false.
bool read_core_metadata(const fs::path& file, PythonDist& dist, Diagnostic& problem) {
    problem.path = file.string();
    const Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        problem.message = std::strerror(errno);
        return false;
    }
    std::string text;
    bool at_end = false;
    HeaderScan scan;
    for (std::size_t limit = k_first_chunk_bytes;; limit = k_max_header_bytes) {
        if (const int err = read_until(fd.get(), text, limit, at_end); err != 0) {
            problem.message = std::strerror(err);
            return false;
        }
        scan = scan_headers(text, at_end);
        if (!scan.needs_more || at_end || limit == k_max_header_bytes)
            break;
    }
    if (!scan.problem.empty()) {
        problem.line = scan.problem_line;
        problem.message = std::move(scan.problem);
        return false;
    }
    if (scan.name.empty() || scan.version.empty()) {
        problem.message = scan.name.empty() ? "missing Name" : "missing Version";
        return false;
    }
    dist.name = std::move(scan.name);
    dist.version = std::move(scan.version);
    return true;
}

// Returns the first line of INSTALLER, trimmed; "" when there is none.
std::string read_installer(const fs::path& dir, Diagnostics& warnings) {
    const fs::path file = dir / "INSTALLER";
    std::string text;
    const int err = read_small_file(file, k_max_installer_bytes, text);
    if (err != 0) {
        if (!is_absent(err))
            warnings.push_back({file.string(), 0, 0, std::strerror(err)});
        return {};
    }
    return std::string(util::trim(std::string_view(text).substr(0, text.find('\n'))));
}

std::string string_member(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json* object_member(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_object() ? &*it : nullptr;
}

void fill_vcs(const json& vcs_info, DirectUrl& out) {
    out.kind = DirectUrl::Kind::vcs;
    out.vcs = string_member(vcs_info, "vcs");
    out.commit_id = string_member(vcs_info, "commit_id");
    out.requested_revision = string_member(vcs_info, "requested_revision");
}

void fill_archive(const json& archive_info, DirectUrl& out) {
    out.kind = DirectUrl::Kind::archive;
    // PEP 610 prefers hashes{}; the older "hash" is already "<algorithm>=<hex>".
    const json* hashes = object_member(archive_info, "hashes");
    const std::string sha256 = hashes != nullptr ? string_member(*hashes, "sha256") : "";
    out.archive_hash = sha256.empty() ? string_member(archive_info, "hash") : "sha256=" + sha256;
}

// Converts a parsed direct_url.json; on a schema problem sets `problem` and returns nullopt.
std::optional<DirectUrl> direct_url_from_json(const json& doc, std::string& problem) {
    if (!doc.is_object()) {
        problem = "expected a JSON object";
        return std::nullopt;
    }
    DirectUrl out;
    out.url = string_member(doc, "url");
    if (out.url.empty()) {
        problem = "missing \"url\"";
        return std::nullopt;
    }
    const json* dir_info = object_member(doc, "dir_info");
    const json* vcs_info = object_member(doc, "vcs_info");
    const json* archive_info = object_member(doc, "archive_info");
    const int kinds = (dir_info != nullptr ? 1 : 0) + (vcs_info != nullptr ? 1 : 0) +
                      (archive_info != nullptr ? 1 : 0);
    if (kinds != 1) {
        problem = "expected exactly one of dir_info, vcs_info and archive_info";
        return std::nullopt;
    }
    if (dir_info != nullptr) {
        out.kind = DirectUrl::Kind::dir;
        const auto editable = dir_info->find("editable");
        out.editable =
            editable != dir_info->end() && editable->is_boolean() && editable->get<bool>();
    } else if (vcs_info != nullptr) {
        fill_vcs(*vcs_info, out);
    } else if (archive_info != nullptr) {
        fill_archive(*archive_info, out);
    }
    out.subdirectory = string_member(doc, "subdirectory");
    return out;
}

// Reads direct_url.json (PEP 610); problems become warnings and leave the result empty.
std::optional<DirectUrl> read_direct_url(const fs::path& dir, Diagnostics& warnings) {
    const fs::path file = dir / "direct_url.json";
    std::string text;
    if (const int err = read_small_file(file, k_max_direct_url_bytes, text); err != 0) {
        if (!is_absent(err))
            warnings.push_back({file.string(), 0, 0, std::strerror(err)});
        return std::nullopt;
    }
    json doc;
    try {
        doc = util::json::parse_value(text);
    } catch (const util::json::SyntaxError& error) {
        const auto at = util::line_column(text, error.offset());
        warnings.push_back(
            {file.string(), at.line, at.column, std::string("invalid JSON: ") + error.what()});
        return std::nullopt;
    }
    std::string problem;
    std::optional<DirectUrl> url = direct_url_from_json(doc, problem);
    if (!url)
        warnings.push_back({file.string(), 0, 0, problem});
    return url;
}

fs::path core_metadata_file(const fs::path& metadata_path, DistFormat format) {
    switch (format) {
        case DistFormat::dist_info:
            return metadata_path / "METADATA";
        case DistFormat::egg_info_dir:
            return metadata_path / "PKG-INFO";
        case DistFormat::egg_info_file:
            return metadata_path;
        case DistFormat::egg:
            return metadata_path / "EGG-INFO" / "PKG-INFO";
    }
    return metadata_path;
}

// Reads one distribution; on failure fills `problem` (file, line, reason) and returns
// nullopt, so a scan can turn it into a warning without an exception per broken dist.
std::optional<PythonDist> try_read_dist(const fs::path& metadata_path, DistFormat format,
                                        Diagnostics& warnings, Diagnostic& problem) {
    PythonDist dist;
    if (!read_core_metadata(core_metadata_file(metadata_path, format), dist, problem)) {
        return std::nullopt;
    }
    dist.normalized_name = spec::normalize_pypi_name(dist.name);
    dist.format = format;
    dist.metadata_path = metadata_path;
    dist.site_packages = metadata_path.parent_path();
    if (format == DistFormat::dist_info || format == DistFormat::egg_info_dir) {
        dist.installer = read_installer(metadata_path, warnings);
    }
    if (format == DistFormat::dist_info) {
        dist.requested = util::exists(metadata_path / "REQUESTED");
        dist.direct_url = read_direct_url(metadata_path, warnings);
    }
    return dist;
}

std::string problem_message(const Diagnostic& problem) {
    std::string out = problem.path;
    if (problem.line > 0)
        out += ": line " + std::to_string(problem.line);
    return out + ": " + problem.message;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Returns the st_mode of a directory entry, from d_type when it is known and by following
// the link otherwise; 0 (with errno set) when the link dangles.
mode_t entry_mode(int dir_fd, const dirent& entry) {
    if (entry.d_type == DT_DIR)
        return S_IFDIR;
    if (entry.d_type == DT_REG)
        return S_IFREG;
    if (entry.d_type != DT_LNK && entry.d_type != DT_UNKNOWN)
        return S_IFIFO;
    struct stat st {};
    return ::fstatat(dir_fd, entry.d_name, &st, 0) == 0 ? st.st_mode : 0;
}

// A site-packages entry that holds distribution metadata.
struct Candidate {
    std::string file_name;
    DistFormat format;
};

// Classifies one entry by its suffix and type; stats only entries whose suffix matches.
std::optional<DistFormat> classify(int dir_fd, const dirent& entry, Diagnostics& warnings,
                                   const fs::path& dir) {
    const std::string_view name = entry.d_name;
    const bool dist_info = ends_with(name, ".dist-info");
    const bool egg_info = ends_with(name, ".egg-info");
    const bool egg = ends_with(name, ".egg");
    if (!dist_info && !egg_info && !egg)
        return std::nullopt;
    const mode_t mode = entry_mode(dir_fd, entry);
    if (mode == 0) {
        warnings.push_back({(dir / name).string(), 0, 0, std::strerror(errno)});
        return std::nullopt;
    }
    if (S_ISDIR(mode)) {
        if (dist_info)
            return DistFormat::dist_info;
        if (egg_info)
            return DistFormat::egg_info_dir;
        // A .egg directory counts only with EGG-INFO; a zipped .egg file is not read.
        struct stat st {};
        const std::string egg_info_dir = std::string(name) + "/EGG-INFO";
        if (::fstatat(dir_fd, egg_info_dir.c_str(), &st, 0) == 0 && S_ISDIR(st.st_mode)) {
            return DistFormat::egg;
        }
        return std::nullopt;
    }
    if (S_ISREG(mode) && egg_info)
        return DistFormat::egg_info_file;
    return std::nullopt;
}

// Lists the metadata entries of a directory, sorted by name so duplicates resolve the same
// way on every file system.
std::vector<Candidate> list_candidates(const fs::path& dir, Diagnostics& warnings) {
    std::vector<Candidate> out;
    const Dir stream(::opendir(dir.c_str()));
    if (stream.get() == nullptr) {
        if (!is_absent(errno))
            warnings.push_back({dir.string(), 0, 0, std::strerror(errno)});
        return out;
    }
    const int dir_fd = ::dirfd(stream.get());
    errno = 0;
    while (const dirent* entry = ::readdir(stream.get())) {
        if (const auto format = classify(dir_fd, *entry, warnings, dir)) {
            out.push_back({entry->d_name, *format});
        }
        errno = 0;
    }
    if (errno != 0)
        warnings.push_back({dir.string(), 0, 0, std::strerror(errno)});
    std::sort(out.begin(), out.end(),
              [](const Candidate& a, const Candidate& b) { return a.file_name < b.file_name; });
    return out;
}

int format_rank(DistFormat format) {
    return format == DistFormat::dist_info ? 0 : 1;
}

// Keeps one distribution per normalized name: a .dist-info beats the egg forms, and between
// equals the first name in sorted order (the one already held) stays.
void keep_one_per_name(std::vector<PythonDist>& dists,
                       std::unordered_map<std::string, std::size_t>& index, PythonDist dist,
                       const fs::path& dir, Diagnostics& warnings) {
    const auto [it, inserted] = index.try_emplace(dist.normalized_name, dists.size());
    if (inserted) {
        dists.push_back(std::move(dist));
        return;
    }
    PythonDist& held = dists[it->second];
    const bool replace = format_rank(dist.format) < format_rank(held.format);
    const PythonDist& kept = replace ? dist : held;
    const PythonDist& dropped = replace ? held : dist;
    if (kept.version != dropped.version) {
        warnings.push_back({dir.string(), 0, 0,
                            "duplicate distribution " + kept.normalized_name + ": " +
                                kept.metadata_path.filename().string() + " (" + kept.version +
                                ") and " + dropped.metadata_path.filename().string() + " (" +
                                dropped.version + ")"});
    }
    if (replace)
        held = std::move(dist);
}

}  // namespace

PythonDist read_python_dist(const std::filesystem::path& metadata_path, DistFormat format,
                            gpuenv::Diagnostics& warnings) {
    Diagnostic problem;
    std::optional<PythonDist> dist = try_read_dist(metadata_path, format, warnings, problem);
    if (!dist)
        throw Error(ExitCode::not_found, problem_message(problem));
    return std::move(*dist);
}

std::vector<PythonDist> scan_site_packages(const std::filesystem::path& site_packages,
                                           gpuenv::Diagnostics& warnings) {
    std::vector<PythonDist> dists;
    std::unordered_map<std::string, std::size_t> index;
    for (const Candidate& candidate : list_candidates(site_packages, warnings)) {
        Diagnostic problem;
        std::optional<PythonDist> dist =
            try_read_dist(site_packages / candidate.file_name, candidate.format, warnings, problem);
        if (!dist) {
            warnings.push_back(std::move(problem));
            continue;
        }
        dist->site_packages = site_packages;
        keep_one_per_name(dists, index, std::move(*dist), site_packages, warnings);
    }
    std::sort(dists.begin(), dists.end(), [](const PythonDist& a, const PythonDist& b) {
        return a.normalized_name < b.normalized_name;
    });
    return dists;
}

const char* to_string(DistFormat format) {
    switch (format) {
        case DistFormat::dist_info:
            return "dist-info";
        case DistFormat::egg_info_dir:
        case DistFormat::egg_info_file:
            return "egg-info";
        case DistFormat::egg:
            return "egg";
    }
    return "unknown";
}

}  // namespace gpuenv::core::env
