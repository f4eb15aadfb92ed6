// CEP 23 @EXPLICIT files, as `conda list --explicit --sha256` writes them and conda,
// micromamba and rattler read them.
#include <gpuenv/core/lock/format_parts.hpp>

#include <algorithm>
#include <optional>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::lock::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view k_header =
    "# This file may be used to create an environment using:\n"
    "# $ conda create --name <env> --file <this file>\n";

bool is_hex(std::string_view s, std::size_t length) {
    return s.size() == length && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

struct UrlLine {
    std::string url;  ///< the line without its hash fragment
    std::string md5;
    std::string sha256;
};

// Matches a line against the CEP 23 regex (conda/misc.py _get_url_pattern):
//   (?:(?P<url_p>.+)[/\\])?(?P<fn>[^/\\#]+(?:\.tar\.bz2|\.conda))
//   (?:#((?P<md5>[0-9a-f]{32})|((sha256:)?(?P<sha256>[0-9a-f]{64}))))?$
// A hash ends in hex digits and a file name in "conda" or "bz2", so the fragment after the
// last '#' is either a valid hash or not a fragment of this form at all.
std::optional<UrlLine> match_url_line(std::string_view line) {
    UrlLine out;
    std::string_view body = line;
    if (const auto hash = body.rfind('#'); hash != std::string_view::npos) {
        const std::string_view fragment = body.substr(hash + 1);
        if (is_hex(fragment, 32)) {
            out.md5 = std::string(fragment);
            body = body.substr(0, hash);
        } else if (is_hex(fragment, 64)) {
            out.sha256 = std::string(fragment);
            body = body.substr(0, hash);
        } else if (fragment.starts_with("sha256:") && is_hex(fragment.substr(7), 64)) {
            out.sha256 = std::string(fragment.substr(7));
            body = body.substr(0, hash);
        }
    }
    const auto sep = body.find_last_of("/\\");
    if (sep == 0)
        return std::nullopt;  // url_p is `.+`: at least one character before the separator
    const std::string_view fn = sep == std::string_view::npos ? body : body.substr(sep + 1);
    if (fn.find('#') != std::string_view::npos)
        return std::nullopt;
    const bool conda = fn.size() > 6 && fn.ends_with(".conda");
    const bool bz2 = fn.size() > 8 && fn.ends_with(".tar.bz2");
    if (!conda && !bz2)
        return std::nullopt;
    out.url = std::string(body);
    return out;
}

std::string excerpt(std::string_view line) {
    constexpr std::size_t k_max = 120;
    return std::string(line.size() > k_max ? line.substr(0, k_max) : line) +
           (line.size() > k_max ? "..." : "");
}

std::string dist_name(const LockedPackage& p) {
    return p.name + "-" + p.version + "-" + p.build;
}

// Returns the `url#hash` line for a package, or nothing when its URL is not an artifact URL
// that the reader (and conda) would accept back.
std::optional<std::string> package_line(const LockedPackage& p) {
    if (p.url.empty() || p.url.find_first_of("\r\n") != std::string::npos)
        return std::nullopt;
    const auto matched = match_url_line(p.url);
    ArtifactUrl artifact;
    if (!matched || matched->url != p.url || !parse_artifact_url(p.url, artifact))
        return std::nullopt;
    const std::string sha256 = util::to_lower(p.sha256);
    const std::string md5 = util::to_lower(p.md5);
    if (is_hex(sha256, 64))
        return p.url + "#sha256:" + sha256;
    if (is_hex(md5, 32))
        return p.url + "#" + md5;
    return p.url;
}

// Reads one package line after @EXPLICIT; throws naming the line for anything else.
LockedPackage package_from_line(std::string_view line, const fs::path& path, int line_no,
                                int column) {
    const auto matched = match_url_line(line);
    if (!matched) {
        fail_at(path, line_no, column,
                "not a package URL ending in .conda or .tar.bz2 with an optional #md5 or "
                "#sha256: '" +
                    excerpt(line) + "'");
    }
    ArtifactUrl artifact;
    if (!parse_artifact_url(matched->url, artifact)) {
        fail_at(path, line_no, column,
                "file name is not <name>-<version>-<build>: '" + excerpt(line) + "'");
    }
    LockedPackage p;
    p.manager = Manager::conda;
    p.name = std::move(artifact.name);
    p.key = spec::normalize_pypi_name(p.name);
    p.version = std::move(artifact.version);
    p.build = std::move(artifact.build);
    p.channel = std::move(artifact.channel);
    p.subdir = std::move(artifact.subdir);
    p.url = matched->url;
    p.md5 = matched->md5;
    p.sha256 = matched->sha256;
    p.installer = "conda";
    return p;
}

}  // namespace

