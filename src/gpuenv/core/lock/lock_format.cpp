#include <gpuenv/core/lock/lock_format.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>

#include <gpuenv/core/env/channel.hpp>
#include <gpuenv/core/lock/environment_export.hpp>
#include <gpuenv/core/lock/format_parts.hpp>
#include <gpuenv/core/spec/environment_yml.hpp>
#include <gpuenv/core/spec/match_spec.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::lock {

namespace fs = std::filesystem;

// ---- shared helpers ----

namespace detail {

void fail_at(const fs::path& path, int line, int column, std::string_view message) {
    std::string where = path.string();
    if (line > 0) {
        where += ":" + std::to_string(line);
        if (column > 0)
            where += ":" + std::to_string(column);
    }
    throw Error(ExitCode::not_found, where + ": " + std::string(message));
}

void check_size(std::string_view text, const fs::path& path) {
    if (text.size() > k_max_lock_size)
        fail_at(path, 0, 0, "file too large");
}

namespace {

// Decodes one UTF-8 sequence at text[i]; returns its length, 0 when it is not valid UTF-8
// (overlong forms, surrogates and values past U+10FFFF included).
std::size_t utf8_sequence(std::string_view text, std::size_t i, char32_t& code) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char b0 = byte(i);
    std::size_t length = 0;
    char32_t min = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2, code = b0 & 0x1FU, min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3, code = b0 & 0x0FU, min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4, code = b0 & 0x07U, min = 0x10000;
    } else {
        return 0;
    }
    if (i + length > text.size())
        return 0;
    for (std::size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xC0U) != 0x80U)
            return 0;
        code = (code << 6U) | (byte(i + k) & 0x3FU);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return length;
}

// Says whether both yaml-cpp and PyYAML take the character as is inside a double-quoted
// scalar: YAML's printable set minus the characters PyYAML folds as line breaks.
bool plain_in_quotes(char32_t code) {
    if (code >= 0x20 && code <= 0x7E)
        return true;
    if (code < 0xA0)
        return false;  // C0/C1 controls, DEL and U+0085 (NEL, a line break)
    if (code == 0x2028 || code == 0x2029 || code == 0xFEFF)
        return false;  // line/paragraph separators, byte-order mark
    return code <= 0xD7FF || (code >= 0xE000 && code <= 0xFFFD) || code >= 0x10000;
}

void append_escape(std::string& out, char32_t code) {
    char buffer[16];
    if (code <= 0xFF) {
        std::snprintf(buffer, sizeof buffer, "\\x%02X", static_cast<unsigned>(code));
    } else if (code <= 0xFFFF) {
        std::snprintf(buffer, sizeof buffer, "\\u%04X", static_cast<unsigned>(code));
    } else {
        std::snprintf(buffer, sizeof buffer, "\\U%08X", static_cast<unsigned>(code));
    }
    out += buffer;
}

}  // namespace

std::string yaml_quote(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    std::size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
            ++i;
            continue;
        }
        if (c == '\t' || c == '\n') {
            out += c == '\t' ? "\\t" : "\\n";
            ++i;
            continue;
        }
        char32_t code = static_cast<unsigned char>(c);
        std::size_t length = code < 0x80 ? 1 : utf8_sequence(text, i, code);
        if (length == 0) {
            append_escape(out, static_cast<unsigned char>(c));  // not UTF-8: lossy but readable
            ++i;
            continue;
        }
        if (plain_in_quotes(code)) {
            out.append(text.substr(i, length));
        } else {
            append_escape(out, code);
        }
        i += length;
    }
    out += '"';
    return out;
}

std::string yaml_map_entry(std::size_t indent, std::string_view key, std::string_view value) {
    // YAML (and so yaml-cpp and PyYAML) limits simple keys to 1024 characters.
    constexpr std::size_t k_max_simple_key = 1000;
    const std::string pad(indent, ' ');
    const std::string quoted = yaml_quote(key);
    if (quoted.size() <= k_max_simple_key)
        return pad + quoted + ": " + yaml_quote(value) + "\n";
    return pad + "? " + quoted + "\n" + pad + ": " + yaml_quote(value) + "\n";
}

namespace {

int mark_line(const YAML::Mark& mark) {
    return mark.is_null() ? 0 : mark.line + 1;
}
int mark_column(const YAML::Mark& mark) {
    return mark.is_null() ? 0 : mark.column + 1;
}

}  // namespace

YAML::Node YamlReader::load(std::string_view text) const {
    check_size(text, m_path);
    try {
        return YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        fail_at(m_path, mark_line(e.mark), mark_column(e.mark), e.msg);
    }
}

void YamlReader::fail(const YAML::Node& node, std::string_view message) const {
    const YAML::Mark mark = node.Mark();
    fail_at(m_path, mark_line(mark), mark_column(mark), message);
}

