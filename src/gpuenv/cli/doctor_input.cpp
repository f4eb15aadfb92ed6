#include <gpuenv/cli/doctor_input.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include <gpuenv/cli/lease_view.hpp>
#include <gpuenv/core/gpu/zombies.hpp>
#include <gpuenv/core/run/activation.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/units.hpp>

extern char** environ;

namespace gpuenv::cli {
namespace {

namespace doctor = core::doctor;
namespace gpu = core::gpu;

// doctor does not sample GPU load over a window, so the zombie rules that need one (idle)
// are left to `gpuenv zombies`; the two NVML reads here are back to back.
constexpr std::chrono::milliseconds k_zombie_window{0};
constexpr int k_zombie_samples = 2;

void read_gpus(doctor::MachineFacts& machine) {
    const char* library = std::getenv("GPUENV_NVML_LIBRARY");
    gpu::NvmlLoadFailure failure;
    auto nvml = gpu::Nvml::load(library != nullptr ? library : "", failure);
    if (!nvml) {
        machine.nvml_failure = failure;
        return;
    }
    gpu::ZombieScan scan = gpu::scan_zombie_evidence(*nvml, k_zombie_window, k_zombie_samples);
    machine.nvml = std::move(scan.snapshot);
    machine.gpus =
        gpu::build_gpu_report(*machine.nvml, gpu::read_process_info, report_leases(machine.leases));
    gpu::ZombieThresholds thresholds;
    std::vector<gpu::Zombie> zombies = gpu::find_zombies(
        scan.report, scan.evidence, lease_users(machine.leases), thresholds, gpu::current_caller());
    std::erase_if(zombies, [](const gpu::Zombie& z) {
        return z.kind == gpu::ZombieKind::idle || !gpu::is_finding(z);
    });
    machine.zombies = std::move(zombies);
}

std::chrono::milliseconds probe_timeout(const std::string& text) {
    const auto value = util::parse_duration(text);
    if (!value || value->count() <= 0)
        throw Error(ExitCode::usage,
                    "invalid --probe-timeout '" + text + "': expected a duration like 30s or 2m");
    return *value;
}

// The environment the probe's Python runs in: the caller's, activated as `gpuenv run` would
// (so the environment's binding applies); activate.d scripts are not sourced.
std::map<std::string, std::string> probe_environment(const core::env::Prefix& prefix,
                                                     gpuenv::Diagnostics& warnings) {
    namespace run = core::run;
    const run::ActivationFiles files = run::read_activation_files(prefix);
    const run::Environment current = run::environment_from_envp(environ);
    const run::Activation activation = run::compute_activation({prefix, ""}, files, current);
    warnings.insert(warnings.end(), activation.warnings.begin(), activation.warnings.end());
    std::map<std::string, std::string> out;
    for (const std::string& entry : run::build_environment(activation, current)) {
        const auto eq = entry.find('=');
        if (eq != std::string::npos)
            out.emplace(entry.substr(0, eq), entry.substr(eq + 1));
    }
    return out;
}

}  // namespace

void add_doctor_options(CLI::App& command, DoctorOptions& options) {
    command.add_flag("--probe", options.probe,
                     "also run the environment's Python once to ask torch what it sees");
    command
        .add_option("--probe-timeout", options.probe_timeout,
                    "how long the probe may take (default 60s)")
        ->type_name("DURATION");
    command
        .add_option("--scan", options.scan,
                    "search .py and .ipynb files under DIR for CUDA_VISIBLE_DEVICES set after "
                    "importing torch (repeatable)")
        ->type_name("DIR")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    command
        .add_option("--shm-path", options.shm_path,
                    "the shared-memory mount DataLoader workers use (default /dev/shm)")
        ->type_name("PATH");
}

doctor::DoctorInput gather_doctor_input(const core::env::Inventory& inventory,
                                        const DoctorOptions& options,
                                        gpuenv::Diagnostics& warnings) {
    // Options first: a bad value stops before anything is read or run.
    const auto timeout =
        options.probe ? probe_timeout(options.probe_timeout) : std::chrono::milliseconds{0};
    for (const std::string& dir : options.scan) {
        std::error_code ec;
        if (!std::filesystem::is_directory(dir, ec))
            throw Error(ExitCode::usage, "--scan " + dir + ": not a directory");
    }

    doctor::DoctorInput input;
    input.inventory = &inventory;
    const core::env::Prefix& prefix = inventory.prefix;
    input.env_vars = core::env::read_env_vars(prefix.path);
    warnings.insert(warnings.end(), input.env_vars.warnings.begin(), input.env_vars.warnings.end());
    input.torch = doctor::read_torch_build(inventory, warnings);

    doctor::MachineFacts& machine = input.machine;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        const auto eq = text.find('=');
        if (eq != std::string_view::npos)
            machine.environment.emplace(text.substr(0, eq), text.substr(eq + 1));
    }
    machine.uid = static_cast<std::uint32_t>(::getuid());
    machine.user = gpu::user_name(machine.uid);
    machine.leases = read_current_leases(warnings);
    read_gpus(machine);
    machine.cpus = doctor::read_cpu_facts();
    machine.shm = doctor::read_shm_facts(options.shm_path);

    input.kernel_dirs = doctor::default_kernel_dirs(machine.environment, prefix.path);
    for (const std::string& dir : options.scan)
        input.scan_dirs.emplace_back(dir);
    if (options.probe)
        input.probe = doctor::run_probe(prefix, probe_environment(prefix, warnings), timeout);
    return input;
}

}  // namespace gpuenv::cli
