// End-to-end tests of `gpuenv fleet`: simulated nodes, each serving its own prefix through a
// command template or a real loopback sshd, some of them drifted, broken, hung or absent.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <support/python_dist_builder.hpp>
#include <support/run_gpuenv.hpp>
#include <support/sample_env.hpp>
#include <support/sshd.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class CmdFleet : public ::testing::Test {
  protected:
    void SetUp() override {
        for (const char* host : {"node01", "node02", "node03"})
            test::write_sample_env(m_dir / ("envs/" + std::string(host)));
        // node03 got an extra pip package: drift.
        test::PythonDistSpec extra;
        extra.name = "rich";
        extra.version = "13.7.1";
        (void)test::write_dist_info(m_dir / ("envs/node03/" + test::k_sample_site_packages), extra);
        // The node command: `fake-node HOST gpuenv-args...` plays HOST.
        test::write_file(m_dir / "fake-node",
                         "#!/bin/sh\n"
                         "host=$1; shift 2  # the node command, then gpuenv and its arguments\n"
                         "case \"$host\" in\n"
                         "  garbage*) echo 'this is not json'; exit 0 ;;\n"
                         "  hang*) exec sleep 30 ;;\n"
                         "  nogpuenv*) echo 'sh: 1: gpuenv: not found' >&2; exit 127 ;;\n"
                         "esac\n"
                         "exec '" GPUENV_BINARY "' \"$@\" -p '" +
                             (m_dir / "envs").string() + "/'\"$host\"\n");
        ::chmod((m_dir / "fake-node").c_str(), 0755);
    }

    test::RunResult fleet(std::vector<std::string> args) {
        args.insert(args.begin(), "fleet");
        return test::run_gpuenv(args);
    }

    [[nodiscard]] std::string via() const { return (m_dir / "fake-node").string() + " {host}"; }

    test::TempDir m_dir;
};

TEST_F(CmdFleet, IdenticalNodesExitZero) {
    const auto r = fleet({"check", "node[01-02]", "--via", via()});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_NE(r.out.find("2 nodes: 2 identical to the reference, 0 drifted, 0 unreachable"),
              std::string::npos)
        << r.out;
}

