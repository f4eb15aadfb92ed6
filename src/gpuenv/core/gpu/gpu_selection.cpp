#include <gpuenv/core/gpu/gpu_selection.hpp>

#include <algorithm>
#include <charconv>
#include <string>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::gpu {
namespace {

std::string describe_pool(const std::vector<VisibleDevice>& pool) {
    if (pool.empty())
        return "no GPU is available";
    return pool.size() == 1 ? "1 GPU is available"
                            : std::to_string(pool.size()) + " GPUs are available";
}

bool in_pool(const VisibleDevice& device, const std::vector<VisibleDevice>& pool) {
    return std::find(pool.begin(), pool.end(), device) != pool.end();
}

[[noreturn]] void refuse(std::string_view entry, const std::string& why) {
    throw Error(ExitCode::usage, "GPU '" + std::string(entry) + "': " + why);
}

VisibleDevice by_machine_index(std::string_view entry, unsigned index,
                               const std::vector<GpuId>& machine) {
    for (const GpuId& gpu : machine) {
        if (gpu.index != index)
            continue;
        if (gpu.mig_enabled) {
            refuse(entry, "GPU " + std::to_string(index) +
                              " is in MIG mode; name one of its MIG devices by UUID (MIG-...)");
        }
        return VisibleDevice{gpu.uuid, gpu.index, false};
    }
    std::string known;
    for (const GpuId& gpu : machine)
        known += (known.empty() ? "" : ", ") + std::to_string(gpu.index);
    refuse(entry, "no such GPU on this machine (GPUs: " + (known.empty() ? "none" : known) + ")");
}

VisibleDevice by_uuid(std::string_view entry, const std::vector<GpuId>& machine) {
    std::vector<VisibleDevice> matches;
    for (const GpuId& gpu : machine) {
        if (gpu.uuid.starts_with(entry))
            matches.push_back({gpu.uuid, gpu.index, false});
        for (const MigDeviceId& mig : gpu.mig_devices) {
            if (mig.uuid.starts_with(entry))
                matches.push_back({mig.uuid, gpu.index, true});
        }
    }
    if (matches.empty())
        refuse(entry, "no GPU or MIG device with this UUID on this machine");
    if (matches.size() > 1) {
        refuse(entry,
               "ambiguous: " + matches[0].uuid + " and " + matches[1].uuid + " both start with it");
    }
    const VisibleDevice& found = matches.front();
    if (!found.mig) {
        for (const GpuId& gpu : machine) {
            if (gpu.uuid == found.uuid && gpu.mig_enabled) {
                refuse(entry, "GPU " + std::to_string(gpu.index) +
                                  " is in MIG mode; name one of its MIG devices by UUID (MIG-...)");
            }
        }
    }
    return found;
}

VisibleDevice resolve_entry(std::string_view entry, const std::vector<GpuId>& machine,
                            const std::vector<VisibleDevice>& pool, IndexBase base) {
    if (entry.empty())
        throw Error(ExitCode::usage, "empty entry in the GPU list");
    if (entry.starts_with("GPU-") || entry.starts_with("MIG-")) {
        VisibleDevice device = by_uuid(entry, machine);
        if (!in_pool(device, pool))
            refuse(entry, "outside the GPUs this process may use (" + describe_pool(pool) + ")");
        return device;
    }
    unsigned index = 0;
    const auto [end, ec] = std::from_chars(entry.data(), entry.data() + entry.size(), index);
    if (ec != std::errc() || end != entry.data() + entry.size()) {
        refuse(entry, "expected an index such as 0, a UUID such as GPU-8932f937, or none");
    }
    if (base == IndexBase::pool) {
        if (index >= pool.size())
            refuse(entry, "no such GPU: " + describe_pool(pool) + ", numbered from 0");
        return pool[index];
    }
    VisibleDevice device = by_machine_index(entry, index, machine);
    if (!in_pool(device, pool))
        refuse(entry, "outside the GPUs this process may use (" + describe_pool(pool) + ")");
    return device;
}

}  // namespace

