// gpuenv run: run a command inside an environment, activated natively (no shell start-up), on
// free GPUs held under a lease for as long as the command's process tree lives.
//
// GPU choice: --gpus N picks N free devices, --gpu IDS asks for given ones (indices count
// inside the caller's own CUDA_VISIBLE_DEVICES / Slurm / container restriction), --cpu hides
// every GPU. Without any of them an environment bound with `gpuenv bind` gets its bound GPUs
// (leased like --gpu); an unbound one runs as `micromamba run` would, with no lease.
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/env_options.hpp>
#include <gpuenv/cli/nvml_loader.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/env/state_file.hpp>
#include <gpuenv/core/gpu/gpu_selection.hpp>
#include <gpuenv/core/gpu/lease.hpp>
#include <gpuenv/core/gpu/policy.hpp>
#include <gpuenv/core/run/activation.hpp>
#include <gpuenv/core/run/gpu_allocation.hpp>
#include <gpuenv/core/run/launcher.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/units.hpp>

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace gpuenv::cli {
namespace {

namespace gpu = core::gpu;
namespace run = core::run;

volatile std::sig_atomic_t g_interrupted = 0;  // set by SIGINT while waiting for GPUs

void on_interrupt(int /*signal*/) {
    g_interrupted = 1;
}

// Routes SIGINT to a flag while in scope, so that a wait for GPUs ends cleanly.
class InterruptFlag {
  public:
    InterruptFlag() {
        struct sigaction action {};
        action.sa_handler = on_interrupt;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGINT, &action, &m_old);
    }
    ~InterruptFlag() { ::sigaction(SIGINT, &m_old, nullptr); }
    InterruptFlag(const InterruptFlag&) = delete;
    InterruptFlag& operator=(const InterruptFlag&) = delete;

  private:
    struct sigaction m_old {};
};

struct RunRequest {
    core::env::EnvSelection env;
    std::optional<unsigned> gpus;
    std::string gpu_ids;
    bool cpu = false;
    std::string min_free_memory;
    std::optional<std::string> wait;
    bool no_lease = false;
    std::vector<std::string> command;
};

std::optional<std::string> from_environment(std::string_view name) {
    const char* value = std::getenv(std::string(name).c_str());
    return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
}

// Holds the GPUs the job gets: the leases and what the child's environment says about them.
struct GpuGrant {
    std::vector<gpu::Lease> leases;
    std::vector<std::pair<std::string, std::string>> overrides;
    bool interrupted = false;  ///< SIGINT ended a wait for GPUs
};

std::optional<std::chrono::milliseconds> wait_duration(const RunRequest& request) {
    if (!request.wait)
        return std::nullopt;
    if (request.wait->empty() || *request.wait == "0")
        return std::chrono::milliseconds(0);  // wait as long as it takes
    auto duration = util::parse_duration(*request.wait);
    if (!duration || duration->count() <= 0)
        throw Error(ExitCode::usage, "--wait: invalid duration '" + *request.wait +
                                         "' (examples: 30s, 10m, 2h; nothing: no limit)");
    return duration;
}

// Returns the devices an environment's binding names, or nothing when it has no binding or
// binds no GPU (the activation applies "-1" by itself then).
std::optional<std::string> bound_devices(const core::env::Prefix& prefix) {
    if (prefix.kind != core::env::PrefixKind::conda)
        return std::nullopt;
    const auto binding = core::env::read_binding(prefix.path);
    if (!binding)
        return std::nullopt;
    for (const auto& var : binding->vars) {
        if (var.name == "CUDA_VISIBLE_DEVICES" && var.value != "-1")
            return var.value;
    }
    return std::nullopt;
}

run::GpuAsk make_ask(const RunRequest& request, const std::vector<gpu::GpuId>& machine,
                     const std::vector<gpu::VisibleDevice>& pool,
                     const std::optional<std::string>& binding) {
    run::GpuAsk ask;
    if (request.gpus) {
        ask.kind = run::GpuAskKind::count;
        ask.count = *request.gpus;
    } else if (!request.gpu_ids.empty()) {
        ask.kind = run::GpuAskKind::ids;
        ask.ids = gpu::resolve_gpu_list(request.gpu_ids, machine, pool, gpu::IndexBase::pool);
    } else {
        ask.kind = run::GpuAskKind::ids;
        try {
            ask.ids = gpu::resolve_gpu_list(*binding, machine, pool, gpu::IndexBase::pool);
        } catch (const Error& e) {
            throw Error(ExitCode::no_gpu,
                        std::string("the environment's binding cannot be used here: ") + e.what());
        }
    }
    if (!request.min_free_memory.empty()) {
        std::string error;
        auto size = util::parse_size(request.min_free_memory, error);
        if (!size)
            throw Error(ExitCode::usage, "--min-free-memory: " + error);
        ask.min_free_memory = *size;
    }
    ask.wait = wait_duration(request);
    ask.cancelled = [] { return g_interrupted != 0; };
    ask.on_wait = [](const std::string& why) {
        fmt::print(stderr, "gpuenv: waiting for GPUs (Ctrl-C to give up): {}\n", why);
    };
    return ask;
}

GpuGrant grant_gpus(const RunRequest& request, const core::env::Prefix& prefix) {
    GpuGrant grant;
    if (request.cpu) {
        grant.overrides = gpu::child_gpu_environment({});
        return grant;
    }
    std::optional<std::string> binding;
    if (!request.gpus && request.gpu_ids.empty()) {
        binding = bound_devices(prefix);
        if (!binding)
            return grant;  // no GPU request: the child sees what the caller sees
    }
    const gpu::Nvml nvml = load_nvml();
    gpu::NvmlSnapshot snapshot = nvml.snapshot();
    const std::vector<gpu::GpuId> machine = gpu::machine_gpus(snapshot);
    const gpu::VisibilityResult outer = gpu::resolve_outer_restriction(from_environment, machine);
    const gpu::Policy policy = gpu::load_policy(gpu::policy_paths(from_environment));
    print_warnings(policy.warnings);
    const InterruptFlag interrupt;
    run::GpuAsk ask = make_ask(request, machine, outer.devices, binding);

    std::optional<gpu::LeaseDir> dir;
    if (!request.no_lease)
        dir =
            gpu::LeaseDir::open_or_create(gpu::state_dir_from_env(std::getenv("GPUENV_STATE_DIR")));
    run::AllocationContext context;
    context.snapshot = [&nvml] { return nvml.snapshot(); };
    context.first_snapshot = std::move(snapshot);
    context.pool = outer.devices;
    context.policy = &policy;
    context.user = gpu::current_user();
    context.holder = gpu::current_holder(request.command, prefix.path.string());
    if (!dir) {
        // --no-lease: the same choice, nothing held (the caller takes the risk of sharing).
        const auto states = run::device_states(context.first_snapshot, outer.devices,
                                               gpu::rule_for(policy, context.user), {});
        std::vector<gpu::VisibleDevice> devices = ask.ids;
        if (ask.kind == run::GpuAskKind::count) {
            const auto ranking = run::rank_free_devices(states, policy.free, ask.min_free_memory);
            if (ranking.candidates.size() < ask.count)
                throw Error(ExitCode::no_gpu,
                            "not enough free GPUs: asked for " + std::to_string(ask.count) + ", " +
                                std::to_string(ranking.candidates.size()) + " free");
            devices.assign(ranking.candidates.begin(), ranking.candidates.begin() + ask.count);
        }
        grant.overrides = gpu::child_gpu_environment(devices);
        return grant;
    }
    context.leases = &*dir;
    run::AllocationResult result = run::allocate_gpus(ask, context);
    if (result.cancelled) {
        grant.interrupted = true;
        return grant;
    }
    if (!result.failure.empty())
        throw Error(ExitCode::no_gpu, result.failure);
    grant.leases = std::move(result.leases);
    grant.overrides = gpu::child_gpu_environment(result.devices);
    return grant;
}

std::string conda_env_name(const RunRequest& request, const core::env::Prefix& prefix) {
    if (!request.env.name.empty())
        return request.env.name;
    // A conda installation's root is "base" to conda (it has condabin/).
    std::error_code ec;
    if (prefix.kind == core::env::PrefixKind::conda &&
        std::filesystem::is_directory(prefix.path / "condabin", ec))
        return "base";
    return "";
}

std::string path_of(const std::vector<std::string>& envp) {
    for (const std::string& entry : envp) {
        if (entry.starts_with("PATH="))
            return entry.substr(5);
    }
    return "";
}

int run_run(const RunRequest& request) {
    if (request.command.empty())
        throw Error(ExitCode::usage, "no command: gpuenv run [OPTIONS] -- COMMAND [ARGS...]");
    const int choices =
        (request.gpus ? 1 : 0) + (request.gpu_ids.empty() ? 0 : 1) + (request.cpu ? 1 : 0);
    if (choices > 1)
        throw Error(ExitCode::usage, "--gpus, --gpu and --cpu exclude one another");
    if (request.gpus && *request.gpus == 0)
        throw Error(ExitCode::usage, "--gpus: at least 1 (use --cpu for none)");
    const core::env::Prefix prefix = open_selected_env(request.env);
    const run::ActivationFiles files = run::read_activation_files(prefix);
    print_warnings(files.warnings);
    GpuGrant grant = grant_gpus(request, prefix);
    if (grant.interrupted) {
        fmt::print(stderr, "gpuenv: interrupted while waiting for GPUs; nothing was run\n");
        return 128 + SIGINT;  // what a shell reports for Ctrl-C
    }

    const run::Environment current = run::environment_from_envp(environ);
    const run::ActivationTarget target{prefix, conda_env_name(request, prefix)};
    const run::Activation activation = run::compute_activation(target, files, current);
    print_warnings(activation.warnings);
    const std::vector<std::string> envp =
        run::build_environment(activation, current, grant.overrides);

    const run::CommandLookup lookup = run::find_command(request.command[0], path_of(envp));
    if (lookup.status == run::CommandStatus::not_found) {
        fmt::print(stderr, "gpuenv: error: {}: command not found in the PATH of {}\n",
                   request.command[0], prefix.path.string());
        return 127;
    }
    if (lookup.status == run::CommandStatus::not_executable) {
        fmt::print(stderr, "gpuenv: error: {}: permission denied (not an executable file)\n",
                   lookup.path.string());
        return 126;
    }
    std::filesystem::path executable = lookup.path;
    std::vector<std::string> argv = request.command;
    if (!activation.activate_scripts.empty()) {
        argv = run::wrap_with_activate_scripts(request.command, activation.activate_scripts);
        executable = argv[0];
    }
    // Without a lease gpuenv has nothing to hold or clean up: it becomes the command, as
    // `exec` would (signals reach it directly, no second process start, no wait).
    if (grant.leases.empty()) {
        std::fflush(stdout);
        run::exec_replacing(executable, argv, envp);
    }
    // With leases gpuenv stays the parent: it forwards signals and removes its lease records
    // once the job ends (the job itself holds the locks through the inherited descriptors).
    for (gpu::Lease& lease : grant.leases)
        lease.make_inheritable();
    return run::launch_and_wait(executable, argv, envp);
}

}  // namespace

