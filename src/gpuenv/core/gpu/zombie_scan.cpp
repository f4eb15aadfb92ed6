// The I/O half of `gpuenv zombies`: NVML samples over a window and the /proc facts that the
// job and idle rules of zombies.cpp decide from.
#include <gpuenv/core/gpu/zombies.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <thread>

namespace gpuenv::core::gpu {
namespace {

constexpr std::size_t k_max_read = 64 * 1024;
constexpr std::size_t k_max_command = 4096;

std::string proc_dir(int pid) {
    return "/proc/" + std::to_string(pid);
}

std::optional<JobStat> read_job_stat(int pid) {
    const auto line = read_proc_file(proc_dir(pid) + "/stat", k_max_read);
    return line ? parse_job_stat(*line) : std::nullopt;
}

std::set<unsigned> pids_of(const NvmlSnapshot& snapshot) {
    std::set<unsigned> pids;
    for (const GpuInfo& gpu : snapshot.gpus) {
        if (gpu.processes.ok()) {
            for (const GpuProcess& process : *gpu.processes.value)
                pids.insert(process.pid);
        }
    }
    return pids;
}

// Reads the facts of one pid; the CPU ticks are those since `ticks_before` when known.
std::optional<ProcessFacts> read_facts(unsigned pid, std::optional<std::uint64_t> ticks_before) {
    const std::string dir = proc_dir(static_cast<int>(pid));
    const auto stat_line = read_proc_file(dir + "/stat", k_max_read);
    if (!stat_line)
        return std::nullopt;
    const auto fields = parse_stat_line(*stat_line);
    const auto job = parse_job_stat(*stat_line);
    if (!fields || !job)
        return std::nullopt;
    ProcessFacts facts;
    facts.start_ticks = fields->start_ticks;
    facts.pgid = job->pgid;
    struct stat st {};
    facts.pgid_leader_exists = job->pgid <= 0 || ::stat(proc_dir(job->pgid).c_str(), &st) == 0;
    if (const auto parent = read_job_stat(fields->ppid))
        facts.parent_pgid = parent->pgid;
    if (const auto cmdline = read_proc_file(proc_dir(fields->ppid) + "/cmdline", k_max_read))
        facts.parent_command = cmdline_to_text(*cmdline, k_max_command);
    if (const auto status = read_proc_file(dir + "/status", k_max_read))
        facts.uid = parse_status_uid(*status);
    if (ticks_before && job->cpu_ticks >= *ticks_before)
        facts.cpu_ticks_used = job->cpu_ticks - *ticks_before;
    return facts;
}

void add_utilisation(const NvmlSnapshot& snapshot, ZombieEvidence& evidence) {
    for (const GpuInfo& gpu : snapshot.gpus) {
        auto& samples = evidence.gpu_utilisation[gpu.index];
        if (gpu.utilisation.ok())
            samples.push_back(gpu.utilisation.value->gpu);
        else
            samples.push_back(k_utilisation_unknown);
    }
}

}  // namespace

ZombieScan scan_zombie_evidence(const Nvml& nvml, std::chrono::milliseconds window, int samples) {
    samples = std::max(samples, 2);
    ZombieEvidence evidence;
    evidence.ticks_per_second = ::sysconf(_SC_CLK_TCK);
    const auto started = std::chrono::steady_clock::now();
    NvmlSnapshot snapshot = nvml.snapshot();
    std::map<unsigned, std::uint64_t> ticks_before;
    for (unsigned pid : pids_of(snapshot)) {
        if (const auto job = read_job_stat(static_cast<int>(pid)))
            ticks_before[pid] = job->cpu_ticks;
    }
    add_utilisation(snapshot, evidence);
    for (int i = 1; i < samples; ++i) {
        std::this_thread::sleep_until(started + window * i / (samples - 1));
        snapshot = nvml.snapshot();
        add_utilisation(snapshot, evidence);
    }
    // The window the CPU ticks really cover, NVML's own time included.
    evidence.window = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    ZombieScan scan;
    scan.report = build_gpu_report(snapshot, read_process_info);
    for (unsigned pid : pids_of(snapshot)) {
        const auto before = ticks_before.find(pid);
        const auto facts = read_facts(pid, before != ticks_before.end()
                                               ? std::optional<std::uint64_t>(before->second)
                                               : std::nullopt);
        if (facts)
            evidence.processes.emplace(pid, *facts);
    }
    scan.evidence = std::move(evidence);
    scan.snapshot = std::move(snapshot);
    return scan;
}

Caller current_caller() {
    return Caller{static_cast<std::uint32_t>(::getuid()), ::geteuid() == 0};
}

}  // namespace gpuenv::core::gpu
