#include <gpuenv/core/gpu/zombies.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include <support/defunct_child.hpp>
#include <support/fake_nvml_scenario.hpp>
#include <support/orphan.hpp>
#include <support/sleeper.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::gpu {
namespace {

using std::chrono::milliseconds;
using Json = nlohmann::json;

constexpr std::uint64_t k_gib = std::uint64_t{1} << 30u;
constexpr unsigned k_missing_pid = 4194303;  // pid_max's ceiling: not a process here
const Caller k_alice{1000, false};

// --- pure rules: a report built by hand, facts given explicitly ---

GpuRow gpu_row(unsigned index, std::vector<GpuProcess> processes = {}) {
    GpuRow row;
    row.gpu.index = index;
    row.gpu.handle.value = true;
    row.gpu.uuid.value = "GPU-" + std::to_string(index);
    row.gpu.memory.value = GpuMemory{0, 80 * k_gib};
    row.gpu.processes.value = std::move(processes);
    return row;
}

ProcessInfo running(unsigned pid, char state = 'S', const std::string& user = "alice") {
    ProcessInfo info;
    info.pid = pid;
    info.visible = true;
    info.user = user;
    info.command = "python train.py";
    info.state = state;
    info.ppid = 100;
    info.elapsed_s = 3 * 3600 + 5 * 60;
    return info;
}

// Facts of a process in a live job: its group leader exists, its parent is in its group.
ProcessFacts in_job(std::uint32_t uid = 1000) {
    ProcessFacts facts;
    facts.start_ticks = 12345;
    facts.pgid = 100;
    facts.pgid_leader_exists = true;
    facts.parent_pgid = 100;
    facts.parent_command = "bash";
    facts.uid = uid;
    facts.cpu_ticks_used = 50;
    return facts;
}

// One GPU with one process; the fixture lets each test change what it needs.
struct OneProcess {
    GpuReport report;
    ZombieEvidence evidence;
    std::map<std::string, std::string> leases;
    ZombieThresholds thresholds;

