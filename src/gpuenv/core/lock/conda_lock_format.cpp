// conda-lock's unified lock file, version 1 (CEP 37; conda_lock/lockfile/v1/models.py), for
// one platform. Dependencies are `{name: constraint}` with the constraint "" when the
// depends string names no version, as conda-lock's conda solver writes them; pip entries use
// "*" for "any version", as conda-lock's pip (poetry) solver writes them.
#include <gpuenv/core/lock/format_parts.hpp>

#include <map>
#include <optional>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/core/spec/requirement.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::lock::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view k_header =
    "# This lock file was written by gpuenv in the conda-lock format (version 1, CEP 37).\n"
    "# Install it with `conda-lock install --name <env> <this file>`\n"
    "# or `micromamba create --name <env> --file <this file>`.\n";

constexpr std::string_view k_sha256_prefix = "sha256=";

// Returns the sha256 (hex) of a pip distribution's artifact when it was installed from an
// archive URL whose hash is known; std::nullopt otherwise.
std::optional<std::string> pip_artifact_sha256(const LockedPackage& p) {
    if (!p.direct_url || p.direct_url->kind != env::DirectUrl::Kind::archive ||
        p.direct_url->url.empty()) {
        return std::nullopt;
    }
    const std::string& hash = p.direct_url->archive_hash;
    if (hash.starts_with(k_sha256_prefix))
        return hash.substr(k_sha256_prefix.size());
    if (!p.pypi_sha256.empty())
        return p.pypi_sha256;
    return std::nullopt;
}

// Splits conda depends at the first space ("python >=3.11" -> python: ">=3.11"); a name
// given twice gets its constraints joined with ",".
std::vector<std::pair<std::string, std::string>> conda_dependencies(const LockedPackage& p) {
    std::vector<std::pair<std::string, std::string>> out;
    std::map<std::string, std::size_t> index;
    for (const auto& d : p.depends) {
        const auto space = d.find(' ');
        std::string name = d.substr(0, space);
        std::string constraint =
            space == std::string::npos ? "" : std::string(util::trim(d.substr(space + 1)));
        const auto [it, inserted] = index.emplace(name, out.size());
        if (inserted) {
            out.emplace_back(std::move(name), std::move(constraint));
        } else if (!constraint.empty()) {
            auto& existing = out[it->second].second;
            if (!existing.empty())
                existing += ',';
            existing += constraint;
        }
    }
    return out;
}

// Turns Requires-Dist lines into conda-lock's {name: specifier}; lines with a marker or a
// URL (extras, platform conditions) have no place there and are left out.
std::vector<std::pair<std::string, std::string>> pip_dependencies(const LockedPackage& p) {
    std::vector<std::pair<std::string, std::string>> out;
    std::map<std::string, bool> seen;
    for (const auto& d : p.depends) {
        std::optional<spec::Requirement> req;
        try {
            req = spec::Requirement::parse(d);
        } catch (const Error&) {
            continue;
        }
        if (req->marker || !req->url.empty() || !seen.emplace(req->name, true).second)
            continue;
        out.emplace_back(req->name, req->specifier.empty() ? "*" : req->specifier.str());
    }
    return out;
}

void write_map(std::string& out, int indent, std::string_view key,
               const std::vector<std::pair<std::string, std::string>>& entries) {
    const std::string pad(static_cast<std::size_t>(indent), ' ');
    if (entries.empty()) {
        out += pad + std::string(key) + ": {}\n";
        return;
    }
    out += pad + std::string(key) + ":\n";
    for (const auto& [name, value] : entries)
        out += yaml_map_entry(static_cast<std::size_t>(indent) + 2, name, value);
}

void write_package(std::string& out, const LockedPackage& p, const std::string& platform,
                   const std::vector<std::pair<std::string, std::string>>& dependencies,
                   const std::string& url, const std::string& md5, const std::string& sha256) {
    const bool conda = p.manager == Manager::conda;
    out += "  - name: " + yaml_quote(p.name) + "\n";
    out += "    version: " + yaml_quote(p.version) + "\n";
    out += std::string("    manager: ") + (conda ? "conda" : "pip") + "\n";
    out += "    platform: " + yaml_quote(platform) + "\n";
    write_map(out, 4, "dependencies", dependencies);
    out += "    url: " + yaml_quote(url) + "\n";
    std::vector<std::pair<std::string, std::string>> hashes;
    if (!md5.empty())
        hashes.emplace_back("md5", md5);
    if (!sha256.empty())
        hashes.emplace_back("sha256", sha256);
    write_map(out, 4, "hash", hashes);
    out += "    category: main\n    optional: false\n";
    if (conda)
        out += "    build: " + yaml_quote(p.build) + "\n";
}

// ---- reading ----

struct Metadata {
    std::vector<std::string> platforms;
    std::map<std::string, std::string> content_hash;
    std::vector<std::string> channels;
    bool has_channels = false;
};

