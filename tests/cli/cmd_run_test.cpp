// End-to-end tests of `gpuenv run` and `gpuenv leases` with the fake NVML, real leases in a
// temp state directory and real child processes: activation, GPU choice, nesting, Slurm,
// policy, concurrency, kill -9 and signals.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <support/run_gpuenv.hpp>
#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Env = std::map<std::string, std::optional<std::string>>;

const std::vector<std::string> k_uuids = {
    "GPU-00000000-1111-2222-3333-444444444444", "GPU-11111111-1111-2222-3333-444444444444",
    "GPU-22222222-1111-2222-3333-444444444444", "GPU-33333333-1111-2222-3333-444444444444"};

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Four 80 GiB GPUs: GPU 1 is busy (a process holds 10 GiB at 90%), GPU 2 has 30 GiB used by
// no compute process (so less free memory), GPUs 0 and 3 are idle.
Json four_gpus() {
    Json gpus = Json::array();
    for (std::size_t i = 0; i < k_uuids.size(); ++i) {
        Json g = {{"uuid", k_uuids[i]},
                  {"name", "NVIDIA H100 80GB HBM3"},
                  {"pci_bus_id", "00000000:0" + std::to_string(i + 1) + ":00.0"},
                  {"memory_total", 85899345920ULL},
                  {"memory_used", 0},
                  {"utilisation_gpu", 0}};
        gpus.push_back(g);
    }
    gpus[1]["memory_used"] = 10737418240ULL;
    gpus[1]["utilisation_gpu"] = 90;
    gpus[1]["processes"] = Json::array({{{"pid", 4194305}, {"used_memory", 10737418240ULL}}});
    gpus[2]["memory_used"] = 32212254720ULL;
    return Json{{"gpus", gpus}};
}

class CmdRun : public ::testing::Test {
  protected:
    void SetUp() override {
        test::write_sample_env(m_env.path());
        write_scenario(four_gpus());
    }

    void write_scenario(const Json& scenario) {
        test::write_file(m_dir / "scenario.json", scenario.dump());
    }

    [[nodiscard]] Env base_env() const {
        return {{"GPUENV_NVML_LIBRARY", GPUENV_FAKE_NVML_CURRENT},
                {"GPUENV_FAKE_NVML_SCENARIO", (m_dir / "scenario.json").string()},
                {"GPUENV_STATE_DIR", (m_dir / "state").string()},
                {"GPUENV_CONFIG", (m_dir / "config.yaml").string()},
                {"HOME", m_dir.path().string()},
                {"XDG_CONFIG_HOME", std::nullopt},
                {"CUDA_VISIBLE_DEVICES", std::nullopt},
                {"CUDA_DEVICE_ORDER", std::nullopt},
                {"SLURM_JOB_GPUS", std::nullopt},
                {"SLURM_STEP_GPUS", std::nullopt},
                {"NVIDIA_VISIBLE_DEVICES", std::nullopt}};
    }

    test::RunResult run(std::vector<std::string> args, const Env& extra = {}) {
        Env env = base_env();
        for (const auto& [k, v] : extra)
            env[k] = v;
        return test::run_gpuenv(args, test::RunEnv{env});
    }

    std::unique_ptr<test::BackgroundCommand> start(std::vector<std::string> args,
                                                   const Env& extra = {}) {
        Env env = base_env();
        for (const auto& [k, v] : extra)
            env[k] = v;
        return test::start_gpuenv(args, test::RunEnv{env});
    }

    // Runs `gpuenv run -p ENV OPTIONS -- sh -c SCRIPT`.
    test::RunResult run_sh(std::vector<std::string> options, const std::string& script,
                           const Env& extra = {}) {
        std::vector<std::string> args = {"run", "-p", m_env.path().string()};
        args.insert(args.end(), options.begin(), options.end());
        args.insert(args.end(), {"--", "/bin/sh", "-c", script});
        return run(args, extra);
    }

