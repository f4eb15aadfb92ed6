// Rules 4 (CUDA runtimes and cuDNNs that disagree), 6 (packages installed by both conda and
// pip), 7 (broken dependencies, summarised from verify's consistency check) and 13 (mixed
// channels). They judge the inventory; rule 4 also lists torch/lib, never reading a file, to see
// whether torch bundles its own CUDA runtime. Rule 5 (OpenMP and BLAS) is in openmp_rules.cpp;
// the helpers both files use are declared in package_facts.hpp.
#include <gpuenv/core/doctor/doctor.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/core.h>

#include <gpuenv/core/doctor/package_facts.hpp>
#include <gpuenv/core/verify/verify.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::doctor {
namespace {

namespace fs = std::filesystem;
using env::Package;
using env::PackageKind;
using package_facts::describe_at;
using package_facts::join;
using package_facts::join_and;
using package_facts::list_directory;
using package_facts::read_from;
using package_facts::relative_path;

// Packages listed by name in one finding's evidence before "and N more".
constexpr std::size_t k_max_packages = 10;
// Dependency problems quoted as examples; `gpuenv verify` lists them all.
constexpr std::size_t k_max_problems = 5;

// ---- rule 4: CUDA runtimes and cuDNNs -----------------------------------------------------

// Holds a library's major.minor release ("12.1" of cuda-cudart 12.1.105, "8.9" of cuDNN 8.9.2.26).
struct Release {
    int major = 0;
    int minor = 0;
    friend bool operator==(const Release&, const Release&) = default;
    friend auto operator<=>(const Release&, const Release&) = default;
};

// Reads the leading "major.minor" of a version; nothing when it does not start that way.
std::optional<Release> leading_release(std::string_view version) {
    auto number = [&](int& value) {
        std::size_t digits = 0;
        value = 0;
        while (digits < version.size() && digits < 6 && version[digits] >= '0' &&
               version[digits] <= '9') {
            value = value * 10 + (version[digits] - '0');
            ++digits;
        }
        version.remove_prefix(digits);
        return digits > 0;
    };
    Release release;
    if (!number(release.major) || version.empty() || version.front() != '.')
        return std::nullopt;
    version.remove_prefix(1);
    if (!number(release.minor))
        return std::nullopt;
    return release;
}

std::string format_release(Release release) {
    return fmt::format("{}.{}", release.major, release.minor);
}

enum class CudaLibrary { runtime, cudnn };

// Returns the CUDA library a package provides: conda's cudatoolkit (CUDA 11 and older),
// cuda-cudart and the cuda-runtime metapackage, cudnn; pip's nvidia-cuda-runtime-cu11/-cu12,
// nvidia-cuda-runtime (CUDA 13 drops the suffix), nvidia-cudnn-cu11/-cu12/-cu13.
std::optional<CudaLibrary> cuda_library_of(const Package& p) {
    if (p.kind == PackageKind::conda) {
        if (p.name == "cudatoolkit" || p.name == "cuda-cudart" || p.name == "cuda-runtime")
            return CudaLibrary::runtime;
        if (p.name == "cudnn")
            return CudaLibrary::cudnn;
        return std::nullopt;
    }
    if (p.key == "nvidia-cuda-runtime-cu11" || p.key == "nvidia-cuda-runtime-cu12" ||
        p.key == "nvidia-cuda-runtime")
        return CudaLibrary::runtime;
    if (p.key.starts_with("nvidia-cudnn-cu"))
        return CudaLibrary::cudnn;
    return std::nullopt;
}

struct CudaProvider {
    const Package* package = nullptr;
    Release release;
};

// Holds one library's providers on each side.
struct CudaProviders {
    std::vector<CudaProvider> conda;
    std::vector<CudaProvider> pip;  // any external installer (pip, uv, ...)
};

std::string releases_of(const std::vector<CudaProvider>& providers) {
    std::set<Release> releases;
    for (const auto& p : providers)
        releases.insert(p.release);
    std::vector<std::string> out;
    for (const auto& r : releases)
        out.push_back(format_release(r));
    return join(out, "/");
}

std::string names_of(const std::vector<CudaProvider>& providers) {
    std::vector<std::string> names;
    for (const auto& p : providers)
        names.push_back(p.package->name);
    return join(names, " ");
}

// Reports conda and pip providers of one library whose major.minor differ: with one soname
// (libcudart.so.12, libcudnn.so.9) whichever loads first serves both, and with two majors the
// environment carries two CUDA stacks that each side's packages expect to be the only one.
void check_agreement(CudaLibrary library, const CudaProviders& providers, const fs::path& prefix,
                     DoctorReport& report) {
    const bool disagree =
        std::any_of(providers.conda.begin(), providers.conda.end(), [&](const CudaProvider& c) {
            return std::any_of(providers.pip.begin(), providers.pip.end(),
                               [&](const CudaProvider& p) { return p.release != c.release; });
        });
    if (!disagree)
        return;
    const bool runtime = library == CudaLibrary::runtime;
    const std::string what = runtime ? "CUDA runtime" : "cuDNN";
    DoctorFinding finding;
    finding.rule = runtime ? "cuda_runtime_mismatch" : "cudnn_mismatch";
    finding.severity = Severity::warning;
    finding.title =
        fmt::format("conda and pip install different {} versions: {} (conda) and {} (pip)", what,
                    releases_of(providers.conda), releases_of(providers.pip));
    for (const auto* side : {&providers.conda, &providers.pip}) {
        for (const auto& p : *side) {
            finding.evidence.push_back(fmt::format("{} {}: {}", what, format_release(p.release),
                                                   describe_at(*p.package, prefix)));
        }
    }
    finding.fix = fmt::format(
        "keep one side: `pip uninstall -y {}` (conda's {} stays) or `conda remove {}` (pip's "
        "stays; conda also removes the packages that depend on it), or install the same "
        "major.minor on both sides",
        names_of(providers.pip), names_of(providers.conda), names_of(providers.conda));
    report.findings.push_back(std::move(finding));
}

// Returns the pip distribution of the CUDA runtime for a CUDA major version.
std::string pip_runtime_name(int major) {
    return major >= 13 ? "nvidia-cuda-runtime" : fmt::format("nvidia-cuda-runtime-cu{}", major);
}

// A pip torch loads the CUDA runtime of the nvidia-cuda-runtime wheel it requires; one of
// another major cannot serve it. Builds that carry their own libcudart in torch/lib (older
// download.pytorch.org wheels) do not care.
void check_torch_runtime(const DoctorInput& input, const std::vector<CudaProvider>& pip,
                         DoctorReport& report) {
    if (!input.torch || !input.torch->cuda || input.torch->installer == "conda" || pip.empty())
        return;
    const auto built = parse_cuda_version(*input.torch->cuda);
    if (!built || built->major < 11)
        return;
    if (std::any_of(pip.begin(), pip.end(),
                    [&](const CudaProvider& p) { return p.release.major == built->major; }))
        return;
    bool bundled = false;
    list_directory(input.torch->version_file.parent_path() / "lib", report.warnings,
                   [&](const fs::directory_entry& entry) {
                       bundled =
                           bundled || entry.path().filename().string().starts_with("libcudart");
                   });
    if (bundled)
        return;
    const auto& prefix = input.inventory->prefix.path;
    DoctorFinding finding;
    finding.rule = "torch_cuda_runtime_mismatch";
    finding.severity = Severity::warning;
    finding.title =
        fmt::format("torch {} is built for CUDA {} but pip's CUDA runtime is {}",
                    input.torch->version, format_cuda_version(*built), releases_of(pip));
    finding.evidence.push_back(fmt::format("torch/version.py: cuda = '{}' ({})", *input.torch->cuda,
                                           relative_path(input.torch->version_file, prefix)));
    for (const auto& p : pip) {
        finding.evidence.push_back(fmt::format("CUDA runtime {}: {}", format_release(p.release),
                                               describe_at(*p.package, prefix)));
    }
    finding.fix = fmt::format(
        "install the runtime torch's build needs: `pip install \"{}=={}.*\"`, or reinstall torch "
        "with its dependencies so pip brings the matching nvidia wheels",
        pip_runtime_name(built->major), format_cuda_version(*built));
    report.findings.push_back(std::move(finding));
}

// ---- rule 7: dependency consistency -------------------------------------------------------

using verify::FindingKind;

// Returns how a consistency finding is counted in the summary ("2 stale records"); "" for kinds
// left to other rules.
std::string_view problem_label(FindingKind kind, bool plural) {
    switch (kind) {
        case FindingKind::dependency_missing:
            return "missing";
        case FindingKind::dependency_unsatisfied:
            return "unsatisfied";
        case FindingKind::constraint_violated:
            return plural ? "constraints violated" : "constraint violated";
        case FindingKind::duplicate:
            return plural ? "duplicate distributions" : "duplicate distribution";
        case FindingKind::record_files_gone:
            return plural ? "stale records" : "stale record";
        default:
            return "";  // shadowed is rule 6's
    }
}

std::string describe_problem(const verify::Finding& f) {
    switch (f.kind) {
        case FindingKind::dependency_missing:
            return fmt::format("missing: {} requires {}", f.package, f.expected);
        case FindingKind::dependency_unsatisfied:
            return fmt::format("unsatisfied: {} requires {}, found {}", f.package, f.expected,
                               f.found);
        case FindingKind::constraint_violated:
            return fmt::format("constraint violated: {} constrains {}, found {}", f.package,
                               f.expected, f.found);
        case FindingKind::duplicate:
            return fmt::format("duplicate distribution: {} in {}", f.found, f.path);
        case FindingKind::record_files_gone:
            return fmt::format("stale record: {}: {} is gone", f.package, f.expected);
        default:
            return f.detail;
    }
}

// Returns whether a problem is a conda depends/constrains entry (else a Requires-Dist): a conda
// record of the requiring package's name (there may be two) lists exactly that text.
bool conda_dependency(const verify::Finding& f,
                      const std::unordered_multimap<std::string, const Package*>& conda) {
    const auto [first, last] = conda.equal_range(f.package);
    return std::any_of(first, last, [&](const auto& entry) {
        const auto& record = *entry.second->record;
        return std::find(record.depends.begin(), record.depends.end(), f.expected) !=
                   record.depends.end() ||
               std::find(record.constrains.begin(), record.constrains.end(), f.expected) !=
                   record.constrains.end();
    });
}

std::string dependency_fix(const std::vector<const verify::Finding*>& problems,
                           const env::Inventory& inventory) {
    std::unordered_multimap<std::string, const Package*> conda;
    for (const auto& p : inventory.packages) {
        if (p.kind == PackageKind::conda)
            conda.emplace(p.name, &p);
    }
    std::string conda_example;
    std::string pip_example;
    std::string stale_example;
    std::string duplicate_example;
    for (const auto* f : problems) {
        if (f->kind == FindingKind::duplicate) {
            if (duplicate_example.empty())
                duplicate_example = f->package;
        } else if (f->kind == FindingKind::record_files_gone) {
            if (stale_example.empty())
                stale_example = f->package;
        } else if (conda_dependency(*f, conda)) {
            if (conda_example.empty())
                conda_example = f->expected;
        } else if (pip_example.empty()) {
            pip_example = f->expected;
        }
    }
    std::vector<std::string> parts{"`gpuenv verify` lists every problem"};
    if (!conda_example.empty()) {
        parts.push_back(
            fmt::format("install or update what conda packages require (`conda install \"{}\"`)",
                        conda_example));
    }
    if (!pip_example.empty()) {
        parts.push_back(fmt::format(
            "install or update what Python packages require (`pip install \"{}\"`)", pip_example));
    }
    if (!duplicate_example.empty()) {
        parts.push_back(fmt::format(
            "for a duplicate, `pip uninstall -y {0}` until pip finds none, then `pip install {0}` "
            "once",
            duplicate_example));
    }
    if (!stale_example.empty()) {
        parts.push_back(fmt::format(
            "restore or drop a stale record (`conda install --force-reinstall {0}` or `conda "
            "remove --force {0}`)",
            stale_example));
    }
    return join(parts, "; ");
}

// ---- rule 13: channels --------------------------------------------------------------------

enum class ChannelFamily { defaults, conda_forge, pytorch, other };

// Sorts a channel display name into its family; mirrors keep the channel's name as their last
// path segments ("https://mirrors.example/anaconda/cloud/conda-forge", ".../pkgs/main").
ChannelFamily family_of(std::string_view channel) {
    const auto scheme = channel.find("://");
    const bool url = scheme != std::string_view::npos;
    if (url && (channel.find("repo.anaconda.com") != std::string_view::npos ||
                channel.find("repo.continuum.io") != std::string_view::npos))
        return ChannelFamily::defaults;
    const auto segments = util::split(url ? channel.substr(scheme + 3) : channel, '/');
    // A name on anaconda.org (no scheme) is its first segment: "conda-forge/label/rc".
    const std::size_t first = url ? 1 : 0;
    for (std::size_t i = first; i < segments.size(); ++i) {
        const auto s = segments[i];
        if (s == "pkgs" && i + 1 < segments.size() &&
            (segments[i + 1] == "main" || segments[i + 1] == "r" || segments[i + 1] == "free" ||
             segments[i + 1] == "msys2" || segments[i + 1] == "pro"))
            return ChannelFamily::defaults;
        if (s == "conda-forge")
            return ChannelFamily::conda_forge;
        if (s == "pytorch" || s == "pytorch-nightly" || s == "pytorch-test")
            return ChannelFamily::pytorch;
        if (!url && (s == "defaults" || s == "anaconda"))
            return ChannelFamily::defaults;
        if (!url)
            break;
    }
    return ChannelFamily::other;
}

// Counts one channel's records.
struct ChannelCount {
    std::string name;
    ChannelFamily family = ChannelFamily::other;
    std::size_t total = 0;
    std::size_t compiled = 0;
    std::vector<std::string> examples;  // compiled packages, the first few
};

}  // namespace