TEST_F(CmdFleet, ShowsWhichNodesDifferInWhat) {
    const auto r = fleet({"check", "node[01-03]", "--via", via(), "--json"});
    ASSERT_EQ(r.exit_code, 1) << r.err << r.out;
    const Json doc = Json::parse(r.out);
    EXPECT_EQ(doc["schema"], "gpuenv.fleet/1");
    EXPECT_EQ(doc["summary"]["nodes"], 3);
    EXPECT_EQ(doc["summary"]["identical"], 2);
    EXPECT_EQ(doc["summary"]["drifted"], 1);
    const auto text = fleet({"check", "node[01-03]", "--via", via()});
    EXPECT_EQ(text.exit_code, 1);
    EXPECT_NE(text.out.find("node[01-02] (reference, 2 nodes)"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("node03 (1 node)"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("rich"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("13.7.1"), std::string::npos) << text.out;
}

TEST_F(CmdFleet, BrokenNodesAreReportedAndNeverStallTheRest) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = fleet({"check", "node01", "node02", "garbage1", "hang1", "nogpuenv1", "--via",
                          via(), "--timeout", "2", "--json"});
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(r.exit_code, 5) << r.err << r.out;
    EXPECT_LT(seconds, 20.0);  // a hung node costs its timeout, not the 30 s it sleeps
    const Json doc = Json::parse(r.out);
    EXPECT_EQ(doc["summary"]["identical"], 2);
    EXPECT_EQ(doc["summary"]["unreachable"], 3);
    std::map<std::string, std::string> kinds;
    for (const auto& f : doc["failures"])
        kinds[f["host"].get<std::string>()] = f["kind"].get<std::string>();
    EXPECT_EQ(kinds["garbage1"], "garbage");
    EXPECT_EQ(kinds["hang1"], "timeout");
    EXPECT_EQ(kinds["nogpuenv1"], "no_gpuenv");
}

TEST_F(CmdFleet, ComparesWithALockAndWritesTheHtmlReport) {
    const auto lock = m_dir / "gpuenv.lock";
    ASSERT_EQ(
        test::run_gpuenv({"lock", "-p", (m_dir / "envs/node01").string(), "-o", lock.string()})
            .exit_code,
        0);
    const auto html = m_dir / "report.html";
    const auto r = fleet(
        {"check", "node[01-03]", "--via", via(), "--lock", lock.string(), "--html", html.string()});
    EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
    EXPECT_NE(r.out.find("reference: the lock"), std::string::npos) << r.out;
    const std::string page = slurp(html);
    EXPECT_NE(page.find("id=\"drift-matrix\""), std::string::npos);
    EXPECT_NE(page.find("rich"), std::string::npos);
    EXPECT_EQ(page.find("http://"), std::string::npos);  // self-contained
    EXPECT_EQ(page.find("https://"), std::string::npos);
}

TEST_F(CmdFleet, BadInputIsAUsageError) {
    EXPECT_EQ(fleet({"check", "node[03-01]", "--via", via()}).exit_code, 2);
    EXPECT_EQ(fleet({"check", "node01", "--via", "pdsh -w"}).exit_code, 2);  // no {host}
    EXPECT_EQ(fleet({"check", "node01", "--via", via(), "--jobs", "0"}).exit_code, 2);
    EXPECT_EQ(fleet({"check", "@/nonexistent/hosts", "--via", via()}).exit_code, 3);
    EXPECT_EQ(fleet({"check", "node01", "--via", via(), "--lock", "/nonexistent.lock"}).exit_code,
              3);
}

TEST_F(CmdFleet, GpusOfEveryNode) {
    test::write_file(m_dir / "scenario.json",
                     R"({"gpus": [{"uuid": "GPU-aaaaaaaa-0000-0000-0000-000000000000",
                                   "name": "NVIDIA H100", "memory_total": 85899345920},
                                  {"uuid": "GPU-bbbbbbbb-0000-0000-0000-000000000000",
                                   "name": "NVIDIA H100", "memory_total": 85899345920,
                                   "processes": [{"pid": 4194305, "used_memory": 1073741824}]}]})");
    test::write_file(
        m_dir / "gpu-node",
        "#!/bin/sh\nhost=$1; shift 2\n"
        "[ \"$host\" = down ] && { echo 'ssh: connect to host down: refused' >&2; exit 255; }\n"
        "GPUENV_NVML_LIBRARY='" GPUENV_FAKE_NVML_CURRENT
        "' "
        "GPUENV_FAKE_NVML_SCENARIO='" +
            (m_dir / "scenario.json").string() + "' exec '" GPUENV_BINARY "' \"$@\"\n");
    ::chmod((m_dir / "gpu-node").c_str(), 0755);
    const std::string gpu_via = (m_dir / "gpu-node").string() + " {host}";
    const auto r = fleet({"gpus", "gpu[1-2]", "--via", gpu_via});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_NE(r.out.find("gpu1  2     1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("0:free"), std::string::npos) << r.out;
    const auto down = fleet({"gpus", "gpu1", "down", "--via", gpu_via, "--json"});
    EXPECT_EQ(down.exit_code, 5) << down.err;
    const Json doc = Json::parse(down.out);
    EXPECT_EQ(doc["schema"], "gpuenv.fleet-gpus/1");
}

// The ssh transport for real: a loopback sshd, one alias per node, the node learning which
// host it plays from GPUENV_TEST_NODE (ssh_config SetEnv).
TEST_F(CmdFleet, ThroughARealSshServer) {
    if (const std::string why = test::TestSshd::unavailable_reason(); !why.empty())
        GTEST_SKIP() << why;
    const test::TestSshd sshd({"node01", "node02", "node03"}, {"node09"});
    test::write_file(m_dir / "ssh-node", "#!/bin/sh\nexec '" GPUENV_BINARY "' \"$@\" -p '" +
                                             (m_dir / "envs").string() +
                                             "/'\"$GPUENV_TEST_NODE\"\n");
    ::chmod((m_dir / "ssh-node").c_str(), 0755);
    const auto r =
        fleet({"check", "node[01-03,09]", "--ssh-config", sshd.client_config().string(),
               "--remote-gpuenv", (m_dir / "ssh-node").string(), "--timeout", "60", "--json"});
    EXPECT_EQ(r.exit_code, 5) << r.err << r.out << sshd.log();
    const Json doc = Json::parse(r.out);
    EXPECT_EQ(doc["summary"]["identical"], 2) << r.out;
    EXPECT_EQ(doc["summary"]["drifted"], 1) << r.out;
    ASSERT_EQ(doc["failures"].size(), 1U) << r.out;
    EXPECT_EQ(doc["failures"][0]["host"], "node09");
    EXPECT_EQ(doc["failures"][0]["kind"], "unreachable");
    EXPECT_NE(doc["failures"][0]["reason"].get<std::string>().find("refused"), std::string::npos)
        << doc["failures"][0];
}

}  // namespace
}  // namespace gpuenv
