// Rule 5: two OpenMP runtimes that cannot share a process, and MKL beside a second BLAS. It
// judges the inventory and lists a few directories (lib/, site-packages/*.libs, torch/lib),
// never reading a file, to see the libraries wheels bundle. Also defines the helpers declared
// in package_facts.hpp, which package_rules.cpp shares.
#include <gpuenv/core/doctor/doctor.hpp>

#include <algorithm>
#include <map>
#include <system_error>

#include <fmt/core.h>

#include <gpuenv/core/doctor/package_facts.hpp>
#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::doctor {
namespace {

namespace fs = std::filesystem;
using env::Package;
using env::PackageKind;

}  // namespace

// ---- package_facts.hpp ---------------------------------------------------------------------

namespace package_facts {

std::string relative_path(const fs::path& path, const fs::path& prefix) {
    const fs::path relative = path.lexically_relative(prefix);
    if (relative.empty() || *relative.begin() == "..")
        return path.generic_string();
    return relative.generic_string();
}

std::string read_from(const Package& p, const fs::path& prefix) {
    if (p.record)
        return relative_path(p.record->record_path, prefix);
    if (p.dist)
        return relative_path(p.dist->metadata_path, prefix);
    return {};
}

std::string describe(const Package& p) {
    std::string out = fmt::format("{} {} {}", p.installer, p.name, p.version);
    if (!p.channel.empty())
        out += " (" + p.channel + ")";
    return out;
}

std::string describe_at(const Package& p, const fs::path& prefix) {
    const std::string where = read_from(p, prefix);
    return where.empty() ? describe(p) : describe(p) + ", " + where;
}

std::string join_and(const std::vector<std::string>& items) {
    if (items.size() < 2)
        return join(items, "");
    const std::vector<std::string> head(items.begin(), items.end() - 1);
    return join(head, ", ") + " and " + items.back();
}

void list_directory(const fs::path& dir, gpuenv::Diagnostics& warnings,
                    const std::function<void(const fs::directory_entry&)>& visit) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
        if (ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory)
            warnings.push_back({dir.string(), 0, 0, "cannot list the directory: " + ec.message()});
        return;
    }
    for (const fs::directory_iterator end; it != end;) {
        visit(*it);
        it.increment(ec);
        if (ec) {
            warnings.push_back({dir.string(), 0, 0, "cannot list the directory: " + ec.message()});
            return;
        }
    }
}

}  // namespace package_facts