    // Waits until `path` exists (a child signalling it started); false after ~10 s.
    static bool wait_for_file(const fs::path& path) {
        for (int i = 0; i < 1000; ++i) {
            if (fs::exists(path) && fs::file_size(path) > 0)
                return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }

    Json leases_json() {
        const auto r = run({"leases", "--json"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return Json::parse(r.out);
    }

    std::set<std::string> held_uuids() {
        std::set<std::string> held;
        const Json doc =
            leases_json();  // a named document: range-for over a temporary's member dangles
        for (const auto& lease : doc["leases"]) {
            if (lease["state"] == "held")
                held.insert(lease["uuid"].get<std::string>());
        }
        return held;
    }

    test::TempDir m_env;
    test::TempDir m_dir;
};

TEST_F(CmdRun, ActivatesTheEnvironmentLikeConda) {
    const auto r = run_sh({}, "echo \"$CONDA_PREFIX|$CONDA_DEFAULT_ENV|${PATH%%:*}|$CONDA_SHLVL\"");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string prefix = m_env.path().string();
    EXPECT_EQ(r.out, prefix + "|" + prefix + "|" + prefix + "/bin|1\n");
    // The sample env's conda-meta/state variable is exported, as `conda activate` does.
    const auto vars = run_sh({}, "env");
    const Json state = Json::parse(slurp(m_env / "conda-meta/state"));
    for (const auto& [name, value] : state["env_vars"].items())
        EXPECT_NE(vars.out.find(name + "=" + value.get<std::string>() + "\n"), std::string::npos)
            << name;
}

TEST_F(CmdRun, ExitsAsTheCommandDid) {
    EXPECT_EQ(run_sh({}, "exit 7").exit_code, 7);
    EXPECT_EQ(run_sh({}, "kill -TERM $$").exit_code, 128 + SIGTERM);
    const auto missing = run({"run", "-p", m_env.path().string(), "--", "no-such-command-xyz"});
    EXPECT_EQ(missing.exit_code, 127);
    EXPECT_NE(missing.err.find("no-such-command-xyz: command not found"), std::string::npos);
    test::write_file(m_dir / "not-executable", "#!/bin/sh\n");
    const auto denied =
        run({"run", "-p", m_env.path().string(), "--", (m_dir / "not-executable").string()});
    EXPECT_EQ(denied.exit_code, 126);
}

TEST_F(CmdRun, FindsTheCommandOnTheActivatedPath) {
    test::write_file(m_env / "bin/only-in-env", "#!/bin/sh\necho from the env\n");
    fs::permissions(m_env / "bin/only-in-env", fs::perms::owner_all);
    const auto r = run({"run", "-p", m_env.path().string(), "--", "only-in-env"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "from the env\n");
}

TEST_F(CmdRun, SourcesActivateScriptsBeforeTheCommand) {
    test::write_file(m_env / "etc/conda/activate.d/10-x.sh", "export FROM_SCRIPT=\"set by $0\"\n");
    const auto r = run_sh({}, "echo \"$FROM_SCRIPT\"");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("set by"), std::string::npos) << r.out;
}

TEST_F(CmdRun, CommandOptionsNeedTheSeparator) {
    const auto r = run({"run", "-p", m_env.path().string(), "sh", "-c", "true"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("put -- before the command"), std::string::npos) << r.err;
    EXPECT_EQ(run({"run", "-p", m_env.path().string()}).exit_code, 2);
    EXPECT_EQ(
        run({"run", "-p", m_env.path().string(), "--gpus", "1", "--cpu", "--", "true"}).exit_code,
        2);
}

TEST_F(CmdRun, CpuHidesEveryGpuWithoutNvml) {
    const auto r = run_sh({"--cpu"}, "echo \"$CUDA_VISIBLE_DEVICES $CUDA_DEVICE_ORDER\"",
                          {{"GPUENV_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "-1 PCI_BUS_ID\n");
}

TEST_F(CmdRun, ChoosesFreeGpusWithTheMostFreeMemory) {
    const auto r = run_sh({"--gpus", "2"}, "echo \"$CUDA_VISIBLE_DEVICES $CUDA_DEVICE_ORDER\"");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // GPU 1 is busy; GPU 2 has less free memory than GPUs 0 and 3.
    EXPECT_EQ(r.out, k_uuids[0] + "," + k_uuids[3] + " PCI_BUS_ID\n");
    const auto three = run_sh({"--gpus", "3"}, "echo $CUDA_VISIBLE_DEVICES");
    ASSERT_EQ(three.exit_code, 0) << three.err;
    EXPECT_EQ(three.out, k_uuids[0] + "," + k_uuids[3] + "," + k_uuids[2] + "\n");
}

TEST_F(CmdRun, MinFreeMemoryLeavesOutSmallerGpus) {
    const auto r = run_sh({"--gpus", "3", "--min-free-memory", "60GiB"}, "true");
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_NE(r.err.find("not enough free GPUs: asked for 3, 2 free"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("GPU 2 (GPU-22222222): 51200 MiB free < 61440 MiB asked"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("GPU 1 (GPU-11111111): busy: 1 process holds 10240 MiB"),
              std::string::npos)
        << r.err;
}

TEST_F(CmdRun, IndicesAreNestedInTheCallersRestriction) {
    const auto r =
        run_sh({"--gpu", "1"}, "echo $CUDA_VISIBLE_DEVICES", {{"CUDA_VISIBLE_DEVICES", "3,2"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, k_uuids[2] + "\n");
    const auto outside = run_sh({"--gpu", k_uuids[0]}, "true", {{"CUDA_VISIBLE_DEVICES", "3,2"}});
    EXPECT_EQ(outside.exit_code, 2);
    EXPECT_NE(outside.err.find("outside the GPUs this process may use"), std::string::npos);
    const auto too_far = run_sh({"--gpu", "2"}, "true", {{"CUDA_VISIBLE_DEVICES", "3,2"}});
    EXPECT_EQ(too_far.exit_code, 2);
}

TEST_F(CmdRun, StaysInsideTheSlurmAllocation) {
    // Slurm gave this job GPUs 1 and 3; GPU 1 is busy, so the one free GPU is 3.
    const auto r =
        run_sh({"--gpus", "1"}, "echo $CUDA_VISIBLE_DEVICES", {{"SLURM_JOB_GPUS", "1,3"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, k_uuids[3] + "\n");
    EXPECT_EQ(run_sh({"--gpus", "2"}, "true", {{"SLURM_JOB_GPUS", "1,3"}}).exit_code, 4);
}

TEST_F(CmdRun, NotEnoughGpusSaysWhoHoldsThem) {
    auto holder = start({"run", "-p", m_env.path().string(), "--gpu", "0", "--", "/bin/sh", "-c",
                         "echo started > \"$0\"; exec sleep 30", (m_dir / "started").string()});
    ASSERT_TRUE(wait_for_file(m_dir / "started"));
    const auto r = run_sh({"--gpu", "0"}, "true");
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_NE(r.err.find("GPU 0 (GPU-00000000): leased by "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("sleep 30"), std::string::npos) << r.err;

    const auto listed = run({"leases"});
    EXPECT_NE(listed.out.find(k_uuids[0] + "  held"), std::string::npos) << listed.out;
    EXPECT_NE(listed.out.find(m_env.path().string()), std::string::npos) << listed.out;
    ::kill(holder->pid(), SIGTERM);
    holder->wait();
    EXPECT_TRUE(held_uuids().empty());
}

TEST_F(CmdRun, ABoundEnvironmentRunsOnItsBoundGpusUnderALease) {
    ASSERT_EQ(run({"bind", "-p", m_env.path().string(), "--gpus", "2"}).exit_code, 0);
    auto job =
        start({"run", "-p", m_env.path().string(), "--", "/bin/sh", "-c",
               "echo $CUDA_VISIBLE_DEVICES > \"$0\"; exec sleep 30", (m_dir / "bound").string()});
    ASSERT_TRUE(wait_for_file(m_dir / "bound"));
    EXPECT_EQ(slurp(m_dir / "bound"), k_uuids[2] + "\n");
    EXPECT_EQ(held_uuids(), std::set<std::string>{k_uuids[2]});
    // The command line wins over the binding.
    const auto cpu = run_sh({"--cpu"}, "echo $CUDA_VISIBLE_DEVICES");
    EXPECT_EQ(cpu.out, "-1\n");
    ::kill(job->pid(), SIGTERM);
    job->wait();
}

TEST_F(CmdRun, PolicyLimitsHowManyGpusAUserTakes) {
    test::write_file(m_dir / "config.yaml", "limits:\n  default: {gpus: all, max_gpus: 1}\n");
    const auto r = run_sh({"--gpus", "2"}, "true");
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_NE(r.err.find("config.yaml"), std::string::npos) << r.err;
    EXPECT_EQ(run_sh({"--gpus", "1"}, "true").exit_code, 0);
    test::write_file(m_dir / "config.yaml", "limits:\n  default: {gpus: [3]}\n");
    const auto only3 = run_sh({"--gpus", "1"}, "echo $CUDA_VISIBLE_DEVICES");
    ASSERT_EQ(only3.exit_code, 0) << only3.err;
    EXPECT_EQ(only3.out, k_uuids[3] + "\n");
    EXPECT_EQ(run_sh({"--gpu", "0"}, "true").exit_code, 4);
}

TEST_F(CmdRun, ABrokenPolicyHandsOutNoGpu) {
    test::write_file(m_dir / "config.yaml", "limits:\n  default: {gpus: [0\n");
    const auto r = run_sh({"--gpus", "1"}, "echo ran");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("config.yaml:"), std::string::npos) << r.err;
    EXPECT_TRUE(held_uuids().empty());
}

TEST_F(CmdRun, AnUnusableStateDirectoryStopsTheRunUnlessNoLease) {
    test::write_file(m_dir / "not-a-dir", "x");
    const Env bad = {{"GPUENV_STATE_DIR", (m_dir / "not-a-dir").string()}};
    const auto r = run_sh({"--gpus", "1"}, "echo ran", bad);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("not-a-dir"), std::string::npos) << r.err;
    const auto unleased = run_sh({"--gpus", "1", "--no-lease"}, "echo $CUDA_VISIBLE_DEVICES", bad);
    ASSERT_EQ(unleased.exit_code, 0) << unleased.err;
    EXPECT_EQ(unleased.out, k_uuids[0] + "\n");
}

// 50 jobs race for 4 GPUs (all idle here): each records its GPU and when it ran; no two jobs
// may hold one GPU at the same time, and with --wait every job runs.
TEST_F(CmdRun, ConcurrentRunsNeverShareAGpu) {
    Json scenario = four_gpus();
    for (auto& g : scenario["gpus"]) {
        g["memory_used"] = 0;
        g["utilisation_gpu"] = 0;
        g.erase("processes");
    }
    write_scenario(scenario);
    const auto log_dir = m_dir / "log";
    fs::create_directories(log_dir);
    const std::string script =
        "s=$(date +%s%N); sleep 0.05; e=$(date +%s%N); "
        "echo \"$CUDA_VISIBLE_DEVICES $s $e\" > \"$0/$$\"";
    std::vector<std::unique_ptr<test::BackgroundCommand>> jobs;
    for (int i = 0; i < 50; ++i) {
        jobs.push_back(start({"run", "-p", m_env.path().string(), "--gpus", "1", "--wait", "--",
                              "/bin/sh", "-c", script, log_dir.string()}));
    }
    for (auto& job : jobs) {
        const auto r = job->wait();
        EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    std::map<std::string, std::vector<std::pair<long long, long long>>> by_gpu;
    std::size_t records = 0;
    for (const auto& entry : fs::directory_iterator(log_dir)) {
        std::istringstream in(slurp(entry.path()));
        std::string uuid;
        long long s = 0;
        long long e = 0;
        ASSERT_TRUE(in >> uuid >> s >> e) << entry.path();
        ASSERT_NE(std::find(k_uuids.begin(), k_uuids.end(), uuid), k_uuids.end()) << uuid;
        by_gpu[uuid].push_back({s, e});
        ++records;
    }
    EXPECT_EQ(records, 50U);
    for (auto& [uuid, intervals] : by_gpu) {
        std::sort(intervals.begin(), intervals.end());
        for (std::size_t i = 1; i < intervals.size(); ++i)
            EXPECT_LE(intervals[i - 1].second, intervals[i].first) << uuid << " shared";
    }
    EXPECT_TRUE(held_uuids().empty());
}

TEST_F(CmdRun, WithoutWaitTheLosersFailAtOnce) {
    auto holder = start({"run", "-p", m_env.path().string(), "--gpus", "3", "--", "/bin/sh", "-c",
                         "echo started > \"$0\"; exec sleep 30", (m_dir / "started").string()});
    ASSERT_TRUE(wait_for_file(m_dir / "started"));
    const auto r = run_sh({"--gpus", "1"}, "echo ran");
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_EQ(r.out, "");
    ::kill(holder->pid(), SIGTERM);
    holder->wait();
}

TEST_F(CmdRun, KillNineOfGpuenvKeepsTheLeaseUntilTheJobEnds) {
    auto job = start({"run", "-p", m_env.path().string(), "--gpu", "3", "--", "/bin/sh", "-c",
                      "echo $$ > \"$0\"; exec sleep 30", (m_dir / "child").string()});
    ASSERT_TRUE(wait_for_file(m_dir / "child"));
    ::kill(job->pid(), SIGKILL);
    EXPECT_EQ(job->wait().exit_code, 128 + SIGKILL);
    EXPECT_EQ(held_uuids(), std::set<std::string>{k_uuids[3]});
    EXPECT_EQ(run_sh({"--gpu", "3"}, "true").exit_code, 4);
    const pid_t child = std::stoi(slurp(m_dir / "child"));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    // The orphaned sleep is reaped by init (or a subreaper); wait until it is gone.
    for (int i = 0; i < 500 && ::kill(child, 0) == 0; ++i) {
        ::waitpid(child, nullptr, WNOHANG);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(held_uuids().empty());
    EXPECT_EQ(run_sh({"--gpu", "3"}, "true").exit_code, 0);
}

TEST_F(CmdRun, ForwardsSignalsSentToGpuenv) {
    for (const int sig : {SIGTERM, SIGINT, SIGHUP}) {
        const auto ready = m_dir / ("ready" + std::to_string(sig));
        auto job = start({"run", "-p", m_env.path().string(), "--", "/bin/sh", "-c",
                          "trap 'echo got; exit 42' " + std::to_string(sig) +
                              "; echo x > \"$0\"; while :; do sleep 0.05; done",
                          ready.string()});
        ASSERT_TRUE(wait_for_file(ready));
        ::kill(job->pid(), sig);
        const auto r = job->wait();
        EXPECT_EQ(r.exit_code, 42) << "signal " << sig << ": " << r.err;
        EXPECT_EQ(r.out, "got\n");
    }
}

TEST_F(CmdRun, SigintEndsAWaitCleanly) {
    auto holder = start({"run", "-p", m_env.path().string(), "--gpu", "0", "--", "/bin/sh", "-c",
                         "echo started > \"$0\"; exec sleep 30", (m_dir / "started").string()});
    ASSERT_TRUE(wait_for_file(m_dir / "started"));
    auto waiter = start({"run", "-p", m_env.path().string(), "--gpu", "0", "--wait", "--",
                         "/bin/sh", "-c", "echo ran"});
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ::kill(waiter->pid(), SIGINT);
    const auto r = waiter->wait();
    EXPECT_EQ(r.exit_code, 130) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("waiting for GPUs"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("interrupted while waiting"), std::string::npos) << r.err;
    ::kill(holder->pid(), SIGTERM);
    holder->wait();
}

TEST_F(CmdRun, WaitWithALimitGivesUp) {
    auto holder = start({"run", "-p", m_env.path().string(), "--gpu", "0", "--", "/bin/sh", "-c",
                         "echo started > \"$0\"; exec sleep 30", (m_dir / "started").string()});
    ASSERT_TRUE(wait_for_file(m_dir / "started"));
    const auto r = run_sh({"--gpu", "0", "--wait=1s"}, "echo ran");
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_EQ(r.out, "");
    ::kill(holder->pid(), SIGTERM);
    holder->wait();
}

// The lease shows up wherever GPUs are shown: gpus tells the job's processes from others on a
// leased GPU, zombies flags another user's process there, bind warns before binding it.
TEST_F(CmdRun, LeasesShowInGpusZombiesAndBind) {
    auto job = start({"run", "-p", m_env.path().string(), "--gpu", "0", "--", "/bin/sh", "-c",
                      "echo $$ > \"$0\"; exec sleep 30", (m_dir / "child").string()});
    ASSERT_TRUE(wait_for_file(m_dir / "child"));
    const unsigned child = std::stoul(slurp(m_dir / "child"));
    // Another user's process on the leased GPU (setpriv drops to nobody, as root can).
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to start a process as another user";
    test::BackgroundCommand intruder({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                      "--clear-groups", "/bin/sleep", "30"});
    for (int i = 0; i < 500; ++i) {
        if (slurp("/proc/" + std::to_string(intruder.pid()) + "/cmdline").starts_with("/bin/sleep"))
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Json scenario = four_gpus();
    scenario["gpus"][0]["processes"] =
        Json::array({{{"pid", child}, {"used_memory", 1073741824}},
                     {{"pid", intruder.pid()}, {"used_memory", 2147483648}}});
    scenario["gpus"][0]["utilisation_gpu"] = 50;
    write_scenario(scenario);

    const auto gpus = run({"gpus", "--json"});
    ASSERT_EQ(gpus.exit_code, 0) << gpus.err;
    const Json doc = Json::parse(gpus.out);
    const Json& gpu0 = doc["gpus"][0];
    ASSERT_TRUE(gpu0["lease"].is_string());
    EXPECT_NE(gpu0["lease"].get<std::string>().find("root (pid " + std::to_string(job->pid())),
              std::string::npos)
        << gpu0["lease"];
    EXPECT_TRUE(gpu0["processes"][0]["lease"].is_string());
    EXPECT_TRUE(gpu0["processes"][1]["lease"].is_null());
    EXPECT_TRUE(doc["gpus"][1]["lease"].is_null());
    const auto table = run({"gpus"});
    EXPECT_NE(table.out.find("    leased by root (pid " + std::to_string(job->pid())),
              std::string::npos)
        << table.out;
    EXPECT_NE(table.out.find("outside"), std::string::npos) << table.out;

    const auto zombies = run({"zombies", "--json", "--sample", "100ms"});
    EXPECT_EQ(zombies.exit_code, 1) << zombies.err;
    const Json found = Json::parse(zombies.out);
    std::vector<Json> foreign;
    for (const Json& z : found["zombies"]) {
        if (z["kind"] == "foreign_lease")
            foreign.push_back(z);
    }
    ASSERT_EQ(foreign.size(), 1U) << zombies.out;  // the job's own process is not flagged
    EXPECT_EQ(foreign[0]["pid"], intruder.pid());
    EXPECT_EQ(foreign[0]["reason"], "runs as nobody on a GPU leased by root");

    const auto bind = run({"bind", "-p", m_env.path().string(), "--gpus", "0"});
    EXPECT_EQ(bind.exit_code, 0) << bind.err;
    EXPECT_NE(bind.err.find("warning: GPU 0 is leased by root (pid " + std::to_string(job->pid())),
              std::string::npos)
        << bind.err;
    ::kill(job->pid(), SIGTERM);
    job->wait();
}

TEST_F(CmdRun, LeasesWithoutStateDirectoryIsEmpty) {
    const auto r = run({"leases"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("no GPU leases"), std::string::npos);
    const Json doc = Json::parse(run({"leases", "--json"}).out);
    EXPECT_EQ(doc["schema"], "gpuenv.leases/1");
    EXPECT_TRUE(doc["leases"].empty());
}

}  // namespace
}  // namespace gpuenv
