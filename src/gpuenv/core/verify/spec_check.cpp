// verify --spec: does the installed environment satisfy an environment.yml?
#include <gpuenv/core/verify/verify.hpp>

#include <map>

#include <gpuenv/core/env/target_env.hpp>
#include <gpuenv/core/spec/package_name.hpp>

namespace gpuenv::core::verify {
namespace {

using env::Package;
using env::PackageKind;

std::string conda_label(const Package& p) {
    return p.version + " " + p.build + " (" + p.channel + ")";
}

// Returns the Python distributions of the environment by PEP 503 name: external ones and the
// ones conda records carry (pip sees both).
std::multimap<std::string, const Package*> python_view(const env::Inventory& inventory) {
    std::multimap<std::string, const Package*> out;
    for (const auto& p : inventory.packages) {
        if (p.dist)
            out.emplace(p.dist->normalized_name, &p);
    }
    return out;
}

void check_conda_spec(const env::Inventory& inventory, const spec::CondaDependency& dep,
                      const std::multimap<std::string, const Package*>& dists, Findings& out) {
    const auto& spec = dep.spec;
    const std::string where = "environment.yml line " + std::to_string(dep.line);
    const Package* record = nullptr;
    for (const auto& p : inventory.packages) {
        if (p.kind == PackageKind::conda && p.name == spec.name()) {
            record = &p;
            break;
        }
    }
    // A pip distribution of the same name (over or instead of the conda package).
    const Package* external = nullptr;
    const auto range = dists.equal_range(spec::normalize_pypi_name(spec.name()));
    for (auto it = range.first; it != range.second; ++it) {
        if (it->second->kind == PackageKind::pypi)
            external = it->second;
    }
    if (record == nullptr) {
        if (external != nullptr) {
            out.push_back(
                {FindingKind::wrong_installer, spec.name(), spec.str(),
                 external->version + " (" + external->installer + ")", "",
                 where + ": installed by " + external->installer + ", not as a conda package"});
        } else {
            out.push_back({FindingKind::spec_missing, spec.name(), spec.str(), "", "",
                           where + ": not installed"});
        }
        return;
    }
    if (!spec.matches(env::package_info(*record))) {
        out.push_back({FindingKind::spec_unsatisfied, spec.name(), spec.str(), conda_label(*record),
                       "", where});
        return;
    }
    if (external != nullptr && record->shadowed_by) {
        out.push_back({FindingKind::wrong_installer, spec.name(), spec.str(),
                       external->version + " (" + external->installer + ")", "",
                       where + ": the conda package is installed but " + external->installer + " " +
                           external->name + " " + external->version + " was installed over it"});
    }
}

void check_pip_requirement(const spec::PipDependency& dep,
                           const spec::MarkerEnvironment& marker_env,
                           const std::multimap<std::string, const Package*>& dists, Findings& out) {
    const std::string where = "environment.yml line " + std::to_string(dep.line);
    if (!dep.requirement) {
        out.push_back({FindingKind::spec_unchecked, dep.text, "", "", "",
                       where + ": " + dep.unchecked_reason});
        return;
    }
    const auto& req = *dep.requirement;
    if (req.marker && !req.marker->evaluate(marker_env))
        return;  // does not apply to this environment
    const auto range = dists.equal_range(req.normalized_name);
    if (range.first == range.second) {
        out.push_back({FindingKind::spec_missing, req.name + " (pypi)", req.str(), "", "",
                       where + ": not installed"});
        return;
    }
    for (auto it = range.first; it != range.second; ++it) {
        if (req.specifier.contains(it->second->dist->version, spec::PreReleases::allow))
            return;
    }
    const Package& found = *range.first->second;
    out.push_back({FindingKind::spec_unsatisfied, req.name + " (pypi)", req.str(),
                   found.dist->version + " (" + found.installer + ")", "", where});
}

}  // namespace

Findings check_spec(const env::Inventory& inventory, const spec::EnvironmentFile& spec) {
    Findings out;
    const auto dists = python_view(inventory);
    for (const auto& dep : spec.conda)
        check_conda_spec(inventory, dep, dists, out);
    const auto marker_env = env::marker_environment(inventory);
    for (const auto& dep : spec.pip)
        check_pip_requirement(dep, marker_env, dists, out);
    return out;
}

}  // namespace gpuenv::core::verify
