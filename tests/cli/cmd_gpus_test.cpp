// End-to-end tests of `gpuenv gpus` with the fake NVML and real sleeping processes.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <support/run_gpuenv.hpp>
#include <support/sleeper.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

using Json = nlohmann::json;
using test::run_gpuenv;

constexpr unsigned k_missing_pid = 4194305;  // above pid_max's ceiling: never a process

// Runs `sleep 30` with CONDA_PREFIX set, so that /proc shows a real environment.
class Sleeper : public test::Sleeper {
  public:
    explicit Sleeper(const std::string& conda_prefix)
        : test::Sleeper("/bin/sleep", {"CONDA_PREFIX=" + conda_prefix}) {}
};

class CmdGpus : public ::testing::Test {
  protected:
    test::RunResult run(const Json& scenario, std::vector<std::string> args,
                        const char* library = GPUENV_FAKE_NVML_CURRENT) {
        const auto path = m_dir / "scenario.json";
        test::write_file(path, scenario.dump(2));
        args.insert(args.begin(), "gpus");
        return run_gpuenv(args, test::RunEnv{{{"GPUENV_NVML_LIBRARY", library},
                                              {"GPUENV_FAKE_NVML_SCENARIO", path.string()}}});
    }
    test::TempDir m_dir;
};

Json two_gpus(unsigned pid_a, unsigned pid_b) {
    Json j = Json::parse(R"({
      "driver_version": "535.54.03", "cuda_version": 12020,
      "gpus": [
        {"uuid": "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6", "name": "NVIDIA A100-SXM4-80GB",
         "pci_bus_id": "00000000:07:00.0", "memory_total": 85899345920, "memory_used": 3221225472,
         "utilisation_gpu": 87, "utilisation_memory": 41, "temperature": 61, "power_mw": 312000,
         "compute_capability": [8, 0]},
        {"uuid": "GPU-18ef14e9-0000-0000-0000-000000000001", "name": "NVIDIA A100-SXM4-80GB",
         "pci_bus_id": "00000000:0F:00.0", "compute_capability": [8, 0]}
      ]})");
    j["gpus"][0]["processes"] = Json::array({{{"pid", pid_a}, {"used_memory", 2147483648}},
                                             {{"pid", k_missing_pid}, {"used_memory", nullptr}}});
    j["gpus"][1]["processes"] = Json::array({{{"pid", pid_b}, {"used_memory", 1048576}}});
    return j;
}

TEST_F(CmdGpus, ShowsGpusAndWhoUsesThem) {
    test::TempDir envs;
    const auto torch = (envs / "envs/torch").string();
    Sleeper a(torch);
    Sleeper b("/opt/venvs/jax");
    const auto r = run(two_gpus(a.pid(), b.pid()), {});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Driver 535.54.03  CUDA 12.2\n"), std::string::npos) << r.out;
    EXPECT_NE(
        r.out.find("GPU 0  NVIDIA A100-SXM4-80GB  3072 / 81920 MiB  87%  61C  312W  GPU-8932f937"),
        std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find(std::to_string(a.pid()) + "  "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("2048 MiB"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("torch"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/opt/venvs/jax"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/bin/sleep 30"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::to_string(k_missing_pid)), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(other PID namespace)"), std::string::npos) << r.out;
}

TEST_F(CmdGpus, PrintsJson) {
    test::TempDir envs;
    const auto torch = (envs / "envs/torch").string();
    Sleeper a(torch);
    Sleeper b("/opt/venvs/jax");
    const auto r = run(two_gpus(a.pid(), b.pid()), {"--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Json j = Json::parse(r.out);
    EXPECT_EQ(j["schema"], "gpuenv.gpus/1");
    EXPECT_EQ(j["driver"], "535.54.03");
    EXPECT_EQ(j["cuda"], "12.2");
    ASSERT_EQ(j["gpus"].size(), 2u);
    const Json& g = j["gpus"][0];
    EXPECT_EQ(g["index"], 0);
    EXPECT_EQ(g["uuid"], "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6");
    EXPECT_EQ(g["pci_bus_id"], "00000000:07:00.0");
    EXPECT_EQ(g["memory"]["total"], 85899345920u);
    EXPECT_EQ(g["utilization"]["gpu"], 87);
    EXPECT_EQ(g["temperature_c"], 61);
    EXPECT_EQ(g["power_mw"], 312000);
    EXPECT_EQ(g["compute_capability"], "8.0");
    EXPECT_TRUE(g["mig_devices"].is_array());
    ASSERT_EQ(g["processes"].size(), 2u);
    const Json& p = g["processes"][0];
    EXPECT_EQ(p["pid"], a.pid());
    EXPECT_TRUE(p["visible_in_proc"].get<bool>());
    EXPECT_EQ(p["command"], "/bin/sleep 30");
    EXPECT_TRUE(p["state"] == "S" || p["state"] == "R") << p["state"];
    EXPECT_EQ(p["environment"], torch);
    EXPECT_EQ(p["used_memory_bytes"], 2147483648u);
    EXPECT_TRUE(p["user"].is_string());
    EXPECT_TRUE(p["elapsed_s"].is_number());
    const Json& missing = g["processes"][1];
    EXPECT_EQ(missing["pid"], k_missing_pid);
    EXPECT_FALSE(missing["visible_in_proc"].get<bool>());
    EXPECT_TRUE(missing["user"].is_null());
    EXPECT_TRUE(missing["used_memory_bytes"].is_null());
    EXPECT_EQ(j["gpus"][1]["processes"][0]["environment"], "/opt/venvs/jax");
    EXPECT_TRUE(j["errors"].is_array());
}

TEST_F(CmdGpus, NoLibraryExitsFour) {
    const auto r = run(Json::object(), {}, "/nonexistent/libnvidia-ml.so.1");
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_NE(r.err.find("gpuenv: error: NVML not found (no NVIDIA driver?): "), std::string::npos)
        << r.err;
    // Said once, not once by the loader and again by the command.
    EXPECT_EQ(r.err.find("NVML not found", r.err.find("NVML not found") + 1), std::string::npos)
        << r.err;
}

TEST_F(CmdGpus, VersionMismatchExitsFour) {
    const auto r = run(Json{{"init", 18}}, {});
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_NE(r.err.find("gpuenv: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("version"), std::string::npos) << r.err;
}

TEST_F(CmdGpus, ZeroGpusExitsFour) {
    const auto r = run(Json{{"gpus", Json::array()}}, {});
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_EQ(r.err, "gpuenv: error: no NVIDIA GPU found\n");
}

TEST_F(CmdGpus, FailingPowerShowsNa) {
    const Json scenario = {{"fail", {{"nvmlDeviceGetPowerUsage", 3}}},
                           {"gpus", Json::array({Json{{"name", "Fake GPU"}}})}};
    const auto text = run(scenario, {});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("30C  n/a  GPU-"), std::string::npos) << text.out;
    const auto json = run(scenario, {"--json"});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    const Json j = Json::parse(json.out);
    EXPECT_TRUE(j["gpus"][0]["power_mw"].is_null());
    ASSERT_FALSE(j["errors"].empty());
    EXPECT_NE(j["errors"][0].get<std::string>().find("power"), std::string::npos);
}

}  // namespace
}  // namespace gpuenv
