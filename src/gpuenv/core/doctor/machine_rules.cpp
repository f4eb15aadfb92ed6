#include <gpuenv/core/doctor/doctor.hpp>

#include <sched.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <set>
#include <thread>
#include <tuple>

#include <fmt/core.h>

#include <gpuenv/util/file.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::doctor {
namespace {

constexpr std::uint64_t k_mib = std::uint64_t{1} << 20u;
constexpr std::uint64_t k_gib = std::uint64_t{1} << 30u;
// DataLoader workers hand every batch to the main process through /dev/shm, and each of the
// training processes (one per GPU) keeps num_workers * prefetch_factor batches there: a few
// hundred MiB per process for ImageNet-sized batches. 1 GiB per GPU (at least 1 GiB) is a
// floor that a host's /dev/shm (half the RAM by default) clears by far and Docker's 64 MiB
// default does not.
constexpr std::uint64_t k_shm_per_gpu = k_gib;
// Oversubscription hurts once several processes share the cores; below this many physical
// cores the recommended value would be 1-3 threads and the gain small.
constexpr unsigned k_many_cores = 8;

// ---- CPU facts ------------------------------------------------------------------------------

struct CpuSetDeleter {
    void operator()(cpu_set_t* set) const { CPU_FREE(set); }
};

// Returns the CPUs in this process's affinity mask, growing the mask for machines with more
// CPUs than the default cpu_set_t holds; nothing when the call fails.
std::optional<std::vector<unsigned>> affinity_cpus() {
    for (std::size_t count = 1024; count <= (std::size_t{1} << 18u); count *= 2) {
        const std::unique_ptr<cpu_set_t, CpuSetDeleter> set(CPU_ALLOC(count));
        if (!set)
            return std::nullopt;
        const std::size_t size = CPU_ALLOC_SIZE(count);
        CPU_ZERO_S(size, set.get());
        if (::sched_getaffinity(0, size, set.get()) != 0) {
            if (errno == EINVAL)
                continue;
            return std::nullopt;
        }
        std::vector<unsigned> cpus;
        for (std::size_t cpu = 0; cpu < count; ++cpu) {
            if (CPU_ISSET_S(cpu, size, set.get()))
                cpus.push_back(static_cast<unsigned>(cpu));
        }
        return cpus;
    }
    return std::nullopt;
}

std::optional<long long> read_integer_file(const std::filesystem::path& path) {
    const auto text = util::read_file_head(path, 64);
    if (!text)
        return std::nullopt;
    const std::string_view value = util::trim(*text);
    long long number = 0;
    const auto* end = value.data() + value.size();
    const auto [ptr, ec] = std::from_chars(value.data(), end, number);
    if (ec != std::errc() || ptr != end)
        return std::nullopt;
    return number;
}

// Counts the distinct (package, die, core) triples of `cpus`; nothing when a CPU's topology
// cannot be read (some VMs and containers hide /sys/devices/system/cpu/cpuN/topology).
std::optional<unsigned> physical_cores(const std::vector<unsigned>& cpus) {
    std::set<std::tuple<long long, long long, long long>> cores;
    for (const unsigned cpu : cpus) {
        const std::filesystem::path topology =
            "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology";
        const auto package = read_integer_file(topology / "physical_package_id");
        const auto core = read_integer_file(topology / "core_id");
        if (!package || !core)
            return std::nullopt;
        // core_id is unique within a die on some multi-die parts; die_id is absent on old
        // kernels, where 0 keeps the pair as it was.
        const auto die = read_integer_file(topology / "die_id").value_or(0);
        cores.emplace(*package, die, *core);
    }
    return static_cast<unsigned>(cores.size());
}

// Returns the CPUs a quota allows, rounded up: 150000/100000 lets 1.5 CPUs run, so 2 threads.
std::optional<unsigned> quota_cpus(long long quota, long long period) {
    if (quota <= 0 || period <= 0)
        return std::nullopt;
    return static_cast<unsigned>(std::max<long long>(1, (quota + period - 1) / period));
}

// Parses cgroup v2's cpu.max: "max 100000" (no limit) or "200000 100000".
std::optional<unsigned> read_cpu_max(const std::filesystem::path& file) {
    const auto text = util::read_file_head(file, 128);
    if (!text)
        return std::nullopt;
    const auto fields = util::split(util::trim(*text), ' ');
    if (fields.size() != 2 || fields[0] == "max")
        return std::nullopt;
    long long quota = 0;
    long long period = 0;
    if (std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), quota).ec !=
            std::errc() ||
        std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), period).ec !=
            std::errc())
        return std::nullopt;
    return quota_cpus(quota, period);
}

