// pip requirements as a lock of the Python side: every distribution pinned `name==version`,
// or `name @ url` when it was installed from a URL. Read as pip reads requirement files
// (pip/_internal/req/req_file.py): `\` continuations, ` #` comments, options after the
// requirement.
#include <gpuenv/core/lock/format_parts.hpp>

#include <algorithm>
#include <map>
#include <optional>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/core/spec/pep440.hpp>
#include <gpuenv/core/spec/requirement.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::lock::detail {
namespace {

namespace fs = std::filesystem;
using env::DirectUrl;

constexpr std::string_view k_header =
    "# pip requirements written by gpuenv: every Python distribution of the environment, pinned\n"
    "# install with `pip install --no-deps -r <this file>`\n";

constexpr std::string_view k_vcs_schemes[] = {"git", "hg", "svn", "bzr"};

bool is_hex(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
}

// ---- direct URLs <-> PEP 508 URLs ----

std::string requirement_url(const DirectUrl& u) {
    std::string url = u.url;
    if (u.kind == DirectUrl::Kind::vcs) {
        if (!u.vcs.empty() && !url.starts_with(u.vcs + "+"))
            url = u.vcs + "+" + url;
        const std::string& revision = u.commit_id.empty() ? u.requested_revision : u.commit_id;
        if (!revision.empty())
            url += "@" + revision;
    }
    std::vector<std::string> fragment;
    if (u.kind == DirectUrl::Kind::archive && u.archive_hash.find('=') != std::string::npos)
        fragment.push_back(u.archive_hash);
    if (!u.subdirectory.empty())
        fragment.push_back("subdirectory=" + u.subdirectory);
    for (std::size_t i = 0; i < fragment.size(); ++i)
        url += (i == 0 && url.find('#') == std::string::npos ? "#" : "&") + fragment[i];
    return url;
}

bool is_archive_name(std::string_view path) {
    constexpr std::string_view k_extensions[] = {".whl",    ".tar.gz", ".zip", ".tar.bz2",
                                                 ".tar.xz", ".tgz",    ".tar", ".tbz"};
    const std::string lower = util::to_lower(path);
    return std::any_of(std::begin(k_extensions), std::end(k_extensions),
                       [&](std::string_view ext) { return lower.ends_with(ext); });
}

DirectUrl direct_url_from(std::string_view url) {
    DirectUrl u;
    const auto hash = url.find('#');
    std::string_view base = url.substr(0, hash);
    if (hash != std::string_view::npos) {
        for (const std::string_view part : util::split(url.substr(hash + 1), '&')) {
            const auto eq = part.find('=');
            if (eq == std::string_view::npos)
                continue;
            const std::string_view name = part.substr(0, eq);
            if (name == "subdirectory") {
                u.subdirectory = std::string(part.substr(eq + 1));
            } else if (name == "sha256" || name == "sha384" || name == "sha512" || name == "sha1" ||
                       name == "sha224" || name == "md5") {
                u.archive_hash = std::string(part);
            }
        }
    }
    const auto scheme_end = base.find("://");
    const std::string_view scheme =
        scheme_end == std::string_view::npos ? "" : base.substr(0, scheme_end);
    const auto plus = scheme.find('+');
    if (plus != std::string_view::npos &&
        std::find(std::begin(k_vcs_schemes), std::end(k_vcs_schemes), scheme.substr(0, plus)) !=
            std::end(k_vcs_schemes)) {
        u.kind = DirectUrl::Kind::vcs;
        u.vcs = std::string(scheme.substr(0, plus));
        std::string_view rest = base.substr(plus + 1);
        const auto path_start = rest.find('/', rest.find("://") + 3);
        const auto at = rest.rfind('@');
        if (path_start != std::string_view::npos && at != std::string_view::npos &&
            at > path_start) {
            const std::string_view revision = rest.substr(at + 1);
            (is_hex(revision) && (revision.size() == 40 || revision.size() == 64)
                 ? u.commit_id
                 : u.requested_revision) = std::string(revision);
            rest = rest.substr(0, at);
        }
        u.url = std::string(rest);
        u.archive_hash.clear();
        return u;
    }
    u.url = std::string(base);
    u.kind =
        is_archive_name(base) || scheme != "file" ? DirectUrl::Kind::archive : DirectUrl::Kind::dir;
    if (u.kind != DirectUrl::Kind::archive)
        u.archive_hash.clear();
    return u;
}

// Returns the version a wheel or sdist file name carries ("" when it carries none).
std::string version_from_file_name(std::string_view url) {
    std::string_view name = url.substr(url.find_last_of('/') + 1);
    const std::string lower = util::to_lower(name);
    if (lower.ends_with(".whl")) {
        const auto parts = util::split(name, '-');
        return parts.size() >= 5 ? std::string(parts[1]) : std::string();
    }
    for (const std::string_view ext : {".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz"}) {
        if (lower.ends_with(ext)) {
            name.remove_suffix(ext.size());
            const auto dash = name.rfind('-');
            return dash == std::string_view::npos ? std::string()
                                                  : std::string(name.substr(dash + 1));
        }
    }
    return {};
}

// ---- reading ----

struct LogicalLine {
    int line = 0;
    std::string text;
};

// Joins `\` continuations and removes comments as pip's join_lines and ignore_comments do.
std::vector<LogicalLine> logical_lines(std::string_view text) {
    std::vector<LogicalLine> out;
    std::string pending;
    int first = 0;
    int line_no = 0;
    const auto is_comment = [](std::string_view line) {
        const std::string_view t = util::trim(line);
        return !t.empty() && t.front() == '#';
    };
    for (std::string_view raw : util::split(text, '\n')) {
        ++line_no;
        if (raw.ends_with('\r'))
            raw.remove_suffix(1);
        if (raw.ends_with('\\') && !is_comment(raw)) {
            if (pending.empty())
                first = line_no;
            std::string_view piece = raw;
            while (!piece.empty() && piece.back() == '\\')
                piece.remove_suffix(1);
            pending += piece;
            continue;
        }
        // pip joins the pieces as they are, but puts a space before a comment line.
        const std::string joined = pending.empty()
                                       ? std::string(raw)
                                       : pending + (is_comment(raw) ? " " : "") + std::string(raw);
        out.push_back({pending.empty() ? line_no : first, joined});
        pending.clear();
    }
    if (!pending.empty())
        out.push_back({first, pending});
    for (auto& l : out) {
        // pip's COMMENT_RE: a '#' at the start or after whitespace starts a comment.
        for (std::size_t i = 0; i < l.text.size(); ++i) {
            if (l.text[i] == '#' && (i == 0 || l.text[i - 1] == ' ' || l.text[i - 1] == '\t')) {
                l.text.resize(i);
                break;
            }
        }
        l.text = std::string(util::trim(l.text));
    }
    return out;
}

struct ParsedLine {
    spec::Requirement requirement;
    std::string version;
    std::vector<std::string> ignored_options;  ///< options other than --hash
};

// Parses one requirement line (comments removed); throws gpuenv::Error naming the problem.
ParsedLine parse_line(const std::string& text) {
    // pip's break_args_options: the requirement ends at the first token starting with '-'.
    std::string args;
    std::vector<std::string> options;
    bool in_options = false;
    for (const std::string_view token : util::split(text, ' ')) {
        if (!in_options && !token.empty() && token.front() == '-')
            in_options = true;
        if (in_options) {
            if (!token.empty())
                options.emplace_back(token);
        } else {
            args += (args.empty() ? "" : " ") + std::string(token);
        }
    }
    ParsedLine out{spec::Requirement::parse(util::trim(args)), {}, {}};
    for (std::size_t i = 0; i < options.size(); ++i) {
        if (options[i].starts_with("--hash=")) {
            continue;
        }
        if (options[i] == "--hash") {
            ++i;
            continue;
        }
        out.ignored_options.push_back(options[i]);
    }
    const auto& req = out.requirement;
    if (!req.url.empty()) {
        out.version = version_from_file_name(req.url.substr(0, req.url.find('#')));
        return out;
    }
    const auto& clauses = req.specifier.specifiers();
    const bool pinned = clauses.size() == 1 && !clauses[0].is_wildcard() &&
                        (clauses[0].op() == spec::SpecifierOperator::equal ||
                         clauses[0].op() == spec::SpecifierOperator::arbitrary);
    if (!pinned) {
        throw Error(ExitCode::not_found, "'" + std::string(util::trim(args)) +
                                             "' is not an exact pin (name==version or name @ url)");
    }
    out.version = clauses[0].version_text();
    return out;
}

// ---- writing ----

struct Entry {
    std::string line;     ///< the requirement, or a comment
    std::string display;  ///< "name version" for warnings
};

std::string pin(std::string_view name, std::string_view version) {
    const bool pep440 = spec::Pep440Version::try_parse(version).has_value();
    return std::string(name) + (pep440 ? "==" : "===") + std::string(version);
}

std::string one_line(std::string text) {
    for (char& c : text) {
        if (c == '\n' || c == '\r')
            c = ' ';
    }
    return text;
}

// Collects the line of every Python distribution by PEP 503 name: external ones as
// installed, then the distributions conda packages own unless a pip install shadows them.
std::map<std::string, Entry> collect_entries(const LockedEnv& env,
                                             std::vector<std::string>& editable,
                                             std::vector<std::string>& shadowed) {
    std::map<std::string, Entry> entries;
    for (const auto& p : env.packages) {
        if (p.manager != Manager::pypi)
            continue;
        const std::string display = p.name + " " + p.version;
        std::string line;
        if (p.direct_url && p.direct_url->editable) {
            line = one_line("# " + p.name + "==" + p.version + " is an editable install from " +
                            p.direct_url->url + " and cannot be pinned");
            editable.push_back(display);
        } else if (p.direct_url) {
            line = p.name + " @ " + requirement_url(*p.direct_url);
        } else {
            line = pin(p.name, p.version);
        }
        entries[spec::normalize_pypi_name(p.name)] = {std::move(line), display};
    }
    for (const auto& p : env.packages) {
        if (p.manager != Manager::conda || p.python_name.empty() || p.python_version.empty())
            continue;
        const std::string key = spec::normalize_pypi_name(p.python_name);
        if (const auto it = entries.find(key); it != entries.end()) {
            shadowed.push_back(p.python_name + " " + p.python_version + " (conda package " +
                               p.name + ", under " + it->second.display + ")");
            continue;
        }
        entries[key] = {pin(p.python_name, p.python_version),
                        p.python_name + " " + p.python_version};
    }
    return entries;
}

}  // namespace

