#include <gpuenv/core/lock/environment_export.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <set>

#include <gpuenv/core/env/channel.hpp>
#include <gpuenv/core/spec/match_spec.hpp>
#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::lock {
namespace {

// ---------------------------------------------------------------------------------------------
// Export

// Returns the channel a `chan::name` spec names, as conda list would show it.
std::string display_channel(std::string_view channel, std::string_view subdir) {
    env::CondaRecord record;
    record.channel = std::string(channel);
    record.subdir = std::string(subdir);
    return env::channel_display_name(record);
}

// Writes a distribution as pip freeze would (direct_url_as_pep440_direct_reference), except
// that an editable install is `-e <url>`, which pip takes in a requirements file.
std::string pip_line(const LockedPackage& package) {
    if (!package.direct_url)
        return package.name + "==" + package.version;
    const env::DirectUrl& url = *package.direct_url;
    if (url.editable)
        return "-e " + url.url;
    std::string line = package.name + " @ ";
    std::vector<std::string> fragments;
    if (url.kind == env::DirectUrl::Kind::vcs) {
        line += url.vcs + "+" + url.url;
        if (!url.commit_id.empty())
            line += "@" + url.commit_id;
    } else {
        line += url.url;
        if (url.kind == env::DirectUrl::Kind::archive && !url.archive_hash.empty())
            fragments.push_back(url.archive_hash);
    }
    if (!url.subdirectory.empty())
        fragments.push_back("subdirectory=" + url.subdirectory);
    for (std::size_t i = 0; i < fragments.size(); ++i)
        line += (i == 0 ? "#" : "&") + fragments[i];
    return line;
}

// Returns the pip lines of the external distributions `keep` selects, by PEP 503 name.
template <typename Keep>
std::vector<std::string> pip_lines(const LockedEnv& env, Keep keep) {
    std::vector<std::pair<std::string, std::string>> lines;
    for (const auto& p : env.packages) {
        if (p.manager == Manager::pypi && keep(p)) {
            const std::string key = p.key.empty() ? spec::normalize_pypi_name(p.name) : p.key;
            lines.emplace_back(key, pip_line(p));
        }
    }
    std::stable_sort(lines.begin(), lines.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    out.reserve(lines.size());
    for (auto& [key, line] : lines)
        out.push_back(std::move(line));
    return out;
}

std::vector<std::pair<std::string, std::string>> variables_of(const LockedEnv& env) {
    return {env.env_vars.begin(), env.env_vars.end()};
}

void add_unique(std::vector<std::string>& list, std::string value) {
    if (!value.empty() && std::find(list.begin(), list.end(), value) == list.end())
        list.push_back(std::move(value));
}

// Returns the specs the user asked for, by name: replayed from the history, or, when the
// environment has none (pixi, rattler), the requested specs its records carry.
std::map<std::string, std::string> requested_specs(const env::Inventory& inventory,
                                                   const env::History& history) {
    if (!history.revisions.empty())
        return env::requested_specs_map(history);
    std::map<std::string, std::string> specs;
    for (const auto& p : inventory.packages) {
        if (p.kind == env::PackageKind::conda && p.record && !p.record->requested_specs.empty())
            specs.emplace(p.name, p.record->requested_specs.front());
    }
    return specs;
}

// ---------------------------------------------------------------------------------------------
// YAML

bool is_yaml_word(std::string_view s) {
    // YAML 1.1 booleans and nulls (PyYAML resolves these, any case in practice).
    constexpr std::array<std::string_view, 10> k_words{"y",     "yes", "n",   "no",   "true",
                                                       "false", "on",  "off", "null", "~"};
    const std::string lower = util::to_lower(s);
    return std::find(k_words.begin(), k_words.end(), lower) != k_words.end();
}

// Tells whether a scalar reads back as the same string when written plain: it starts with a
// letter, `_` or `/` (so no indicator, number, date or .inf), holds only printable ASCII,
// no `#` or quote, no `: ` and is not a YAML 1.1 boolean or null.
bool is_plain_safe(std::string_view s) {
    if (s.empty() || is_yaml_word(s))
        return false;
    const char first = s.front();
    const bool letter = (first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z');
    if (!letter && first != '_' && first != '/')
        return false;
    if (s.back() == ' ' || s.back() == ':')
        return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c < ' ' || c > '~' || c == '#' || c == '"' || c == '\'' || c == '\\')
            return false;
        if (c == ':' && i + 1 < s.size() && s[i + 1] == ' ')
            return false;
    }
    return true;
}

// Returns the length of the valid UTF-8 sequence at s[i] and its code point, or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::uint32_t& cp) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t length = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2;
        cp = b0 & 0x1FU;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3;
        cp = b0 & 0x0FU;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4;
        cp = b0 & 0x07U;
    } else {
        return 0;
    }
    if (i + length > s.size())
        return 0;
    for (std::size_t k = 1; k < length; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0U) != 0x80U)
            return 0;
        cp = (cp << 6) | (b & 0x3FU);
    }
    const bool overlong = (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000);
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (overlong || surrogate || cp > 0x10FFFF)
        return 0;
    return length;
}