// Parses cgroup v1's cpu.cfs_quota_us (-1: no limit) and cpu.cfs_period_us.
std::optional<unsigned> read_cfs_quota(const std::filesystem::path& dir) {
    const auto quota = read_integer_file(dir / "cpu.cfs_quota_us");
    const auto period = read_integer_file(dir / "cpu.cfs_period_us");
    if (!quota || !period)
        return std::nullopt;
    return quota_cpus(*quota, *period);
}

// Returns the smallest CPU limit from the cgroup `relative` under `root` up to `root`: every
// ancestor's quota applies too. Inside a container /proc/self/cgroup may name the host's path,
// which does not exist under the container's mount; its root is then the container's cgroup.
template <typename Reader>
std::optional<unsigned> smallest_limit(const std::filesystem::path& root, std::string_view relative,
                                       Reader read) {
    std::vector<std::string_view> parts;
    for (const std::string_view part : util::split(relative, '/')) {
        if (part == "." || part == "..")
            return std::nullopt;
        if (!part.empty())
            parts.push_back(part);
    }
    std::optional<unsigned> smallest;
    for (std::size_t depth = parts.size() + 1; depth-- > 0;) {
        std::filesystem::path dir = root;
        for (std::size_t i = 0; i < depth; ++i)
            dir /= parts[i];
        if (const auto limit = read(dir); limit && (!smallest || *limit < *smallest))
            smallest = limit;
    }
    return smallest;
}

// Returns the CPUs the process's cgroup quota lets it use (cgroup v2 cpu.max, or v1
// cpu.cfs_quota_us), or nothing when no quota is set or none can be read.
std::optional<unsigned> cgroup_cpu_limit() {
    const auto text = util::read_file_head("/proc/self/cgroup", 64 * 1024);
    if (!text)
        return std::nullopt;
    std::optional<unsigned> smallest;
    const auto keep = [&smallest](std::optional<unsigned> limit) {
        if (limit && (!smallest || *limit < *smallest))
            smallest = limit;
    };
    for (const std::string_view line : util::split(*text, '\n')) {
        const auto first = line.find(':');
        const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
        if (second == std::string_view::npos)
            continue;
        const std::string_view controllers = line.substr(first + 1, second - first - 1);
        const std::string_view relative = line.substr(second + 1);
        if (line.substr(0, first) == "0" && controllers.empty()) {
            for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
                keep(smallest_limit(root, relative, [](const std::filesystem::path& dir) {
                    return read_cpu_max(dir / "cpu.max");
                }));
            }
            continue;
        }
        const auto names = util::split(controllers, ',');
        if (std::find(names.begin(), names.end(), "cpu") == names.end())
            continue;
        for (const char* root :
             {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu"})
            keep(smallest_limit(root, relative, read_cfs_quota));
    }
    return smallest;
}

// ---- shared wording -------------------------------------------------------------------------

std::string format_size(std::uint64_t bytes) {
    if (bytes >= k_gib) {
        if (bytes % k_gib == 0)
            return fmt::format("{} GiB", bytes / k_gib);
        return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / static_cast<double>(k_gib));
    }
    return fmt::format("{} MiB", bytes / k_mib);
}

std::string gpu_count_evidence(std::size_t gpus, const MachineFacts& machine) {
    if (!machine.nvml)
        return "GPUs: none known (NVML could not be used)";
    return fmt::format("GPUs: {} (NVML)", gpus);
}

std::string prefix_argument(const DoctorInput& input) {
    if (input.inventory == nullptr || input.inventory->prefix.path.empty())
        return "PREFIX";
    return input.inventory->prefix.path.string();
}

bool is_conda(const DoctorInput& input) {
    return input.inventory != nullptr && input.inventory->prefix.kind == env::PrefixKind::conda;
}

// ---- threads --------------------------------------------------------------------------------

// Holds a thread-count variable as a process of the environment sees it.
struct ThreadVariable {
    std::string name;
    std::string value;
    std::string source;
};

// Activation sets the environment's variables over the caller's, so they win.
std::optional<ThreadVariable> lookup(const DoctorInput& input, const std::string& name) {
    if (const auto it = input.env_vars.vars.find(name);
        it != input.env_vars.vars.end() && !util::trim(it->second).empty())
        return ThreadVariable{name, it->second, "the environment's activation variables"};
    if (const auto it = input.machine.environment.find(name);
        it != input.machine.environment.end() && !util::trim(it->second).empty())
        return ThreadVariable{name, it->second, "the caller's environment"};
    return std::nullopt;
}

// Parses OMP_NUM_THREADS's outermost level: "8", or "8,2" for nested parallelism.
std::optional<unsigned> thread_count(std::string_view value) {
    const std::string_view first = util::trim(value.substr(0, value.find(',')));
    unsigned count = 0;
    const auto* end = first.data() + first.size();
    const auto [ptr, ec] = std::from_chars(first.data(), end, count);
    if (ec != std::errc() || ptr != end || count == 0)
        return std::nullopt;
    return count;
}

