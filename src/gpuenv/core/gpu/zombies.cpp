#include <gpuenv/core/gpu/zombies.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

#include <gpuenv/util/text.hpp>

namespace gpuenv::core::gpu {
namespace {

constexpr std::uint64_t k_mib = 1024 * 1024;
// A process using less than this share of one CPU over the window counts as idle.
constexpr double k_idle_cpu_share = 0.01;

// Formats a number with at most 3 significant decimals and no trailing zeros: "1.5", "0.4".
std::string decimal(double value) {
    std::array<char, 32> buffer{};
    std::snprintf(buffer.data(), buffer.size(), "%.3g", value);
    return buffer.data();
}

std::string mib(std::uint64_t bytes) {
    return std::to_string(bytes / k_mib) + " MiB";
}

std::string describe_parent(int ppid, const ProcessFacts* facts) {
    if (facts != nullptr && !facts->parent_command.empty())
        return "pid " + std::to_string(ppid) + ", " + facts->parent_command;
    return "pid " + std::to_string(ppid);
}

bool is_orphaned(const ProcessInfo& info, const ProcessFacts& facts) {
    if (facts.pgid <= 0 || facts.pgid == static_cast<int>(info.pid) || facts.pgid_leader_exists)
        return false;
    const int ppid = info.ppid.value_or(0);
    return ppid == 1 || !facts.parent_pgid || *facts.parent_pgid != facts.pgid;
}

// Holds the idle evidence of one process, or why it is not idle.
std::optional<std::string> idle_reason(const GpuRow& row, const ProcessInfo& info,
                                       const ProcessFacts& facts, const ZombieEvidence& evidence,
                                       const ZombieThresholds& thresholds) {
    const auto samples = evidence.gpu_utilisation.find(row.gpu.index);
    if (samples == evidence.gpu_utilisation.end() || samples->second.empty())
        return std::nullopt;
    if (std::any_of(samples->second.begin(), samples->second.end(),
                    [](unsigned u) { return u > 0; }))
        return std::nullopt;
    if (!facts.cpu_ticks_used || evidence.window.count() <= 0 || evidence.ticks_per_second <= 0)
        return std::nullopt;
    const double window_s = static_cast<double>(evidence.window.count()) / 1000.0;
    const double share = static_cast<double>(*facts.cpu_ticks_used) /
                         (window_s * static_cast<double>(evidence.ticks_per_second));
    if (share >= k_idle_cpu_share)
        return std::nullopt;
    if (!info.elapsed_s ||
        *info.elapsed_s < static_cast<std::uint64_t>(thresholds.idle_after.count()))
        return std::nullopt;
    const std::string cpu = *facts.cpu_ticks_used == 0 ? std::string("no CPU use")
                                                       : decimal(share * 100.0) + "% of one CPU";
    return "0% GPU utilisation in " + std::to_string(samples->second.size()) + " samples and " +
           cpu + " over the " + format_window(evidence.window) + " sampled; running for " +
           format_elapsed(*info.elapsed_s);
}

// Returns the kind and reason of a visible process, or nothing when it is not a zombie.
std::optional<std::pair<ZombieKind, std::string>> classify(
    const GpuRow& row, const GpuProcessRow& process, const ProcessFacts* facts,
    const ZombieEvidence& evidence, const std::map<std::string, std::string>& lease_holders,
    const ZombieThresholds& thresholds) {
    const ProcessInfo& info = process.info;
    const int ppid = info.ppid.value_or(0);
    switch (info.state) {
        case 'Z':
            return std::pair{ZombieKind::defunct,
                             "exited, but its parent (" + describe_parent(ppid, facts) +
                                 ") has not reaped it; signals do nothing to it: its parent must "
                                 "reap it or exit"};
        case 'D':
            return std::pair{
                ZombieKind::uninterruptible,
                std::string("in uninterruptible sleep (state D), likely stuck in the "
                            "driver; a kill has no effect until the driver returns, and "
                            "a GPU reset or a reboot may be needed")};
        case 'T':
            return std::pair{ZombieKind::stopped,
                             std::string("stopped by a signal (state T, e.g. Ctrl-Z) while holding "
                                         "GPU memory")};
        case 't':
            return std::pair{ZombieKind::stopped,
                             std::string("stopped by a tracer (state t) while holding GPU memory")};
        default:
            break;
    }
    if (facts != nullptr && is_orphaned(info, *facts)) {
        return std::pair{ZombieKind::orphaned,
                         "its process-group leader (pid " + std::to_string(facts->pgid) +
                             ") has exited and it was re-parented to " +
                             describe_parent(ppid, facts) + ": a worker left behind by a dead job"};
    }
    if (row.gpu.uuid.ok()) {
        const auto lease = lease_holders.find(*row.gpu.uuid.value);
        if (lease != lease_holders.end() && lease->second != info.user) {
            return std::pair{ZombieKind::foreign_lease,
                             "runs as " + info.user + " on a GPU leased by " + lease->second};
        }
    }
    // Idle is about memory held for nothing: a process NVML says holds none is left alone.
    if (facts != nullptr && process.nvml.used_memory != std::uint64_t{0}) {
        if (auto reason = idle_reason(row, info, *facts, evidence, thresholds))
            return std::pair{ZombieKind::idle, std::move(*reason)};
    }
    return std::nullopt;
}

void decide_killable(Zombie& zombie, const ProcessFacts* facts, const Caller& caller) {
    switch (zombie.kind) {
        case ZombieKind::defunct:
            zombie.not_killable_reason =
                "a defunct process cannot be signalled; its parent must "
                "reap it or exit";
            return;
        case ZombieKind::uninterruptible:
            zombie.not_killable_reason = "signals have no effect until the driver returns";
            return;
        case ZombieKind::no_process:
            zombie.not_killable_reason = "no process to signal";
            return;
        case ZombieKind::not_visible:
            zombie.not_killable_reason = "not in this PID namespace";
            return;
        default:
            break;
    }
    if (facts == nullptr || !facts->uid) {
        zombie.not_killable_reason = "its owner cannot be read";
        return;
    }
    if (!caller.root && *facts->uid != caller.uid) {
        zombie.not_killable_reason = "not yours (owned by " + zombie.user + ")";
        return;
    }
    zombie.killable = true;
}

Zombie process_row(const GpuRow& row, const GpuProcessRow& process) {
    Zombie zombie;
    zombie.gpu_index = row.gpu.index;
    zombie.gpu_uuid = row.gpu.uuid.value.value_or("");
    zombie.pid = process.nvml.pid;
    zombie.used_memory = process.nvml.used_memory;
    zombie.user = process.info.user;
    zombie.command = process.info.command;
    zombie.state = process.info.state;
    return zombie;
}

std::optional<Zombie> no_process_row(const GpuRow& row, const ZombieThresholds& thresholds) {
    const GpuInfo& gpu = row.gpu;
    if (!gpu.processes.ok() || !gpu.processes.value->empty() || !gpu.memory.ok())
        return std::nullopt;
    const std::uint64_t used = gpu.memory.value->used;
    if (used <= thresholds.min_memory)
        return std::nullopt;
    Zombie zombie;
    zombie.gpu_index = gpu.index;
    zombie.gpu_uuid = gpu.uuid.value.value_or("");
    zombie.kind = ZombieKind::no_process;
    zombie.used_memory = used;
    zombie.reason = "NVML reports " + mib(used) +
                    " used and no process: held by children of a dead process that inherited "
                    "its device files (see fuser -v /dev/nvidia*), or by a process in another "
                    "container";
    zombie.not_killable_reason = "no process to signal";
    return zombie;
}

}  // namespace

std::string_view zombie_kind_name(ZombieKind kind) {
    switch (kind) {
        case ZombieKind::defunct:
            return "defunct";
        case ZombieKind::uninterruptible:
            return "uninterruptible";
        case ZombieKind::stopped:
            return "stopped";
        case ZombieKind::orphaned:
            return "orphaned";
        case ZombieKind::foreign_lease:
            return "foreign_lease";
        case ZombieKind::idle:
            return "idle";
        case ZombieKind::no_process:
            return "no_process";
        case ZombieKind::not_visible:
            return "not_visible";
    }
    return "unknown";
}

std::string_view kill_outcome_name(KillOutcome outcome) {
    switch (outcome) {
        case KillOutcome::terminated:
            return "terminated";
        case KillOutcome::killed:
            return "killed";
        case KillOutcome::still_alive:
            return "still_alive";
        case KillOutcome::gone:
            return "gone";
        case KillOutcome::skipped:
            return "skipped";
    }
    return "unknown";
}

std::vector<Zombie> find_zombies(const GpuReport& report, const ZombieEvidence& evidence,
                                 const std::map<std::string, std::string>& lease_holders,
                                 const ZombieThresholds& thresholds, const Caller& caller) {
    std::vector<Zombie> zombies;
    for (const GpuRow& row : report.gpus) {
        for (const GpuProcessRow& process : row.processes) {
            Zombie zombie = process_row(row, process);
            if (!process.info.visible) {
                zombie.kind = ZombieKind::not_visible;
                zombie.reason = "not in this PID namespace: another container, or gone";
                decide_killable(zombie, nullptr, caller);
                zombies.push_back(std::move(zombie));
                continue;
            }
            const auto found = evidence.processes.find(process.nvml.pid);
            const ProcessFacts* facts =
                found != evidence.processes.end() ? &found->second : nullptr;
            auto kind = classify(row, process, facts, evidence, lease_holders, thresholds);
            if (!kind)
                continue;
            zombie.kind = kind->first;
            zombie.reason = std::move(kind->second);
            if (facts != nullptr)
                zombie.start_ticks = facts->start_ticks;
            decide_killable(zombie, facts, caller);
            zombies.push_back(std::move(zombie));
        }
        if (auto zombie = no_process_row(row, thresholds))
            zombies.push_back(std::move(*zombie));
    }
    return zombies;
}

bool is_finding(const Zombie& zombie) {
    return zombie.kind != ZombieKind::not_visible;
}

std::string format_window(std::chrono::milliseconds window) {
    const auto ms = window.count();
    if (ms < 1000)
        return std::to_string(ms) + " ms";
    if (ms % 1000 == 0)
        return std::to_string(ms / 1000) + " s";
    return decimal(static_cast<double>(ms) / 1000.0) + " s";
}

std::optional<JobStat> parse_job_stat(std::string_view line) {
    const auto close = line.rfind(')');
    if (close == std::string_view::npos)
        return std::nullopt;
    // Fields after comm, numbered from 3 (state) as in proc(5).
    std::vector<std::string_view> fields;
    for (std::string_view field : util::split(line.substr(close + 1), ' ')) {
        field = util::trim(field);
        if (!field.empty())
            fields.push_back(field);
    }
    constexpr std::size_t k_pgrp = 2;    // field 5
    constexpr std::size_t k_utime = 11;  // field 14
    constexpr std::size_t k_stime = 12;  // field 15
    if (fields.size() <= k_stime)
        return std::nullopt;
    const auto parse = [](std::string_view s, auto& out) {
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        return ec == std::errc() && end == s.data() + s.size();
    };
    JobStat stat;
    std::uint64_t utime = 0;
    std::uint64_t stime = 0;
    if (!parse(fields[k_pgrp], stat.pgid) || !parse(fields[k_utime], utime) ||
        !parse(fields[k_stime], stime))
        return std::nullopt;
    stat.cpu_ticks = utime + stime;
    return stat;
}

std::optional<std::uint32_t> parse_status_uid(std::string_view status) {
    for (std::string_view line : util::split(status, '\n')) {
        if (line.substr(0, 4) != "Uid:")
            continue;
        const std::string_view rest = util::trim(line.substr(4));
        const std::size_t end = rest.find_first_of(" \t");
        const std::string_view real = rest.substr(0, end);
        std::uint32_t uid = 0;
        const auto [ptr, ec] = std::from_chars(real.data(), real.data() + real.size(), uid);
        if (ec != std::errc() || ptr != real.data() + real.size() || real.empty())
            return std::nullopt;
        return uid;
    }
    return std::nullopt;
}

}  // namespace gpuenv::core::gpu