void append_hex_escape(char kind, std::uint32_t value, int digits, std::string& out) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    out += '\\';
    out += kind;
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
        out += k_hex[(value >> static_cast<unsigned>(shift)) & 0xFU];
}

// Writes a double-quoted scalar. Valid UTF-8 stays as it is except the characters YAML
// treats as breaks or BOM; invalid bytes become U+FFFD, since YAML text is Unicode.
std::string double_quoted(std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
                case '"':
                    out += "\\\"";
                    break;
                case '\\':
                    out += "\\\\";
                    break;
                case '\n':
                    out += "\\n";
                    break;
                case '\t':
                    out += "\\t";
                    break;
                case '\r':
                    out += "\\r";
                    break;
                default:
                    if (c < 0x20 || c == 0x7F) {
                        append_hex_escape('x', c, 2, out);
                    } else {
                        out += static_cast<char>(c);
                    }
            }
            ++i;
            continue;
        }
        std::uint32_t cp = 0;
        const std::size_t length = utf8_sequence(s, i, cp);
        if (length == 0) {
            out += "\\uFFFD";
            ++i;
            continue;
        }
        if (cp <= 0x9F || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF) {
            append_hex_escape('u', cp, 4, out);
        } else {
            out.append(s.substr(i, length));
        }
        i += length;
    }
    out += '"';
    return out;
}

std::string yaml_scalar(std::string_view s) {
    return is_plain_safe(s) ? std::string(s) : double_quoted(s);
}

// ---------------------------------------------------------------------------------------------
// Import

[[noreturn]] void fail_unpinned(const spec::EnvironmentFile& file, int line,
                                const std::string& message) {
    throw Error(ExitCode::not_found,
                file.path.string() + ":" + std::to_string(line) + ": " + message);
}

bool is_glob(std::string_view s) {
    return s.find_first_of("*?[]^$|") != std::string_view::npos;
}

// Returns the version a conda spec pins: an exact version (`==X`, `X`, `=X=build`), or X for
// `name=X`, which `conda env export --no-builds` writes (conda reads it as X.*).
std::optional<std::string> pinned_version(const spec::MatchSpec& spec) {
    if (!spec.version())
        return std::nullopt;
    if (spec.version()->is_exact()) {
        std::string_view text = util::trim(spec.version()->str());
        while (!text.empty() && text.front() == '=')
            text.remove_prefix(1);
        return std::string(text);
    }
    const auto& raw = spec.get(spec::MatchField::version);
    if (!raw || raw->size() < 2 || raw->back() != '*')
        return std::nullopt;
    const std::string version = raw->substr(0, raw->size() - 1);
    if (version.find_first_of("*<>=!~|,()^$ ") != std::string::npos || version.back() == '.')
        return std::nullopt;
    if (spec.str().find("=" + version) == std::string::npos)
        return std::nullopt;
    return version;
}

