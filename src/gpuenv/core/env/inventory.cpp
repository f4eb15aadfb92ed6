#include <gpuenv/core/env/inventory.hpp>

#include <gpuenv/core/env/channel.hpp>

#include <algorithm>
#include <charconv>
#include <exception>
#include <thread>
#include <unordered_map>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;

// Turns an Error about one file into a warning with the line and column split out, so that
// `--json` consumers get them as fields. Messages look like "... <path>: line 3, column 5: ...".
Diagnostic diagnostic_from_error(const fs::path& file, const Error& error) {
    Diagnostic d;
    d.path = file.string();
    std::string_view message = error.what();
    // Drop "cannot read conda record <path>: " and the like: the path is a field of its own.
    const std::string lead = d.path + ": ";
    const auto at = message.find(lead);
    if (at != std::string_view::npos)
        message.remove_prefix(at + lead.size());
    auto take_number = [&](std::string_view word, int& out) {
        if (message.substr(0, word.size()) != word)
            return false;
        const char* begin = message.data() + word.size();
        const char* end = message.data() + message.size();
        const auto [ptr, ec] = std::from_chars(begin, end, out);
        if (ec != std::errc() || ptr == begin)
            return false;
        message.remove_prefix(static_cast<std::size_t>(ptr - message.data()));
        return true;
    };
    if (take_number("line ", d.line)) {
        if (message.substr(0, 2) == ", ") {
            message.remove_prefix(2);
            take_number("column ", d.column);
        }
        if (message.substr(0, 2) == ": ")
            message.remove_prefix(2);
    }
    d.message = std::string(message);
    return d;
}

// Returns the PEP 503 name of the distribution an anchor path names:
// ".../torch-2.0.1.dist-info" -> "torch", ".../PyYAML-6.0-py3.11.egg-info" -> "pyyaml".
std::string anchor_dist_name(const std::string& anchor) {
    std::string base = fs::path(anchor).filename().string();
    const auto dash = base.find('-');
    if (dash != std::string::npos) {
        base.resize(dash);
    } else {
        for (const char* suffix : {".dist-info", ".egg-info", ".egg"}) {
            const std::string_view s(suffix);
            if (base.size() > s.size() && base.compare(base.size() - s.size(), s.size(), s) == 0) {
                base.resize(base.size() - s.size());
                break;
            }
        }
    }
    return spec::normalize_pypi_name(base);
}

ShadowPeer peer_of(const Package& p) {
    return {p.name, p.version, p.build, p.channel, p.installer};
}

Package conda_package(CondaRecord record) {
    Package p;
    p.kind = PackageKind::conda;
    p.name = record.name;
    p.key = spec::normalize_pypi_name(record.name);  // sorts pip and conda spellings together
    p.version = record.version;
    p.build = record.build;
    p.channel = channel_display_name(record);
    p.installer = "conda";
    p.requested = !record.requested_specs.empty();
    p.record = std::move(record);
    return p;
}

Package pypi_package(PythonDist dist) {
    Package p;
    p.kind = PackageKind::pypi;
    p.name = dist.name;
    p.key = dist.normalized_name;
    p.version = dist.version;
    p.installer = attribute_installer(dist);
    p.requested = dist.requested;
    p.dist = std::move(dist);
    return p;
}

// Reads records[begin, end) with one reader; a record that fails becomes a warning.
void read_records(const std::vector<fs::path>& records, std::size_t begin, std::size_t end,
                  std::vector<Package>& packages, Diagnostics& warnings) {
    CondaRecordReader reader;
    for (std::size_t i = begin; i < end; ++i) {
        try {
            packages.push_back(conda_package(reader.read(records[i])));
        } catch (const Error& e) {
            warnings.push_back(diagnostic_from_error(records[i], e));
        }
    }
}

// Reads every record. Parsing the JSON is most of `gpuenv list`'s time, so a large
// environment is split in two halves read on two threads; the result and the order of the
// warnings are the same as reading them one by one.
std::vector<Package> read_conda_packages(const std::vector<fs::path>& records,
                                         Diagnostics& warnings) {
    constexpr std::size_t k_min_records_per_thread = 64;
    std::vector<Package> first;
    if (records.size() < 2 * k_min_records_per_thread) {
        read_records(records, 0, records.size(), first, warnings);
        return first;
    }
    const std::size_t half = records.size() / 2;
    std::vector<Package> second;
    Diagnostics second_warnings;
    std::exception_ptr second_error;
    std::thread worker([&] {
        try {
            read_records(records, half, records.size(), second, second_warnings);
        } catch (...) {
            second_error = std::current_exception();
        }
    });
    try {
        read_records(records, 0, half, first, warnings);
    } catch (...) {
        worker.join();
        throw;
    }
    worker.join();
    if (second_error)
        std::rethrow_exception(second_error);
    first.insert(first.end(), std::make_move_iterator(second.begin()),
                 std::make_move_iterator(second.end()));
    warnings.insert(warnings.end(), second_warnings.begin(), second_warnings.end());
    return first;
}

}  // namespace

