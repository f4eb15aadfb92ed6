// Rules 10 (the environment's GPU binding) and 15 (GPU memory held by zombies). CUDA's reading
// of CUDA_VISIBLE_DEVICES is core/gpu/visibility's (reference/gpu.md 2.2); this file only
// judges its result. Rule 12 (Jupyter kernelspecs) is in kernelspec_rules.cpp; this file
// defines the helpers both use, declared in binding_facts.hpp.
#include <gpuenv/core/doctor/doctor.hpp>

#include <algorithm>
#include <cstdint>

#include <fmt/core.h>

#include <gpuenv/core/doctor/binding_facts.hpp>
#include <gpuenv/core/fleet/transport.hpp>
#include <gpuenv/core/gpu/gpu_selection.hpp>
#include <gpuenv/core/gpu/visibility.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::doctor {
namespace {

namespace fs = std::filesystem;

}  // namespace

// ---- binding_facts.hpp ---------------------------------------------------------------------

namespace binding_facts {

std::optional<std::string> lookup(const Vars& vars, std::string_view name) {
    const auto it = vars.find(std::string(name));
    if (it == vars.end())
        return std::nullopt;
    return it->second;
}

fs::path prefix_of(const DoctorInput& input) {
    return input.inventory != nullptr ? input.inventory->prefix.path : fs::path();
}

// Where the activation variable was read: conda-meta/state overrides env_vars.d.
std::string source_of(const env::EnvVars& env_vars, std::string_view name) {
    for (const auto& [key, value] : env_vars.state_vars) {
        if (util::to_upper(key) == name)
            return "conda-meta/state";
    }
    return "etc/conda/env_vars.d";
}

bool starts_as_integer(std::string_view token) {
    if (!token.empty() && (token[0] == '+' || token[0] == '-'))
        token.remove_prefix(1);
    return !token.empty() && token[0] >= '0' && token[0] <= '9';
}

std::string binding_line(std::string_view source, std::string_view value) {
    return std::string(source) + " sets CUDA_VISIBLE_DEVICES=" + std::string(value) +
           " on activation";
}

}  // namespace binding_facts

namespace {

using binding_facts::binding_line;
using binding_facts::k_order;
using binding_facts::k_pci_bus_id;
using binding_facts::k_visible;
using binding_facts::lookup;
using binding_facts::prefix_of;
using binding_facts::source_of;
using binding_facts::starts_as_integer;

using util::join;

std::string format_memory(std::uint64_t bytes) {
    constexpr double k_gib = 1024.0 * 1024.0 * 1024.0;
    if (bytes >= (std::uint64_t{1} << 30u))
        return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / k_gib);
    return fmt::format("{} MiB", bytes >> 20u);
}

// ---- rule 10: the binding ------------------------------------------------------------------

// The binding and the facts every binding finding cites.
struct Binding {
    std::string value;  ///< CUDA_VISIBLE_DEVICES as activation sets it
    std::string source;
    std::optional<std::string> order;  ///< CUDA_DEVICE_ORDER in force, and where from
    std::string order_source;
    bool indices = false;      ///< the first entry is an integer, so all valid ones are (rule 5)
    std::string bind_command;  ///< `gpuenv bind -p PREFIX --gpus`, to complete
};

Binding read_binding(const DoctorInput& input, std::string value) {
    Binding binding;
    binding.source = source_of(input.env_vars, k_visible);
    if (auto order = lookup(input.env_vars.vars, k_order)) {
        binding.order = std::move(order);
        binding.order_source = source_of(input.env_vars, k_order);
    } else if (auto outer = lookup(input.machine.environment, k_order)) {
        binding.order = std::move(outer);
        binding.order_source = "the caller's environment";
    }
    const std::vector<std::string_view> tokens = util::split(value, ',');
    binding.indices = starts_as_integer(util::trim(tokens.front()));
    binding.value = std::move(value);
    binding.bind_command =
        "gpuenv bind -p " + fleet::shell_quote(prefix_of(input).string()) + " --gpus";
    return binding;
}

std::string binding_line(const Binding& binding) {
    return binding_line(binding.source, binding.value);
}

std::string order_line(const Binding& binding) {
    if (!binding.order)
        return "CUDA_DEVICE_ORDER is not set: CUDA's default FASTEST_FIRST applies";
    return binding.order_source + " sets CUDA_DEVICE_ORDER=" + *binding.order;
}

