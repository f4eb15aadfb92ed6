#include <gpuenv/cli/lease_view.hpp>

#include <cstdlib>

#include <gpuenv/core/run/gpu_allocation.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv::cli {

namespace gpu = core::gpu;

std::vector<gpu::LeaseInfo> read_current_leases(gpuenv::Diagnostics& warnings) {
    try {
        const auto dir =
            gpu::LeaseDir::open_existing(gpu::state_dir_from_env(std::getenv("GPUENV_STATE_DIR")));
        return dir ? gpu::read_leases(*dir) : std::vector<gpu::LeaseInfo>{};
    } catch (const Error& e) {
        warnings.push_back({"", 0, 0, std::string("leases not shown: ") + e.what()});
        return {};
    }
}

std::map<std::string, gpu::GpuLease> report_leases(const std::vector<gpu::LeaseInfo>& leases) {
    std::map<std::string, gpu::GpuLease> out;
    for (const gpu::LeaseInfo& lease : leases) {
        if (lease.state != gpu::LeaseState::held)
            continue;
        gpu::GpuLease entry;
        if (lease.current && lease.current->holder)
            entry.pid = lease.current->holder->pid;
        entry.holder = core::run::describe_holder(lease);
        out.emplace(lease.uuid, std::move(entry));
    }
    return out;
}

std::map<std::string, std::string> lease_users(const std::vector<gpu::LeaseInfo>& leases) {
    std::map<std::string, std::string> out;
    for (const gpu::LeaseInfo& lease : leases) {
        if (lease.state == gpu::LeaseState::held && lease.current && lease.current->holder)
            out.emplace(lease.uuid, lease.current->holder->user);
    }
    return out;
}

}  // namespace gpuenv::cli