// Reads a pip `name @ url` reference back into direct_url.json's terms (the inverse of
// pip_line): `vcs+url@commit`, `#sha256=...` and `#subdirectory=...` fragments.
env::DirectUrl direct_url_of(std::string_view reference) {
    env::DirectUrl url;
    std::string_view rest = reference;
    if (const auto hash = rest.find('#'); hash != std::string_view::npos) {
        for (const auto fragment : util::split(rest.substr(hash + 1), '&')) {
            if (fragment.rfind("subdirectory=", 0) == 0) {
                url.subdirectory = std::string(fragment.substr(13));
            } else if (fragment.find('=') != std::string_view::npos &&
                       fragment.rfind("egg=", 0) != 0) {
                url.archive_hash = std::string(fragment);
            }
        }
        rest = rest.substr(0, hash);
    }
    const auto plus = rest.find('+');
    const auto scheme = rest.find("://");
    if (plus != std::string_view::npos && scheme != std::string_view::npos && plus < scheme) {
        url.kind = env::DirectUrl::Kind::vcs;
        url.vcs = std::string(rest.substr(0, plus));
        rest.remove_prefix(plus + 1);
        const auto at = rest.rfind('@');
        const auto last_slash = rest.rfind('/');
        if (at != std::string_view::npos &&
            (last_slash == std::string_view::npos || at > last_slash)) {
            url.commit_id = std::string(rest.substr(at + 1));
            rest = rest.substr(0, at);
        }
        url.url = std::string(rest);
        return url;
    }
    url.url = std::string(rest);
    constexpr std::array<std::string_view, 6> k_archives{".whl", ".zip",     ".tar.gz",
                                                         ".tgz", ".tar.bz2", ".tar"};
    const bool archive = std::any_of(k_archives.begin(), k_archives.end(), [&](auto ext) {
        return rest.size() >= ext.size() && rest.substr(rest.size() - ext.size()) == ext;
    });
    url.kind = (!archive && rest.rfind("file:", 0) == 0) ? env::DirectUrl::Kind::dir
                                                         : env::DirectUrl::Kind::archive;
    return url;
}

LockedPackage conda_package(const spec::EnvironmentFile& file, const spec::CondaDependency& dep) {
    const spec::MatchSpec& spec = dep.spec;
    const std::string how =
        "conda dependencies must be pinned as name=version=build or "
        "name==version";
    if (spec.name() == "*" || is_glob(spec.name()))
        fail_unpinned(file, dep.line, "'" + spec.str() + "' names no single package");
    const auto version = pinned_version(spec);
    if (!version)
        fail_unpinned(file, dep.line, "'" + spec.str() + "' is not pinned: " + how);
    LockedPackage p;
    p.manager = Manager::conda;
    p.name = spec.name();
    p.key = spec.name();
    p.version = *version;
    if (spec.build() && !is_glob(*spec.build()))
        p.build = *spec.build();
    if (spec.channel())
        p.channel = display_channel(*spec.channel(), spec.subdir().value_or(""));
    p.subdir = spec.subdir().value_or("");
    return p;
}

std::optional<LockedPackage> pypi_package(const spec::EnvironmentFile& file,
                                          const spec::PipDependency& dep,
                                          gpuenv::Diagnostics& warnings) {
    if (!dep.requirement) {
        warnings.push_back(
            {file.path.string(), dep.line, 0,
             "pip line '" + dep.text + "' is left out of the lock: " + dep.unchecked_reason});
        return std::nullopt;
    }
    const spec::Requirement& r = *dep.requirement;
    LockedPackage p;
    p.manager = Manager::pypi;
    p.name = r.name;
    p.key = r.normalized_name;
    if (!r.url.empty()) {
        p.direct_url = direct_url_of(r.url);
        const std::string_view hash = p.direct_url->archive_hash;
        if (hash.rfind("sha256=", 0) == 0)
            p.pypi_sha256 = std::string(hash.substr(7));
        return p;
    }
    const auto& specifiers = r.specifier.specifiers();
    const bool pinned = specifiers.size() == 1 && !specifiers.front().is_wildcard() &&
                        (specifiers.front().op() == spec::SpecifierOperator::equal ||
                         specifiers.front().op() == spec::SpecifierOperator::arbitrary);
    if (!pinned) {
        fail_unpinned(file, dep.line,
                      "pip requirement '" + dep.text +
                          "' is not pinned: pip dependencies must be name==version");
    }
    p.version = specifiers.front().version_text();
    return p;
}

}  // namespace

ExportedEnv export_pinned(const LockedEnv& env, Builds builds) {
    ExportedEnv out;
    out.name = env.name;
    for (const auto& channel : env.channels)
        add_unique(out.channels, channel);
    std::vector<std::pair<std::string, std::string>> conda;
    for (const auto& p : env.packages) {
        if (p.manager != Manager::conda)
            continue;
        // Without a build string `name=version` would mean version.*; `==` keeps it a pin.
        const bool with_build = builds == Builds::yes && !p.build.empty();
        std::string spec = p.name + (builds == Builds::yes && !with_build ? "==" : "=");
        spec += p.version;
        if (with_build)
            spec += "=" + p.build;
        conda.emplace_back(p.name, std::move(spec));
    }
    std::stable_sort(conda.begin(), conda.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [name, spec] : conda)
        out.conda.push_back(std::move(spec));
    out.pip = pip_lines(env, [](const LockedPackage&) { return true; });
    out.variables = variables_of(env);
    return out;
}

