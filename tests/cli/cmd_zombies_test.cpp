// End-to-end tests of `gpuenv zombies` with the fake NVML and real processes: a stopped
// sleeper, a defunct child, an orphaned worker, idle and busy sleepers.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <support/defunct_child.hpp>
#include <support/fake_nvml_scenario.hpp>
#include <support/orphan.hpp>
#include <support/run_gpuenv.hpp>
#include <support/sleeper.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

using Json = nlohmann::json;

constexpr std::uint64_t k_gib = std::uint64_t{1} << 30u;
constexpr unsigned k_missing_pid = 4194303;  // pid_max's ceiling: not a process here

class CmdZombies : public ::testing::Test {
  protected:
    test::RunResult run(const Json& scenario, std::vector<std::string> args,
                        const char* library = GPUENV_FAKE_NVML_CURRENT) {
        const auto path = m_dir / "scenario.json";
        test::write_file(path, scenario.dump(2));
        args.insert(args.begin(), "zombies");
        return test::run_gpuenv(args, test::RunEnv{{{"GPUENV_NVML_LIBRARY", library},
                                                    {"GPUENV_FAKE_NVML_SCENARIO", path.string()}}});
    }
    test::TempDir m_dir;
};

Json gpu_json(const std::vector<unsigned>& pids, unsigned utilisation,
              std::uint64_t used = 2 * k_gib) {
    return test::fake_gpu(pids, utilisation, used, k_gib);
}

Json scenario_of(std::vector<Json> gpus) {
    return {{"gpus", Json(std::move(gpus))}};
}

const Json* row_of(const Json& doc, const Json& pid) {
    for (const Json& z : doc["zombies"]) {
        if (z["pid"] == pid)
            return &z;
    }
    return nullptr;
}

bool is_gone_or_defunct(unsigned pid) {
    struct stat st {};
    if (::stat(("/proc/" + std::to_string(pid)).c_str(), &st) != 0)
        return true;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    const std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = line.rfind(')');
    return close == std::string::npos || line.compare(close, 3, ") Z") == 0;
}

const std::vector<std::string> k_quick = {"--sample", "200ms"};

TEST_F(CmdZombies, NoneFoundExitsZero) {
    test::Sleeper busy("/bin/sleep", {});
    const auto r = run(scenario_of({gpu_json({busy.pid()}, 50)}), k_quick);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "no zombie GPU memory found\n");
    const auto j = run(scenario_of({gpu_json({busy.pid()}, 50)}), {"--json", "--sample", "200ms"});
    EXPECT_EQ(j.exit_code, 0) << j.err;
    const Json doc = Json::parse(j.out);
    EXPECT_EQ(doc["schema"], "gpuenv.zombies/1");
    EXPECT_TRUE(doc["zombies"].empty());
}

TEST_F(CmdZombies, ReportsEveryRuleAsTableAndJson) {
    test::Sleeper stopped("/bin/sleep", {});
    stopped.stop();
    test::DefunctChild defunct;
    test::Orphan orphan;
    test::Sleeper idle("/bin/sleep", {});
    test::Sleeper busy("/bin/sleep", {});
    const Json scenario = scenario_of(
        {gpu_json({stopped.pid(), defunct.pid(), orphan.pid(), k_missing_pid}, 30),
         gpu_json({idle.pid()}, 0), gpu_json({busy.pid()}, 50), gpu_json({}, 0, 3 * k_gib)});
    const std::vector<std::string> args = {"--sample", "200ms", "--idle-after", "0s"};

    const auto text = run(scenario, args);
    EXPECT_EQ(text.exit_code, 1) << text.err;
    EXPECT_EQ(text.out.rfind("GPU  PID", 0), 0u) << text.out;
    for (const char* word :
         {"USER", "KIND", "MEMORY", "COMMAND", "REASON", "stopped", "defunct", "orphaned", "idle",
          "no_process", "not_visible", "1024 MiB", "3072 MiB", "/bin/sleep 30"})
        EXPECT_NE(text.out.find(word), std::string::npos) << word << "\n" << text.out;
    EXPECT_EQ(text.out.find(std::to_string(busy.pid())), std::string::npos) << text.out;

    const auto json = run(scenario, {"--json", "--sample", "200ms", "--idle-after", "0s"});
    EXPECT_EQ(json.exit_code, 1) << json.err;
    const Json doc = Json::parse(json.out);
    EXPECT_EQ(doc["schema"], "gpuenv.zombies/1");
    ASSERT_EQ(doc["zombies"].size(), 6u) << doc.dump(2);
    const Json* z = row_of(doc, stopped.pid());
    ASSERT_NE(z, nullptr);
    EXPECT_EQ((*z)["kind"], "stopped");
    EXPECT_EQ((*z)["gpu_index"], 0);
    EXPECT_EQ((*z)["gpu_uuid"], "GPU-00000000-0000-0000-0000-000000000000");
    EXPECT_EQ((*z)["used_memory_bytes"], k_gib);
    EXPECT_EQ((*z)["command"], "/bin/sleep 30");
    EXPECT_TRUE((*z)["user"].is_string());
    EXPECT_TRUE((*z)["killable"].get<bool>());
    EXPECT_TRUE((*z)["action"].is_null());
    z = row_of(doc, defunct.pid());
    ASSERT_NE(z, nullptr);
    EXPECT_EQ((*z)["kind"], "defunct");
    EXPECT_FALSE((*z)["killable"].get<bool>());
    z = row_of(doc, orphan.pid());
    ASSERT_NE(z, nullptr);
    EXPECT_EQ((*z)["kind"], "orphaned");
    z = row_of(doc, k_missing_pid);
    ASSERT_NE(z, nullptr);
    EXPECT_EQ((*z)["kind"], "not_visible");
    EXPECT_TRUE((*z)["user"].is_null());
    z = row_of(doc, idle.pid());
    ASSERT_NE(z, nullptr);
    EXPECT_EQ((*z)["kind"], "idle");
    EXPECT_NE((*z)["reason"].get<std::string>().find("0% GPU utilisation in 5 samples"),
              std::string::npos);
    z = row_of(doc, nullptr);
    ASSERT_NE(z, nullptr);
    EXPECT_EQ((*z)["kind"], "no_process");
    EXPECT_EQ((*z)["gpu_index"], 3);
    EXPECT_EQ((*z)["used_memory_bytes"], 3 * k_gib);
    EXPECT_TRUE((*z)["command"].is_null());
}