const gpu::GpuInfo* gpu_info(const gpu::NvmlSnapshot& nvml, unsigned index) {
    for (const gpu::GpuInfo& info : nvml.gpus) {
        if (info.index == index)
            return &info;
    }
    return nullptr;
}

std::string gpu_label(const gpu::NvmlSnapshot& nvml, unsigned index) {
    const gpu::GpuInfo* info = gpu_info(nvml, index);
    std::string label = "GPU " + std::to_string(index);
    if (info != nullptr && info->name.ok())
        label += " (" + *info->name.value + ")";
    return label;
}

std::string device_label(const gpu::NvmlSnapshot& nvml, const gpu::VisibleDevice& device) {
    if (device.mig)
        return "MIG device " + device.uuid + " of " + gpu_label(nvml, device.gpu_index);
    return gpu_label(nvml, device.gpu_index) + " " + device.uuid;
}

std::string machine_line(const gpu::NvmlSnapshot& nvml) {
    std::vector<std::string> gpus;
    for (const gpu::GpuInfo& info : nvml.gpus) {
        std::string gpu = gpu_label(nvml, info.index);
        if (info.uuid.ok())
            gpu += " " + *info.uuid.value;
        gpus.push_back(std::move(gpu));
    }
    if (gpus.empty())
        return "NVML lists no GPU on this machine";
    return "NVML lists " + std::to_string(gpus.size()) + " GPU(s): " + join(gpus, ", ");
}

std::string devices_line(const gpu::NvmlSnapshot& nvml, const gpu::VisibilityResult& result) {
    if (result.devices.empty())
        return "CUDA gives processes of this environment no GPU at all";
    std::vector<std::string> devices;
    for (const gpu::VisibleDevice& device : result.devices)
        devices.push_back(device_label(nvml, device));
    std::string line = "CUDA gives processes of this environment: " + join(devices, ", ");
    if (result.order_uncertain)
        line += " (in PCI bus order; under FASTEST_FIRST CUDA's order may differ)";
    return line;
}

// The devices as `gpuenv bind --gpus` takes them: nvidia-smi indices, a MIG device's UUID.
std::string gpu_list(const gpu::VisibilityResult& result) {
    std::vector<std::string> entries;
    for (const gpu::VisibleDevice& device : result.devices)
        entries.push_back(device.mig ? device.uuid : std::to_string(device.gpu_index));
    return join(entries, ",");
}

void check_unknown_gpus(const DoctorInput& input, const Binding& binding,
                        const gpu::VisibilityResult& result, DoctorReport& report) {
    const gpu::NvmlSnapshot& nvml = *input.machine.nvml;
    // A CUDA stop (rule 6) or a duplicate (rule 7) means an entry names no GPU of this
    // machine; the other notes are the MIG rule's (8) and the order caveat.
    std::vector<std::string> invalid;
    if (!result.invalid_entry.empty())
        invalid.push_back(result.invalid_entry);
    std::vector<std::string> hidden;
    for (const std::string& note : result.notes) {
        if (note != result.invalid_entry && note != gpu::k_order_note)
            hidden.push_back(note);
    }
    if (invalid.empty() && hidden.empty())
        return;
    DoctorFinding finding;
    finding.evidence = {binding_line(binding), machine_line(nvml)};
    for (const std::string& note : invalid)
        finding.evidence.push_back(note);
    for (const std::string& note : hidden)
        finding.evidence.push_back(note);
    finding.evidence.push_back(devices_line(nvml, result));
    if (!invalid.empty()) {
        finding.rule = "binding_unknown_gpu";
        finding.severity = Severity::error;
        finding.title =
            "the environment's CUDA_VISIBLE_DEVICES names a GPU this machine does "
            "not have; CUDA ignores it and every entry after it";
    } else {
        finding.rule = "binding_hidden_devices";
        finding.severity = Severity::warning;
        finding.title =
            "the environment's CUDA_VISIBLE_DEVICES lists GPUs CUDA will not show "
            "(MIG mode allows one MIG device per process)";
    }
    const std::string kept = gpu_list(result);
    finding.fix =
        kept.empty()
            ? "bind GPUs that exist (nvidia-smi -L lists them): " + binding.bind_command +
                  " N, or --gpus none for CPU only"
            : "bind the GPUs CUDA gives now explicitly, as UUIDs: " + binding.bind_command + " " +
                  kept + " (nvidia-smi -L lists the others)";
    report.findings.push_back(std::move(finding));
}

