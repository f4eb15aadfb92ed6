#include <gpuenv/core/gpu/gpu_report.hpp>

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

}  // namespace

GpuReport build_gpu_report(const NvmlSnapshot& snapshot, const ProcessLookup& lookup) {
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
        if (gpu.processes.ok()) {
            for (const GpuProcess& process : *gpu.processes.value)
                row.processes.push_back({process, lookup(process.pid), {}});
        }
        report.gpus.push_back(std::move(row));
    }
    return report;
}

}  // namespace gpuenv::core::gpu