TEST_F(CmdZombies, NotVisibleAloneIsNotAFinding) {
    const auto r = run(scenario_of({gpu_json({k_missing_pid}, 30)}), k_quick);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("not_visible"), std::string::npos) << r.out;
}

TEST_F(CmdZombies, KillEndsStoppedAndOrphanAndRefusesDefunct) {
    test::Sleeper stopped("/bin/sleep", {});
    stopped.stop();
    test::Orphan orphan;
    test::DefunctChild defunct;
    const Json scenario = scenario_of({gpu_json({stopped.pid(), orphan.pid(), defunct.pid()}, 30)});
    const auto r = run(scenario, {"--kill", "--json", "--grace", "5s", "--sample", "200ms"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const Json doc = Json::parse(r.out);
    const Json* z = row_of(doc, stopped.pid());
    ASSERT_NE(z, nullptr);
    EXPECT_EQ((*z)["action"]["outcome"], "terminated") << z->dump();
    z = row_of(doc, orphan.pid());
    ASSERT_NE(z, nullptr);
    EXPECT_EQ((*z)["action"]["outcome"], "terminated") << z->dump();
    z = row_of(doc, defunct.pid());
    ASSERT_NE(z, nullptr);
    EXPECT_EQ((*z)["action"]["outcome"], "skipped");
    EXPECT_NE((*z)["action"]["message"].get<std::string>().find("parent must reap"),
              std::string::npos);
    EXPECT_TRUE(is_gone_or_defunct(stopped.pid()));
    EXPECT_TRUE(is_gone_or_defunct(orphan.pid()));
    EXPECT_TRUE(orphan.reap_if_exited());
    EXPECT_FALSE(is_gone_or_defunct(static_cast<unsigned>(::getpid())));
}

TEST_F(CmdZombies, KillTableShowsActions) {
    test::Sleeper stopped("/bin/sleep", {});
    stopped.stop();
    const auto r =
        run(scenario_of({gpu_json({stopped.pid()}, 30)}), {"--kill", "--sample", "200ms"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("ACTION"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("terminated: ended by SIGTERM"), std::string::npos) << r.out;
}

TEST_F(CmdZombies, UsageErrorsExitTwo) {
    for (const auto& args : std::vector<std::vector<std::string>>{{"--grace", "soon"},
                                                                  {"--sample", "0s"},
                                                                  {"--idle-after", "1y"},
                                                                  {"--min-memory", "lots"}}) {
        const auto r = run(Json::object(), args);
        EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
        EXPECT_NE(r.err.find("gpuenv: error: invalid " + args[0]), std::string::npos) << r.err;
    }
}

TEST_F(CmdZombies, NoLibraryExitsFour) {
    const auto r = run(Json::object(), k_quick, "/nonexistent/libnvidia-ml.so.1");
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_NE(r.err.find("gpuenv: error: NVML not found"), std::string::npos) << r.err;
}

TEST_F(CmdZombies, ZeroGpusExitsFour) {
    const auto r = run(Json{{"gpus", Json::array()}}, k_quick);
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_EQ(r.err, "gpuenv: error: no NVIDIA GPU found\n");
}

TEST_F(CmdZombies, MinMemoryRaisesTheNoProcessThreshold) {
    const Json scenario = scenario_of({gpu_json({}, 0, 3 * k_gib)});
    EXPECT_EQ(run(scenario, k_quick).exit_code, 1);
    const auto r = run(scenario, {"--sample", "200ms", "--min-memory", "4GiB"});
    EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace gpuenv