std::string YamlReader::string(const YAML::Node& node, std::string_view what) const {
    if (node.IsNull())
        return {};
    if (!node.IsScalar())
        fail(node, std::string(what) + " must be a string");
    return node.Scalar();
}

std::int64_t YamlReader::integer(const YAML::Node& node, std::string_view what) const {
    if (node.IsScalar()) {
        try {
            return node.as<std::int64_t>();
        } catch (const YAML::Exception&) {
        }
    }
    fail(node, std::string(what) + " must be an integer");
}

bool YamlReader::boolean(const YAML::Node& node, std::string_view what) const {
    if (node.IsScalar()) {
        try {
            return node.as<bool>();
        } catch (const YAML::Exception&) {
        }
    }
    fail(node, std::string(what) + " must be true or false");
}

std::vector<std::string> YamlReader::strings(const YAML::Node& node, std::string_view what) const {
    expect_list(node, what, true);
    std::vector<std::string> out;
    if (node.IsNull())
        return out;
    out.reserve(node.size());
    for (const auto& item : node)
        out.push_back(string(item, std::string("an item of ") + std::string(what)));
    return out;
}

void YamlReader::expect_map(const YAML::Node& node, std::string_view what, bool null_ok) const {
    if (!node.IsMap() && !(null_ok && node.IsNull()))
        fail(node, std::string(what) + " must be a mapping");
}

void YamlReader::expect_list(const YAML::Node& node, std::string_view what, bool null_ok) const {
    if (!node.IsSequence() && !(null_ok && node.IsNull()))
        fail(node, std::string(what) + " must be a list");
}

void YamlReader::warn(const YAML::Node& node, std::string message) const {
    const YAML::Mark mark = node.Mark();
    m_warnings.push_back({m_path.string(), mark_line(mark), mark_column(mark), std::move(message)});
}

bool parse_artifact_url(std::string_view url, ArtifactUrl& out) {
    const auto slash = url.find_last_of("/\\");
    const std::string_view dir = slash == std::string_view::npos ? "" : url.substr(0, slash);
    std::string_view fn = slash == std::string_view::npos ? url : url.substr(slash + 1);
    if (fn.ends_with(".conda")) {
        fn.remove_suffix(6);
    } else if (fn.ends_with(".tar.bz2")) {
        fn.remove_suffix(8);
    } else {
        return false;
    }
    const auto build_dash = fn.rfind('-');
    if (build_dash == std::string_view::npos || build_dash == 0)
        return false;
    const auto version_dash = fn.rfind('-', build_dash - 1);
    if (version_dash == std::string_view::npos || version_dash == 0 ||
        version_dash + 1 == build_dash || build_dash + 1 == fn.size()) {
        return false;
    }
    out.name = std::string(fn.substr(0, version_dash));
    out.version = std::string(fn.substr(version_dash + 1, build_dash - version_dash - 1));
    out.build = std::string(fn.substr(build_dash + 1));
    const auto dir_slash = dir.find_last_of("/\\");
    const std::string_view segment =
        dir_slash == std::string_view::npos ? dir : dir.substr(dir_slash + 1);
    out.subdir = spec::is_known_subdir(segment) ? std::string(segment) : std::string();
    env::CondaRecord record;
    record.url = std::string(url);
    record.subdir = out.subdir;
    out.channel = env::channel_display_name(record);
    return true;
}

std::string platform_of(const std::vector<LockedPackage>& packages) {
    for (const auto& p : packages) {
        if (p.manager == Manager::conda && !p.subdir.empty() && p.subdir != "noarch")
            return p.subdir;
    }
    return {};
}

std::vector<std::string> channels_by_use(const std::vector<LockedPackage>& packages) {
    std::map<std::string, int> counts;
    for (const auto& p : packages) {
        if (p.manager == Manager::conda && !p.channel.empty())
            ++counts[p.channel];
    }
    std::vector<std::pair<std::string, int>> ordered(counts.begin(), counts.end());
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    std::vector<std::string> channels;
    channels.reserve(ordered.size());
    for (auto& entry : ordered)
        channels.push_back(std::move(entry.first));
    return channels;
}

std::string depends_name(std::string_view depends) {
    std::string_view rest = util::trim(depends);
    const auto first_space = rest.find_first_of(" \t");
    const auto colons = rest.find("::");
    if (colons != std::string_view::npos && colons < first_space)
        rest.remove_prefix(colons + 2);
    std::size_t end = 0;
    while (end < rest.size()) {
        const char c = rest[end];
        const bool name_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                               (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
        if (!name_char)
            break;
        ++end;
    }
    return util::to_lower(rest.substr(0, end));
}

std::string join_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) {
        if (!out.empty())
            out += ", ";
        out += name;
    }
    return out;
}