// Whether the orders can differ: FASTEST_FIRST ranks by a speed heuristic and breaks ties by
// bus (reference/gpu.md 2.3), so identical GPUs usually keep PCI order.
std::string models_line(const gpu::NvmlSnapshot& nvml) {
    std::vector<std::string> models;
    for (const gpu::GpuInfo& info : nvml.gpus) {
        const std::string name = info.name.ok() ? *info.name.value : "unknown model";
        if (std::find(models.begin(), models.end(), name) == models.end())
            models.push_back(name);
    }
    if (models.size() == 1)
        return "all GPUs are " + models.front() +
               ": the two orders usually agree then (unverified), until a GPU is replaced";
    return "the GPUs differ (" + join(models, ", ") +
           "): CUDA's fastest-first order is likely to differ from nvidia-smi's";
}

void check_index_order(const DoctorInput& input, const Binding& binding,
                       const gpu::VisibilityResult* result, DoctorReport& report) {
    if (!binding.indices || (binding.order && *binding.order == k_pci_bus_id))
        return;
    const auto& nvml = input.machine.nvml;
    if (nvml && nvml->gpus.size() <= 1)
        return;
    DoctorFinding finding;
    finding.rule = "binding_index_order";
    finding.severity = Severity::warning;
    finding.title =
        "the environment binds GPUs by index without CUDA_DEVICE_ORDER=PCI_BUS_ID: "
        "CUDA's index may name another GPU than nvidia-smi's";
    finding.evidence = {binding_line(binding), order_line(binding)};
    if (nvml) {
        finding.evidence.push_back(machine_line(*nvml));
        finding.evidence.push_back(models_line(*nvml));
    } else {
        finding.evidence.emplace_back(
            "NVML could not be used, so the number of GPUs here is unknown; the binding "
            "matters wherever this environment runs on a machine with several GPUs");
    }
    finding.evidence.emplace_back(
        "CUDA numbers GPUs fastest first by default; nvidia-smi and NVML number them by PCI bus "
        "(reference/gpu.md 2.3)");
    // With NVML, only the entries CUDA keeps (bind refuses the others).
    const std::string list = result != nullptr ? gpu_list(*result) : binding.value;
    finding.fix =
        "rebind as UUIDs with CUDA_DEVICE_ORDER=PCI_BUS_ID, indices as nvidia-smi "
        "numbers GPUs: " +
        binding.bind_command + " " + (list.empty() ? "N" : fleet::shell_quote(list)) +
        " (or add the order alone: conda env config vars set CUDA_DEVICE_ORDER=PCI_BUS_ID"
        " -p " +
        fleet::shell_quote(prefix_of(input).string()) + ")";
    report.findings.push_back(std::move(finding));
}

// A GPU's current lease held by another uid, as "leased by bob since ...: python train.py".
std::optional<std::string> foreign_lease(const DoctorInput& input, const gpu::VisibleDevice& device,
                                         const std::string& gpu_uuid) {
    for (const gpu::LeaseInfo& lease : input.machine.leases) {
        if (lease.state != gpu::LeaseState::held || !lease.current)
            continue;
        if (lease.uuid != device.uuid && lease.uuid != gpu_uuid)
            continue;
        const gpu::LeaseRecord& record = *lease.current;
        if (record.owner_uid == input.machine.uid)
            continue;
        if (!record.holder)
            return "leased by uid " + std::to_string(record.owner_uid) +
                   " (holder unknown: " + record.problem + ")";
        const gpu::LeaseHolder& holder = *record.holder;
        std::string line = "leased by " + holder.user + " since " +
                           gpu::format_iso_utc(holder.start_unix_ns) + " (pid " +
                           std::to_string(holder.pid);
        if (!holder.command.empty())
            line += ": " + join(holder.command, " ");
        return line + ")";
    }
    return std::nullopt;
}