// Holds what to recommend for one training process per GPU.
struct ThreadAdvice {
    unsigned threads = 1;
    unsigned workers = 1;
};

ThreadAdvice advise(const CpuFacts& cpus, std::size_t gpus) {
    const unsigned processes = static_cast<unsigned>(std::max<std::size_t>(1, gpus));
    ThreadAdvice advice;
    advice.threads = std::max(1u, cpus.physical / processes);
    advice.workers = std::max(1u, cpus.physical * 3 / (4 * processes));
    return advice;
}

std::string cpu_evidence(const CpuFacts& cpus) {
    return fmt::format(
        "CPUs this process may use: {} logical, {} physical cores (sched_getaffinity, "
        "/sys/devices/system/cpu/cpuN/topology, capped by the cgroup's CPU quota)",
        cpus.logical, cpus.physical);
}

std::string advice_evidence(const ThreadAdvice& advice, const CpuFacts& cpus, std::size_t gpus) {
    const unsigned processes = static_cast<unsigned>(std::max<std::size_t>(1, gpus));
    return fmt::format(
        "recommended, for one training process per GPU: OMP_NUM_THREADS={} ({} physical cores "
        "/ {} processes) and DataLoader(num_workers={}) (about 75% of the cores per process)",
        advice.threads, cpus.physical, processes, advice.workers);
}

std::string thread_fix(const DoctorInput& input, const ThreadAdvice& advice) {
    const std::string set =
        is_conda(input)
            ? fmt::format(
                  "them for the environment with `conda env config vars set "
                  "OMP_NUM_THREADS={0} MKL_NUM_THREADS={0} -p {1}` (applied on the next "
                  "activation), or export them in the job script",
                  advice.threads, prefix_argument(input))
            : fmt::format(
                  "them in the job script (`export OMP_NUM_THREADS={0} "
                  "MKL_NUM_THREADS={0}`)",
                  advice.threads);
    return fmt::format(
        "set {}; use DataLoader(num_workers={}). torchrun "
        "sets OMP_NUM_THREADS=1 in each worker when it is unset, often too few for CPU-side "
        "work: set it explicitly there too",
        set, advice.workers);
}

void check_unset_threads(const DoctorInput& input, DoctorReport& report) {
    const CpuFacts& cpus = input.machine.cpus;
    const std::size_t gpus = input.machine.gpu_count();
    // One process per core count is what torch and OpenMP do by default: harmless for one
    // process, an N-fold oversubscription with one process per GPU.
    if (gpus < 2 || cpus.physical < k_many_cores)
        return;
    if (lookup(input, "OMP_NUM_THREADS") || lookup(input, "MKL_NUM_THREADS"))
        return;
    const ThreadAdvice advice = advise(cpus, gpus);
    DoctorFinding finding;
    finding.rule = "threads_unset";
    finding.severity = Severity::warning;
    finding.title = fmt::format(
        "OMP_NUM_THREADS and MKL_NUM_THREADS are unset: with one process per GPU, {} processes "
        "each start a thread per core on {} physical cores",
        gpus, cpus.physical);
    finding.evidence = {
        cpu_evidence(cpus),
        gpu_count_evidence(gpus, input.machine),
        "OMP_NUM_THREADS, MKL_NUM_THREADS: set neither by the environment "
        "(etc/conda/env_vars.d, conda-meta/state) nor in the caller's environment",
        "without them each process starts one torch intra-op thread per physical core, and "
        "libgomp and OpenBLAS one per logical CPU; DataLoader workers set torch's to 1, not "
        "numpy's or OpenCV's",
        advice_evidence(advice, cpus, gpus),
    };
    finding.fix = thread_fix(input, advice);
    report.findings.push_back(std::move(finding));
}

