#include <gpuenv/core/gpu/gpu_report.hpp>

#include <map>
#include <optional>

namespace gpuenv::core::gpu {
namespace {

template <typename T>
void note(std::vector<std::string>& errors, const std::string& where, const char* field,
          const NvmlField<T>& value) {
    if (!value.ok())
        errors.push_back(where + field + ": " + value.error);
}

void note_gpu_errors(const GpuInfo& gpu, std::vector<std::string>& errors) {
    const std::string where = "gpu " + std::to_string(gpu.index) + ": ";
    if (!gpu.handle.ok()) {
        note(errors, where, "handle", gpu.handle);
        return;
    }
    note(errors, where, "uuid", gpu.uuid);
    note(errors, where, "name", gpu.name);
    note(errors, where, "pci_bus_id", gpu.pci_bus_id);
    note(errors, where, "memory", gpu.memory);
    note(errors, where, "utilization", gpu.utilisation);
    note(errors, where, "temperature", gpu.temperature_c);
    note(errors, where, "power", gpu.power_mw);
    note(errors, where, "compute_capability", gpu.compute_capability);
    note(errors, where, "processes", gpu.processes);
    for (const std::string& text : gpu.notes)
        errors.push_back(where + "processes: " + text);
    // A GPU without MIG support reports Not Supported for MIG: not worth an error line.
}

// Bounds the walk up the process tree (a loop in a broken /proc must not hang gpus).
constexpr int k_max_ancestry = 64;

// Says whether `ancestor` is `info`'s process or one of its ancestors, walking parents through
// `lookup` (results cached: the processes of one job share their ancestry).
bool descends_from(const ProcessInfo& info, long ancestor, const ProcessLookup& lookup,
                   std::map<unsigned, std::optional<int>>& parents) {
    if (!info.visible)
        return false;
    if (static_cast<long>(info.pid) == ancestor)
        return true;
    std::optional<int> parent = info.ppid;
    for (int depth = 0; depth < k_max_ancestry && parent && *parent > 1; ++depth) {
        if (*parent == ancestor)
            return true;
        const auto pid = static_cast<unsigned>(*parent);
        auto cached = parents.find(pid);
        if (cached == parents.end())
            cached = parents.emplace(pid, lookup(pid).ppid).first;
        parent = cached->second;
    }
    return false;
}

}  // namespace

GpuReport build_gpu_report(const NvmlSnapshot& snapshot, const ProcessLookup& lookup,
                           const std::map<std::string, GpuLease>& leases) {
    std::map<unsigned, std::optional<int>> parents;
    GpuReport report;
    report.driver_version = snapshot.driver_version;
    report.cuda_driver_version = snapshot.cuda_driver_version;
    note(report.errors, "", "driver_version", snapshot.driver_version);
    note(report.errors, "", "cuda_version", snapshot.cuda_driver_version);
    note(report.errors, "", "gpu_count", snapshot.gpu_count);
    for (const GpuInfo& gpu : snapshot.gpus) {
        GpuRow row;
        row.gpu = gpu;
        note_gpu_errors(gpu, report.errors);
        const GpuLease* lease = nullptr;
        if (gpu.uuid.ok()) {
            if (auto found = leases.find(*gpu.uuid.value); found != leases.end()) {
                lease = &found->second;
                row.lease = lease->holder;
            }
        }
        if (gpu.processes.ok()) {
            for (const GpuProcess& process : *gpu.processes.value) {
                GpuProcessRow process_row{process, lookup(process.pid), {}};
                if (lease != nullptr &&
                    descends_from(process_row.info, lease->pid, lookup, parents))
                    process_row.lease = lease->holder;
                row.processes.push_back(std::move(process_row));
            }
        }
        report.gpus.push_back(std::move(row));
    }
    return report;
}

}  // namespace gpuenv::core::gpu