RenderedLock render_requirements_lock(const LockedEnv& env) {
    RenderedLock out;
    std::vector<std::string> editable;
    std::vector<std::string> shadowed;
    std::vector<std::string> unwritable;
    std::map<std::string, Entry> entries = collect_entries(env, editable, shadowed);
    out.text = k_header;
    for (auto& [key, entry] : entries) {
        if (!entry.line.starts_with('#')) {
            // Only lines this reader (and so pip) takes back are written as requirements.
            bool readable = entry.line.find_first_of("\r\n") == std::string::npos &&
                            !entry.line.ends_with('\\');
            try {
                readable = readable && parse_line(entry.line).ignored_options.empty();
            } catch (const Error&) {
                readable = false;
            }
            if (!readable) {
                unwritable.push_back(one_line(entry.display));
                entry.line = "# cannot be written as a requirement: " + one_line(entry.display);
            }
        }
        out.text += entry.line + "\n";
    }
    if (!editable.empty()) {
        out.warnings.push_back({"", 0, 0,
                                "editable installs cannot be pinned and are written as comments: " +
                                    join_names(editable)});
    }
    if (!shadowed.empty()) {
        out.warnings.push_back({"", 0, 0,
                                "conda-owned distributions shadowed by a pip install are left "
                                "out: " +
                                    join_names(shadowed)});
    }
    if (!unwritable.empty()) {
        out.warnings.push_back({"", 0, 0,
                                "distributions whose name or version is not a valid requirement "
                                "are written as comments: " +
                                    join_names(unwritable)});
    }
    warn_dropped_env_vars(env, "requirements", out.warnings);
    return out;
}

