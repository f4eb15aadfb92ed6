// The PyTorch build against this machine: torch/version.py (read without importing torch),
// NVML's driver and GPUs, and with --probe what the environment's own Python said.
// Rules 1, 2, 3 and 14 of docs/doctor.md, and --probe's own findings. Reading the build and
// writing the commands that install another one live in torch_build.cpp.

#include <gpuenv/core/doctor/cuda_tables.hpp>
#include <gpuenv/core/doctor/doctor.hpp>
#include <gpuenv/core/doctor/torch_build.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/core.h>

namespace gpuenv::core::doctor {

namespace {

namespace fs = std::filesystem;
using detail::compat_note;
using detail::DriverFacts;
using detail::find_torch_package;
using detail::install_command;
using detail::Installer;
using detail::installer_of;
using detail::read_driver;
using detail::wheel_cuda_for;
using gpu::ComputeCapability;
using gpu::CudaVersion;

// ---- shared facts -------------------------------------------------------------------------

std::string prefix_relative(const fs::path& path, const DoctorInput& input) {
    const fs::path rel = path.lexically_relative(input.inventory->prefix.path);
    if (rel.empty() || *rel.begin() == "..")
        return path.string();
    return rel.generic_string();
}

// Formats GPU indices compactly: "0-3, 6".
std::string format_indices(const std::vector<unsigned>& indices) {
    std::string out;
    for (std::size_t i = 0; i < indices.size();) {
        std::size_t j = i;
        while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1)
            ++j;
        if (!out.empty())
            out += ", ";
        out += j > i + 1 ? fmt::format("{}-{}", indices[i], indices[j])
               : j == i  ? std::to_string(indices[i])
                         : fmt::format("{}, {}", indices[i], indices[j]);
        i = j + 1;
    }
    return out;
}

// Holds the GPUs of one model: same name and compute capability.
struct GpuGroup {
    std::string name;
    std::optional<ComputeCapability> cc;
    std::vector<unsigned> indices;