const char* to_string(PackageKind kind) {
    return kind == PackageKind::conda ? "conda" : "pypi";
}

std::size_t Inventory::conda_count() const {
    return static_cast<std::size_t>(
        std::count_if(packages.begin(), packages.end(),
                      [](const Package& p) { return p.kind == PackageKind::conda; }));
}

std::size_t Inventory::pypi_count() const {
    return packages.size() - conda_count();
}

std::string attribute_installer(const PythonDist& dist) {
    std::string installer = util::to_lower(util::trim(dist.installer));
    if (!installer.empty())
        return installer;
    // Debian's python3-* packages install into dist-packages and write no INSTALLER.
    if (dist.site_packages.filename() == "dist-packages")
        return "debian";
    return "unknown";
}

Inventory read_inventory(const Prefix& prefix) {
    Inventory inventory;
    inventory.prefix = prefix;

    // Conda records first: they say which Python distributions are theirs.
    std::vector<Package> conda;
    if (prefix.kind == PrefixKind::conda) {
        conda = read_conda_packages(list_conda_records(prefix.path), inventory.warnings);
    }
    // CEP 17: the python record may name a site-packages directory the layout scan misses.
    for (const auto& p : conda) {
        const auto& sp = p.record->python_site_packages_path;
        if (sp.empty())
            continue;
        const fs::path dir = (prefix.path / sp).lexically_normal();
        if (std::find(inventory.prefix.site_packages.begin(), inventory.prefix.site_packages.end(),
                      dir) == inventory.prefix.site_packages.end() &&
            fs::is_directory(dir)) {
            inventory.prefix.site_packages.push_back(dir);
        }
    }

    std::unordered_map<std::string, std::size_t> owner_by_anchor;
    std::unordered_map<std::string, std::size_t> conda_by_pypi_name;
    for (std::size_t i = 0; i < conda.size(); ++i) {
        const auto& record = *conda[i].record;
        conda_by_pypi_name.emplace(spec::normalize_pypi_name(record.name), i);
        for (const auto& anchor : record.python_anchors) {
            // Only metadata directly in a site-packages directory is an installed
            // distribution; setuptools/_vendor/packaging-24.0.dist-info is not.
            const auto parent = fs::path(anchor).parent_path().filename();
            if (parent != "site-packages" && parent != "dist-packages")
                continue;
            owner_by_anchor.emplace(anchor, i);
            conda_by_pypi_name.emplace(anchor_dist_name(anchor), i);
        }
    }

    std::vector<Package> external;
    for (const auto& site_packages : inventory.prefix.site_packages) {
        for (auto& dist : scan_site_packages(site_packages, inventory.warnings)) {
            const std::string relative =
                dist.metadata_path.lexically_relative(prefix.path).generic_string();
            auto owner = owner_by_anchor.find(relative);
            std::optional<std::size_t> owner_index;
            if (owner != owner_by_anchor.end()) {
                owner_index = owner->second;
            } else if (util::iequals(util::trim(dist.installer), "conda")) {
                // Records written before files[] listed the metadata: same name and version
                // and INSTALLER=conda means conda put it there.
                const auto same = conda_by_pypi_name.find(dist.normalized_name);
                if (same != conda_by_pypi_name.end() &&
                    conda[same->second].version == dist.version) {
                    owner_index = same->second;
                }
            }
            if (owner_index) {
                auto& owner_package = conda[*owner_index];
                if (!owner_package.dist)
                    owner_package.dist = std::move(dist);
                continue;
            }
            external.push_back(pypi_package(std::move(dist)));
        }
    }

    // An external distribution with the name of a conda package (or of the distribution a
    // conda package carries, e.g. pytorch -> torch) has been installed over it.
    for (auto& p : external) {
        const auto same = conda_by_pypi_name.find(p.key);
        if (same == conda_by_pypi_name.end())
            continue;
        auto& shadowed = conda[same->second];
        p.shadows = peer_of(shadowed);
        if (!shadowed.shadowed_by)
            shadowed.shadowed_by = peer_of(p);
    }

    inventory.packages = std::move(conda);
    inventory.packages.insert(inventory.packages.end(), std::make_move_iterator(external.begin()),
                              std::make_move_iterator(external.end()));
    std::stable_sort(inventory.packages.begin(), inventory.packages.end(),
                     [](const Package& a, const Package& b) {
                         if (a.key != b.key)
                             return a.key < b.key;
                         return a.kind == PackageKind::conda && b.kind == PackageKind::pypi;
                     });
    return inventory;
}

}  // namespace gpuenv::core::env