    explicit OneProcess(const ProcessInfo& info, const ProcessFacts& facts = in_job()) {
        GpuRow row = gpu_row(0, {{info.pid, 2 * k_gib}});
        row.gpu.memory.value->used = 2 * k_gib;
        row.processes.push_back({{info.pid, 2 * k_gib}, info, {}});
        report.gpus.push_back(row);
        evidence.processes[info.pid] = facts;
        evidence.gpu_utilisation[0] = {35, 40, 38};
        evidence.window = milliseconds(2000);
        evidence.ticks_per_second = 100;
    }
    std::vector<Zombie> find(const Caller& caller = k_alice) const {
        return find_zombies(report, evidence, leases, thresholds, caller);
    }
};

TEST(ZombieRules, RunningProcessWithUtilisationIsNotAZombie) {
    EXPECT_TRUE(OneProcess(running(200)).find().empty());
}

TEST(ZombieRules, DefunctNamesItsParentAndIsNotKillable) {
    OneProcess s(running(200, 'Z'));
    const auto zombies = s.find();
    ASSERT_EQ(zombies.size(), 1u);
    const Zombie& z = zombies[0];
    EXPECT_EQ(z.kind, ZombieKind::defunct);
    EXPECT_EQ(z.pid, 200u);
    EXPECT_EQ(z.gpu_uuid, "GPU-0");
    EXPECT_EQ(z.used_memory, 2 * k_gib);
    EXPECT_NE(z.reason.find("parent (pid 100, bash) has not reaped it"), std::string::npos)
        << z.reason;
    EXPECT_FALSE(z.killable);
    EXPECT_NE(z.not_killable_reason.find("reap"), std::string::npos);
}

TEST(ZombieRules, UninterruptibleIsNotKillable) {
    const auto zombies = OneProcess(running(200, 'D')).find();
    ASSERT_EQ(zombies.size(), 1u);
    EXPECT_EQ(zombies[0].kind, ZombieKind::uninterruptible);
    EXPECT_FALSE(zombies[0].killable);
    EXPECT_NE(zombies[0].reason.find("reboot"), std::string::npos);
}

TEST(ZombieRules, StoppedAndTracedAreKillableByTheirOwner) {
    for (char state : {'T', 't'}) {
        const auto zombies = OneProcess(running(200, state)).find();
        ASSERT_EQ(zombies.size(), 1u) << state;
        EXPECT_EQ(zombies[0].kind, ZombieKind::stopped);
        EXPECT_TRUE(zombies[0].killable);
        EXPECT_EQ(zombies[0].start_ticks, 12345u);
        EXPECT_EQ(zombies[0].state, state);
    }
}

TEST(ZombieRules, OtherUsersProcessIsNotKillableUnlessRoot) {
    OneProcess s(running(200, 'T', "bob"), in_job(1001));
    const auto as_alice = s.find(k_alice);
    ASSERT_EQ(as_alice.size(), 1u);
    EXPECT_FALSE(as_alice[0].killable);
    EXPECT_EQ(as_alice[0].not_killable_reason, "not yours (owned by bob)");
    const auto as_root = s.find(Caller{0, true});
    ASSERT_EQ(as_root.size(), 1u);
    EXPECT_TRUE(as_root[0].killable);
}

TEST(ZombieRules, OrphanedWhenLeaderGoneAndParentOutsideTheJob) {
    ProcessFacts facts = in_job();
    facts.pgid = 150;
    facts.pgid_leader_exists = false;
    facts.parent_pgid = 1;
    facts.parent_command = "/sbin/init";
    ProcessInfo info = running(200);
    info.ppid = 1;
    const auto zombies = OneProcess(info, facts).find();
    ASSERT_EQ(zombies.size(), 1u);
    EXPECT_EQ(zombies[0].kind, ZombieKind::orphaned);
    EXPECT_NE(zombies[0].reason.find("leader (pid 150) has exited"), std::string::npos)
        << zombies[0].reason;
    EXPECT_NE(zombies[0].reason.find("re-parented to pid 1, /sbin/init"), std::string::npos);
    EXPECT_TRUE(zombies[0].killable);
}

TEST(ZombieRules, NotOrphanedWhileTheParentIsInTheJobOrTheLeaderLives) {
    ProcessFacts parent_in_job = in_job();
    parent_in_job.pgid = 150;
    parent_in_job.pgid_leader_exists = false;
    parent_in_job.parent_pgid = 150;  // e.g. a worker whose launcher is still alive
    EXPECT_TRUE(OneProcess(running(200), parent_in_job).find().empty());
    ProcessFacts leader_lives = in_job();
    leader_lives.pgid = 150;
    leader_lives.parent_pgid = 1;
    EXPECT_TRUE(OneProcess(running(200), leader_lives).find().empty());
    ProcessFacts is_leader = in_job();
    is_leader.pgid = 200;
    is_leader.pgid_leader_exists = false;
    is_leader.parent_pgid = 1;
    EXPECT_TRUE(OneProcess(running(200), is_leader).find().empty());
}

TEST(ZombieRules, ForeignLeaseWhenAnotherUserHoldsTheGpu) {
    OneProcess s(running(200));
    s.leases["GPU-0"] = "bob";
    const auto zombies = s.find();
    ASSERT_EQ(zombies.size(), 1u);
    EXPECT_EQ(zombies[0].kind, ZombieKind::foreign_lease);
    EXPECT_EQ(zombies[0].reason, "runs as alice on a GPU leased by bob");
    EXPECT_TRUE(zombies[0].killable);
    s.leases["GPU-0"] = "alice";
    EXPECT_TRUE(s.find().empty());
}

TEST(ZombieRules, IdleStatesItsEvidence) {
    ProcessFacts facts = in_job();
    facts.cpu_ticks_used = 0;
    OneProcess s(running(200), facts);
    s.evidence.gpu_utilisation[0] = {0, 0, 0, 0, 0};
    const auto zombies = s.find();
    ASSERT_EQ(zombies.size(), 1u);
    EXPECT_EQ(zombies[0].kind, ZombieKind::idle);
    EXPECT_EQ(zombies[0].reason,
              "0% GPU utilisation in 5 samples and no CPU use over the 2 s "
              "sampled; running for 3h05m");
    EXPECT_TRUE(zombies[0].killable);
}

TEST(ZombieRules, NotIdleWhenBusyUsingCpuHoldingNoMemoryOrYoung) {
    ProcessFacts quiet = in_job();
    quiet.cpu_ticks_used = 0;
    OneProcess busy_sample(running(200), quiet);
    busy_sample.evidence.gpu_utilisation[0] = {0, 0, 3, 0};
    EXPECT_TRUE(busy_sample.find().empty());
    OneProcess unknown_sample(running(200), quiet);
    unknown_sample.evidence.gpu_utilisation[0] = {0, k_utilisation_unknown};
    EXPECT_TRUE(unknown_sample.find().empty());

    ProcessFacts cpu = in_job();
    cpu.cpu_ticks_used = 2;  // 1% of one CPU over 2 s at 100 ticks/s
    OneProcess uses_cpu(running(200), cpu);
    uses_cpu.evidence.gpu_utilisation[0] = {0, 0};
    EXPECT_TRUE(uses_cpu.find().empty());
    cpu.cpu_ticks_used = 1;
    OneProcess little_cpu(running(200), cpu);
    little_cpu.evidence.gpu_utilisation[0] = {0, 0};
    const auto idle = little_cpu.find();
    ASSERT_EQ(idle.size(), 1u);
    EXPECT_NE(idle[0].reason.find("0.5% of one CPU over the 2 s sampled"), std::string::npos)
        << idle[0].reason;

    OneProcess no_memory(running(200), quiet);
    no_memory.evidence.gpu_utilisation[0] = {0, 0};
    no_memory.report.gpus[0].processes[0].nvml.used_memory = 0;
    EXPECT_TRUE(no_memory.find().empty());

    OneProcess young(running(200), quiet);
    young.evidence.gpu_utilisation[0] = {0, 0};
    young.thresholds.idle_after = std::chrono::hours(4);
    EXPECT_TRUE(young.find().empty());
}

TEST(ZombieRules, PrecedenceDefunctUninterruptibleStoppedOrphanedLeaseIdle) {
    ProcessFacts all = in_job(1000);
    all.pgid = 150;
    all.pgid_leader_exists = false;
    all.parent_pgid = 1;
    all.cpu_ticks_used = 0;
    const auto kind_for = [&](char state, bool lease) {
        OneProcess s(running(200, state), all);
        s.evidence.gpu_utilisation[0] = {0, 0};
        if (lease)
            s.leases["GPU-0"] = "bob";
        const auto zombies = s.find();
        EXPECT_EQ(zombies.size(), 1u);
        return zombies.empty() ? ZombieKind::not_visible : zombies[0].kind;
    };
    EXPECT_EQ(kind_for('Z', true), ZombieKind::defunct);
    EXPECT_EQ(kind_for('D', true), ZombieKind::uninterruptible);
    EXPECT_EQ(kind_for('T', true), ZombieKind::stopped);
    EXPECT_EQ(kind_for('S', true), ZombieKind::orphaned);
    all.pgid_leader_exists = true;
    EXPECT_EQ(kind_for('S', true), ZombieKind::foreign_lease);
    EXPECT_EQ(kind_for('S', false), ZombieKind::idle);
}

TEST(ZombieRules, MemoryWithNoProcessAboveTheThreshold) {
    GpuReport report;
    report.gpus.push_back(gpu_row(0));
    report.gpus[0].gpu.memory.value->used = 3 * k_gib;
    report.gpus.push_back(gpu_row(1));
    report.gpus[1].gpu.memory.value->used = 512ull << 20u;  // below 1 GiB: driver reserve
    report.gpus.push_back(gpu_row(2));
    report.gpus[2].gpu.memory.value->used = 3 * k_gib;
    report.gpus[2].gpu.processes = {};
    report.gpus[2].gpu.processes.error = "Not Supported";  // unknown is not "none"
    const auto zombies = find_zombies(report, {}, {}, {}, k_alice);
    ASSERT_EQ(zombies.size(), 1u);
    EXPECT_EQ(zombies[0].kind, ZombieKind::no_process);
    EXPECT_EQ(zombies[0].gpu_index, 0u);
    EXPECT_EQ(zombies[0].pid, 0u);
    EXPECT_EQ(zombies[0].used_memory, 3 * k_gib);
    EXPECT_NE(zombies[0].reason.find("3072 MiB used and no process"), std::string::npos);
    EXPECT_FALSE(zombies[0].killable);
    EXPECT_TRUE(is_finding(zombies[0]));
}

TEST(ZombieRules, NotVisiblePidIsInformationOnly) {
    GpuReport report;
    report.gpus.push_back(gpu_row(0, {{k_missing_pid, std::nullopt}}));
    ProcessInfo info;
    info.pid = k_missing_pid;
    report.gpus[0].processes.push_back({{k_missing_pid, std::nullopt}, info, {}});
    const auto zombies = find_zombies(report, {}, {}, {}, k_alice);
    ASSERT_EQ(zombies.size(), 1u);
    EXPECT_EQ(zombies[0].kind, ZombieKind::not_visible);
    EXPECT_EQ(zombies[0].reason, "not in this PID namespace: another container, or gone");
    EXPECT_FALSE(zombies[0].killable);
    EXPECT_FALSE(is_finding(zombies[0]));
}

TEST(ZombieParse, WindowFormat) {
    EXPECT_EQ(format_window(milliseconds(200)), "200 ms");
    EXPECT_EQ(format_window(milliseconds(2000)), "2 s");
    EXPECT_EQ(format_window(milliseconds(1500)), "1.5 s");
}

TEST(ZombieParse, JobStatAndStatusUid) {
    const std::string line =
        "4242 (python (worker) x) S 1 4200 4200 0 -1 4194560 100 0 0 0 "
        "17 4 0 0 20 0 1 0 98765 1000 100 18446744073709551615";
    const auto stat = parse_job_stat(line);
    ASSERT_TRUE(stat.has_value());
    EXPECT_EQ(stat->pgid, 4200);
    EXPECT_EQ(stat->cpu_ticks, 21u);
    EXPECT_FALSE(parse_job_stat("4242 (x) S 1 4200").has_value());
    EXPECT_FALSE(parse_job_stat("no paren").has_value());
    EXPECT_EQ(parse_status_uid("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t1\t1\t1\t1\n"), 1000u);
    EXPECT_FALSE(parse_status_uid("Name:\tx\n").has_value());
}

// --- scans of real processes through the fake NVML ---

Json gpu_json(const std::vector<unsigned>& pids, unsigned utilisation,
              std::uint64_t used = 2 * k_gib) {
    return test::fake_gpu(pids, utilisation, used, k_gib);
}

std::vector<Zombie> scan(const Json& scenario, ZombieThresholds thresholds = {}) {
    test::FakeNvmlScenario fake(scenario);
    NvmlLoadFailure failure;
    const auto nvml = Nvml::load(GPUENV_FAKE_NVML_CURRENT, failure);
    if (!nvml) {
        ADD_FAILURE() << failure.message;
        return {};
    }
    const ZombieScan result = scan_zombie_evidence(*nvml, milliseconds(200), 3);
    EXPECT_GE(result.evidence.window, milliseconds(200));
    return find_zombies(result.report, result.evidence, {}, thresholds, current_caller());
}

const Zombie* row_of(const std::vector<Zombie>& zombies, unsigned pid) {
    for (const Zombie& z : zombies) {
        if (z.pid == pid)
            return &z;
    }
    return nullptr;
}

TEST(ZombieScan, ClassifiesRealProcesses) {
    test::Sleeper stopped("/bin/sleep", {});
    stopped.stop();
    test::DefunctChild defunct;
    test::Orphan orphan;
    test::Sleeper idle("/bin/sleep", {});
    test::Sleeper busy("/bin/sleep", {});
    const Json scenario = {
        {"gpus",
         Json::array({gpu_json({stopped.pid(), defunct.pid(), orphan.pid(), k_missing_pid}, 30),
                      gpu_json({idle.pid()}, 0), gpu_json({busy.pid()}, 50),
                      gpu_json({}, 0, 3 * k_gib)})}};
    ZombieThresholds thresholds;
    thresholds.idle_after = std::chrono::seconds(0);
    const auto zombies = scan(scenario, thresholds);

    const Zombie* z = row_of(zombies, stopped.pid());
    ASSERT_NE(z, nullptr);
    EXPECT_EQ(z->kind, ZombieKind::stopped);
    EXPECT_TRUE(z->killable);  // the test runs as the process's owner
    EXPECT_EQ(z->command, "/bin/sleep 30");

    z = row_of(zombies, defunct.pid());
    ASSERT_NE(z, nullptr);
    EXPECT_EQ(z->kind, ZombieKind::defunct);
    EXPECT_NE(z->reason.find("parent (pid " + std::to_string(::getpid()) + ", "), std::string::npos)
        << z->reason;
    EXPECT_FALSE(z->killable);

    z = row_of(zombies, orphan.pid());
    ASSERT_NE(z, nullptr);
    EXPECT_EQ(z->kind, ZombieKind::orphaned);
    EXPECT_NE(z->reason.find("leader (pid " + std::to_string(orphan.leader()) + ") has exited"),
              std::string::npos)
        << z->reason;
    EXPECT_NE(z->reason.find("re-parented to pid " + std::to_string(::getpid())), std::string::npos)
        << z->reason;
    EXPECT_TRUE(z->killable);

    z = row_of(zombies, k_missing_pid);
    ASSERT_NE(z, nullptr);
    EXPECT_EQ(z->kind, ZombieKind::not_visible);

    z = row_of(zombies, idle.pid());
    ASSERT_NE(z, nullptr);
    EXPECT_EQ(z->kind, ZombieKind::idle);
    EXPECT_EQ(z->gpu_index, 1u);
    EXPECT_NE(z->reason.find("0% GPU utilisation in 3 samples and no CPU use over the "),
              std::string::npos)
        << z->reason;

    EXPECT_EQ(row_of(zombies, busy.pid()), nullptr);

    z = row_of(zombies, 0);
    ASSERT_NE(z, nullptr);
    EXPECT_EQ(z->kind, ZombieKind::no_process);
    EXPECT_EQ(z->gpu_index, 3u);
    EXPECT_EQ(zombies.size(), 6u);
}

TEST(ZombieScan, RunningSleeperOnAnIdleGpuIsNotIdleBeforeTheThreshold) {
    test::Sleeper sleeper("/bin/sleep", {});
    const auto zombies = scan({{"gpus", Json::array({gpu_json({sleeper.pid()}, 0)})}});
    EXPECT_TRUE(zombies.empty());
}

// --- killing real processes ---

bool is_gone_or_defunct(unsigned pid) {
    struct stat st {};
    if (::stat(("/proc/" + std::to_string(pid)).c_str(), &st) != 0)
        return true;
    const auto stat = read_process_info(pid);
    return !stat.visible || stat.state == 'Z';
}

Zombie killable_row(unsigned pid, char state) {
    const ProcessInfo info = read_process_info(pid);
    Zombie z;
    z.pid = pid;
    z.kind = state == 'T' ? ZombieKind::stopped : ZombieKind::orphaned;
    z.state = info.state;
    z.killable = true;
    // The identity the scan would have recorded.
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    const std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    z.start_ticks = parse_stat_line(line).value().start_ticks;
    return z;
}

TEST(ZombieKill, EndsAStoppedProcessAndAnOrphanAndSkipsTheRest) {
    test::Sleeper stopped("/bin/sleep", {});
    stopped.stop();
    test::Orphan orphan;
    test::DefunctChild defunct;
    std::vector<Zombie> rows = {killable_row(stopped.pid(), 'T'), killable_row(orphan.pid(), 'S')};
    rows[1].kind = ZombieKind::orphaned;
    Zombie defunct_row;
    defunct_row.pid = defunct.pid();
    defunct_row.kind = ZombieKind::defunct;
    defunct_row.not_killable_reason = "a defunct process cannot be signalled";
    rows.push_back(defunct_row);

    const auto done = end_zombies(rows, milliseconds(5000));
    ASSERT_EQ(done.size(), 3u);
    ASSERT_TRUE(done[0].action.has_value());
    // sleep dies of SIGTERM's default action once SIGCONT lets it run.
    EXPECT_EQ(done[0].action->outcome, KillOutcome::terminated) << done[0].action->message;
    EXPECT_TRUE(is_gone_or_defunct(stopped.pid()));
    ASSERT_TRUE(done[1].action.has_value());
    EXPECT_EQ(done[1].action->outcome, KillOutcome::terminated) << done[1].action->message;
    EXPECT_TRUE(is_gone_or_defunct(orphan.pid()));
    EXPECT_TRUE(orphan.reap_if_exited());
    ASSERT_TRUE(done[2].action.has_value());
    EXPECT_EQ(done[2].action->outcome, KillOutcome::skipped);
    EXPECT_EQ(done[2].action->message, "a defunct process cannot be signalled");
}

TEST(ZombieKill, EscalatesToSigkillWhenSigtermIsBlocked) {
    // A sleep with SIGTERM blocked: SIGTERM stays pending, only SIGKILL ends it.
    posix_spawnattr_t attr;
    ::posix_spawnattr_init(&attr);
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    ::posix_spawnattr_setsigmask(&attr, &blocked);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    std::string exe = "/bin/sleep";
    std::string seconds = "30";
    char* argv[] = {exe.data(), seconds.data(), nullptr};
    char* envp[] = {nullptr};
    pid_t pid = 0;
    ASSERT_EQ(::posix_spawn(&pid, exe.c_str(), nullptr, &attr, argv, envp), 0);
    ::posix_spawnattr_destroy(&attr);
    // Waits until the exec finished, so that the start ticks and command are sleep's.
    for (int i = 0;
         i < 5000 && read_process_info(static_cast<unsigned>(pid)).command != "/bin/sleep 30"; ++i)
        ::usleep(1000);
    const auto done =
        end_zombies({killable_row(static_cast<unsigned>(pid), 'S')}, milliseconds(200));
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(done[0].action.has_value());
    EXPECT_EQ(done[0].action->outcome, KillOutcome::killed) << done[0].action->message;
    EXPECT_EQ(done[0].action->message, "ended by SIGKILL after 200 ms of grace after SIGTERM");
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST(ZombieKill, NeverSignalsAReusedPid) {
    test::Sleeper sleeper("/bin/sleep", {});
    Zombie row = killable_row(sleeper.pid(), 'S');
    row.start_ticks += 1;  // as if the pid had been reused since the scan
    const auto done = end_zombies({row}, milliseconds(100));
    ASSERT_TRUE(done[0].action.has_value());
    EXPECT_EQ(done[0].action->outcome, KillOutcome::gone);
    EXPECT_FALSE(is_gone_or_defunct(sleeper.pid()));
}

}  // namespace
}  // namespace gpuenv::core::gpu
