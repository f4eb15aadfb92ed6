#pragma once

// Which GPUs `gpuenv run` gives a job: the devices the caller may see (its own
// CUDA_VISIBLE_DEVICES, Slurm or container restriction), minus those the policy forbids, that
// are leased, or that are busy under the policy's thresholds; the most free memory first.
// Leases make the choice safe against concurrent runs: a device is only handed out once its
// lock is held.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gpuenv/core/gpu/lease.hpp>
#include <gpuenv/core/gpu/nvml.hpp>
#include <gpuenv/core/gpu/policy.hpp>
#include <gpuenv/core/gpu/visibility.hpp>

namespace gpuenv::core::run {

/// Describes one device a job could be given, as the allocation sees it now.
struct DeviceState {
    gpu::VisibleDevice device;
    gpu::GpuLoad load;
    std::optional<std::uint64_t> free_memory;  ///< bytes; nullopt when NVML could not say
    std::string leased_by;                     ///< who holds its lease; "" when free
    bool allowed = true;                       ///< by the caller's policy rule
};

/// Returns the state of each device of `pool` (in pool order) from an NVML snapshot, the
/// policy rule and the current lease holders (GPU or MIG UUID -> description).
[[nodiscard]] std::vector<DeviceState> device_states(
    const gpu::NvmlSnapshot& snapshot, const std::vector<gpu::VisibleDevice>& pool,
    const gpu::GpuRule& rule, const std::map<std::string, std::string>& lease_holders);

/// Holds the devices that may be handed out, best first, and why the others may not.
struct Ranking {
    std::vector<gpu::VisibleDevice> candidates;  ///< most free memory first, then pool order
    std::vector<std::string> refusals;           ///< "GPU 1: leased by bob ..." per other device
};

/// Ranks devices for `--gpus N`: allowed, not leased, not busy under `thresholds`, and with at
/// least `min_free_memory` bytes free.
[[nodiscard]] Ranking rank_free_devices(const std::vector<DeviceState>& states,
                                        const gpu::FreeThresholds& thresholds,
                                        std::uint64_t min_free_memory);

/// Says what a job asks for.
enum class GpuAskKind {
    count,  ///< --gpus N: any N free devices
    ids,    ///< --gpu IDS, or the environment's binding: these devices
};

/// Describes a job's request for GPUs.
struct GpuAsk {
    GpuAskKind kind = GpuAskKind::count;
    unsigned count = 0;                   ///< for count
    std::vector<gpu::VisibleDevice> ids;  ///< for ids, already resolved
    std::uint64_t min_free_memory = 0;    ///< bytes, for count
    /// How long to wait for devices; nullopt: fail at once; a zero duration: wait forever.
    std::optional<std::chrono::milliseconds> wait;
    std::function<bool()> cancelled;                  ///< ends a wait (SIGINT); may be null
    std::function<void(const std::string&)> on_wait;  ///< told once what is waited for
};

/// Holds what the allocation got, or why not.
struct AllocationResult {
    std::vector<gpu::Lease> leases;           ///< held, in the order of `devices`
    std::vector<gpu::VisibleDevice> devices;  ///< what the job gets
    std::string failure;     ///< why nothing was allocated ("" on success): who holds what
    bool cancelled = false;  ///< the wait was cancelled
};

/// Describes everything the allocation reads.
struct AllocationContext {
    /// The snapshot the caller already took (used by the first attempt: a real NVML scan of
    /// 8 GPUs takes tens of milliseconds), and how to take a fresh one for each later attempt.
    gpu::NvmlSnapshot first_snapshot;
    std::function<gpu::NvmlSnapshot()> snapshot;
    std::vector<gpu::VisibleDevice> pool;  ///< the caller's visible devices, in order
    const gpu::LeaseDir* leases = nullptr;
    const gpu::Policy* policy = nullptr;
    gpu::UserIdentity user;
    gpu::LeaseHolder holder;  ///< what the lease records say about this job
};

/// Takes leases for `ask`: all the asked devices or none; re-reads NVML and the leases on each
/// attempt while waiting. Throws gpuenv::Error (no_gpu) when the policy forbids the request
/// outright (a device the user may not use, more devices than the user may hold).
[[nodiscard]] AllocationResult allocate_gpus(const GpuAsk& ask, const AllocationContext& context);

/// Describes a held lease for messages: "bob (pid 4242, since 2026-11-23T00:28:09Z: python
/// train.py)".
[[nodiscard]] std::string describe_holder(const gpu::LeaseInfo& lease);

/// Returns the holders of the held leases of a lease listing (UUID -> describe_holder).
[[nodiscard]] std::map<std::string, std::string> lease_holders(
    const std::vector<gpu::LeaseInfo>& leases);

}  // namespace gpuenv::core::run