std::vector<GpuId> machine_gpus(const NvmlSnapshot& snapshot) {
    std::vector<GpuId> gpus;
    for (const GpuInfo& info : snapshot.gpus) {
        if (!info.uuid.ok())
            continue;
        GpuId id;
        id.index = info.index;
        id.uuid = *info.uuid.value;
        id.pci_bus_id = info.pci_bus_id.ok() ? *info.pci_bus_id.value : std::string();
        id.mig_enabled = info.mig_mode.ok() && info.mig_mode.value->current;
        if (info.mig_devices.ok()) {
            for (const MigDevice& mig : *info.mig_devices.value) {
                if (!mig.uuid.ok())
                    continue;
                id.mig_devices.push_back({*mig.uuid.value, mig.gpu_instance_id.value.value_or(0),
                                          mig.compute_instance_id.value.value_or(0)});
            }
        }
        gpus.push_back(std::move(id));
    }
    return gpus;
}

std::vector<VisibleDevice> all_devices(const std::vector<GpuId>& machine) {
    std::vector<VisibleDevice> devices;
    for (const GpuId& gpu : machine) {
        if (!gpu.mig_enabled) {
            devices.push_back({gpu.uuid, gpu.index, false});
            continue;
        }
        for (const MigDeviceId& mig : gpu.mig_devices)
            devices.push_back({mig.uuid, gpu.index, true});
    }
    return devices;
}

std::vector<VisibleDevice> resolve_gpu_list(std::string_view list,
                                            const std::vector<GpuId>& machine,
                                            const std::vector<VisibleDevice>& pool,
                                            IndexBase base) {
    const std::string_view trimmed = util::trim(list);
    if (trimmed == "none")
        return {};
    std::vector<VisibleDevice> devices;
    for (const std::string_view part : util::split(trimmed, ',')) {
        const std::string_view entry = util::trim(part);
        VisibleDevice device = resolve_entry(entry, machine, pool, base);
        if (in_pool(device, devices))
            refuse(entry, "listed twice (as " + device.uuid + ")");
        devices.push_back(std::move(device));
    }
    const bool any_mig =
        std::any_of(devices.begin(), devices.end(), [](const VisibleDevice& d) { return d.mig; });
    if (any_mig && devices.size() > 1) {
        throw Error(ExitCode::usage,
                    "a MIG device cannot be listed with other devices: CUDA shows a process at "
                    "most one MIG device");
    }
    return devices;
}

BindPlan plan_binding(std::string_view gpu_list, const NvmlSnapshot& snapshot,
                      const VisibilityResult& caller,
                      const std::map<std::string, std::string>& lease_holders) {
    const std::vector<GpuId> machine = machine_gpus(snapshot);
    BindPlan plan;
    plan.devices = resolve_gpu_list(gpu_list, machine, all_devices(machine), IndexBase::machine);
    plan.vars = child_gpu_environment(plan.devices);
    for (const VisibleDevice& device : plan.devices) {
        const std::string label = "GPU " + std::to_string(device.gpu_index) +
                                  (device.mig ? " (MIG " + device.uuid + ")" : "");
        if (auto holder = lease_holders.find(device.uuid); holder != lease_holders.end())
            plan.warnings.push_back({"", 0, 0, label + " is leased by " + holder->second});
        for (const GpuInfo& info : snapshot.gpus) {
            if (info.index != device.gpu_index || !info.processes.ok() ||
                info.processes.value->empty())
                continue;
            std::uint64_t used = 0;
            for (const GpuProcess& p : *info.processes.value)
                used += p.used_memory.value_or(0);
            const std::size_t count = info.processes.value->size();
            plan.warnings.push_back({"", 0, 0,
                                     label + " is busy: " + std::to_string(count) +
                                         (count == 1 ? " process holds " : " processes hold ") +
                                         std::to_string(used / (1024 * 1024)) +
                                         " MiB (see `gpuenv gpus`)"});
        }
        if (std::find(caller.devices.begin(), caller.devices.end(), device) ==
            caller.devices.end()) {
            plan.warnings.push_back(
                {"", 0, 0,
                 label + " is outside this shell's own GPU restriction (CUDA_VISIBLE_DEVICES, "
                         "Slurm or container): CUDA started from here will not see it"});
        }
    }
    return plan;
}

}  // namespace gpuenv::core::gpu
