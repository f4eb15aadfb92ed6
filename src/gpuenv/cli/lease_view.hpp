#pragma once

#include <map>
#include <string>
#include <vector>

#include <gpuenv/core/gpu/gpu_report.hpp>
#include <gpuenv/core/gpu/lease.hpp>
#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::cli {

/// Reads the GPU leases in GPUENV_STATE_DIR (or /tmp/gpuenv) for commands that only show them:
/// nothing when the directory does not exist yet, and a warning instead of an error when
/// gpuenv refuses the directory, so that the rest of the command's output still comes.
[[nodiscard]] std::vector<core::gpu::LeaseInfo> read_current_leases(gpuenv::Diagnostics& warnings);

/// Returns the held leases as the GPU report wants them (GPU UUID -> holder pid and text).
[[nodiscard]] std::map<std::string, core::gpu::GpuLease> report_leases(
    const std::vector<core::gpu::LeaseInfo>& leases);

/// Returns the user holding each held lease (GPU UUID -> user name).
[[nodiscard]] std::map<std::string, std::string> lease_users(
    const std::vector<core::gpu::LeaseInfo>& leases);

}  // namespace gpuenv::cli