void warn_dropped_env_vars(const LockedEnv& env, std::string_view format,
                           gpuenv::Diagnostics& warnings) {
    if (env.env_vars.empty())
        return;
    std::vector<std::string> names;
    for (const auto& entry : env.env_vars)
        names.push_back(entry.first);
    warnings.push_back(
        {"", 0, 0,
         "the " + std::string(format) +
             " format cannot hold environment variables; left out: " + join_names(names)});
}

void drop_duplicates(LockedEnv& env, const fs::path& path) {
    std::map<std::pair<Manager, std::string>, std::size_t> last;
    for (std::size_t i = 0; i < env.packages.size(); ++i)
        last[{env.packages[i].manager, env.packages[i].key}] = i;
    if (last.size() == env.packages.size())
        return;
    std::vector<LockedPackage> kept;
    kept.reserve(last.size());
    for (std::size_t i = 0; i < env.packages.size(); ++i) {
        auto& p = env.packages[i];
        if (last[{p.manager, p.key}] == i) {
            kept.push_back(std::move(p));
        } else {
            env.warnings.push_back({path.string(), 0, 0,
                                    "package " + p.name +
                                        " is listed more than once; the last "
                                        "entry wins"});
        }
    }
    env.packages = std::move(kept);
}

}  // namespace detail

// ---- the public API ----

namespace {

struct FormatName {
    LockFormat format;
    std::string_view name;
};

constexpr FormatName k_format_names[] = {
    {LockFormat::gpuenv, "gpuenv"},
    {LockFormat::explicit_, "explicit"},
    {LockFormat::conda_lock, "conda-lock"},
    {LockFormat::environment, "environment"},
    {LockFormat::requirements, "requirements"},
    {LockFormat::list_json, "list-json"},
};

// Returns the keys of the top-level YAML mapping as written at column 0 ("key:" lines).
std::set<std::string, std::less<>> top_level_keys(std::string_view text) {
    std::set<std::string, std::less<>> keys;
    for (std::string_view line : util::split(text, '\n')) {
        if (line.empty() || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '-')
            continue;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        std::string_view key = util::trim(line.substr(0, colon));
        if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'') &&
            key.back() == key.front()) {
            key = key.substr(1, key.size() - 2);
        }
        keys.emplace(key);
    }
    return keys;
}

bool has_explicit_line(std::string_view text) {
    for (std::string_view line : util::split(text, '\n')) {
        if (util::trim(line) == "@EXPLICIT")
            return true;
    }
    return false;
}

std::optional<std::string> getenv_lookup(std::string_view name) {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr)
        return std::nullopt;
    return std::string(value);
}

}  // namespace

const char* to_string(LockFormat format) {
    for (const auto& entry : k_format_names) {
        if (entry.format == format)
            return entry.name.data();
    }
    return "unknown";
}

std::optional<LockFormat> parse_lock_format(std::string_view name) {
    for (const auto& entry : k_format_names) {
        if (entry.name == name)
            return entry.format;
    }
    if (name == "conda_lock")
        return LockFormat::conda_lock;
    if (name == "list_json")
        return LockFormat::list_json;
    return std::nullopt;
}

RenderedLock render_lock(const LockedEnv& env, LockFormat format) {
    switch (format) {
        case LockFormat::gpuenv:
            return detail::render_gpuenv_lock(env);
        case LockFormat::explicit_:
            return detail::render_explicit_lock(env);
        case LockFormat::conda_lock:
            return detail::render_conda_lock(env);
        case LockFormat::requirements:
            return detail::render_requirements_lock(env);
        case LockFormat::environment:
            return {render_environment_yml(export_pinned(env)), {}};
        case LockFormat::list_json:
            break;
    }
    throw Error(ExitCode::usage,
                "the list-json format is read only; `gpuenv list --json` writes it");
}

LockFormat detect_lock_format(std::string_view text, const fs::path& path) {
    const std::string_view body = util::trim(text);
    if (!body.empty() && body.front() == '{')
        return LockFormat::list_json;
    if (has_explicit_line(text))
        return LockFormat::explicit_;
    const auto keys = top_level_keys(text);
    const bool versioned = keys.contains("version");
    if (versioned && keys.contains("package"))
        return LockFormat::conda_lock;
    if (text.starts_with("# gpuenv lock") ||
        (versioned && (keys.contains("conda") || keys.contains("pypi")))) {
        return LockFormat::gpuenv;
    }
    if (keys.contains("dependencies"))
        return LockFormat::environment;
    // Nothing in the content decides: fall back on the file name.
    const std::string name = util::to_lower(path.filename().string());
    if (name.ends_with(".json"))
        return LockFormat::list_json;
    if (name.ends_with("-lock.yml") || name.ends_with("-lock.yaml"))
        return LockFormat::conda_lock;
    if (name.starts_with("environment") && (name.ends_with(".yml") || name.ends_with(".yaml"))) {
        return LockFormat::environment;
    }
    if (name.ends_with(".yml") || name.ends_with(".yaml") || name.ends_with(".lock"))
        return LockFormat::gpuenv;
    return LockFormat::requirements;
}

