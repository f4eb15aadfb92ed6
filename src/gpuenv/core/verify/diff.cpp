#include <gpuenv/core/verify/diff.hpp>

#include <map>
#include <set>

#include <gpuenv/core/spec/package_name.hpp>

namespace gpuenv::core::verify {
namespace {

using lock::LockedEnv;
using lock::LockedPackage;
using lock::Manager;

// What both sides of a comparison know.
struct Common {
    bool python_view = false;  // one side lists only Python distributions
    bool conda = true;
    bool pypi = true;
    bool build = true;
    bool channel = true;
    bool installer = true;
    bool hashes = true;
    bool env_vars = true;
};

Common common_fields(const LockedEnv& a, const LockedEnv& b, std::vector<std::string>& notes) {
    const auto& fa = a.fields;
    const auto& fb = b.fields;
    Common c;
    c.python_view = fa.python_only || fb.python_only;
    c.conda = fa.conda && fb.conda;
    c.pypi = fa.pypi && fb.pypi;
    c.build = fa.build && fb.build;
    c.channel = fa.channel && fb.channel;
    c.installer = fa.installer && fb.installer;
    c.hashes = fa.hashes && fb.hashes;
    c.env_vars = fa.env_vars && fb.env_vars;
    auto lacking = [&](bool in_a, bool in_b) {
        return !in_a ? a.source : (!in_b ? b.source : std::string());
    };
    if (c.python_view) {
        notes.push_back("comparing Python distributions only: " +
                        (fa.python_only ? a.source : b.source) + " lists no conda packages");
        c.build = c.channel = c.installer = c.hashes = false;
        return c;
    }
    if (!c.conda)
        notes.push_back("conda packages not compared: " + lacking(fa.conda, fb.conda) +
                        " lists none");
    if (!c.pypi)
        notes.push_back("pip distributions not compared: " + lacking(fa.pypi, fb.pypi) +
                        " cannot list them");
    if (!c.build)
        notes.push_back("builds not compared: " + lacking(fa.build, fb.build) + " has none");
    if (!c.channel)
        notes.push_back("channels not compared: " + lacking(fa.channel, fb.channel) + " has none");
    if (!c.env_vars)
        notes.push_back("variables not compared: " + lacking(fa.env_vars, fb.env_vars) +
                        " has none");
    return c;
}

// Returns the packages of one side as the comparison sees them.
std::vector<LockedPackage> view_of(const LockedEnv& env, const Common& c) {
    std::vector<LockedPackage> out;
    for (const auto& p : env.packages) {
        if (c.python_view) {
            if (p.manager == Manager::pypi) {
                out.push_back(p);
            } else if (!p.python_name.empty()) {
                // The distribution a conda package carries, as pip would list it.
                LockedPackage dist;
                dist.manager = Manager::pypi;
                dist.name = p.python_name;
                dist.version = p.python_version.empty() ? p.version : p.python_version;
                out.push_back(std::move(dist));
            }
            continue;
        }
        if ((p.manager == Manager::conda && c.conda) || (p.manager == Manager::pypi && c.pypi))
            out.push_back(p);
    }
    for (auto& p : out)
        p.key = spec::normalize_pypi_name(p.name);
    return out;
}

std::string conda_hash(const LockedPackage& p) {
    return !p.sha256.empty() ? p.sha256 : p.md5;
}

// Compares two packages of one key; returns the kinds of change.
std::vector<FindingKind> compare(const LockedPackage& a, const LockedPackage& b, const Common& c) {
    std::vector<FindingKind> changes;
    if (a.manager != b.manager) {
        changes.push_back(FindingKind::installer);
        if (a.version != b.version)
            changes.push_back(FindingKind::version);
        return changes;
    }
    if (a.version != b.version)
        changes.push_back(FindingKind::version);
    if (a.manager == Manager::conda) {
        if (c.build && a.build != b.build && a.version == b.version)
            changes.push_back(FindingKind::build);
        if (c.channel && a.channel != b.channel)
            changes.push_back(FindingKind::channel);
        const auto ha = conda_hash(a);
        const auto hb = conda_hash(b);
        // Only hashes of the same kind are comparable (sha256 vs md5 say nothing).
        const bool same_kind =
            (!a.sha256.empty() && !b.sha256.empty()) || (a.sha256.empty() && b.sha256.empty());
        if (c.hashes && a.version == b.version && a.build == b.build && !ha.empty() &&
            !hb.empty() && same_kind && ha != hb) {
            changes.push_back(FindingKind::content);
        } else if (c.hashes && changes.empty() && !a.record_sha256.empty() &&
                   !b.record_sha256.empty() && a.record_sha256 != b.record_sha256) {
            changes.push_back(FindingKind::content);
        }
        return changes;
    }
    if (c.installer && a.installer != b.installer)
        changes.push_back(FindingKind::installer);
    if (c.hashes && a.version == b.version && !a.record_sha256.empty() &&
        !b.record_sha256.empty() && a.record_sha256 != b.record_sha256) {
        changes.push_back(FindingKind::content);
    }
    return changes;
}

std::string describe(const LockedPackage& p, FindingKind field) {
    switch (field) {
        case FindingKind::version:
            return p.version;
        case FindingKind::build:
            return p.build;
        case FindingKind::channel:
            return p.channel;
        case FindingKind::installer:
            return p.manager == Manager::conda ? "conda" : p.installer;
        case FindingKind::content:
            return !p.record_sha256.empty() && p.sha256.empty()
                       ? "RECORD " + p.record_sha256.substr(0, 12)
                       : conda_hash(p).substr(0, 12);
        default:
            return {};
    }
}

std::string label(const LockedPackage& p) {
    std::string s = p.version;
    if (p.manager == Manager::conda && !p.build.empty())
        s += " " + p.build;
    if (p.manager == Manager::pypi && !p.installer.empty())
        s += " (" + p.installer + ")";
    return s;
}

}  // namespace

bool DiffResult::empty() const {
    return added.empty() && removed.empty() && changed.empty() && variables.empty() && !platform;
}

DiffResult diff(const LockedEnv& a, const LockedEnv& b) {
    DiffResult result;
    const Common c = common_fields(a, b, result.notes);
    if (!a.platform.empty() && !b.platform.empty() && a.platform != b.platform)
        result.platform = std::make_pair(a.platform, b.platform);

    // Group both sides by key; each side usually has one package per key (two when pip
    // shadows a conda package).
    std::map<std::string, std::pair<std::vector<LockedPackage>, std::vector<LockedPackage>>> by_key;
    for (auto& p : view_of(a, c))
        by_key[p.key].first.push_back(std::move(p));
    for (auto& p : view_of(b, c))
        by_key[p.key].second.push_back(std::move(p));

    for (auto& entry : by_key) {
        // Named references, not structured bindings: clang 14 cannot capture those.
        const std::string& key = entry.first;
        auto& left = entry.second.first;
        auto& right = entry.second.second;
        std::vector<bool> left_used(left.size()), right_used(right.size());
        auto pair_up = [&](auto&& accept) {
            for (std::size_t i = 0; i < left.size(); ++i) {
                if (left_used[i])
                    continue;
                for (std::size_t j = 0; j < right.size(); ++j) {
                    if (right_used[j] || !accept(left[i], right[j]))
                        continue;
                    left_used[i] = right_used[j] = true;
                    auto changes = compare(left[i], right[j], c);
                    if (!changes.empty())
                        result.changed.push_back({key, left[i], right[j], std::move(changes)});
                    break;
                }
            }
        };
        // Same manager and version first (duplicates pair with their twin), then same
        // manager, then across managers: conda on one side and pip on the other is a change
        // of installer, not a removal plus an addition.
        pair_up([](const LockedPackage& x, const LockedPackage& y) {
            return x.manager == y.manager && x.version == y.version;
        });
        pair_up(
            [](const LockedPackage& x, const LockedPackage& y) { return x.manager == y.manager; });
        pair_up([](const LockedPackage&, const LockedPackage&) { return true; });
        for (std::size_t i = 0; i < left.size(); ++i) {
            if (!left_used[i])
                result.removed.push_back({key, left[i], std::nullopt, {}});
        }
        for (std::size_t j = 0; j < right.size(); ++j) {
            if (!right_used[j])
                result.added.push_back({key, std::nullopt, right[j], {}});
        }
    }

    if (c.env_vars) {
        std::set<std::string> names;
        for (const auto& [name, value] : a.env_vars)
            names.insert(name);
        for (const auto& [name, value] : b.env_vars)
            names.insert(name);
        for (const auto& name : names) {
            const auto ia = a.env_vars.find(name);
            const auto ib = b.env_vars.find(name);
            std::optional<std::string> va, vb;
            if (ia != a.env_vars.end())
                va = ia->second;
            if (ib != b.env_vars.end())
                vb = ib->second;
            if (va != vb)
                result.variables.push_back({name, va, vb});
        }
    }
    return result;
}

Findings findings_from_diff(const DiffResult& diff) {
    Findings out;
    auto name_of = [](const LockedPackage& p) {
        return p.manager == Manager::pypi ? p.name + " (pypi)" : p.name;
    };
    if (diff.platform) {
        out.push_back({FindingKind::platform, "", diff.platform->first, diff.platform->second, "",
                       "the lock is for " + diff.platform->first + ", this environment is " +
                           diff.platform->second});
    }
    for (const auto& r : diff.removed)
        out.push_back({FindingKind::missing, name_of(*r.a), label(*r.a), "", "", "not installed"});
    for (const auto& c : diff.changed) {
        for (const auto kind : c.changes) {
            out.push_back(
                {kind, name_of(*c.a), describe(*c.a, kind), describe(*c.b, kind), "", ""});
        }
    }
    for (const auto& a : diff.added)
        out.push_back({FindingKind::extra, name_of(*a.b), "", label(*a.b), "", "not in the lock"});
    for (const auto& v : diff.variables) {
        out.push_back({FindingKind::env_var, v.name, v.a.value_or(""), v.b.value_or(""), "",
                       !v.a ? "not in the lock" : (!v.b ? "not set by the environment" : "")});
    }
    return out;
}

}  // namespace gpuenv::core::verify
