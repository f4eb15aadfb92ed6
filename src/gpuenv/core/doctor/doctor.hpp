#pragma once

// `gpuenv doctor`: why an environment is slow or broken on this machine. The facts are read
// first (the inventory, torch's version.py, NVML's snapshot, /proc and /sys, /dev/shm, leases,
// zombies, kernelspecs, and with --probe one run of the environment's Python); then each rule
// is a function of those facts that appends findings. Only probe.cpp executes anything.
// docs/doctor.md lists every rule with its id, severity and evidence.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/env/env_vars.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/gpu/gpu_report.hpp>
#include <gpuenv/core/gpu/lease_dir.hpp>
#include <gpuenv/core/gpu/nvml.hpp>
#include <gpuenv/core/gpu/zombies.hpp>
#include <gpuenv/core/verify/finding.hpp>
#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::doctor {

/// Says how bad a finding is; warning and error make `doctor` and `check` exit 1.
enum class Severity {
    info,     ///< advice that fits this machine; nothing is wrong
    warning,  ///< slower than it should be, or likely to break
    error,    ///< broken: the GPU cannot be used, or a crash is certain
};

/// Returns "info", "warning" or "error".
[[nodiscard]] std::string_view severity_name(Severity severity);

/// Holds one finding: what is wrong, the facts that show it, and the fix.
struct DoctorFinding {
    std::string rule;  ///< the rule's id, as in --json and docs/doctor.md ("cpu_only_torch")
    Severity severity = Severity::warning;
    std::string title;                  ///< one line saying what is wrong
    std::vector<std::string> evidence;  ///< what was read and where, one fact per line
    std::string fix;                    ///< what to do: a command or a sentence
    /// The conclusion rests on published tables (support ranges, arch lists), not on reading
    /// the build itself; the title or evidence says so.
    bool inferred = false;
};

/// Holds findings in the order the rules made them.
using DoctorFindings = std::vector<DoctorFinding>;

/// Describes the installed PyTorch build as its torch/version.py says.
struct TorchBuild {
    std::string package;                 ///< "torch" (pip) or "pytorch" (conda)
    std::string installer;               ///< "conda", "pip", "uv", ...
    std::string version;                 ///< __version__: "2.7.1+cu126"
    std::optional<std::string> cuda;     ///< `cuda`: "12.6"; empty for a CPU (or ROCm) build
    std::optional<std::string> hip;      ///< `hip`: set for a ROCm build
    std::filesystem::path version_file;  ///< absolute path of the torch/version.py read
};

/// Describes one CUDA device as the probe saw it.
struct ProbeDevice {
    std::string name;
    int cc_major = 0;
    int cc_minor = 0;
    std::string error;  ///< what get_device_name or get_device_capability raised, if either did
};

/// Holds what one run of the environment's own Python said about torch (--probe).
struct ProbeResult {
    std::string python;  ///< the interpreter run (absolute)
    bool ran = false;    ///< the interpreter ran and printed its report
    std::string error;   ///< why not (no python, timeout, bad output); "" when ran
    std::string python_version;
    bool torch_imported = false;
    std::string torch_error;  ///< the exception `import torch` raised, when it did
    std::string torch_version;
    std::optional<std::string> cuda;     ///< torch.version.cuda
    std::optional<bool> cuda_available;  ///< torch.cuda.is_available()
    int device_count = 0;
    std::optional<int> cudnn_version;    ///< torch.backends.cudnn.version(): 90100
    std::vector<std::string> arch_list;  ///< torch.cuda.get_arch_list(): "sm_80", "compute_90"
    std::vector<ProbeDevice> devices;
    /// The torch calls that raised, by the report's key ("cuda_available", "device_count",
    /// ...): "RuntimeError: ..."; the key's own field is then unset.
    std::map<std::string, std::string> call_errors;
};

/// Holds the CPUs this process may run on (its affinity, so a container's or a Slurm job's
/// limit) and how many distinct physical cores they are.
struct CpuFacts {
    unsigned logical = 0;
    unsigned physical = 0;
};

/// Holds the size of the shared-memory mount DataLoader workers use.
struct ShmFacts {
    std::filesystem::path path;               ///< /dev/shm, or --shm-path
    std::optional<std::uint64_t> size_bytes;  ///< total size; empty when it could not be read
    std::string error;                        ///< why not
};

/// Holds what was read about this machine.
struct MachineFacts {
    std::optional<gpu::NvmlSnapshot> nvml;             ///< empty when NVML could not be used
    std::optional<gpu::NvmlLoadFailure> nvml_failure;  ///< why, when nvml is empty
    std::optional<gpu::GpuReport> gpus;               ///< the snapshot joined with /proc and leases
    std::vector<gpu::LeaseInfo> leases;               ///< GPUENV_STATE_DIR's leases
    std::optional<std::vector<gpu::Zombie>> zombies;  ///< empty when not scanned (no NVML)
    CpuFacts cpus;
    ShmFacts shm;
    std::map<std::string, std::string> environment;  ///< the caller's environment variables
    std::uint32_t uid = 0;                           ///< the caller's real uid
    std::string user;                                ///< the caller's user name

    /// Returns the number of GPUs NVML lists (0 without NVML).
    [[nodiscard]] std::size_t gpu_count() const;
};