// Other users' processes on the physical GPU, one line each.
std::vector<std::string> foreign_processes(const DoctorInput& input, unsigned gpu_index) {
    std::vector<std::string> lines;
    if (!input.machine.gpus)
        return lines;
    for (const gpu::GpuRow& row : input.machine.gpus->gpus) {
        if (row.gpu.index != gpu_index)
            continue;
        for (const gpu::GpuProcessRow& process : row.processes) {
            const gpu::ProcessInfo& info = process.info;
            if (!info.visible || info.user.empty() || info.user == input.machine.user)
                continue;
            std::string line = "pid " + std::to_string(info.pid) + " of " + info.user;
            if (info.elapsed_s)
                line += ", running for " + gpu::format_elapsed(*info.elapsed_s);
            if (process.nvml.used_memory)
                line += ", " + format_memory(*process.nvml.used_memory);
            if (!info.command.empty())
                line += ": " + info.command;
            lines.push_back(std::move(line));
        }
    }
    return lines;
}

void check_taken_gpus(const DoctorInput& input, const Binding& binding,
                      const gpu::VisibilityResult& result, DoctorReport& report) {
    const gpu::NvmlSnapshot& nvml = *input.machine.nvml;
    for (const gpu::VisibleDevice& device : result.devices) {
        const gpu::GpuInfo* info = gpu_info(nvml, device.gpu_index);
        const std::string gpu_uuid = info != nullptr && info->uuid.ok() ? *info->uuid.value : "";
        const std::optional<std::string> lease = foreign_lease(input, device, gpu_uuid);
        // NVML lists a MIG-enabled GPU's processes without their instance: others' processes
        // there are most likely on other MIG devices, which is what MIG is for.
        const std::vector<std::string> processes =
            device.mig ? std::vector<std::string>{} : foreign_processes(input, device.gpu_index);
        if (!lease && processes.empty())
            continue;
        DoctorFinding finding;
        finding.rule = "binding_gpu_taken";
        finding.severity = Severity::warning;
        finding.title = device_label(nvml, device) + ", bound to this environment, is " +
                        (lease ? "leased" : "used") + " by another user";
        finding.evidence = {binding_line(binding)};
        if (lease)
            finding.evidence.push_back(*lease);
        for (const std::string& line : processes)
            finding.evidence.push_back("on " + gpu_label(nvml, device.gpu_index) + ": " + line);
        finding.fix = "pick a free GPU (gpuenv gpus shows who uses which) and rebind: " +
                      binding.bind_command +
                      " N; or run jobs with gpuenv run --gpus 1, which takes a free GPU under a "
                      "lease";
        report.findings.push_back(std::move(finding));
    }
}

// ---- rule 15: zombies ----------------------------------------------------------------------

std::string zombie_gpu_label(const DoctorInput& input, unsigned index) {
    return input.machine.nvml ? gpu_label(*input.machine.nvml, index)
                              : "GPU " + std::to_string(index);
}

std::string zombie_line(const gpu::Zombie& zombie) {
    std::string line = "pid " + std::to_string(zombie.pid) + " (" +
                       (zombie.user.empty() ? std::string("user unknown") : zombie.user) + ", " +
                       std::string(gpu::zombie_kind_name(zombie.kind)) + ", " +
                       (zombie.used_memory ? format_memory(*zombie.used_memory)
                                           : std::string("memory not reported")) +
                       ")";
    if (!zombie.command.empty())
        line += " " + zombie.command;
    return line + ": " + zombie.reason;
}

// "2.0 GiB", "at least 2.0 GiB" when NVML did not give every process's memory.
std::optional<std::string> memory_held(const std::vector<const gpu::Zombie*>& rows) {
    std::uint64_t total = 0;
    bool all_known = true;
    bool any_known = false;
    for (const gpu::Zombie* row : rows) {
        all_known = all_known && row->used_memory.has_value();
        any_known = any_known || row->used_memory.has_value();
        total += row->used_memory.value_or(0);
    }
    if (!any_known)
        return std::nullopt;
    return (all_known ? "" : "at least ") + format_memory(total);
}

