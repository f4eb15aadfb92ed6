// The checks verify always runs: dependencies (like conda doctor's consistency check and
// pip check), pip-over-conda shadowing, duplicate distributions and stale records.
#include <gpuenv/core/verify/verify.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include <gpuenv/core/env/dist_requires.hpp>
#include <gpuenv/core/env/target_env.hpp>
#include <gpuenv/core/spec/conda_version.hpp>
#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>

namespace gpuenv::core::verify {
namespace {

namespace fs = std::filesystem;
using env::Package;
using env::PackageKind;

std::string conda_label(const Package& p) {
    return p.version + " " + p.build;
}

void check_conda_dependencies(const env::Inventory& inventory, Findings& out,
                              Diagnostics& warnings) {
    std::unordered_map<std::string, const Package*> records;
    std::unordered_map<std::string, const Package*> external;
    for (const auto& p : inventory.packages) {
        if (p.kind == PackageKind::conda)
            records.emplace(p.name, &p);
        else
            external.emplace(p.key, &p);
    }
    for (const auto& p : inventory.packages) {
        if (p.kind != PackageKind::conda)
            continue;
        const auto& record = *p.record;
        auto check = [&](const std::string& text, bool constraint) {
            spec::ParseFailure failure;
            const auto spec = spec::MatchSpec::try_parse(text, &failure);
            if (!spec) {
                warnings.push_back({record.record_path.string(), 0, 0,
                                    "cannot check " +
                                        std::string(constraint ? "constrains" : "depends") +
                                        " entry '" + text + "': " + failure.reason});
                return;
            }
            if (spec->name().rfind("__", 0) == 0)
                return;  // virtual packages (__glibc, __cuda) describe the machine
            const auto it = records.find(spec->name());
            if (it == records.end()) {
                if (constraint)
                    return;  // constrains apply only to installed packages
                const auto pip = external.find(spec::normalize_pypi_name(spec->name()));
                out.push_back(
                    {FindingKind::dependency_missing, p.name, text, "", "",
                     pip == external.end()
                         ? "required by " + p.name + " " + conda_label(p) + ", not installed"
                         : "required by " + p.name + " " + conda_label(p) + "; only " +
                               pip->second->installer + " " + pip->second->name + " " +
                               pip->second->version + " is installed"});
                return;
            }
            if (!spec->matches(env::package_info(*it->second))) {
                out.push_back({constraint ? FindingKind::constraint_violated
                                          : FindingKind::dependency_unsatisfied,
                               p.name, text, it->second->name + " " + conda_label(*it->second), "",
                               (constraint ? "constrained by " : "required by ") + p.name + " " +
                                   conda_label(p)});
            }
        };
        for (const auto& d : record.depends)
            check(d, false);
        for (const auto& c : record.constrains)
            check(c, true);
    }
}

// Returns whether a conda version string is within a PEP 440 specifier set, for conda
// packages that carry no Python metadata.
bool conda_version_in(const spec::SpecifierSet& set, const std::string& version) {
    return set.contains(version, spec::PreReleases::allow);
}

void check_python_requirements(const env::Inventory& inventory, Findings& out,
                               Diagnostics& warnings) {
    std::multimap<std::string, const Package*> dists;
    std::unordered_map<std::string, const Package*> conda_by_key;
    for (const auto& p : inventory.packages) {
        if (p.dist)
            dists.emplace(p.dist->normalized_name, &p);
        if (p.kind == PackageKind::conda)
            conda_by_key.emplace(p.key, &p);
    }
    const auto marker_env = env::marker_environment(inventory);
    for (const auto& p : inventory.packages) {
        if (!p.dist)
            continue;
        const auto& dist = *p.dist;
        const std::string who = dist.name + " " + dist.version;
        const std::string package = p.kind == PackageKind::pypi ? p.name + " (pypi)" : p.name;
        for (const auto& line : env::read_requires_dist(dist, warnings)) {
            std::optional<spec::Requirement> req;
            try {
                req = spec::Requirement::parse(line);
            } catch (const Error& e) {
                warnings.push_back({dist.metadata_path.string(), 0, 0,
                                    "cannot check requirement '" + line + "': " + e.what()});
                continue;
            }
            if (req->marker && !req->marker->evaluate(marker_env))
                continue;
            const auto range = dists.equal_range(req->normalized_name);
            if (range.first == range.second) {
                // A conda package without Python metadata (old records, compiled libraries
                // packaged by conda-forge) still provides the module.
                const auto conda = conda_by_key.find(req->normalized_name);
                if (conda != conda_by_key.end() &&
                    conda_version_in(req->specifier, conda->second->version))
                    continue;
                out.push_back({FindingKind::dependency_missing, package, req->str(), "", "",
                               who + " requires " + req->str() + ", which is not installed"});
                continue;
            }
            bool satisfied = false;
            for (auto it = range.first; it != range.second && !satisfied; ++it)
                satisfied =
                    req->specifier.contains(it->second->dist->version, spec::PreReleases::allow);
            if (!satisfied) {
                const auto& found = *range.first->second->dist;
                out.push_back({FindingKind::dependency_unsatisfied, package, req->str(),
                               found.name + " " + found.version, "",
                               who + " has requirement " + req->str() + ", but you have " +
                                   found.name + " " + found.version});
            }
        }
    }
}

void check_shadowing(const env::Inventory& inventory, Findings& out) {
    for (const auto& p : inventory.packages) {
        if (p.kind != PackageKind::pypi || !p.shadows)
            continue;
        out.push_back({FindingKind::shadowed, p.shadows->name,
                       p.shadows->version + " " + p.shadows->build + " (conda)",
                       p.version + " (" + p.installer + ")", "",
                       p.installer + " installed " + p.name + " " + p.version +
                           " over the conda package " + p.shadows->name + " " +
                           p.shadows->version});
    }
}

// Names one metadata directory entry of a site-packages directory.
struct MetadataEntry {
    std::string name;     // PEP 503
    std::string version;  // "" when the entry's name has none (Debian's name.egg-info)
    bool dist_info = false;
};

// Parses "name-version.dist-info", "name-version-py3.11.egg-info", "name.egg-info", ".egg".
std::optional<MetadataEntry> metadata_entry(const std::string& file) {
    for (const std::string_view suffix : {".dist-info", ".egg-info", ".egg"}) {
        if (file.size() <= suffix.size() ||
            file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        const std::string stem = file.substr(0, file.size() - suffix.size());
        const auto dash = stem.find('-');
        MetadataEntry entry;
        entry.name = spec::normalize_pypi_name(stem.substr(0, dash));
        if (dash != std::string::npos) {
            const auto end = stem.find('-', dash + 1);
            entry.version = stem.substr(dash + 1, end == std::string::npos ? end : end - dash - 1);
        }
        entry.dist_info = suffix == ".dist-info";
        return entry;
    }
    return std::nullopt;
}

// Two metadata directories of one name: two dist-infos, or two different versions. Debian
// ships some distributions as both a dist-info and a version-less egg-info of the same
// package; that pair is one installation and is not reported.
void check_duplicates(const env::Inventory& inventory, Findings& out) {
    for (const auto& site_packages : inventory.prefix.site_packages) {
        std::map<std::string, std::vector<std::pair<std::string, MetadataEntry>>> by_name;
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(site_packages, ec)) {
            const std::string file = entry.path().filename().string();
            if (auto parsed = metadata_entry(file))
                by_name[parsed->name].emplace_back(file, std::move(*parsed));
        }
        const std::string where =
            site_packages.lexically_relative(inventory.prefix.path).generic_string();
        for (auto& [name, entries] : by_name) {
            std::set<std::string> versions;
            int dist_infos = 0;
            for (const auto& [file, entry] : entries) {
                dist_infos += entry.dist_info ? 1 : 0;
                if (!entry.version.empty())
                    versions.insert(entry.version);
            }
            if (dist_infos < 2 && versions.size() < 2)
                continue;
            std::vector<std::string> files;
            for (const auto& [file, entry] : entries)
                files.push_back(file);
            std::sort(files.begin(), files.end());
            std::string found;
            for (const auto& f : files)
                found += (found.empty() ? "" : ", ") + f;
            out.push_back({FindingKind::duplicate, name, "one distribution", found, where,
                           std::to_string(files.size()) + " distributions of " + name +
                               "; Python imports one, pip may list the other"});
        }
    }
}

// A conda record whose Python metadata directory is gone: pip (or a user) removed the
// package's files and conda would drop the record as stale on its next run.
void check_stale_records(const env::Inventory& inventory, Findings& out) {
    for (const auto& p : inventory.packages) {
        if (p.kind != PackageKind::conda || p.dist)
            continue;
        for (const auto& anchor : p.record->python_anchors) {
            const auto parent = fs::path(anchor).parent_path().filename();
            if (parent != "site-packages" && parent != "dist-packages")
                continue;
            if (!util::exists(inventory.prefix.path / anchor)) {
                out.push_back({FindingKind::record_files_gone, p.name, anchor, "", anchor,
                               "the record's Python metadata is gone; conda would remove the "
                               "record as stale"});
                break;
            }
        }
    }
}

}  // namespace

Findings check_consistency(const env::Inventory& inventory, Diagnostics& warnings) {
    Findings out;
    check_conda_dependencies(inventory, out, warnings);
    check_python_requirements(inventory, out, warnings);
    check_shadowing(inventory, out);
    check_duplicates(inventory, out);
    check_stale_records(inventory, out);
    return out;
}

}  // namespace gpuenv::core::verify
