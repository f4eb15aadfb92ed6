// End-to-end tests of `gpuenv bind` / `gpuenv unbind` with the fake NVML: what lands in
// conda-meta/state, what is refused, and that unbind gives back the exact bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuenv/core/env/env_vars.hpp>
#include <support/run_gpuenv.hpp>
#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const std::string k_gpu0 = "GPU-3eb79704-1571-707c-aee8-f43ce747313d";
const std::string k_gpu1 = "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6";
const std::string k_gpu2 = "GPU-8932a1b0-5f3e-4c1d-9a2b-0e7d6c5b4a39";

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class CmdBind : public ::testing::Test {
  protected:
    void SetUp() override {
        test::write_sample_env(m_env.path());
        Json scenario = Json::parse(R"({"gpus": [
            {"uuid": "GPU-3eb79704-1571-707c-aee8-f43ce747313d", "name": "NVIDIA H100 80GB HBM3",
             "pci_bus_id": "00000000:07:00.0"},
            {"uuid": "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6", "name": "NVIDIA H100 80GB HBM3",
             "pci_bus_id": "00000000:0F:00.0",
             "processes": [{"pid": 4194305, "used_memory": 1073741824}]},
            {"uuid": "GPU-8932a1b0-5f3e-4c1d-9a2b-0e7d6c5b4a39", "name": "NVIDIA H100 80GB HBM3",
             "pci_bus_id": "00000000:47:00.0"}]})");
        test::write_file(m_dir / "scenario.json", scenario.dump());
    }

    test::RunResult run(std::vector<std::string> args,
                        std::map<std::string, std::optional<std::string>> extra = {}) {
        test::RunEnv env{{{"GPUENV_NVML_LIBRARY", GPUENV_FAKE_NVML_CURRENT},
                          {"GPUENV_FAKE_NVML_SCENARIO", (m_dir / "scenario.json").string()},
                          {"CUDA_VISIBLE_DEVICES", std::nullopt},
                          {"SLURM_JOB_GPUS", std::nullopt},
                          {"SLURM_STEP_GPUS", std::nullopt},
                          {"NVIDIA_VISIBLE_DEVICES", std::nullopt}}};
        for (auto& [k, v] : extra)
            env.set[k] = v;
        return test::run_gpuenv(args, env);
    }

    [[nodiscard]] fs::path state() const { return m_env / "conda-meta/state"; }

    test::TempDir m_env;
    test::TempDir m_dir;
};