namespace {

using package_facts::describe;
using package_facts::describe_at;
using package_facts::join;
using package_facts::join_and;
using package_facts::list_directory;
using package_facts::read_from;
using package_facts::relative_path;

// ---- bundled libraries --------------------------------------------------------------------

// Returns whether a file name is a shared library's ("libgomp.so.1", "libomp-a34b.so").
bool is_shared_library(std::string_view name) {
    return name.starts_with("lib") && name.find(".so") != std::string_view::npos;
}

// Names one shared library found in a directory of bundled libraries: a wheel's "<dist>.libs"
// (auditwheel's) or torch's "torch/lib".
struct BundledLibrary {
    std::string file;      // "libgomp-a34b3233.so.1"
    std::string dir;       // "numpy.libs" or "torch/lib", as the evidence names it
    std::string where;     // prefix-relative path of the file
    const Package* owner;  // the distribution the directory belongs to, or null
};

// Finds the distribution a bundled-library directory belongs to: "scikit_learn.libs" is
// scikit-learn's, "torch/lib" torch's (the pip torch or the conda pytorch carrying it).
const Package* owner_of_bundle(const env::Inventory& inventory, std::string_view dist_name) {
    const std::string key = spec::normalize_pypi_name(dist_name);
    const Package* found = nullptr;
    for (const auto& p : inventory.packages) {
        if (!p.dist || p.dist->normalized_name != key)
            continue;
        // An external distribution installed over a conda one owns the files now.
        if (!found || p.kind == PackageKind::pypi)
            found = &p;
    }
    return found;
}

// Lists the shared libraries in every site-packages' "*.libs" and "torch/lib" directories.
std::vector<BundledLibrary> list_bundled_libraries(const env::Inventory& inventory,
                                                   gpuenv::Diagnostics& warnings) {
    std::vector<BundledLibrary> out;
    const auto& prefix = inventory.prefix.path;
    auto list_bundle = [&](const fs::path& dir, std::string shown, std::string_view dist) {
        const Package* owner = owner_of_bundle(inventory, dist);
        list_directory(dir, warnings, [&](const fs::directory_entry& entry) {
            const std::string file = entry.path().filename().string();
            if (is_shared_library(file))
                out.push_back({file, shown, relative_path(entry.path(), prefix), owner});
        });
    };
    for (const auto& site_packages : inventory.prefix.site_packages) {
        std::vector<std::string> bundles;
        list_directory(site_packages, warnings, [&](const fs::directory_entry& entry) {
            const std::string name = entry.path().filename().string();
            std::error_code ec;
            if (name.size() > 5 && name.ends_with(".libs") && entry.is_directory(ec))
                bundles.push_back(name);
        });
        std::sort(bundles.begin(), bundles.end());
        for (const auto& bundle : bundles) {
            list_bundle(site_packages / bundle, bundle,
                        std::string_view(bundle).substr(0, bundle.size() - 5));
        }
        list_bundle(site_packages / "torch" / "lib", "torch/lib", "torch");
    }
    return out;
}

// ---- rule 5: OpenMP runtimes and BLAS -----------------------------------------------------

enum class OmpRuntime { iomp5, omp, gomp };

std::string_view library_name(OmpRuntime runtime) {
    switch (runtime) {
        case OmpRuntime::iomp5:
            return "libiomp5";
        case OmpRuntime::omp:
            return "libomp";
        case OmpRuntime::gomp:
            return "libgomp";
    }
    return "libgomp";
}

// Returns the OpenMP runtime a shared library file is: Intel's libiomp5, LLVM's libomp, GNU's
// libgomp, also under auditwheel's hashed names ("libgomp-a34b3233.so.1").
std::optional<OmpRuntime> omp_runtime_of_file(std::string_view name) {
    if (!is_shared_library(name))
        return std::nullopt;
    if (name.starts_with("libiomp5"))
        return OmpRuntime::iomp5;
    if (name.starts_with("libomp.") || name.starts_with("libomp-"))
        return OmpRuntime::omp;
    if (name.starts_with("libgomp.") || name.starts_with("libgomp-"))
        return OmpRuntime::gomp;
    return std::nullopt;
}

// Holds one package's (or one unowned file's) copy of an OpenMP runtime.
struct OmpSource {
    OmpRuntime runtime = OmpRuntime::gomp;
    std::string owner;  // "conda intel-openmp 2023.1.0 (pkgs/main)", or a file with no package
    std::string short_owner;          // "intel-openmp", for the title
    std::vector<std::string> places;  // record and files where it was seen
    // conda's GCC runtime (libgomp, _openmp_mutex *_gnu): in every conda environment, loaded
    // only by what links it; not a second runtime anyone chose.
    bool toolchain = false;
};

// Returns the OpenMP runtime a conda or pip package installs, and whether it is conda's GCC
// runtime. _openmp_mutex *_llvm only points libgomp.so.1 at llvm-openmp's libomp.
std::optional<std::pair<OmpRuntime, bool>> omp_runtime_of(const Package& p) {
    if (p.key == "intel-openmp")
        return std::pair{OmpRuntime::iomp5, false};
    if (p.kind != PackageKind::conda)
        return std::nullopt;
    if (p.name == "llvm-openmp" || p.name == "openmp")
        return std::pair{OmpRuntime::omp, false};
    if (p.name == "libgomp" || (p.name == "_openmp_mutex" && p.build.ends_with("_gnu")))
        return std::pair{OmpRuntime::gomp, true};
    return std::nullopt;
}

std::vector<OmpSource> find_omp_sources(const env::Inventory& inventory,
                                        const std::vector<BundledLibrary>& bundled,
                                        gpuenv::Diagnostics& warnings) {
    const auto& prefix = inventory.prefix.path;
    std::vector<OmpSource> sources;
    for (const auto& p : inventory.packages) {
        if (const auto runtime = omp_runtime_of(p)) {
            sources.push_back(
                {runtime->first, describe(p), p.name, {read_from(p, prefix)}, runtime->second});
        }
    }
    // The prefix's lib/: conda's and pip's intel-openmp put their libraries there. A link is
    // judged by what it points to: llvm-openmp installs libiomp5.so and libgomp.so as links
    // to libomp.so, which is one runtime, not three.
    std::map<std::string, std::pair<OmpRuntime, std::string>> in_lib;  // target -> runtime, shown
    list_directory(prefix / "lib", warnings, [&](const fs::directory_entry& entry) {
        const std::string name = entry.path().filename().string();
        if (!omp_runtime_of_file(name))
            return;
        std::error_code ec;
        const fs::path target = fs::canonical(entry.path(), ec);
        if (ec)
            return;  // a dangling link loads nothing
        const auto runtime = omp_runtime_of_file(target.filename().string());
        if (!runtime)
            return;
        auto& [kind, shown] = in_lib[target.string()];
        kind = *runtime;
        if (shown.empty() || name.size() + 4 < shown.size())
            shown = "lib/" + name;  // the shortest name: libgomp.so.1 over libgomp.so.1.0.0
    });
    for (const auto& [target, found] : in_lib) {
        const auto& [runtime, shown] = found;
        // A lambda cannot capture a structured binding before C++20's clang 16.
        const auto wanted = runtime;
        auto owner = std::find_if(sources.begin(), sources.end(),
                                  [&](const OmpSource& s) { return s.runtime == wanted; });
        if (owner != sources.end()) {
            owner->places.push_back(shown);
        } else {
            sources.push_back({runtime,
                               shown + ", which no package record names",
                               shown,
                               {},
                               runtime == OmpRuntime::gomp});
        }
    }
    for (const auto& library : bundled) {
        const auto runtime = omp_runtime_of_file(library.file);
        if (!runtime)
            continue;
        const std::string owner = library.owner ? describe(*library.owner) : library.dir;
        auto same = std::find_if(sources.begin(), sources.end(), [&](const OmpSource& s) {
            return s.runtime == *runtime && s.owner == owner;
        });
        if (same == sources.end()) {
            sources.push_back(
                {*runtime, owner, library.owner ? library.owner->name : library.dir, {}, false});
            same = sources.end() - 1;
        }
        same->places.push_back(library.where);
    }
    return sources;
}

// Returns whether MKL was told to use GNU OpenMP, by the environment's activation variables
// or the caller's environment.
bool mkl_threading_gnu(const DoctorInput& input) {
    for (const auto* vars : {&input.env_vars.vars, &input.machine.environment}) {
        const auto it = vars->find("MKL_THREADING_LAYER");
        if (it != vars->end() && util::iequals(util::trim(it->second), "gnu"))
            return true;
    }
    return false;
}

// Finds a pair of sources of two runtimes from two owners; toolchain copies never count.
std::optional<std::pair<const OmpSource*, const OmpSource*>> conflicting_pair(
    const std::vector<OmpSource>& sources, OmpRuntime a, OmpRuntime b) {
    for (const auto& x : sources) {
        if (x.runtime != a || x.toolchain)
            continue;
        for (const auto& y : sources) {
            if (y.runtime == b && !y.toolchain && y.owner != x.owner)
                return std::pair{&x, &y};
        }
    }
    return std::nullopt;
}

void check_openmp(const DoctorInput& input, const std::vector<BundledLibrary>& bundled,
                  DoctorReport& report) {
    const auto sources = find_omp_sources(*input.inventory, bundled, report.warnings);
    // libiomp5 and libomp are one code base: the second to load aborts with "OMP: Error #15".
    const auto intel_llvm = conflicting_pair(sources, OmpRuntime::iomp5, OmpRuntime::omp);
    // MKL threaded by libiomp5 refuses a process that already loaded libgomp (a wheel's own
    // copy: pip's torch and scikit-learn bundle one). libomp and libgomp coexist by design
    // (libomp implements the GOMP_ entry points; conda-forge's _openmp_mutex switches them).
    const auto intel_gnu = mkl_threading_gnu(input)
                               ? std::nullopt
                               : conflicting_pair(sources, OmpRuntime::iomp5, OmpRuntime::gomp);
    if (!intel_llvm && !intel_gnu)
        return;
    std::vector<const OmpSource*> involved;
    for (const auto& pair : {intel_llvm, intel_gnu}) {
        if (!pair)
            continue;
        const OmpRuntime a = pair->first->runtime;
        const OmpRuntime b = pair->second->runtime;
        for (const auto& s : sources) {
            if ((s.runtime == a || s.runtime == b) && !s.toolchain &&
                std::find(involved.begin(), involved.end(), &s) == involved.end())
                involved.push_back(&s);
        }
    }
    std::stable_sort(involved.begin(), involved.end(), [](const OmpSource* x, const OmpSource* y) {
        return static_cast<int>(x->runtime) < static_cast<int>(y->runtime);
    });
    DoctorFinding finding;
    finding.rule = "mixed_openmp_runtimes";
    finding.severity = Severity::warning;
    std::vector<std::string> named;
    for (const auto* s : involved) {
        named.push_back(fmt::format("{} ({})", library_name(s->runtime), s->short_owner));
        finding.evidence.push_back(fmt::format("{}: {}{}{}", library_name(s->runtime), s->owner,
                                               s->places.empty() ? "" : "; ",
                                               join(s->places, ", ")));
    }
    finding.title = "conflicting OpenMP runtimes can load into one process: " + join_and(named);
    std::vector<std::string> fixes;
    if (intel_llvm) {
        fixes.push_back(
            "libiomp5 and libomp abort with \"OMP: Error #15\" when both load: use one channel's "
            "OpenMP (on conda-forge `conda install -c conda-forge mkl \"_openmp_mutex=*=*_llvm\"`, "
            "whose MKL uses llvm-openmp, then drop intel-openmp), or `pip uninstall intel-openmp` "
            "when pip brought it; KMP_DUPLICATE_LIB_OK=TRUE only hides the crash");
    }
    if (intel_gnu) {
        fixes.push_back(fmt::format(
            "MKL with libiomp5 fails once libgomp (from {}) is loaded (\"MKL_THREADING_LAYER=INTEL "
            "is incompatible with libgomp\"): `conda env config vars set MKL_THREADING_LAYER=GNU`, "
            "or use a BLAS without MKL (`conda install nomkl` on defaults, "
            "`conda install \"libblas=*=*openblas\"` on conda-forge)",
            intel_gnu->second->short_owner));
    }
    finding.fix = join(fixes, "; ");
    report.findings.push_back(std::move(finding));
}

// Holds one BLAS library found: a conda package or an OpenBLAS a wheel bundles.
struct BlasSource {
    std::string text;                    // evidence line
    const Package* pip_owner = nullptr;  // the wheel bundling it, to reinstall from conda
};

void check_blas(const DoctorInput& input, const std::vector<BundledLibrary>& bundled,
                DoctorReport& report) {
    const auto& prefix = input.inventory->prefix.path;
    std::vector<BlasSource> mkl;
    std::vector<BlasSource> other;
    for (const auto& p : input.inventory->packages) {
        const bool libblas = p.kind == PackageKind::conda && p.name == "libblas";
        if (p.key == "mkl" || (libblas && p.build.find("mkl") != std::string::npos)) {
            mkl.push_back({"MKL: " + describe_at(p, prefix)});
        } else if (p.kind == PackageKind::conda &&
                   (p.name == "openblas" || p.name == "libopenblas" || p.name == "blis" ||
                    (libblas && (p.build.find("openblas") != std::string::npos ||
                                 p.build.find("blis") != std::string::npos)))) {
            other.push_back({"other BLAS: " + describe_at(p, prefix)});
        }
    }
    if (mkl.empty())
        return;
    std::map<std::string, BlasSource> wheels;  // one line per bundling directory
    for (const auto& library : bundled) {
        if (library.file.find("openblas") == std::string::npos)
            continue;
        auto& source = wheels[library.dir];
        if (source.text.empty()) {
            source.text =
                fmt::format("OpenBLAS bundled by {}: {}",
                            library.owner ? describe(*library.owner) : library.dir, library.where);
            if (library.owner && library.owner->kind == PackageKind::pypi)
                source.pip_owner = library.owner;
        } else {
            source.text += ", " + library.where;
        }
    }
    for (auto& [dir, source] : wheels)
        other.push_back(std::move(source));
    if (other.empty())
        return;
    DoctorFinding finding;
    finding.rule = "mkl_with_other_blas";
    finding.severity = Severity::warning;
    finding.title = "MKL and a second BLAS are installed in one environment";
    std::vector<std::string> pip_names;
    for (const auto* side : {&mkl, &other}) {
        for (const auto& s : *side) {
            finding.evidence.push_back(s.text);
            if (s.pip_owner)
                pip_names.push_back(s.pip_owner->name);
        }
    }
    const bool conda_other = pip_names.size() < other.size();
    std::vector<std::string> fixes;
    if (!pip_names.empty()) {
        fixes.push_back(
            fmt::format("`pip uninstall -y {0}` then `conda install {0}` so they use conda's BLAS",
                        join(pip_names, " ")));
    }
    if (conda_other) {
        fixes.push_back(
            "use one BLAS: on conda-forge pick it with `conda install \"libblas=*=*mkl\"` (or "
            "`\"libblas=*=*openblas\"` and remove mkl), on defaults `conda install nomkl` removes "
            "MKL");
    }
    finding.fix = join(fixes, "; ");
    report.findings.push_back(std::move(finding));
}

}  // namespace

void check_openmp_and_blas(const DoctorInput& input, DoctorReport& report) {
    const auto bundled = list_bundled_libraries(*input.inventory, report.warnings);
    check_openmp(input, bundled, report);
    check_blas(input, bundled, report);
}

}  // namespace gpuenv::core::doctor