void check_oversubscribed_threads(const DoctorInput& input, DoctorReport& report) {
    const CpuFacts& cpus = input.machine.cpus;
    if (cpus.physical == 0)
        return;
    const std::size_t gpus = input.machine.gpu_count();
    // One thread per process is the least there is: more GPUs than cores is no finding then.
    const std::size_t least =
        std::max<std::size_t>(1, cpus.physical / std::max<std::size_t>(1, gpus));
    std::vector<std::string> evidence;
    std::string worst;
    for (const char* name : {"OMP_NUM_THREADS", "MKL_NUM_THREADS"}) {
        const auto variable = lookup(input, name);
        const auto count = variable ? thread_count(variable->value) : std::nullopt;
        if (!count)
            continue;
        if (*count > cpus.physical) {
            evidence.push_back(fmt::format("{}={} ({}): more threads than the {} physical cores",
                                           name, variable->value, variable->source, cpus.physical));
        } else if (gpus >= 2 && *count * gpus > cpus.physical && *count > least) {
            evidence.push_back(fmt::format(
                "{}={} ({}): {} processes (one per GPU) x {} threads = {} threads on {} physical "
                "cores",
                name, variable->value, variable->source, gpus, *count, *count * gpus,
                cpus.physical));
        } else {
            continue;
        }
        if (worst.empty())
            worst = fmt::format("{}={}", name, variable->value);
    }
    if (evidence.empty())
        return;
    const ThreadAdvice advice = advise(cpus, gpus);
    DoctorFinding finding;
    finding.rule = "threads_oversubscribed";
    finding.severity = Severity::warning;
    finding.title = fmt::format(
        "{} oversubscribes the {} physical cores: threads wait for each other instead of working",
        worst, cpus.physical);
    evidence.push_back(cpu_evidence(cpus));
    evidence.push_back(gpu_count_evidence(gpus, input.machine));
    evidence.push_back(advice_evidence(advice, cpus, gpus));
    finding.evidence = std::move(evidence);
    finding.fix = thread_fix(input, advice);
    report.findings.push_back(std::move(finding));
}

}  // namespace

CpuFacts read_cpu_facts() {
    CpuFacts facts;
    const auto cpus = affinity_cpus();
    if (cpus && !cpus->empty()) {
        facts.logical = static_cast<unsigned>(cpus->size());
        facts.physical = physical_cores(*cpus).value_or(facts.logical);
    } else {
        facts.logical = std::max(1u, std::thread::hardware_concurrency());
        facts.physical = facts.logical;
    }
    // A container's quota lets only so many CPUs run at once, whatever its affinity says.
    if (const auto limit = cgroup_cpu_limit()) {
        facts.logical = std::min(facts.logical, *limit);
        facts.physical = std::min(facts.physical, *limit);
    }
    return facts;
}

ShmFacts read_shm_facts(const std::filesystem::path& path) {
    ShmFacts facts;
    facts.path = path;
    struct statvfs info {};
    if (::statvfs(path.c_str(), &info) != 0) {
        facts.error = std::strerror(errno);
        return facts;
    }
    facts.size_bytes = static_cast<std::uint64_t>(info.f_blocks) * info.f_frsize;
    return facts;
}

void check_shm(const DoctorInput& input, DoctorReport& report) {
    const ShmFacts& shm = input.machine.shm;
    if (shm.path.empty())
        return;  // not read
    const std::size_t gpus = input.machine.gpu_count();
    const std::uint64_t threshold = k_shm_per_gpu * std::max<std::size_t>(1, gpus);
    const std::uint64_t recommended = std::max<std::uint64_t>(16, 2 * gpus);
    const std::string fix = fmt::format(
        "give the container a larger one: `docker run --shm-size={0}g ...` or `docker run "
        "--ipc=host ...` (the host's /dev/shm); in Kubernetes mount an emptyDir with `medium: "
        "Memory` (sizeLimit: {0}Gi) at /dev/shm; on a host, `sudo mount -o remount,size={0}G "
        "{1}`. DataLoader(num_workers=0) avoids it, slowly",
        recommended, shm.path.string());
    DoctorFinding finding;
    finding.severity = Severity::warning;
    finding.fix = fix;
    if (!shm.size_bytes) {
        finding.rule = "shm_unreadable";
        finding.title = fmt::format(
            "{} cannot be read: DataLoader workers (num_workers > 0) need it to pass batches",
            shm.path.string());
        finding.evidence = {
            fmt::format("{}: {} (statvfs)", shm.path.string(),
                        shm.error.empty() ? std::string("size unknown") : shm.error),
        };
        report.findings.push_back(std::move(finding));
        return;
    }
    if (*shm.size_bytes >= threshold)
        return;
    finding.rule = "shm_small";
    const std::string size = format_size(*shm.size_bytes);
    finding.title = fmt::format(
        "{} is only {}: DataLoader workers die with \"bus error\" or \"unable to write to file "
        "</torch_...>\" once their batches outgrow it",
        shm.path.string(), size);
    finding.evidence = {
        fmt::format("{}: {} in all (statvfs){}", shm.path.string(), size,
                    *shm.size_bytes == 64 * k_mib ? ", Docker's default" : ""),
        gpu_count_evidence(gpus, input.machine),
        fmt::format("threshold: 1 GiB per GPU, at least 1 GiB: {}", format_size(threshold)),
    };
    report.findings.push_back(std::move(finding));
}

void check_threads(const DoctorInput& input, DoctorReport& report) {
    check_unset_threads(input, report);
    check_oversubscribed_threads(input, report);
}

}  // namespace gpuenv::core::doctor