// ---- the rules ----------------------------------------------------------------------------

void check_cuda_runtimes(const DoctorInput& input, DoctorReport& report) {
    CudaProviders runtime;
    CudaProviders cudnn;
    for (const auto& p : input.inventory->packages) {
        const auto library = cuda_library_of(p);
        if (!library)
            continue;
        const auto release = leading_release(p.version);
        if (!release)
            continue;
        auto& providers = *library == CudaLibrary::runtime ? runtime : cudnn;
        (p.kind == PackageKind::conda ? providers.conda : providers.pip).push_back({&p, *release});
    }
    const auto& prefix = input.inventory->prefix.path;
    check_agreement(CudaLibrary::runtime, runtime, prefix, report);
    check_agreement(CudaLibrary::cudnn, cudnn, prefix, report);
    check_torch_runtime(input, runtime.pip, report);
}

// One finding for all overlaps: a `pip install` that reinstalled a dozen conda packages is one
// mistake with one fix, and `gpuenv verify` lists each as `shadowed`. A second dist-info of one
// name in one site-packages (Python sees only one of them) is rule 7's duplicate distribution.
void check_conda_pip_overlap(const DoctorInput& input, DoctorReport& report) {
    const auto& inventory = *input.inventory;
    std::vector<const Package*> over;
    std::set<std::string> installers;
    for (const auto& p : inventory.packages) {
        if (p.kind == PackageKind::pypi && p.shadows) {
            over.push_back(&p);
            installers.insert(p.installer);
        }
    }
    if (over.empty())
        return;
    const auto& prefix = inventory.prefix.path;
    const std::string by =
        join(std::vector<std::string>(installers.begin(), installers.end()), "/");
    DoctorFinding finding;
    finding.rule = "conda_pip_overlap";
    finding.severity = Severity::warning;
    finding.title =
        over.size() == 1
            ? fmt::format("{} is installed by both conda and {}", over[0]->name, by)
            : fmt::format("{} packages are installed by both conda and {}", over.size(), by);
    std::vector<std::string> pip_names;
    std::vector<std::string> conda_names;
    std::vector<std::string> conda_specs;
    for (std::size_t i = 0; i < over.size() && i < k_max_packages; ++i) {
        const Package& p = *over[i];
        const auto& peer = *p.shadows;
        finding.evidence.push_back(
            fmt::format("{}: conda {} {} {}{}, {} {} ({})", p.name, peer.name, peer.version,
                        peer.build, peer.channel.empty() ? "" : " (" + peer.channel + ")",
                        p.installer, p.version, read_from(p, prefix)));
        pip_names.push_back(p.name);
        conda_names.push_back(peer.name);
        conda_specs.push_back(peer.name + "=" + peer.version);
    }
    if (over.size() > k_max_packages) {
        finding.evidence.push_back(fmt::format(
            "and {} more (`gpuenv verify` lists each as shadowed)", over.size() - k_max_packages));
    }
    finding.fix = fmt::format(
        "keep conda's: `pip uninstall -y {}` then `conda install --force-reinstall {}` (conda "
        "restores the files pip replaced); or keep pip's: `conda remove --force {}` then "
        "`pip install --force-reinstall {}`{}",
        join(pip_names, " "), join(conda_specs, " "), join(conda_names, " "), join(pip_names, " "),
        over.size() > k_max_packages ? " (likewise for the rest)" : "");
    report.findings.push_back(std::move(finding));
}

