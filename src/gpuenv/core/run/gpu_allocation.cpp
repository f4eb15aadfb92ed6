#include <gpuenv/core/run/gpu_allocation.hpp>

#include <algorithm>
#include <thread>

#include <gpuenv/util/error.hpp>

namespace gpuenv::core::run {
namespace {

constexpr std::uint64_t k_mib = 1024 * 1024;
constexpr std::chrono::milliseconds k_poll_interval{200};
constexpr std::size_t k_uuid_prefix = 12;  // "GPU-8932f937"

const gpu::GpuInfo* find_gpu(const gpu::NvmlSnapshot& snapshot, unsigned index) {
    for (const gpu::GpuInfo& info : snapshot.gpus) {
        if (info.index == index)
            return &info;
    }
    return nullptr;
}

std::string label(const gpu::VisibleDevice& device) {
    return "GPU " + std::to_string(device.gpu_index) + " (" +
           device.uuid.substr(0, device.mig ? device.uuid.size() : k_uuid_prefix) + ")";
}

void fill_whole_gpu(const gpu::GpuInfo& info, DeviceState& state) {
    if (info.processes.ok()) {
        state.load.process_count = static_cast<unsigned>(info.processes.value->size());
        std::uint64_t total = 0;
        for (const gpu::GpuProcess& p : *info.processes.value)
            total += p.used_memory.value_or(0);
        state.load.memory = total;
    }
    if (info.utilisation.ok())
        state.load.utilization = info.utilisation.value->gpu;
    if (info.memory.ok())
        state.free_memory =
            info.memory.value->total - std::min(info.memory.value->used, info.memory.value->total);
}

// NVML reports neither utilisation nor processes per MIG device through the calls gpuenv
// makes; the memory used inside the device stands for its load.
void fill_mig_device(const gpu::GpuInfo& info, DeviceState& state) {
    if (!info.mig_devices.ok())
        return;
    for (const gpu::MigDevice& mig : *info.mig_devices.value) {
        if (!mig.uuid.ok() || *mig.uuid.value != state.device.uuid || !mig.memory.ok())
            continue;
        const gpu::GpuMemory& m = *mig.memory.value;
        state.load.memory = m.used;
        state.free_memory = m.total - std::min(m.used, m.total);
    }
}

std::string mib(std::uint64_t bytes) {
    return std::to_string(bytes / k_mib) + " MiB";
}

std::optional<std::string> refusal(const DeviceState& s, const gpu::FreeThresholds& thresholds,
                                   std::uint64_t min_free_memory) {
    if (!s.allowed)
        return std::string("not allowed for you by the GPU policy");
    if (!s.leased_by.empty())
        return "leased by " + s.leased_by;
    if (auto busy = gpu::busy_reason(thresholds, s.load))
        return "busy: " + *busy;
    if (min_free_memory > 0) {
        if (!s.free_memory)
            return std::string("free memory unknown");
        if (*s.free_memory < min_free_memory)
            return mib(*s.free_memory) + " free < " + mib(min_free_memory) + " asked";
    }
    return std::nullopt;
}

unsigned leases_held_by(const std::vector<gpu::LeaseInfo>& leases, unsigned uid) {
    unsigned held = 0;
    for (const gpu::LeaseInfo& lease : leases) {
        if (lease.state == gpu::LeaseState::held && lease.current && lease.current->holder &&
            lease.current->holder->uid == uid)
            ++held;
    }
    return held;
}

const gpu::GpuRule& rule_of(const AllocationContext& context) {
    static const gpu::GpuRule no_limit;
    return context.policy != nullptr ? gpu::rule_for(*context.policy, context.user) : no_limit;
}

std::string parent_uuid(const gpu::NvmlSnapshot& snapshot, const gpu::VisibleDevice& device) {
    if (!device.mig)
        return "";
    const gpu::GpuInfo* info = find_gpu(snapshot, device.gpu_index);
    return info != nullptr && info->uuid.ok() ? *info->uuid.value : "";
}

void check_policy(const GpuAsk& ask, const AllocationContext& context,
                  const gpu::NvmlSnapshot& snapshot) {
    const gpu::GpuRule& rule = rule_of(context);
    const auto requested =
        ask.kind == GpuAskKind::count ? ask.count : static_cast<unsigned>(ask.ids.size());
    const unsigned held = leases_held_by(gpu::read_leases(*context.leases), context.holder.uid);
    if (auto reason = gpu::over_limit(rule, context.user, requested, held))
        throw Error(ExitCode::no_gpu, *reason);
    for (const gpu::VisibleDevice& device : ask.ids) {
        if (!gpu::rule_allows(rule, device.gpu_index, device.uuid, parent_uuid(snapshot, device))) {
            throw Error(
                ExitCode::no_gpu,
                label(device) + " is not allowed for " + context.user.name + " by the GPU policy" +
                    (rule.source.empty() ? "" : " (" + rule.key + ", " + rule.source + ")"));
        }
    }
}

std::vector<gpu::LeaseGpu> lease_gpus(const std::vector<gpu::VisibleDevice>& devices) {
    std::vector<gpu::LeaseGpu> out;
    out.reserve(devices.size());
    for (const gpu::VisibleDevice& d : devices)
        out.push_back({d.uuid, d.gpu_index});
    return out;
}

// One attempt: on success the leases are held; on failure `failure` says who holds what.
AllocationResult attempt(const GpuAsk& ask, const AllocationContext& context,
                         const gpu::NvmlSnapshot& snapshot) {
    AllocationResult result;
    const auto leases = gpu::read_leases(*context.leases);
    const auto holders = lease_holders(leases);
    if (ask.kind == GpuAskKind::ids) {
        gpu::AcquireOutcome outcome =
            gpu::acquire_all(*context.leases, lease_gpus(ask.ids), context.holder);
        if (outcome.ok()) {
            result.leases = std::move(outcome.leases);
            result.devices = ask.ids;
            return result;
        }
        result.failure = "the asked GPUs are not all free:";
        for (const gpu::VisibleDevice& d : ask.ids) {
            if (std::find(outcome.busy.begin(), outcome.busy.end(), d.uuid) == outcome.busy.end())
                continue;
            const auto holder = holders.find(d.uuid);
            result.failure += "\n  " + label(d) + ": leased by " +
                              (holder != holders.end() ? holder->second : "someone (just taken)");
        }
        return result;
    }
    const gpu::GpuRule& rule = rule_of(context);
    const gpu::FreeThresholds thresholds =
        context.policy != nullptr ? context.policy->free : gpu::FreeThresholds{};
    const Ranking ranking = rank_free_devices(device_states(snapshot, context.pool, rule, holders),
                                              thresholds, ask.min_free_memory);
    if (ranking.candidates.size() >= ask.count) {
        gpu::AcquireOutcome outcome = gpu::acquire_some(
            *context.leases, lease_gpus(ranking.candidates), ask.count, context.holder);
        if (outcome.ok()) {
            for (const gpu::Lease& lease : outcome.leases) {
                for (const gpu::VisibleDevice& d : ranking.candidates) {
                    if (d.uuid == lease.uuid())
                        result.devices.push_back(d);
                }
            }
            result.leases = std::move(outcome.leases);
            return result;
        }
    }
    result.failure = "not enough free GPUs: asked for " + std::to_string(ask.count) + ", " +
                     std::to_string(ranking.candidates.size()) + " free";
    if (context.pool.empty())
        result.failure += " (no GPU is visible to this process)";
    for (const std::string& line : ranking.refusals)
        result.failure += "\n  " + line;
    return result;
}

}  // namespace

std::vector<DeviceState> device_states(const gpu::NvmlSnapshot& snapshot,
                                       const std::vector<gpu::VisibleDevice>& pool,
                                       const gpu::GpuRule& rule,
                                       const std::map<std::string, std::string>& lease_holders) {
    std::vector<DeviceState> states;
    states.reserve(pool.size());
    for (const gpu::VisibleDevice& device : pool) {
        DeviceState state;
        state.device = device;
        if (const gpu::GpuInfo* info = find_gpu(snapshot, device.gpu_index)) {
            if (device.mig)
                fill_mig_device(*info, state);
            else
                fill_whole_gpu(*info, state);
        }
        state.allowed =
            gpu::rule_allows(rule, device.gpu_index, device.uuid, parent_uuid(snapshot, device));
        if (auto holder = lease_holders.find(device.uuid); holder != lease_holders.end())
            state.leased_by = holder->second;
        states.push_back(std::move(state));
    }
    return states;
}

Ranking rank_free_devices(const std::vector<DeviceState>& states,
                          const gpu::FreeThresholds& thresholds, std::uint64_t min_free_memory) {
    std::vector<const DeviceState*> usable;
    Ranking ranking;
    for (const DeviceState& s : states) {
        if (auto why = refusal(s, thresholds, min_free_memory))
            ranking.refusals.push_back(label(s.device) + ": " + *why);
        else
            usable.push_back(&s);
    }
    std::stable_sort(usable.begin(), usable.end(), [](const DeviceState* a, const DeviceState* b) {
        return a->free_memory.value_or(0) > b->free_memory.value_or(0);
    });
    for (const DeviceState* s : usable)
        ranking.candidates.push_back(s->device);
    return ranking;
}

AllocationResult allocate_gpus(const GpuAsk& ask, const AllocationContext& context) {
    if (context.leases == nullptr)
        throw Error(ExitCode::internal, "allocate_gpus needs a lease directory");
    check_policy(ask, context, context.first_snapshot);
    const auto start = std::chrono::steady_clock::now();
    bool told = false;
    for (bool first = true;; first = false) {
        // Leases are re-read by every attempt; NVML only when the devices' load matters.
        const bool rescan = !first && ask.kind == GpuAskKind::count && context.snapshot;
        AllocationResult result =
            attempt(ask, context, rescan ? context.snapshot() : context.first_snapshot);
        if (result.failure.empty() || !ask.wait)
            return result;
        if (!told && ask.on_wait) {
            ask.on_wait(result.failure);
            told = true;
        }
        const bool forever = ask.wait->count() == 0;
        if (!forever && std::chrono::steady_clock::now() - start >= *ask.wait)
            return result;
        if (ask.cancelled && ask.cancelled()) {
            result.cancelled = true;
            return result;
        }
        std::this_thread::sleep_for(k_poll_interval);
    }
}

std::string describe_holder(const gpu::LeaseInfo& lease) {
    if (!lease.current || !lease.current->holder)
        return "someone (holder unknown)";
    const gpu::LeaseHolder& h = *lease.current->holder;
    std::string command;
    for (const std::string& arg : h.command)
        command += (command.empty() ? "" : " ") + arg;
    return h.user + " (pid " + std::to_string(h.pid) + ", since " +
           gpu::format_iso_utc(h.start_unix_ns) + (command.empty() ? "" : ": " + command) + ")";
}

std::map<std::string, std::string> lease_holders(const std::vector<gpu::LeaseInfo>& leases) {
    std::map<std::string, std::string> holders;
    for (const gpu::LeaseInfo& lease : leases) {
        if (lease.state == gpu::LeaseState::held)
            holders[lease.uuid] = describe_holder(lease);
    }
    return holders;
}

}  // namespace gpuenv::core::run
