#include <gpuenv/core/lock/locked_env.hpp>

#include <algorithm>
#include <map>

#include <sys/utsname.h>

#include <gpuenv/core/env/dist_requires.hpp>
#include <gpuenv/core/lock/fingerprint.hpp>
#include <gpuenv/core/lock/format_parts.hpp>
#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/sha256.hpp>

namespace gpuenv::core::lock {
namespace {

namespace fs = std::filesystem;

// Returns the conda subdir of the machine gpuenv runs on (for venvs and plain Pythons).
std::string host_subdir() {
    utsname u{};
    if (::uname(&u) != 0)
        return "linux-64";
    const std::string machine = u.machine;
    if (machine == "x86_64")
        return "linux-64";
    if (machine == "aarch64" || machine == "arm64")
        return "linux-aarch64";
    if (machine == "i686" || machine == "i386")
        return "linux-32";
    return "linux-" + machine;  // ppc64le, s390x, armv7l
}

}  // namespace

std::string environment_platform(const env::Inventory& inventory) {
    std::map<std::string, int> counts;
    for (const auto& p : inventory.packages) {
        if (!p.record || p.record->subdir.empty() || p.record->subdir == "noarch")
            continue;
        if (p.name == "python")
            return p.record->subdir;
        ++counts[p.record->subdir];
    }
    if (counts.empty())
        return host_subdir();
    return std::max_element(counts.begin(), counts.end(),
                            [](const auto& a, const auto& b) { return a.second < b.second; })
        ->first;
}

namespace {

// Returns the SHA-256 of a dist-info's RECORD, "" for other forms or when it is absent.
std::string record_hash(const env::PythonDist& dist, Diagnostics& warnings) {
    if (dist.format != env::DistFormat::dist_info)
        return {};
    const fs::path file = dist.metadata_path / "RECORD";
    std::string text;
    std::string error;
    if (!util::read_file_into(file, text, error)) {
        if (util::exists(file))
            warnings.push_back({file.string(), 0, 0, "cannot hash RECORD: " + error});
        return {};
    }
    return util::sha256_hex(text);
}

// Returns the sha256 hex of a pip archive install ("sha256=<hex>" in direct_url.json).
std::string archive_sha256(const env::PythonDist& dist) {
    if (!dist.direct_url)
        return {};
    const std::string& hash = dist.direct_url->archive_hash;
    const std::string_view prefix = "sha256=";
    return hash.rfind(prefix, 0) == 0 ? hash.substr(prefix.size()) : std::string();
}

LockedPackage from_package(const env::Package& p, HashRecords hash_records, Diagnostics& warnings) {
    LockedPackage out;
    out.name = p.name;
    out.key = spec::normalize_pypi_name(p.name);
    out.version = p.version;
    out.installer = p.installer;
    out.requested = p.requested;
    if (p.kind == env::PackageKind::conda) {
        const auto& r = *p.record;
        out.manager = Manager::conda;
        out.build = r.build;
        out.build_number = r.build_number;
        out.channel = p.channel;
        out.subdir = r.subdir;
        out.url = r.url;
        out.md5 = r.md5;
        out.sha256 = r.sha256;
        out.size = r.size;
        out.depends = r.depends;
        if (p.dist) {
            out.python_name = p.dist->normalized_name;
            out.python_version = p.dist->version;
            if (hash_records == HashRecords::yes)
                out.record_sha256 = record_hash(*p.dist, warnings);
        }
        return out;
    }
    out.manager = Manager::pypi;
    const auto& dist = *p.dist;
    out.direct_url = dist.direct_url;
    out.pypi_sha256 = archive_sha256(dist);
    out.depends = env::read_requires_dist(dist, warnings);
    if (hash_records == HashRecords::yes)
        out.record_sha256 = record_hash(dist, warnings);
    return out;
}

}  // namespace

const char* to_string(Manager manager) {
    return manager == Manager::conda ? "conda" : "pypi";
}

void sort_packages(std::vector<LockedPackage>& packages) {
    for (auto& p : packages) {
        if (p.key.empty())
            p.key = spec::normalize_pypi_name(p.name);
    }
    std::stable_sort(packages.begin(), packages.end(),
                     [](const LockedPackage& a, const LockedPackage& b) {
                         if (a.key != b.key)
                             return a.key < b.key;
                         if (a.manager != b.manager)
                             return a.manager == Manager::conda;
                         return a.version < b.version;
                     });
}

LockedEnv lock_from_inventory(const env::Inventory& inventory, HashRecords hash_records) {
    LockedEnv env;
    env.source = inventory.prefix.path.string();
    env.platform = environment_platform(inventory);
    env.packages.reserve(inventory.packages.size());
    for (const auto& p : inventory.packages)
        env.packages.push_back(from_package(p, hash_records, env.warnings));
    sort_packages(env.packages);
    env.channels = detail::channels_by_use(env.packages);
    auto vars = env::read_env_vars(inventory.prefix.path);
    env.env_vars = std::move(vars.vars);
    env.warnings.insert(env.warnings.end(), vars.warnings.begin(), vars.warnings.end());
    env.fields.hashes = hash_records == HashRecords::yes;
    env.fingerprint = fingerprint(env.packages);
    return env;
}

}  // namespace gpuenv::core::lock