TEST_F(CmdBind, WritesUuidsThatActivationApplies) {
    const std::string before = slurp(state());
    const auto r = run({"bind", "-p", m_env.path().string(), "--gpus", "0,2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("CUDA_VISIBLE_DEVICES=" + k_gpu0 + "," + k_gpu2), std::string::npos)
        << r.out;
    EXPECT_EQ(r.err, "");
    // What conda and micromamba export on activation, by conda's rules.
    const auto vars = core::env::read_env_vars(m_env.path()).vars;
    EXPECT_EQ(vars.at("CUDA_VISIBLE_DEVICES"), k_gpu0 + "," + k_gpu2);
    EXPECT_EQ(vars.at("CUDA_DEVICE_ORDER"), "PCI_BUS_ID");
    // The sample env's own variable is kept.
    const Json doc = Json::parse(slurp(state()));
    EXPECT_GE(doc["env_vars"].size(), 3U);

    const auto listed = run({"list", "-p", m_env.path().string()});
    EXPECT_NE(listed.out.find("# GPU binding (gpuenv bind): CUDA_VISIBLE_DEVICES=" + k_gpu0 + "," +
                              k_gpu2),
              std::string::npos)
        << listed.out;
    const Json list_json = Json::parse(run({"list", "-p", m_env.path().string(), "--json"}).out);
    EXPECT_EQ(list_json["gpu_binding"]["CUDA_VISIBLE_DEVICES"], k_gpu0 + "," + k_gpu2);

    const auto u = run({"unbind", "-p", m_env.path().string()});
    ASSERT_EQ(u.exit_code, 0) << u.err;
    EXPECT_NE(u.out.find("removed CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER"), std::string::npos)
        << u.out;
    EXPECT_EQ(slurp(state()), before);
    const Json after = Json::parse(run({"list", "-p", m_env.path().string(), "--json"}).out);
    EXPECT_TRUE(after["gpu_binding"].is_null());
}

TEST_F(CmdBind, RebindingKeepsTheOriginalForUnbind) {
    const std::string before = slurp(state());
    ASSERT_EQ(run({"bind", "-p", m_env.path().string(), "--gpus", "0"}).exit_code, 0);
    ASSERT_EQ(run({"bind", "-p", m_env.path().string(), "--gpus", "GPU-8932a1"}).exit_code, 0);
    EXPECT_EQ(core::env::read_env_vars(m_env.path()).vars.at("CUDA_VISIBLE_DEVICES"), k_gpu2);
    ASSERT_EQ(run({"unbind", "-p", m_env.path().string()}).exit_code, 0);
    EXPECT_EQ(slurp(state()), before);
}

TEST_F(CmdBind, NoneNeedsNoDriver) {
    const auto r = run({"bind", "-p", m_env.path().string(), "--gpus", "none", "--json"},
                       {{"GPUENV_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Json doc = Json::parse(r.out);
    EXPECT_EQ(doc["schema"], "gpuenv.bind/1");
    EXPECT_EQ(doc["variables"]["CUDA_VISIBLE_DEVICES"], "-1");
    EXPECT_TRUE(doc["gpus"].empty());
}

TEST_F(CmdBind, RefusesUnknownGpusAndWritesNothing) {
    const std::string before = slurp(state());
    const auto r = run({"bind", "-p", m_env.path().string(), "--gpus", "0,5"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("GPU '5': no such GPU on this machine (GPUs: 0, 1, 2)"), std::string::npos)
        << r.err;
    EXPECT_EQ(slurp(state()), before);
    EXPECT_EQ(run({"bind", "-p", m_env.path().string(), "--gpus", "GPU-ffff"}).exit_code, 2);
    EXPECT_EQ(slurp(state()), before);
}

TEST_F(CmdBind, WithoutNvmlSaysSoAndWritesNothing) {
    const std::string before = slurp(state());
    const auto r = run({"bind", "-p", m_env.path().string(), "--gpus", "0"},
                       {{"GPUENV_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1"}});
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_NE(r.err.find("NVML not found"), std::string::npos) << r.err;
    EXPECT_EQ(slurp(state()), before);
}

TEST_F(CmdBind, WarnsAboutBusyGpusAndGpusOutsideTheShell) {
    const auto r = run({"bind", "-p", m_env.path().string(), "--gpus", "1,2"},
                       {{"CUDA_VISIBLE_DEVICES", "0,1"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("warning: GPU 1 is busy: 1 process holds 1024 MiB"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("warning: GPU 2 is outside this shell's own GPU restriction"),
              std::string::npos)
        << r.err;
    // Indices are nvidia-smi's, not relative to the shell's CUDA_VISIBLE_DEVICES.
    EXPECT_EQ(core::env::read_env_vars(m_env.path()).vars.at("CUDA_VISIBLE_DEVICES"),
              k_gpu1 + "," + k_gpu2);
}

TEST_F(CmdBind, AVenvCannotCarryABinding) {
    test::TempDir venv;
    test::write_file(venv / "pyvenv.cfg", "home = /usr/bin\n");
    fs::create_directories(venv / "lib/python3.11/site-packages");
    const auto r = run({"bind", "-p", venv.path().string(), "--gpus", "0"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("not a conda environment"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("gpuenv run"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(venv / "conda-meta"));
}

TEST_F(CmdBind, UnbindWithoutBindingChangesNothing) {
    const std::string before = slurp(state());
    const auto r = run({"unbind", "-p", m_env.path().string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("no GPU binding"), std::string::npos);
    EXPECT_EQ(slurp(state()), before);
}

TEST_F(CmdBind, GpusIsRequired) {
    EXPECT_EQ(run({"bind", "-p", m_env.path().string()}).exit_code, 2);
}

}  // namespace
}  // namespace gpuenv