void check_dependencies(const DoctorInput& input, DoctorReport& report) {
    verify::Findings computed;
    if (input.consistency == nullptr)
        computed = verify::check_consistency(*input.inventory, report.warnings);
    const verify::Findings& findings = input.consistency != nullptr ? *input.consistency : computed;
    // pip installing over a conda package also leaves its record stale: rule 6 says so.
    std::set<std::string> shadowed;
    for (const auto& p : input.inventory->packages) {
        if (p.kind == PackageKind::conda && p.shadowed_by)
            shadowed.insert(p.name);
    }
    std::vector<const verify::Finding*> problems;
    std::map<FindingKind, std::size_t> counts;
    std::vector<FindingKind> order;
    for (const auto& f : findings) {
        if (problem_label(f.kind, false).empty() ||
            (f.kind == FindingKind::record_files_gone && shadowed.contains(f.package)))
            continue;
        problems.push_back(&f);
        if (counts[f.kind]++ == 0)
            order.push_back(f.kind);
    }
    if (problems.empty())
        return;
    DoctorFinding finding;
    finding.rule = "broken_dependencies";
    finding.severity = Severity::warning;
    std::vector<std::string> summary;
    for (const auto kind : order)
        summary.push_back(
            fmt::format("{} {}", counts[kind], problem_label(kind, counts[kind] > 1)));
    finding.title = fmt::format("{} dependency problem{}: {}", problems.size(),
                                problems.size() == 1 ? "" : "s", join(summary, ", "));
    for (std::size_t i = 0; i < problems.size() && i < k_max_problems; ++i)
        finding.evidence.push_back(describe_problem(*problems[i]));
    if (problems.size() > k_max_problems)
        finding.evidence.push_back(fmt::format("and {} more", problems.size() - k_max_problems));
    finding.fix = dependency_fix(problems, *input.inventory);
    report.findings.push_back(std::move(finding));
}

