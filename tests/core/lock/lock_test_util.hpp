#pragma once

// Helpers shared by the lock format tests: packages built by hand, and a dump of every field
// of a LockedEnv so that round trips compare everything and show a readable difference.

#include <string>
#include <utility>
#include <vector>

#include <gpuenv/core/lock/locked_env.hpp>
#include <gpuenv/core/spec/package_name.hpp>

namespace gpuenv::test {

/// Returns a conda package with the fields a conda-forge record has.
inline core::lock::LockedPackage conda_package(std::string name, std::string version,
                                               std::string build,
                                               std::vector<std::string> depends = {}) {
    core::lock::LockedPackage p;
    p.manager = core::lock::Manager::conda;
    p.key = core::spec::normalize_pypi_name(name);
    p.name = std::move(name);
    p.version = std::move(version);
    p.build = std::move(build);
    p.channel = "conda-forge";
    p.subdir = "linux-64";
    p.url = "https://conda.anaconda.org/conda-forge/linux-64/" + p.name + "-" + p.version + "-" +
            p.build + ".conda";
    p.installer = "conda";
    p.depends = std::move(depends);
    return p;
}

/// Returns a linux-64 environment of the given packages, sorted as locks keep them.
inline core::lock::LockedEnv locked_env(std::vector<core::lock::LockedPackage> packages) {
    core::lock::LockedEnv env;
    env.platform = "linux-64";
    env.packages = std::move(packages);
    core::lock::sort_packages(env.packages);
    return env;
}

/// Describes a direct_url.json for direct_url(); every field defaults to empty.
struct DirectUrlSpec {
    core::env::DirectUrl::Kind kind = core::env::DirectUrl::Kind::archive;
    std::string url{};
    bool editable = false;
    std::string vcs{};
    std::string commit_id{};
    std::string requested_revision{};
    std::string archive_hash{};
    std::string subdirectory{};
};

/// Returns the DirectUrl a spec describes.
inline core::env::DirectUrl direct_url(const DirectUrlSpec& s) {
    core::env::DirectUrl u;
    u.kind = s.kind;
    u.url = s.url;
    u.editable = s.editable;
    u.vcs = s.vcs;
    u.commit_id = s.commit_id;
    u.requested_revision = s.requested_revision;
    u.archive_hash = s.archive_hash;
    u.subdirectory = s.subdirectory;
    return u;
}

/// Returns a pip-installed distribution.
inline core::lock::LockedPackage pypi_package(std::string name, std::string version) {
    core::lock::LockedPackage p;
    p.manager = core::lock::Manager::pypi;
    p.key = core::spec::normalize_pypi_name(name);
    p.name = std::move(name);
    p.version = std::move(version);
    p.installer = "pip";
    return p;
}

/// Returns every field of a package, one "field=value" per line.
inline std::string dump(const core::lock::LockedPackage& p) {
    std::string out;
    const auto field = [&](const char* name, const std::string& value) {
        out += std::string("  ") + name + "=[" + value + "]\n";
    };
    field("manager", core::lock::to_string(p.manager));
    field("name", p.name);
    field("key", p.key);
    field("version", p.version);
    field("build", p.build);
    field("build_number", std::to_string(p.build_number));
    field("channel", p.channel);
    field("subdir", p.subdir);
    field("url", p.url);
    field("md5", p.md5);
    field("sha256", p.sha256);
    field("size", std::to_string(p.size));
    for (const auto& d : p.depends)
        field("depends", d);
    field("python_name", p.python_name);
    field("python_version", p.python_version);
    field("installer", p.installer);
    field("requested", p.requested ? "true" : "false");
    if (p.direct_url) {
        const auto& u = *p.direct_url;
        field("direct_url.kind", u.kind == core::env::DirectUrl::Kind::dir   ? "dir"
                                 : u.kind == core::env::DirectUrl::Kind::vcs ? "vcs"
                                                                             : "archive");
        field("direct_url.url", u.url);
        field("direct_url.editable", u.editable ? "true" : "false");
        field("direct_url.vcs", u.vcs);
        field("direct_url.commit_id", u.commit_id);
        field("direct_url.requested_revision", u.requested_revision);
        field("direct_url.archive_hash", u.archive_hash);
        field("direct_url.subdirectory", u.subdirectory);
    }
    field("pypi_sha256", p.pypi_sha256);
    field("record_sha256", p.record_sha256);
    return out;
}

/// Returns every field of an environment but its source and warnings.
inline std::string dump(const core::lock::LockedEnv& env) {
    std::string out = "platform=[" + env.platform + "]\nname=[" + env.name + "]\nfingerprint=[" +
                      env.fingerprint + "]\n";
    for (const auto& c : env.channels)
        out += "channel=[" + c + "]\n";
    for (const auto& [k, v] : env.env_vars)
        out += "env_var=[" + k + "]=[" + v + "]\n";
    const auto& f = env.fields;
    out += "fields=" + std::to_string(f.conda) + std::to_string(f.pypi) +
           std::to_string(f.python_only) + std::to_string(f.build) + std::to_string(f.channel) +
           std::to_string(f.installer) + std::to_string(f.hashes) + std::to_string(f.env_vars) +
           "\n";
    for (const auto& p : env.packages)
        out += "package\n" + dump(p);
    return out;
}

/// Returns the warnings' messages, one per line.
inline std::string messages(const gpuenv::Diagnostics& warnings) {
    std::string out;
    for (const auto& w : warnings)
        out += w.to_string() + "\n";
    return out;
}

}  // namespace gpuenv::test