/// Holds everything the rules look at.
struct DoctorInput {
    const env::Inventory* inventory = nullptr;  ///< never null when rules run
    env::EnvVars env_vars;  ///< the environment's activation variables (its GPU binding)
    std::optional<TorchBuild> torch;
    MachineFacts machine;
    std::vector<std::filesystem::path> kernel_dirs;  ///< Jupyter kernels/ directories to search
    std::vector<std::filesystem::path> scan_dirs;    ///< --scan: sources to search
    std::optional<ProbeResult> probe;                ///< set with --probe
    /// verify::check_consistency's findings when the caller already has them (`gpuenv check`
    /// shares them with verify), or null for rule 7 to run it.
    const verify::Findings* consistency = nullptr;
};

/// Holds doctor's result.
struct DoctorReport {
    DoctorFindings findings;
    gpuenv::Diagnostics warnings;  ///< files that could not be read; the rest was checked
};

/// Returns whether any finding is a warning or an error (exit status 1).
[[nodiscard]] bool unhealthy(const DoctorFindings& findings);

/// Parses "12.6", "12.6.3", "12" or "12.6.77" into major.minor; nothing for other text.
[[nodiscard]] std::optional<gpu::CudaVersion> parse_cuda_version(std::string_view text);

/// Formats a CUDA version as "12.6".
[[nodiscard]] std::string format_cuda_version(gpu::CudaVersion version);

/// Runs every rule over `input` and returns the findings, errors first, then warnings, then
/// information, each group in rule order.
[[nodiscard]] DoctorReport run_doctor(const DoctorInput& input);

// ---- facts (I/O) --------------------------------------------------------------------------

/// Reads the torch/version.py of the environment's torch or pytorch package (the first
/// site-packages holding one), or nothing when torch is not installed. An unreadable or
/// unparsable file is a warning.
[[nodiscard]] std::optional<TorchBuild> read_torch_build(const env::Inventory& inventory,
                                                         gpuenv::Diagnostics& warnings);

/// Parses the text of a torch/version.py (`__version__ = '2.7.1+cu126'`,
/// `cuda: Optional[str] = '12.6'` or `cuda = None`, `hip = None`); nothing when it names no
/// __version__.
[[nodiscard]] std::optional<TorchBuild> parse_torch_version_py(std::string_view text);

/// Reads the CPUs this process may use (sched_getaffinity) and their physical cores
/// (/sys/devices/system/cpu/cpuN/topology).
[[nodiscard]] CpuFacts read_cpu_facts();

/// Reads the size of the filesystem at `path` (statvfs).
[[nodiscard]] ShmFacts read_shm_facts(const std::filesystem::path& path);

/// Returns the Jupyter kernels/ directories Jupyter searches, in its order: $JUPYTER_PATH
/// entries, ~/.local/share/jupyter (or $JUPYTER_DATA_DIR), the environment's own
/// share/jupyter, /usr/local/share/jupyter, /usr/share/jupyter; each followed by "kernels".
[[nodiscard]] std::vector<std::filesystem::path> default_kernel_dirs(
    const std::map<std::string, std::string>& environment, const std::filesystem::path& prefix);

/// Runs the environment's Python once with `timeout` (activated as `gpuenv run` would, so
/// its binding applies) and reads what torch says; never throws for a failed run.
[[nodiscard]] ProbeResult run_probe(const env::Prefix& prefix,
                                    const std::map<std::string, std::string>& environment,
                                    std::chrono::milliseconds timeout);

/// Parses the probe script's JSON output; `error` is set when it is not the expected shape.
[[nodiscard]] ProbeResult parse_probe_output(std::string_view output);

// ---- rules: each appends its findings to `report` -----------------------------------------

// doctor.cpp
void check_nvml(const DoctorInput& input, DoctorReport& report);  // driver and library differ

// torch_rules.cpp
void check_cpu_only_torch(const DoctorInput& input, DoctorReport& report);          // 1
void check_cuda_newer_than_driver(const DoctorInput& input, DoctorReport& report);  // 2
void check_compute_capability(const DoctorInput& input, DoctorReport& report);      // 3
void check_mixed_precision(const DoctorInput& input, DoctorReport& report);         // 14
void check_probe(const DoctorInput& input, DoctorReport& report);  // --probe's own findings

// package_rules.cpp
void check_cuda_runtimes(const DoctorInput& input, DoctorReport& report);      // 4
void check_conda_pip_overlap(const DoctorInput& input, DoctorReport& report);  // 6
void check_dependencies(const DoctorInput& input, DoctorReport& report);       // 7
void check_mixed_channels(const DoctorInput& input, DoctorReport& report);     // 13

// openmp_rules.cpp
void check_openmp_and_blas(const DoctorInput& input, DoctorReport& report);  // 5

// machine_rules.cpp
void check_shm(const DoctorInput& input, DoctorReport& report);      // 8
void check_threads(const DoctorInput& input, DoctorReport& report);  // 9

// source_scan.cpp
void check_sources(const DoctorInput& input, DoctorReport& report);  // 11 (--scan)

// binding_rules.cpp
void check_binding(const DoctorInput& input, DoctorReport& report);        // 10
void check_zombie_memory(const DoctorInput& input, DoctorReport& report);  // 15

// kernelspec_rules.cpp (also default_kernel_dirs)
void check_kernelspecs(const DoctorInput& input, DoctorReport& report);  // 12

}  // namespace gpuenv::core::doctor