LockedEnv parse_requirements_lock(std::string_view text, const fs::path& path) {
    check_size(text, path);
    LockedEnv env;
    env.fields = KnownFields{.conda = false,
                             .pypi = true,
                             .python_only = true,
                             .build = false,
                             .channel = false,
                             .installer = false,
                             .hashes = false,
                             .env_vars = false};
    for (const auto& line : logical_lines(text)) {
        if (line.text.empty())
            continue;
        if (line.text.front() == '-') {
            const bool editable =
                line.text.starts_with("-e") || line.text.starts_with("--editable");
            env.warnings.push_back(
                {path.string(), line.line, 0,
                 "pip option '" + line.text.substr(0, 80) + "' is skipped" +
                     (editable ? " (an editable install cannot be pinned)" : "")});
            continue;
        }
        ParsedLine parsed;
        try {
            parsed = parse_line(line.text);
        } catch (const Error& e) {
            fail_at(path, line.line, 0, e.what());
        }
        for (const auto& option : parsed.ignored_options) {
            env.warnings.push_back(
                {path.string(), line.line, 0, "option '" + option.substr(0, 80) + "' is ignored"});
        }
        if (parsed.requirement.marker) {
            env.warnings.push_back(
                {path.string(), line.line, 0,
                 "the environment marker of " + parsed.requirement.name + " is ignored"});
        }
        LockedPackage p;
        p.manager = Manager::pypi;
        p.name = parsed.requirement.name;
        p.key = parsed.requirement.normalized_name;
        p.version = parsed.version;
        if (!parsed.requirement.url.empty()) {
            p.direct_url = direct_url_from(parsed.requirement.url);
            if (p.direct_url->archive_hash.starts_with("sha256="))
                p.pypi_sha256 = p.direct_url->archive_hash.substr(7);
        }
        env.packages.push_back(std::move(p));
    }
    drop_duplicates(env, path);
    return env;
}

}  // namespace gpuenv::core::lock::detail