CommandAction setup_run(CLI::App& command) {
    auto request = std::make_shared<RunRequest>();
    add_env_options(command, request->env);
    command.add_option("--gpus", request->gpus, "run on N free GPUs, held under a lease")
        ->type_name("N");
    command
        .add_option("--gpu", request->gpu_ids,
                    "run on these GPUs: indices within this shell's visible GPUs, or UUIDs")
        ->type_name("IDS");
    command.add_flag("--cpu", request->cpu, "hide every GPU (CUDA_VISIBLE_DEVICES=-1)");
    command
        .add_option("--min-free-memory", request->min_free_memory,
                    "with --gpus: only GPUs with at least this much free memory (20GiB)")
        ->type_name("SIZE");
    // An optional value must be attached (--wait=10m, like GNU's --color[=WHEN]): a separate
    // word after --wait is the command's.
    command
        .add_flag("--wait{0}", request->wait,
                  "wait until the GPUs are free; --wait=DURATION waits at most that long (10m, 2h)")
        ->type_name("[=DURATION]");
    command.add_flag("--no-lease", request->no_lease,
                     "choose GPUs without holding a lease (when the state directory is unusable)");
    auto positional = std::make_shared<std::vector<std::string>>();
    command.add_option("command", *positional, "the command and its arguments")
        ->type_name("COMMAND [ARGS...]");
    command.prefix_command();
    command.footer("COMMAND [ARGS...] follows the options after --");
    return [request, positional, &command] {
        // CLI11 gives everything after "--" to the positional, untouched; without "--" a
        // command's own options would be taken for run's, so they are refused with the fix.
        std::vector<std::string> rest = command.remaining();
        if (!rest.empty() && rest.front() == "--")
            rest.erase(rest.begin());
        if (!rest.empty()) {
            throw Error(ExitCode::usage,
                        "put -- before the command when it has options: "
                        "gpuenv run [OPTIONS] -- COMMAND [ARGS...]");
        }
        request->command = *positional;
        return run_run(*request);
    };
}

}  // namespace gpuenv::cli