    [[nodiscard]] std::string label() const {
        return fmt::format("GPU {} ({})", format_indices(indices), name);
    }
};

std::vector<GpuGroup> group_gpus(const gpu::NvmlSnapshot& snapshot) {
    std::vector<GpuGroup> groups;
    for (const gpu::GpuInfo& info : snapshot.gpus) {
        const std::string name = info.name.value.value_or("unnamed GPU");
        const auto cc = info.compute_capability.value;
        auto same = std::find_if(groups.begin(), groups.end(), [&](const GpuGroup& g) {
            return g.name == name && g.cc.has_value() == cc.has_value() &&
                   (!cc || rank(*g.cc) == rank(*cc));
        });
        if (same == groups.end())
            groups.push_back({name, cc, {info.index}});
        else
            same->indices.push_back(info.index);
    }
    return groups;
}

std::string describe_gpus(const gpu::NvmlSnapshot& snapshot) {
    std::string out = fmt::format("NVML lists {} GPU{}:", snapshot.gpus.size(),
                                  snapshot.gpus.size() == 1 ? "" : "s");
    const char* separator = " ";
    for (const GpuGroup& group : group_gpus(snapshot)) {
        out += fmt::format("{}{} (GPU {})", separator, group.name, format_indices(group.indices));
        separator = ", ";
    }
    return out;
}

// ---- rule 2: CUDA newer than the driver ---------------------------------------------------

struct CudaSource {
    std::string what;   ///< "torch 2.7.1+cu126", "conda package cuda-version 12.6"
    std::string where;  ///< the file or record it was read from
    CudaVersion cuda;
    DriverFit fit = DriverFit::supported;
};

std::vector<CudaSource> cuda_sources(const DoctorInput& input) {
    std::vector<CudaSource> sources;
    if (input.torch && input.torch->cuda) {
        if (const auto cuda = parse_cuda_version(*input.torch->cuda))
            sources.push_back({fmt::format("torch {}", input.torch->version),
                               prefix_relative(input.torch->version_file, input), *cuda});
    }
    static constexpr std::string_view k_conda[] = {"cuda-version", "cudatoolkit", "pytorch-cuda",
                                                   "cuda-runtime", "cuda-cudart"};
    static constexpr std::string_view k_pypi[] = {
        "nvidia-cuda-runtime-cu11", "nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime"};
    for (const env::Package& package : input.inventory->packages) {
        const bool conda = package.kind == env::PackageKind::conda;
        const std::string_view* first = conda ? std::begin(k_conda) : std::begin(k_pypi);
        const std::string_view* last = conda ? std::end(k_conda) : std::end(k_pypi);
        if (std::find(first, last, package.key) == last)
            continue;
        const auto cuda = parse_cuda_version(package.version);
        if (!cuda)
            continue;
        const std::string where =
            conda ? (package.record ? prefix_relative(package.record->record_path, input) : "")
                  : (package.dist ? prefix_relative(package.dist->metadata_path, input) : "");
        sources.push_back({fmt::format("{} package {} {}", conda ? "conda" : package.installer,
                                       package.name, package.version),
                           where, *cuda});
    }
    return sources;
}

std::string join_whats(const std::vector<const CudaSource*>& sources) {
    std::string out;
    for (const CudaSource* source : sources)
        out += (out.empty() ? "" : ", ") + source->what;
    return out;
}

// States the driver CUDA `cuda` needs, and whether minor-version compatibility covers it.
std::string compat_evidence(CudaVersion cuda, DriverFit fit, const std::string& driver_name) {
    const auto compat = minor_compat_min_driver(cuda.major);
    if (fit == DriverFit::minor_compat)
        return fmt::format(
            "CUDA {} minor-version compatibility needs driver {} or newer: met; "
            "PTX JIT and features that need a newer driver may fail",
            cuda.major, compat.value_or("?"));
    const auto full = min_driver_for_cuda(cuda);
    if (!compat)
        return fmt::format("CUDA {} needs driver {} or newer", format_cuda_version(cuda),
                           full.value_or("?"));
    return fmt::format(
        "CUDA {} needs driver {} or newer; through CUDA {} minor-version "
        "compatibility {} or newer; driver {} meets neither",
        format_cuda_version(cuda), full.value_or("?"), cuda.major,
        min_driver_to_run(cuda).value_or("?"), driver_name);
}

// Returns the fix for a build the driver runs badly or not at all: a newer driver, or a build
// for the CUDA the driver has.
std::string driver_fix(const DoctorInput& input, const DriverFacts& driver, CudaVersion highest,
                       DriverFit worst) {
    std::string fix;
    const auto full = min_driver_for_cuda(highest);
    if (worst == DriverFit::too_old) {
        const auto any = min_driver_to_run(highest);
        fix = fmt::format("upgrade the NVIDIA driver to {} or newer", full ? *full : *any);
        if (any && full && *any != *full)
            fix += fmt::format(" ({} at least, through minor-version compatibility)", *any);
    } else {
        fix = full ? fmt::format(
                         "upgrade the NVIDIA driver to {} or newer for full CUDA {} "
                         "support",
                         *full, format_cuda_version(highest))
                   : fmt::format("upgrade the NVIDIA driver to one that supports CUDA {}",
                                 format_cuda_version(highest));
    }
    if (input.torch && input.torch->cuda) {
        const Installer installer = installer_of(*input.torch, *input.inventory);
        const auto cuda = installer == Installer::conda_forge ? std::optional(driver.max_cuda)
                                                              : wheel_cuda_for(driver);
        if (cuda && installer == Installer::conda_forge)
            fix += fmt::format(", or install a build for CUDA {}: {}", format_cuda_version(*cuda),
                               install_command(installer, *cuda, input));
        else if (cuda)
            fix +=
                fmt::format(", or install a build for CUDA {}{}: {}", format_cuda_version(*cuda),
                            compat_note(*cuda, driver), install_command(installer, *cuda, input));
    } else {
        fix += fmt::format(
            ", or pin the CUDA packages to what the driver supports: conda install "
            "\"cuda-version<={}\"",
            format_cuda_version(driver.max_cuda));
    }
    return fix;
}

// ---- rule 3: compute capability -----------------------------------------------------------

// Returns whether a torch version reads like one of PyTorch's releases: "2.7.1" or
// "2.7.1+cu126", not a pre-release, a source build or a vendor's build.
bool is_release_version(std::string_view version) {
    const auto plus = version.find('+');
    const std::string_view local =
        plus == std::string_view::npos ? std::string_view{} : version.substr(plus + 1);
    const std::string_view release = version.substr(0, plus);
    const bool digits_and_dots =
        !release.empty() && std::all_of(release.begin(), release.end(),
                                        [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    return digits_and_dots && (local.empty() || local.rfind("cu", 0) == 0);
}

// Holds the arch list rule 3 judges a build by.
struct BuildArches {
    ArchList arches;
    bool read = false;  ///< from the probe (torch.cuda.get_arch_list())
    std::string basis;  ///< where it comes from, for the evidence
};

std::optional<BuildArches> build_arches(const DoctorInput& input) {
    if (input.probe && input.probe->torch_imported && !input.probe->arch_list.empty()) {
        BuildArches read{parse_arch_list(input.probe->arch_list), true,
                         "torch.cuda.get_arch_list() (--probe)"};
        if (!read.arches.empty())
            return read;
    }
    if (!input.torch || !input.torch->cuda || input.torch->hip)
        return std::nullopt;
    const auto cuda = parse_cuda_version(*input.torch->cuda);
    if (!cuda)
        return std::nullopt;
    // PyTorch's own builds (wheels, the pytorch channel) carry the published lists; other
    // builds (conda-forge, NGC's "2.4.0a0+...nv24.07", source builds) are judged by what their
    // toolkit targets, with PTX for its newest architecture.
    const bool wheel =
        is_release_version(input.torch->version) &&
        (input.torch->installer != "conda" ||
         installer_of(*input.torch, *input.inventory) == Installer::conda_pytorch_channel);
    TorchArchList list =
        wheel ? pytorch_wheel_arch_list(input.torch->version, *cuda) : toolkit_arch_list(*cuda);
    if (list.arches.empty())
        return std::nullopt;
    return BuildArches{std::move(list.arches), false,
                       (list.published ? "" : "derived: ") + list.basis};
}

// Says which end of the list a GPU misses.
std::string mismatch_reason(const ArchList& arches, ComputeCapability cc) {
    const auto oldest = std::min_element(arches.begin(), arches.end(),
                                         [](auto& a, auto& b) { return rank(a.cc) < rank(b.cc); });
    if (rank(cc) < rank(oldest->cc))
        return fmt::format(
            "compute capability {} is older than the oldest code in the build "
            "({})",
            format_cc(cc), format_arch_list({*oldest}));
    return fmt::format(
        "no cubin sm_{0}x at or below sm_{0}{1} and no PTX at or below "
        "compute_{0}{1} to JIT-compile",
        cc.major, cc.minor);
}

// Returns the fix for a GPU the build has no code for: the build that covers it.
std::string arch_fix(const DoctorInput& input, ComputeCapability cc,
                     const std::optional<DriverFacts>& driver) {
    const Installer installer =
        input.torch ? installer_of(*input.torch, *input.inventory) : Installer::pip;
    if (installer == Installer::conda_forge) {
        // conda-forge builds carry every architecture their toolkit targets; only the toolkit's
        // minimum limits them, so the newest CUDA that still targets this GPU is the one.
        std::optional<CudaVersion> best;
        for (const CudaVersion c : pytorch_wheel_cudas())
            if (const auto low = min_cc_for_cuda(c); low && rank(*low) <= rank(cc))
                best = c;
        if (best)
            return install_command(installer, *best, input);
        return fmt::format(
            "no CUDA release targets compute capability {} any more: use an "
            "older PyTorch release",
            format_cc(cc));
    }
    std::optional<CudaVersion> supported;
    std::optional<CudaVersion> compat;
    std::optional<CudaVersion> lowest;
    for (const CudaVersion c : pytorch_wheel_cudas()) {
        if (!arch_list_runs_on(pytorch_wheel_arch_list("", c).arches, cc))
            continue;
        if (!lowest)
            lowest = c;
        const DriverFit fit =
            driver ? driver_fit(c, driver->max_cuda, driver->version) : DriverFit::supported;
        if (fit == DriverFit::supported)
            supported = c;
        else if (fit == DriverFit::minor_compat)
            compat = c;
    }
    if (const auto pick = supported ? supported : compat)
        return install_command(installer, *pick, input) + compat_note(*pick, driver);
    if (lowest) {
        const auto needed = min_driver_to_run(*lowest);
        return fmt::format("upgrade the NVIDIA driver{}, then install a CUDA {} build: {}",
                           needed ? fmt::format(" to {} or newer", *needed) : "",
                           format_cuda_version(*lowest),
                           install_command(installer, *lowest, input));
    }
    return fmt::format(
        "no PyTorch wheel carries code for compute capability {}: build PyTorch "
        "from source with TORCH_CUDA_ARCH_LIST={} or use an older release",
        format_cc(cc), format_cc(cc));
}

bool torch_in_inventory(const DoctorInput& input) {
    return input.torch || find_torch_package(*input.inventory) != nullptr;
}

// Describes a torch that imports but sees no GPU while NVML lists some.
DoctorFinding cuda_unavailable_finding(const DoctorInput& input, const std::string& python) {
    const ProbeResult& probe = *input.probe;
    DoctorFinding finding;
    finding.rule = "torch_cuda_unavailable";
    finding.severity = Severity::error;
    const auto raised = probe.call_errors.find("cuda_available");
    const std::string answer =
        raised != probe.call_errors.end() ? "raised " + raised->second : std::string("= False");
    finding.title =
        fmt::format("torch {} sees no GPU: torch.cuda.is_available() {}", probe.torch_version,
                    raised != probe.call_errors.end() ? "raised an exception" : "is False");
    finding.evidence.push_back(
        fmt::format("{}: torch.version.cuda = {}, torch.cuda.is_available() {} (--probe)", python,
                    probe.cuda ? "'" + *probe.cuda + "'" : "None", answer));
    for (const auto& [key, text] : probe.call_errors) {
        if (key != "cuda_available")
            finding.evidence.push_back(
                fmt::format("{}: {} raised {} (--probe)", python, key, text));
    }
    finding.evidence.push_back(describe_gpus(*input.machine.nvml));
    if (const auto driver = read_driver(input.machine))
        finding.evidence.push_back(driver->evidence());
    // The probe runs with the environment's variables over the caller's.
    for (const auto* vars : {&input.env_vars.vars, &input.machine.environment}) {
        if (const auto it = vars->find("CUDA_VISIBLE_DEVICES"); it != vars->end()) {
            finding.evidence.push_back(fmt::format("CUDA_VISIBLE_DEVICES={} ({})", it->second,
                                                   vars == &input.env_vars.vars
                                                       ? "the environment's variables"
                                                       : "the caller's environment"));
            break;
        }
    }
    finding.fix = probe.cuda ? fmt::format(
                                   "check that CUDA_VISIBLE_DEVICES names existing GPUs "
                                   "and that the driver supports CUDA {} (see "
                                   "cuda_newer_than_driver); {} -c \"import torch; "
                                   "torch.cuda.init()\" prints CUDA's own error",
                                   *probe.cuda, python)
                             : "the imported torch is a CPU-only build: install a CUDA build";
    return finding;
}

}  // namespace

// ---- rules --------------------------------------------------------------------------------

void check_cpu_only_torch(const DoctorInput& input, DoctorReport& report) {
    if (!input.torch || input.torch->cuda || input.torch->hip || input.machine.gpu_count() == 0)
        return;
    const TorchBuild& torch = *input.torch;
    const gpu::NvmlSnapshot& nvml = *input.machine.nvml;
    DoctorFinding finding;
    finding.rule = "cpu_only_torch";
    finding.severity = Severity::error;
    // An Intel XPU build ("+xpu") has no CUDA either, but is not CPU-only.
    const bool xpu = torch.version.find("+xpu") != std::string::npos;
    finding.title = fmt::format("torch {} is {} build on a machine with {} NVIDIA GPU{}",
                                torch.version, xpu ? "an Intel XPU (not CUDA)" : "a CPU-only",
                                nvml.gpus.size(), nvml.gpus.size() == 1 ? "" : "s");
    finding.evidence.push_back(fmt::format("{}: __version__ = '{}', cuda = None ({} {})",
                                           prefix_relative(torch.version_file, input),
                                           torch.version, torch.installer, torch.package));
    finding.evidence.push_back(describe_gpus(nvml));
    const auto driver = read_driver(input.machine);
    if (driver)
        finding.evidence.push_back(driver->evidence());
    const Installer installer = installer_of(torch, *input.inventory);
    if (installer == Installer::conda_forge) {
        finding.fix = driver ? install_command(installer, driver->max_cuda, input)
                             : "conda install -c conda-forge pytorch-gpu";
    } else if (const auto cuda = driver ? wheel_cuda_for(*driver) : std::nullopt) {
        finding.fix = install_command(installer, *cuda, input) + compat_note(*cuda, driver);
    } else {
        finding.fix = fmt::format(
            "install a CUDA build of torch: {} (cuXYZ: at most the CUDA version nvidia-smi shows)",
            install_command(installer, {12, 6}, input));
    }
    report.findings.push_back(std::move(finding));
}

void check_cuda_newer_than_driver(const DoctorInput& input, DoctorReport& report) {
    const auto driver = read_driver(input.machine);
    if (!driver)
        return;
    std::vector<CudaSource> sources = cuda_sources(input);
    std::vector<const CudaSource*> worst;
    DriverFit worst_fit = DriverFit::supported;
    for (CudaSource& source : sources) {
        source.fit = driver_fit(source.cuda, driver->max_cuda, driver->version);
        if (source.fit == DriverFit::supported)
            continue;
        if (static_cast<int>(source.fit) > static_cast<int>(worst_fit)) {
            worst_fit = source.fit;
            worst.clear();
        }
        if (source.fit == worst_fit)
            worst.push_back(&source);
    }
    if (worst.empty())
        return;
    const CudaSource* highest = *std::max_element(
        worst.begin(), worst.end(), [](auto* a, auto* b) { return rank(a->cuda) < rank(b->cuda); });
    const std::string cuda = format_cuda_version(highest->cuda);
    const std::string driver_name = driver->version.empty() ? "the driver" : driver->version;

    DoctorFinding finding;
    finding.rule = "cuda_newer_than_driver";
    finding.inferred = driver->inferred;
    if (worst_fit == DriverFit::too_old) {
        finding.severity = Severity::error;
        const auto needed = min_driver_to_run(highest->cuda);
        finding.title = fmt::format(
            "CUDA {} ({}) cannot run on driver {} (CUDA {}): it needs driver {} or newer", cuda,
            join_whats(worst), driver_name, format_cuda_version(driver->max_cuda),
            needed.value_or("?"));
    } else {
        finding.severity = Severity::warning;
        finding.title = fmt::format(
            "CUDA {} ({}) is newer than driver {} (CUDA {}) and runs only through minor-version "
            "compatibility",
            cuda, join_whats(worst), driver_name, format_cuda_version(driver->max_cuda));
    }
    for (const CudaSource& source : sources) {
        if (source.fit == DriverFit::supported)
            continue;
        finding.evidence.push_back(
            fmt::format("{}: CUDA {}{}", source.what, format_cuda_version(source.cuda),
                        source.where.empty() ? "" : " (" + source.where + ")"));
    }
    finding.evidence.push_back(driver->evidence());
    finding.evidence.push_back(compat_evidence(highest->cuda, worst_fit, driver_name));
    finding.fix = driver_fix(input, *driver, highest->cuda, worst_fit);
    report.findings.push_back(std::move(finding));
}

void check_compute_capability(const DoctorInput& input, DoctorReport& report) {
    if (input.machine.gpu_count() == 0)
        return;
    const auto arches = build_arches(input);
    if (!arches)
        return;
    const auto driver = read_driver(input.machine);
    for (const GpuGroup& group : group_gpus(*input.machine.nvml)) {
        if (!group.cc || arch_list_runs_on(arches->arches, *group.cc))
            continue;
        const std::string build =
            input.torch ? "torch " + input.torch->version : "the imported torch";
        DoctorFinding finding;
        finding.rule = "compute_capability";
        finding.severity = Severity::error;
        finding.inferred = !arches->read;
        finding.title = fmt::format("{} has no GPU code for {} (compute capability {}){}", build,
                                    group.name, format_cc(*group.cc),
                                    arches->read ? "" : " (inferred from its CUDA version)");
        finding.evidence.push_back(
            fmt::format("{}: compute capability {} (NVML)", group.label(), format_cc(*group.cc)));
        if (input.torch && input.torch->cuda)
            finding.evidence.push_back(
                fmt::format("torch {}: CUDA {} ({})", input.torch->version, *input.torch->cuda,
                            prefix_relative(input.torch->version_file, input)));
        finding.evidence.push_back(fmt::format("{}arch list, {}: {}",
                                               arches->read ? "" : "inferred ", arches->basis,
                                               format_arch_list(arches->arches)));
        finding.evidence.push_back(mismatch_reason(arches->arches, *group.cc));
        if (!arches->read)
            finding.evidence.push_back("run `gpuenv doctor --probe` to read the build's arch list");
        finding.fix = arch_fix(input, *group.cc, driver);
        report.findings.push_back(std::move(finding));
    }
}

void check_mixed_precision(const DoctorInput& input, DoctorReport& report) {
    if (!input.torch || input.machine.gpu_count() == 0)
        return;
    for (const GpuGroup& group : group_gpus(*input.machine.nvml)) {
        if (!group.cc)
            continue;
        const ComputeCapability cc = *group.cc;
        DoctorFinding finding;
        finding.rule = "mixed_precision";
        finding.severity = Severity::info;
        finding.evidence.push_back(
            fmt::format("{}: compute capability {} (NVML)", group.label(), format_cc(cc)));
        if (cc.major >= 8) {
            finding.title =
                fmt::format("{} has bf16 and fp16 Tensor Cores: train in bf16", group.name);
            finding.evidence.push_back(
                "compute capability 8.0 or newer: bf16, fp16 and TF32 Tensor Cores");
            finding.fix =
                "wrap the forward pass in torch.autocast(device_type=\"cuda\", "
                "dtype=torch.bfloat16) (no GradScaler needed), and let fp32 matmuls use TF32: "
                "torch.set_float32_matmul_precision(\"high\") (or "
                "torch.backends.cuda.matmul.allow_tf32 = True)";
        } else if (cc.major == 7) {
            finding.title = fmt::format(
                "{} has fp16 Tensor Cores but no bf16: use fp16 autocast with a GradScaler",
                group.name);
            finding.evidence.push_back(
                "compute capability 7.x: fp16 Tensor Cores; bf16 and TF32 need 8.0");
            finding.fix =
                "wrap the forward pass in torch.autocast(device_type=\"cuda\", "
                "dtype=torch.float16) and scale the loss with "
                "torch.amp.GradScaler(\"cuda\"); avoid bf16 here";
        } else {
            finding.title = fmt::format(
                "{} has no Tensor Cores: mixed precision gives little speed-up", group.name);
            finding.evidence.push_back("compute capability below 7.0: no Tensor Cores");
            finding.fix =
                "train in fp32; fp16 autocast with a GradScaler still halves activation memory "
                "if memory is the limit";
        }
        report.findings.push_back(std::move(finding));
    }
}

void check_probe(const DoctorInput& input, DoctorReport& report) {
    if (!input.probe)
        return;
    const ProbeResult& probe = *input.probe;
    const std::string python = probe.python.empty() ? "the environment's python" : probe.python;
    if (!probe.ran) {
        report.findings.push_back(
            {"probe_failed",
             Severity::warning,
             "the environment's Python could not be probed; the findings rest on its files",
             {fmt::format("{}: {}", python, probe.error.empty() ? "did not run" : probe.error)},
             fmt::format("run {} -c \"import torch; print(torch.__version__, "
                         "torch.cuda.is_available())\" to see what fails",
                         python),
             false});
        return;
    }
    if (!probe.torch_imported) {
        // Without torch in the environment, failing to import it is expected.
        if (torch_in_inventory(input))
            report.findings.push_back(
                {"torch_import_failed",
                 Severity::error,
                 "torch is installed but `import torch` fails",
                 {fmt::format("{}: import torch: {}", python,
                              probe.torch_error.empty() ? "failed" : probe.torch_error)},
                 fmt::format("run {} -c \"import torch\" to see the full traceback; a missing "
                             "shared library usually means a broken or mixed install: reinstall "
                             "torch",
                             python),
                 false});
        return;
    }
    if (input.torch && !probe.torch_version.empty() && probe.torch_version != input.torch->version)
        report.findings.push_back(
            {"torch_shadowed",
             Severity::warning,
             fmt::format("`import torch` loads torch {}, not the installed {}", probe.torch_version,
                         input.torch->version),
             {fmt::format("{}: __version__ = '{}'",
                          prefix_relative(input.torch->version_file, input), input.torch->version),
              fmt::format("{}: torch.__version__ = '{}' (--probe)", python, probe.torch_version)},
             fmt::format("find the other copy with {} -c \"import torch; print(torch.__file__)\" "
                         "(often ~/.local or PYTHONPATH) and remove it, or set PYTHONNOUSERSITE=1",
                         python),
             false});
    // A CPU-only build that version.py already shows is cpu_only_torch's finding.
    const bool cpu_only_reported =
        !probe.cuda && input.torch && !input.torch->cuda && !input.torch->hip;
    const bool unavailable = (probe.cuda_available && !*probe.cuda_available) ||
                             probe.call_errors.contains("cuda_available");
    if (unavailable && input.machine.gpu_count() > 0 && !cpu_only_reported)
        report.findings.push_back(cuda_unavailable_finding(input, python));
}

}  // namespace gpuenv::core::doctor