Metadata read_metadata(const YamlReader& yaml, const YAML::Node& node) {
    Metadata meta;
    yaml.expect_map(node, "metadata", true);
    if (node.IsNull())
        return meta;
    for (const auto& entry : node) {
        const std::string key = yaml.string(entry.first, "a key");
        const YAML::Node& value = entry.second;
        if (key == "platforms") {
            meta.platforms = yaml.strings(value, "platforms");
        } else if (key == "content_hash") {
            yaml.expect_map(value, "content_hash", true);
            if (value.IsNull())
                continue;
            for (const auto& h : value)
                meta.content_hash[yaml.string(h.first, "a platform")] =
                    yaml.string(h.second, "a content hash");
        } else if (key == "channels") {
            meta.has_channels = true;
            yaml.expect_list(value, "channels", true);
            if (value.IsNull())
                continue;
            for (const auto& channel : value) {
                if (!channel.IsMap()) {
                    meta.channels.push_back(yaml.string(channel, "a channel"));
                    continue;
                }
                for (const auto& field : channel) {
                    if (yaml.string(field.first, "a key") == "url")
                        meta.channels.push_back(yaml.string(field.second, "a channel url"));
                }
            }
        }
    }
    return meta;
}

struct RawPackage {
    LockedPackage package;
    std::string platform;
    std::string manager;
    bool optional = false;
};

RawPackage read_package(const YamlReader& yaml, const YAML::Node& item) {
    yaml.expect_map(item, "a package");
    RawPackage raw;
    LockedPackage& p = raw.package;
    std::vector<std::pair<std::string, std::string>> dependencies;
    for (const auto& entry : item) {
        const std::string key = yaml.string(entry.first, "a key");
        const YAML::Node& value = entry.second;
        if (key == "name") {
            p.name = yaml.string(value, "name");
        } else if (key == "version") {
            p.version = yaml.string(value, "version");
        } else if (key == "manager") {
            raw.manager = yaml.string(value, "manager");
        } else if (key == "platform") {
            raw.platform = yaml.string(value, "platform");
        } else if (key == "url") {
            p.url = yaml.string(value, "url");
        } else if (key == "build") {
            p.build = yaml.string(value, "build");
        } else if (key == "optional") {
            raw.optional = yaml.boolean(value, "optional");
        } else if (key == "hash") {
            yaml.expect_map(value, "hash", true);
            if (value.IsNull())
                continue;
            for (const auto& h : value) {
                const std::string algorithm = yaml.string(h.first, "a hash name");
                if (algorithm == "md5")
                    p.md5 = yaml.string(h.second, "md5");
                else if (algorithm == "sha256")
                    p.sha256 = yaml.string(h.second, "sha256");
            }
        } else if (key == "dependencies") {
            yaml.expect_map(value, "dependencies", true);
            if (value.IsNull())
                continue;
            for (const auto& d : value) {
                dependencies.emplace_back(yaml.string(d.first, "a dependency name"),
                                          yaml.string(d.second, "a dependency constraint"));
            }
        }
    }
    if (p.name.empty())
        yaml.fail(item, "a package has no name");
    const bool conda = raw.manager == "conda";
    for (const auto& [name, constraint] : dependencies) {
        std::string depends = name;
        if (constraint.empty() || (!conda && constraint == "*")) {
            // no constraint
        } else if (conda) {
            depends += ' ';
            depends += constraint;
        } else {
            // poetry writes an exact version without its operator ("2.14.3").
            if (constraint.front() >= '0' && constraint.front() <= '9')
                depends += "==";
            depends += constraint;
        }
        p.depends.push_back(std::move(depends));
    }
    return raw;
}

void finish_conda(LockedPackage& p) {
    p.manager = Manager::conda;
    p.installer = "conda";
    ArtifactUrl artifact;
    if (parse_artifact_url(p.url, artifact)) {
        p.channel = std::move(artifact.channel);
        p.subdir = std::move(artifact.subdir);
        if (p.build.empty())
            p.build = std::move(artifact.build);
    }
}

void finish_pip(LockedPackage& p) {
    p.manager = Manager::pypi;
    p.installer = "pip";
    p.pypi_sha256 = std::move(p.sha256);
    p.sha256.clear();
    p.md5.clear();
    if (!p.url.empty()) {
        env::DirectUrl u;
        u.kind = env::DirectUrl::Kind::archive;
        u.url = std::move(p.url);
        if (!p.pypi_sha256.empty())
            u.archive_hash = std::string(k_sha256_prefix) + p.pypi_sha256;
        p.direct_url = std::move(u);
    }
    p.url.clear();
}

// Moves the packages of one platform into env, leaving out optional ones and unknown
// managers with a warning.
void keep_platform(std::vector<RawPackage>& raw, const std::string& platform, const fs::path& path,
                   LockedEnv& env) {
    std::vector<std::string> optional;
    for (auto& r : raw) {
        if (!r.platform.empty() && r.platform != platform)
            continue;
        LockedPackage& p = r.package;
        if (r.optional) {
            optional.push_back(p.name);
            continue;
        }
        if (r.manager == "conda") {
            finish_conda(p);
        } else if (r.manager == "pip") {
            finish_pip(p);
        } else {
            env.warnings.push_back({path.string(), 0, 0,
                                    "package " + p.name + " has an unknown manager '" + r.manager +
                                        "' and is left out"});
            continue;
        }
        p.key = spec::normalize_pypi_name(p.name);
        env.packages.push_back(std::move(p));
    }
    if (!optional.empty()) {
        env.warnings.push_back({path.string(), 0, 0,
                                "optional packages (installed only on request) are left out: " +
                                    join_names(optional)});
    }
}