LockedEnv parse_lock(std::string_view text, const fs::path& path, LockFormat format) {
    LockedEnv env;
    switch (format) {
        case LockFormat::gpuenv:
            env = detail::parse_gpuenv_lock(text, path);
            break;
        case LockFormat::explicit_:
            env = detail::parse_explicit_lock(text, path);
            break;
        case LockFormat::conda_lock:
            env = detail::parse_conda_lock(text, path);
            break;
        case LockFormat::requirements:
            env = detail::parse_requirements_lock(text, path);
            break;
        case LockFormat::list_json:
            env = detail::parse_list_json_lock(text, path);
            break;
        case LockFormat::environment:
            env = locked_env_from_environment_yml(
                spec::parse_environment_yml(text, path, getenv_lookup));
            break;
    }
    sort_packages(env.packages);
    env.source = path.string() + " (" + to_string(format) + ")";
    return env;
}

LockedEnv read_lock(const fs::path& path) {
    const std::string text = util::read_file(path);
    return parse_lock(text, path, detect_lock_format(text, path));
}

namespace {

// Holds the conda packages and the dependencies among them, by index into the package list.
struct DependencyGraph {
    std::vector<std::size_t> nodes;
    std::vector<std::set<std::size_t>> deps;           ///< dependencies not yet emitted
    std::vector<std::vector<std::size_t>> dependents;  ///< who depends on a package
};

DependencyGraph dependency_graph(const std::vector<LockedPackage>& packages) {
    DependencyGraph g;
    std::map<std::string, std::vector<std::size_t>> by_name;
    for (std::size_t i = 0; i < packages.size(); ++i) {
        if (packages[i].manager != Manager::conda)
            continue;
        g.nodes.push_back(i);
        by_name[util::to_lower(packages[i].name)].push_back(i);
    }
    g.deps.resize(packages.size());
    g.dependents.resize(packages.size());
    for (const std::size_t i : g.nodes) {
        const std::string self = util::to_lower(packages[i].name);
        for (const auto& d : packages[i].depends) {
            const std::string name = detail::depends_name(d);
            // Virtual packages are never installed; python's pip dependency is dropped as
            // conda's toposort does, so that python comes first.
            if (name.empty() || name == self || name.starts_with("__") ||
                (self == "python" && name == "pip")) {
                continue;
            }
            const auto found = by_name.find(name);
            if (found == by_name.end())
                continue;
            for (const std::size_t j : found->second) {
                if (g.deps[i].insert(j).second)
                    g.dependents[j].push_back(i);
            }
        }
    }
    return g;
}

}  // namespace

std::vector<std::size_t> topological_order(const std::vector<LockedPackage>& packages) {
    // conda's toposort (conda/common/toposort.py) as PrefixGraph uses it for `list
    // --explicit`: emit every package whose dependencies are all out, level by level, each
    // level in name order; on a cycle, emit the package with the fewest dependencies left
    // (then by name).
    DependencyGraph g = dependency_graph(packages);
    const auto by_name = [&](std::size_t a, std::size_t b) {
        const std::string& na = packages[a].name;
        const std::string& nb = packages[b].name;
        return na != nb ? na < nb : a < b;
    };
    const auto fewer_deps = [&](std::size_t a, std::size_t b) {
        return g.deps[a].size() != g.deps[b].size() ? g.deps[a].size() < g.deps[b].size()
                                                    : by_name(a, b);
    };
    std::vector<bool> done(packages.size(), false);
    std::vector<std::size_t> level;
    for (const std::size_t i : g.nodes) {
        if (g.deps[i].empty())
            level.push_back(i);
    }
    std::vector<std::size_t> order;
    order.reserve(g.nodes.size());
    while (order.size() < g.nodes.size()) {
        if (level.empty()) {
            std::size_t pick = packages.size();
            for (const std::size_t i : g.nodes) {
                if (!done[i] && (pick == packages.size() || fewer_deps(i, pick)))
                    pick = i;
            }
            level.push_back(pick);
        }
        std::sort(level.begin(), level.end(), by_name);
        std::vector<std::size_t> next;
        for (const std::size_t i : level) {
            done[i] = true;
            order.push_back(i);
        }
        for (const std::size_t i : level) {
            for (const std::size_t dependent : g.dependents[i]) {
                if (!done[dependent] && g.deps[dependent].erase(i) == 1 &&
                    g.deps[dependent].empty()) {
                    next.push_back(dependent);
                }
            }
        }
        level = std::move(next);
    }
    return order;
}

}  // namespace gpuenv::core::lock