std::string zombie_fix(const DoctorInput& input, const std::vector<const gpu::Zombie*>& rows) {
    std::vector<std::string> killable;
    std::vector<std::string> others;
    for (const gpu::Zombie* row : rows) {
        if (row->killable) {
            killable.push_back(std::to_string(row->pid));
            continue;
        }
        std::string line = "pid " + std::to_string(row->pid) + ": " + row->not_killable_reason;
        if (!row->user.empty() && row->user != input.machine.user)
            line += "; ask " + row->user + " or an administrator to end it";
        others.push_back(std::move(line));
    }
    std::vector<std::string> parts;
    if (!killable.empty())
        parts.push_back("gpuenv zombies --kill ends pid " + join(killable, ", ") +
                        " (SIGTERM, then SIGKILL after --grace)");
    parts.insert(parts.end(), others.begin(), others.end());
    return join(parts, "; ");
}

void report_zombie_processes(const DoctorInput& input, unsigned gpu_index,
                             const std::vector<const gpu::Zombie*>& rows, DoctorReport& report) {
    std::vector<std::string> kinds;
    for (const gpu::Zombie* row : rows) {
        const std::string kind(gpu::zombie_kind_name(row->kind));
        if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
            kinds.push_back(kind);
    }
    const std::string gpu = zombie_gpu_label(input, gpu_index);
    const std::string who = std::to_string(rows.size()) + " " + join(kinds, "/") + " process" +
                            (rows.size() == 1 ? "" : "es");
    DoctorFinding finding;
    finding.rule = "zombie_memory";
    finding.severity = Severity::warning;
    const std::optional<std::string> memory = memory_held(rows);
    finding.title = memory ? *memory + " on " + gpu + " held by " + who
                           : gpu + " has memory held by " + who + " (NVML gives no amount)";
    for (const gpu::Zombie* row : rows)
        finding.evidence.push_back(zombie_line(*row));
    finding.fix = zombie_fix(input, rows);
    report.findings.push_back(std::move(finding));
}

void report_unowned_memory(const DoctorInput& input, const gpu::Zombie& row, DoctorReport& report) {
    const std::string gpu = zombie_gpu_label(input, row.gpu_index);
    DoctorFinding finding;
    finding.rule = "gpu_memory_without_process";
    finding.severity = Severity::warning;
    finding.title = (row.used_memory ? format_memory(*row.used_memory) : std::string("memory")) +
                    " used on " + gpu + " with no process listed";
    finding.evidence = {row.reason};
    finding.fix =
        "find the holders with fuser -v /dev/nvidia* and end them (or ask their "
        "owner); once nothing runs on the GPU and the memory is still held, an "
        "administrator can reset it: nvidia-smi --gpu-reset -i " +
        std::to_string(row.gpu_index);
    report.findings.push_back(std::move(finding));
}

}  // namespace

void check_binding(const DoctorInput& input, DoctorReport& report) {
    std::optional<std::string> value = lookup(input.env_vars.vars, k_visible);
    // Unbound, or bound to no GPU on purpose (what `gpuenv bind --gpus none` writes).
    if (!value || util::trim(*value).empty() || util::trim(*value) == "-1")
        return;
    const Binding binding = read_binding(input, std::move(*value));
    if (!input.machine.nvml) {
        check_index_order(input, binding, nullptr, report);
        return;
    }
    const gpu::VisibilityResult result = gpu::resolve_visible_devices(
        binding.value, gpu::machine_gpus(*input.machine.nvml),
        gpu::parse_device_order(binding.order ? std::optional<std::string_view>(*binding.order)
                                              : std::nullopt));
    check_unknown_gpus(input, binding, result, report);
    check_index_order(input, binding, &result, report);
    check_taken_gpus(input, binding, result, report);
}

void check_zombie_memory(const DoctorInput& input, DoctorReport& report) {
    if (!input.machine.zombies)
        return;
    std::map<unsigned, std::vector<const gpu::Zombie*>> processes;
    std::vector<const gpu::Zombie*> unowned;
    for (const gpu::Zombie& zombie : *input.machine.zombies) {
        // not_visible rows are information only. (The CLI leaves out idle rows: doctor does not
        // sample GPU load over a window.)
        if (!gpu::is_finding(zombie))
            continue;
        if (zombie.kind == gpu::ZombieKind::no_process)
            unowned.push_back(&zombie);
        else
            processes[zombie.gpu_index].push_back(&zombie);
    }
    for (const auto& [gpu_index, rows] : processes)
        report_zombie_processes(input, gpu_index, rows, report);
    for (const gpu::Zombie* row : unowned)
        report_unowned_memory(input, *row, report);
}

}  // namespace gpuenv::core::doctor