void read_conda_lock(const YamlReader& yaml, const YAML::Node& root, const fs::path& path,
                     LockedEnv& env) {
    if (!root.IsMap())
        yaml.fail(root, "expected a conda-lock file: a mapping with version, metadata, package");
    std::optional<YAML::Node> version;
    std::optional<YAML::Node> metadata;
    std::optional<YAML::Node> package;
    for (const auto& entry : root) {
        const std::string key = yaml.string(entry.first, "a key");
        if (key == "version")
            version = entry.second;
        else if (key == "metadata")
            metadata = entry.second;
        else if (key == "package")
            package = entry.second;
    }
    if (!version)
        yaml.fail(root, "no version key (conda-lock's MissingLockfileVersion)");
    if (const std::string v = yaml.string(*version, "version"); v != "1")
        yaml.fail(*version, "unsupported conda-lock version '" + v + "' (gpuenv reads version 1)");
    const Metadata meta = metadata ? read_metadata(yaml, *metadata) : Metadata{};
    if (package)
        yaml.expect_list(*package, "package", true);
    std::vector<RawPackage> raw;
    if (package && package->IsSequence()) {
        for (const auto& item : *package)
            raw.push_back(read_package(yaml, item));
    }
    std::string platform;
    if (!meta.platforms.empty()) {
        platform = meta.platforms.front();
    } else if (!raw.empty()) {
        platform = raw.front().platform;
    }
    if (meta.platforms.size() > 1) {
        env.warnings.push_back({path.string(), 0, 0,
                                "the lock holds the platforms " + join_names(meta.platforms) +
                                    "; only " + platform + " is read"});
    }
    keep_platform(raw, platform, path, env);
    drop_duplicates(env, path);
    env.platform = platform;
    if (const auto hash = meta.content_hash.find(platform); hash != meta.content_hash.end())
        env.fingerprint = hash->second;
    env.channels = meta.has_channels ? meta.channels : channels_by_use(env.packages);
}

}  // namespace

RenderedLock render_conda_lock(const LockedEnv& env) {
    RenderedLock out;
    const std::string platform = env.platform.empty() ? platform_of(env.packages) : env.platform;
    std::string& text = out.text;
    text += k_header;
    text += "version: 1\nmetadata:\n";
    text += "  content_hash:\n" + yaml_map_entry(4, platform, env.fingerprint);
    if (env.channels.empty()) {
        text += "  channels: []\n";
    } else {
        text += "  channels:\n";
        for (const auto& channel : env.channels)
            text += "    - url: " + yaml_quote(channel) + "\n      used_env_vars: []\n";
    }
    text += "  platforms:\n    - " + yaml_quote(platform) + "\n  sources: []\n";
    std::string packages;
    std::vector<std::string> no_url;
    std::vector<std::string> no_artifact;
    for (const auto& p : env.packages) {
        if (p.manager != Manager::conda)
            continue;
        if (p.url.empty()) {
            no_url.push_back(p.name + " " + p.version);
            continue;
        }
        write_package(packages, p, platform, conda_dependencies(p), p.url, p.md5, p.sha256);
    }
    for (const auto& p : env.packages) {
        if (p.manager != Manager::pypi)
            continue;
        const auto sha256 = pip_artifact_sha256(p);
        if (!sha256) {
            no_artifact.push_back(p.name + " " + p.version);
            continue;
        }
        write_package(packages, p, platform, pip_dependencies(p), p.direct_url->url, "", *sha256);
    }
    text += packages.empty() ? "package: []\n" : "package:\n" + packages;
    if (!no_url.empty()) {
        out.warnings.push_back(
            {"", 0, 0,
             "conda packages without a download URL are left out: " + join_names(no_url)});
    }
    if (!no_artifact.empty()) {
        out.warnings.push_back({"", 0, 0,
                                "conda-lock holds pip distributions only with an archive URL and "
                                "its sha256; left out: " +
                                    join_names(no_artifact)});
    }
    warn_dropped_env_vars(env, "conda-lock", out.warnings);
    return out;
}

LockedEnv parse_conda_lock(std::string_view text, const fs::path& path) {
    LockedEnv env;
    env.fields.installer = false;
    env.fields.env_vars = false;
    const YamlReader yaml(path, env.warnings);
    try {
        read_conda_lock(yaml, yaml.load(text), path, env);
    } catch (const YAML::Exception& e) {
        fail_at(path, e.mark.is_null() ? 0 : e.mark.line + 1,
                e.mark.is_null() ? 0 : e.mark.column + 1, e.msg);
    }
    return env;
}

}  // namespace gpuenv::core::lock::detail