RenderedLock render_explicit_lock(const LockedEnv& env) {
    RenderedLock out;
    out.text = k_header;
    if (!env.platform.empty() && env.platform.find_first_of("\r\n") == std::string::npos)
        out.text += "# platform: " + env.platform + "\n";
    out.text += "# created-by: gpuenv\n@EXPLICIT\n";
    std::vector<std::string> no_url;
    for (const std::size_t i : topological_order(env.packages)) {
        const LockedPackage& p = env.packages[i];
        if (const auto line = package_line(p)) {
            out.text += *line + "\n";
            continue;
        }
        std::string name = dist_name(p);
        for (char& c : name) {
            if (c == '\n' || c == '\r')
                c = ' ';
        }
        out.text += "# no URL for: " + name + "\n";
        no_url.push_back(std::move(name));
    }
    if (!no_url.empty()) {
        out.warnings.push_back(
            {"", 0, 0,
             "conda packages without a download URL are written as comments and will not be "
             "installed: " +
                 join_names(no_url)});
    }
    std::vector<std::string> pypi;
    for (const auto& p : env.packages) {
        if (p.manager == Manager::pypi)
            pypi.push_back(p.name + " " + p.version);
    }
    if (!pypi.empty()) {
        out.warnings.push_back(
            {"", 0, 0,
             "the explicit format cannot hold pip-installed distributions; left out: " +
                 join_names(pypi)});
    }
    warn_dropped_env_vars(env, "explicit", out.warnings);
    return out;
}

LockedEnv parse_explicit_lock(std::string_view text, const fs::path& path) {
    check_size(text, path);
    LockedEnv env;
    env.fields.pypi = false;
    env.fields.installer = false;
    env.fields.env_vars = false;
    bool explicit_seen = false;
    int line_no = 0;
    for (const std::string_view raw : util::split(text, '\n')) {
        ++line_no;
        const std::string_view line = util::trim(raw);
        const int column = static_cast<int>(line.empty() ? 0 : line.data() - raw.data()) + 1;
        if (line.empty())
            continue;
        if (line.front() == '#') {
            const std::string_view comment = util::trim(line.substr(1));
            if (comment.starts_with("platform:") && env.platform.empty()) {
                env.platform = std::string(util::trim(comment.substr(9)));
            } else if (comment.starts_with("no URL for:") && explicit_seen) {
                env.warnings.push_back({path.string(), line_no, column,
                                        "no URL for " + excerpt(util::trim(comment.substr(11))) +
                                            ": the package is not in the lock"});
            }
            continue;
        }
        if (line == "@EXPLICIT") {
            explicit_seen = true;
            continue;
        }
        if (!explicit_seen) {
            fail_at(path, line_no, column,
                    "expected @EXPLICIT before '" + excerpt(line) + "' (not an explicit file)");
        }
        env.packages.push_back(package_from_line(line, path, line_no, column));
    }
    if (!explicit_seen)
        fail_at(path, 0, 0, "no @EXPLICIT line: not an explicit (CEP 23) file");
    drop_duplicates(env, path);
    if (env.platform.empty())
        env.platform = platform_of(env.packages);
    env.channels = channels_by_use(env.packages);
    return env;
}

}  // namespace gpuenv::core::lock::detail