// Binary packages of defaults and conda-forge are built with different compilers, pins and
// run-time libraries; the pytorch channel builds against defaults (its MKL and intel-openmp),
// so it breaks beside conda-forge the same way. nvidia's channel is meant to go with either.
// noarch packages carry no binaries and never count.
void check_mixed_channels(const DoctorInput& input, DoctorReport& report) {
    std::map<std::string, ChannelCount> channels;
    for (const auto& p : input.inventory->packages) {
        if (p.kind != PackageKind::conda || p.channel.empty() || !p.record)
            continue;
        auto& count = channels[p.channel];
        if (count.total == 0) {
            count.name = p.channel;
            count.family = family_of(p.channel);
        }
        ++count.total;
        if (p.record->noarch.empty() && p.record->subdir != "noarch") {
            ++count.compiled;
            if (count.examples.size() < 5)
                count.examples.push_back(p.name);
        }
    }
    std::map<ChannelFamily, std::size_t> compiled;
    for (const auto& [name, count] : channels)
        compiled[count.family] += count.compiled;
    const bool forge = compiled[ChannelFamily::conda_forge] > 0;
    const bool defaults = forge && compiled[ChannelFamily::defaults] > 0;
    const bool pytorch = forge && compiled[ChannelFamily::pytorch] > 0;
    if (!defaults && !pytorch)
        return;
    std::vector<const ChannelCount*> involved;
    for (const auto& [name, count] : channels) {
        if (count.compiled > 0 && (count.family == ChannelFamily::conda_forge ||
                                   (defaults && count.family == ChannelFamily::defaults) ||
                                   (pytorch && count.family == ChannelFamily::pytorch)))
            involved.push_back(&count);
    }
    std::stable_sort(
        involved.begin(), involved.end(),
        [](const ChannelCount* a, const ChannelCount* b) { return a->compiled > b->compiled; });
    DoctorFinding finding;
    finding.rule = "mixed_channels";
    finding.severity = Severity::warning;
    std::vector<std::string> named;
    for (const auto* c : involved) {
        named.push_back(fmt::format("{} from {}", c->compiled, c->name));
        std::string line = fmt::format("{}: {} package{}, {} compiled", c->name, c->total,
                                       c->total == 1 ? "" : "s", c->compiled);
        if (c != involved.front()) {
            line += fmt::format(" ({}{})", join(c->examples, ", "),
                                c->compiled > c->examples.size() ? ", ..." : "");
        }
        finding.evidence.push_back(std::move(line));
    }
    finding.evidence.push_back("read from the channel of each conda-meta/*.json record");
    finding.title =
        "compiled packages from channels that are not binary compatible: " + join_and(named);
    std::vector<std::string> fixes;
    if (defaults) {
        // Keep the channel most compiled packages came from; name a few of the others.
        const bool keep_forge =
            compiled[ChannelFamily::conda_forge] >= compiled[ChannelFamily::defaults];
        const auto move = keep_forge ? ChannelFamily::defaults : ChannelFamily::conda_forge;
        std::vector<std::string> packages;
        for (const auto* c : involved) {
            if (c->family == move)
                packages.insert(packages.end(), c->examples.begin(), c->examples.end());
        }
        if (packages.size() > 5)
            packages.resize(5);
        if (compiled[move] > packages.size())
            packages.push_back("...");
        fixes.push_back(fmt::format(
            "install from one channel: `conda config --env --set channel_priority strict`, then "
            "reinstall the other channel's packages (`conda install --override-channels -c {} "
            "{}`), or recreate the environment (`conda env export --from-history > env.yml`, "
            "keep one channel, `conda env create -f env.yml -n <new>`)",
            keep_forge ? "conda-forge" : "defaults", join(packages, " ")));
    }
    if (pytorch) {
        fixes.push_back(
            "the pytorch channel is built for defaults: on conda-forge install pytorch from "
            "conda-forge (`conda install -c conda-forge pytorch`) or use the pip wheels");
    }
    finding.fix = join(fixes, "; ");
    report.findings.push_back(std::move(finding));
}

}  // namespace gpuenv::core::doctor