ExportedEnv export_from_history(const env::Inventory& inventory, const env::History& history,
                                const LockedEnv& locked) {
    ExportedEnv out;
    out.name = locked.name;
    std::map<std::string, const env::Package*> installed;
    for (const auto& p : inventory.packages) {
        if (p.kind == env::PackageKind::conda)
            installed.emplace(p.name, &p);
    }
    // conda keeps only the requested names still installed (get_requested_specs_map).
    std::map<std::string, std::string> conda;
    std::map<std::string, int> channel_use;
    std::vector<std::string> spec_channels;
    for (auto& [name, spec] : requested_specs(inventory, history)) {
        const auto it = installed.find(name);
        if (it == installed.end())
            continue;
        if (!it->second->channel.empty())
            ++channel_use[it->second->channel];
        if (const auto parsed = spec::MatchSpec::try_parse(spec); parsed && parsed->channel())
            spec_channels.push_back(
                display_channel(*parsed->channel(), parsed->subdir().value_or("")));
        conda.emplace(name, spec);
    }
    std::vector<std::pair<std::string, int>> by_use(channel_use.begin(), channel_use.end());
    std::stable_sort(by_use.begin(), by_use.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    for (auto& [channel, count] : by_use)
        add_unique(out.channels, std::move(channel));
    for (auto& channel : spec_channels)
        add_unique(out.channels, std::move(channel));

    out.pip = pip_lines(locked, [](const LockedPackage& p) { return p.requested; });
    // conda adds pip when an environment.yml has a pip: section; say so when it is installed.
    if (!out.pip.empty() && installed.count("pip") != 0)
        conda.emplace("pip", "pip");
    for (auto& [name, spec] : conda)
        out.conda.push_back(std::move(spec));
    out.variables = variables_of(locked);
    return out;
}

std::string render_environment_yml(const ExportedEnv& env) {
    std::string out;
    if (!env.name.empty())
        out += "name: " + yaml_scalar(env.name) + "\n";
    if (!env.channels.empty()) {
        out += "channels:\n";
        for (const auto& channel : env.channels)
            out += "  - " + yaml_scalar(channel) + "\n";
    }
    if (env.conda.empty() && env.pip.empty()) {
        out += "dependencies: []\n";
    } else {
        out += "dependencies:\n";
        for (const auto& spec : env.conda)
            out += "  - " + yaml_scalar(spec) + "\n";
        if (!env.pip.empty()) {
            out += "  - pip:\n";
            for (const auto& line : env.pip)
                out += "      - " + yaml_scalar(line) + "\n";
        }
    }
    if (!env.variables.empty()) {
        out += "variables:\n";
        for (const auto& [name, value] : env.variables)
            out += "  " + yaml_scalar(name) + ": " + yaml_scalar(value) + "\n";
    }
    return out;
}

LockedEnv locked_env_from_environment_yml(const spec::EnvironmentFile& file) {
    LockedEnv env;
    env.name = file.name;
    env.source = file.path.string() + " (environment.yml)";
    env.channels = file.channels;
    bool all_builds = !file.conda.empty();
    bool all_channels = !file.conda.empty();
    for (const auto& dep : file.conda) {
        LockedPackage p = conda_package(file, dep);
        all_builds = all_builds && !p.build.empty();
        all_channels = all_channels && !p.channel.empty();
        add_unique(env.channels, p.channel);
        env.packages.push_back(std::move(p));
    }
    for (const auto& dep : file.pip) {
        if (auto p = pypi_package(file, dep, env.warnings))
            env.packages.push_back(std::move(*p));
    }
    sort_packages(env.packages);

    // The variables become conda-meta/state; what activation makes of them is what a lock holds.
    const std::size_t first_new = env.warnings.size();
    env.env_vars = env::effective_env_vars({}, file.variables, env.warnings);
    for (std::size_t i = first_new; i < env.warnings.size(); ++i)
        env.warnings[i].path = file.path.string();

    env.fields.build = all_builds;
    env.fields.channel = all_channels;
    env.fields.installer = false;
    env.fields.hashes = false;
    env.fields.env_vars = true;
    return env;
}

}  // namespace gpuenv::core::lock
