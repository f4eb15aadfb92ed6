#pragma once

// `gpuenv zombies`: processes that hold GPU memory and should not, and memory held by no
// process (../shared/reference/gpu.md §4.4). find_zombies is pure: it decides from a
// GpuReport and the facts scan_zombie_evidence gathered from NVML samples and /proc.
// end_zombies does the killing, identifying each process by (pid, start ticks).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/gpu/gpu_report.hpp>
#include <gpuenv/core/gpu/nvml.hpp>

namespace gpuenv::core::gpu {

/// Names why a row is reported; a process matches the first kind in this order.
enum class ZombieKind {
    defunct,          ///< state Z: exited, its parent has not reaped it
    uninterruptible,  ///< state D: stuck in the kernel (driver)
    stopped,          ///< state T or t: stopped by a signal or a tracer
    orphaned,         ///< its process-group leader exited and its parent is outside the job
    foreign_lease,    ///< runs on a GPU another user has leased
    idle,             ///< no GPU or CPU use over the sampling window, and old enough
    no_process,       ///< the GPU has memory used and no process at all
    not_visible,      ///< NVML lists a pid /proc cannot show (information only)
};

/// Returns the name of a kind as printed and in JSON ("foreign_lease").
[[nodiscard]] std::string_view zombie_kind_name(ZombieKind kind);

/// Holds what /proc says about a process beyond ProcessInfo, for the job and idle rules.
struct ProcessFacts {
    std::uint64_t start_ticks = 0;  ///< identity with the pid: a reused pid has other ticks
    int pgid = 0;
    bool pgid_leader_exists = true;               ///< whether /proc/PGID exists
    std::optional<int> parent_pgid;               ///< empty when the parent cannot be read
    std::string parent_command;                   ///< empty when unknown
    std::optional<std::uint32_t> uid;             ///< the real uid
    std::optional<std::uint64_t> cpu_ticks_used;  ///< utime+stime over the sampling window
};

/// Marks a utilisation sample NVML could not read; it counts as not idle.
inline constexpr unsigned k_utilisation_unknown = ~0u;

/// Holds the facts a scan gathered beside its GpuReport.
struct ZombieEvidence {
    std::map<unsigned, ProcessFacts> processes;  ///< by pid; a pid absent here has no facts
    /// GPU utilisation in percent by GPU index, one entry per sample (k_utilisation_unknown
    /// where it could not be read).
    std::map<unsigned, std::vector<unsigned>> gpu_utilisation;
    std::chrono::milliseconds window{0};  ///< the sampling window the CPU ticks cover
    long ticks_per_second = 100;          ///< sysconf(_SC_CLK_TCK)
};

/// Holds the thresholds of the rules.
struct ZombieThresholds {
    std::chrono::seconds idle_after{3600};               ///< minimum age of an idle process
    std::uint64_t min_memory = std::uint64_t{1} << 30u;  ///< bytes, for no_process
};

/// Says who asks, for the rule that only root may end other users' processes.
struct Caller {
    std::uint32_t uid = 0;
    bool root = false;  ///< effective uid 0
};

/// Says what --kill did to a process.
enum class KillOutcome {
    terminated,   ///< exited after SIGTERM
    killed,       ///< exited after SIGKILL
    still_alive,  ///< survived SIGKILL (uninterruptible in the driver)
    gone,         ///< exited or its pid was reused before it was signalled
    skipped,      ///< not signalled: not killable, not the caller's, or not permitted
};

/// Returns the name of an outcome as printed and in JSON ("still_alive").
[[nodiscard]] std::string_view kill_outcome_name(KillOutcome outcome);

/// Describes what --kill did to one row.
struct KillAction {
    KillOutcome outcome = KillOutcome::skipped;
    std::string message;  ///< a sentence: "ended by SIGTERM", "not yours (owned by bob)"
};

/// Describes one reported row: a process, or a GPU's memory held by no process (pid 0).
struct Zombie {
    unsigned gpu_index = 0;
    std::string gpu_uuid;  ///< empty when NVML could not read it
    unsigned pid = 0;      ///< 0 for no_process
    ZombieKind kind = ZombieKind::no_process;
    std::string reason;                        ///< a sentence with the evidence
    std::optional<std::uint64_t> used_memory;  ///< bytes; empty when NVML does not say
    std::string user;                          ///< empty when unknown
    std::string command;                       ///< empty when unknown
    bool killable = false;
    std::string not_killable_reason;  ///< why not, when killable is false
    std::uint64_t start_ticks = 0;    ///< the identity checked before signalling
    char state = '?';
    std::optional<KillAction> action;  ///< set by end_zombies
};

/// Returns the zombies of `report`: one row per (GPU, process) that matches a rule, and one
/// per GPU whose memory is held by no process; `lease_holders` maps GPU UUID to user name.
[[nodiscard]] std::vector<Zombie> find_zombies(
    const GpuReport& report, const ZombieEvidence& evidence,
    const std::map<std::string, std::string>& lease_holders, const ZombieThresholds& thresholds,
    const Caller& caller);

/// Returns whether a row counts as a finding (not_visible is information only).
[[nodiscard]] bool is_finding(const Zombie& zombie);

/// Formats a duration for a reason: "200 ms", "2 s", "1.5 s".
[[nodiscard]] std::string format_window(std::chrono::milliseconds window);

/// Holds the fields of /proc/PID/stat the job and idle rules use.
struct JobStat {
    int pgid = 0;                 ///< field 5
    std::uint64_t cpu_ticks = 0;  ///< fields 14 + 15: utime + stime
};

/// Parses the process group and CPU ticks of a /proc/PID/stat line; nothing when malformed.
[[nodiscard]] std::optional<JobStat> parse_job_stat(std::string_view line);

/// Returns the real uid of a /proc/PID/status text (its "Uid:" line); nothing when absent.
[[nodiscard]] std::optional<std::uint32_t> parse_status_uid(std::string_view status);

/// Holds a scan: the report of the last NVML sample and the facts gathered around it.
struct ZombieScan {
    GpuReport report;
    ZombieEvidence evidence;
    NvmlSnapshot snapshot;  ///< the last NVML read, which `report` was built from
};

/// Samples NVML `samples` times over `window` (at least twice) and /proc at both ends of it.
[[nodiscard]] ZombieScan scan_zombie_evidence(const Nvml& nvml, std::chrono::milliseconds window,
                                              int samples);

/// Returns the uid and root-ness of the running process.
[[nodiscard]] Caller current_caller();

/// Ends every killable row's process: SIGTERM (and SIGCONT when stopped), up to `grace` to
/// exit, then SIGKILL; never signals a pid whose start ticks changed. Sets every row's action.
[[nodiscard]] std::vector<Zombie> end_zombies(std::vector<Zombie> zombies,
                                              std::chrono::milliseconds grace);

}  // namespace gpuenv::core::gpu
