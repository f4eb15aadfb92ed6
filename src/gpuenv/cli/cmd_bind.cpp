// gpuenv bind: make `conda activate ENV` (and `gpuenv run`) set CUDA_VISIBLE_DEVICES to chosen
// GPUs, written as UUIDs with CUDA_DEVICE_ORDER=PCI_BUS_ID into conda-meta/state.
//
// Indices are NVML's, as nvidia-smi shows them, whatever this shell's own CUDA_VISIBLE_DEVICES
// says: a binding belongs to the environment, not to the shell that made it. A GPU outside
// this shell's restriction is bound with a warning.
#include <cstdlib>
#include <map>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/env_options.hpp>
#include <gpuenv/cli/lease_view.hpp>
#include <gpuenv/cli/nvml_loader.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/env/state_file.hpp>
#include <gpuenv/core/gpu/gpu_selection.hpp>
#include <gpuenv/core/gpu/visibility.hpp>
#include <gpuenv/core/run/gpu_allocation.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::cli {
namespace {

namespace gpu = core::gpu;
using Json = nlohmann::ordered_json;

struct BindRequest {
    core::env::EnvSelection env;
    std::string gpus;
    bool json = false;
};

std::optional<std::string> from_environment(std::string_view name) {
    const char* value = std::getenv(std::string(name).c_str());
    return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
}

std::string gpu_name(const gpu::NvmlSnapshot& snapshot, unsigned index) {
    for (const gpu::GpuInfo& info : snapshot.gpus) {
        if (info.index == index && info.name.ok())
            return *info.name.value;
    }
    return "";
}

void print_bind_text(const core::env::Prefix& prefix, const gpu::BindPlan& plan,
                     const gpu::NvmlSnapshot& snapshot) {
    std::string text;
    if (plan.devices.empty()) {
        text += "bound no GPU (CPU only) to " + prefix.path.string() + "\n";
    } else {
        text += "bound to " + prefix.path.string() + ":\n";
        for (const gpu::VisibleDevice& d : plan.devices) {
            text += fmt::format("  GPU {}  {}  {}\n", d.gpu_index,
                                d.mig ? "MIG device" : gpu_name(snapshot, d.gpu_index), d.uuid);
        }
    }
    for (const auto& [name, value] : plan.vars)
        text += "  " + name + "=" + value + "\n";
    text +=
        "in conda-meta/state: applied by the next `conda activate`, `micromamba activate` or "
        "`gpuenv run` of this environment\n";
    print_text(text);
}

int run_bind(const BindRequest& request) {
    const core::env::Prefix prefix = open_selected_env(request.env);
    core::env::require_conda_prefix(prefix.path, "bind GPUs to");
    gpu::NvmlSnapshot snapshot;
    gpu::VisibilityResult caller;
    if (util::trim(request.gpus) != "none") {
        const gpu::Nvml nvml = load_nvml();
        snapshot = nvml.snapshot();
        caller = gpu::resolve_outer_restriction(from_environment, gpu::machine_gpus(snapshot));
    }
    gpuenv::Diagnostics lease_warnings;
    const auto holders = core::run::lease_holders(read_current_leases(lease_warnings));
    print_warnings(lease_warnings);
    const gpu::BindPlan plan = gpu::plan_binding(request.gpus, snapshot, caller, holders);
    core::env::bind_env_vars(prefix.path, plan.vars);
    print_warnings(plan.warnings);
    if (!request.json) {
        print_bind_text(prefix, plan, snapshot);
        return 0;
    }
    Json doc;
    doc["schema"] = "gpuenv.bind/1";
    doc["prefix"] = prefix.path.string();
    Json devices = Json::array();
    for (const gpu::VisibleDevice& d : plan.devices)
        devices.push_back({{"index", d.gpu_index}, {"uuid", d.uuid}, {"mig", d.mig}});
    doc["gpus"] = std::move(devices);
    Json vars = Json::object();
    for (const auto& [name, value] : plan.vars)
        vars[name] = value;
    doc["variables"] = std::move(vars);
    Json warnings = Json::array();
    for (const auto& w : plan.warnings)
        warnings.push_back(w.message);
    doc["warnings"] = std::move(warnings);
    print_json(doc);
    return 0;
}

}  // namespace

CommandAction setup_bind(CLI::App& command) {
    auto request = std::make_shared<BindRequest>();
    add_env_options(command, request->env);
    command
        .add_option("--gpus", request->gpus,
                    "GPUs to bind: indices as nvidia-smi shows them (0,2), UUIDs or unique UUID "
                    "prefixes (GPU-8932f937), a MIG device's UUID, or none for CPU only")
        ->type_name("LIST")
        ->required();
    command.add_flag("--json", request->json, "print the schema-versioned JSON document");
    return [request] { return run_bind(*request); };
}

}  // namespace gpuenv::cli
