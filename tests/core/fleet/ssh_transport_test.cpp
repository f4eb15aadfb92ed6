#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gpuenv/core/fleet/fanout.hpp>
#include <gpuenv/core/fleet/transport.hpp>
#include <support/sample_env.hpp>
#include <support/sshd.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::fleet {
namespace {

using Argv = std::vector<std::string>;
using Clock = std::chrono::steady_clock;

// Every alias reaches the same loopback sshd; the node learns which host it plays from
// GPUENV_TEST_NODE (sent with ssh_config SetEnv) and serves that host's own prefix.
std::string fake_node_script(const test::TempDir& dir) {
    return "#!/bin/sh\n"
           "case \"$GPUENV_TEST_NODE\" in\n"
           "  garbage*) echo 'this is not json'; exit 0 ;;\n"
           "esac\n"
           "exec '" GPUENV_BINARY "' \"$@\" -p '" +
           dir.path().string() + "/envs/'\"$GPUENV_TEST_NODE\"\n";
}

struct Outcome {
    std::map<std::string, TaskResult> by_host;
    double seconds = 0;
};

Outcome fan_out(const TransportOptions& transport, const Argv& hosts, const Argv& remote_args) {
    Outcome outcome;
    util::NullProgress progress;
    FanoutOptions options;
    options.timeout = std::chrono::seconds(60);
    const auto start = Clock::now();
    run_fanout(
        hosts.size(), [&](std::size_t i) { return node_argv(transport, hosts[i], remote_args); },
        options, [&](std::size_t i, TaskResult&& result) { outcome.by_host[hosts[i]] = result; },
        progress);
    outcome.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return outcome;
}

class SshTransport : public ::testing::Test {
  protected:
    void SetUp() override {
        if (const auto reason = test::TestSshd::unavailable_reason(); !reason.empty())
            GTEST_SKIP() << reason;
        m_sshd =
            std::make_unique<test::TestSshd>(Argv{"node01", "node02", "garbage01"}, Argv{"down01"});
        m_transport.ssh_args = m_sshd->ssh_args();
    }
    std::string sshd_log() const { return m_sshd ? m_sshd->log() : ""; }

    test::TempDir m_dir;
    std::unique_ptr<test::TestSshd> m_sshd;
    TransportOptions m_transport;
};

TEST_F(SshTransport, ListsEachNodesOwnPrefix) {
    test::write_sample_env(m_dir / "envs/node01");
    test::write_sample_env(m_dir / "envs/node02");
    test::write_file(m_dir / "fake-node", fake_node_script(m_dir));
    ::chmod((m_dir / "fake-node").c_str(), 0755);
    m_transport.remote_gpuenv = (m_dir / "fake-node").string();

    const auto outcome =
        fan_out(m_transport, {"node01", "node02", "garbage01", "down01"}, {"list", "--json"});
    ASSERT_EQ(outcome.by_host.size(), 4U);
    for (const std::string host : {"node01", "node02"}) {
        const auto& result = outcome.by_host.at(host);
        ASSERT_TRUE(result.ok()) << host << ": " << failure_reason(result, "ssh", "gpuenv")
                                 << "\nsshd log:\n"
                                 << sshd_log();
        EXPECT_NE(result.out.find("\"numpy\""), std::string::npos) << result.out;
        EXPECT_NE(result.out.find("/envs/" + host), std::string::npos) << result.out;
    }
    EXPECT_EQ(outcome.by_host.at("garbage01").out, "this is not json\n");
    const auto& down = outcome.by_host.at("down01");
    EXPECT_EQ(down.exit_code, 255);
    EXPECT_NE(failure_reason(down, "ssh", "gpuenv").find("Connection refused"), std::string::npos)
        << failure_reason(down, "ssh", "gpuenv");
    EXPECT_LT(outcome.seconds, 30.0);
}

TEST_F(SshTransport, KeepsHostileArgumentsIntactThroughTheRemoteShell) {
    const Argv hostile{"two words", "it's",     "\"q\"", "$(touch /tmp/gpuenv-pwned)",
                       "`id`",      "a;b&&c|d", "$HOME", "",
                       "*",         "\\"};
    m_transport.remote_gpuenv = "printf";
    Argv args{"[%s]\\n"};
    args.insert(args.end(), hostile.begin(), hostile.end());
    const auto outcome = fan_out(m_transport, {"node01"}, args);
    const auto& result = outcome.by_host.at("node01");
    ASSERT_TRUE(result.ok()) << failure_reason(result, "ssh", "printf") << "\n" << sshd_log();
    std::string expected;
    for (const auto& word : hostile)
        expected += "[" + word + "]\n";
    EXPECT_EQ(result.out, expected);
}

TEST_F(SshTransport, ReportsAMissingRemoteGpuenv) {
    m_transport.remote_gpuenv = "/nonexistent/bin/gpuenv";
    const auto outcome = fan_out(m_transport, {"node02"}, {"list", "--json"});
    const auto& result = outcome.by_host.at("node02");
    EXPECT_EQ(result.exit_code, 127);
    EXPECT_NE(failure_reason(result, "ssh", m_transport.remote_gpuenv)
                  .find("/nonexistent/bin/gpuenv not found on the node"),
              std::string::npos)
        << failure_reason(result, "ssh", m_transport.remote_gpuenv);
}

TEST_F(SshTransport, FailsWithoutPromptingWhenNoKeyIsAccepted) {
    // BatchMode=yes: with no usable key ssh gives up at once instead of asking for a password.
    const test::TempDir other;
    std::ifstream in(m_sshd->client_config());
    std::string config;
    for (std::string line; std::getline(in, line);)
        if (line.find("IdentityFile") == std::string::npos)
            config += line + "\n";
    test::write_file(other / "ssh_config", config);
    m_transport.ssh_args = {"-F", (other / "ssh_config").string()};
    const auto outcome = fan_out(m_transport, {"node01"}, {"list"});
    const auto& result = outcome.by_host.at("node01");
    EXPECT_EQ(result.exit_code, 255);
    EXPECT_NE(failure_reason(result, "ssh", "gpuenv").find("Permission denied"), std::string::npos)
        << failure_reason(result, "ssh", "gpuenv");
    EXPECT_LT(outcome.seconds, 30.0);
}

TEST_F(SshTransport, ReachesManyAliasesConcurrently) {
    Argv aliases;
    for (int i = 0; i < 6; ++i)
        aliases.push_back("node" + std::to_string(100 + i));
    // A fresh server whose client config knows these aliases.
    m_sshd.reset();
    m_sshd = std::make_unique<test::TestSshd>(aliases);
    m_transport.ssh_args = m_sshd->ssh_args();
    test::write_file(m_dir / "node-name", "#!/bin/sh\necho \"$GPUENV_TEST_NODE $*\"\n");
    ::chmod((m_dir / "node-name").c_str(), 0755);
    m_transport.remote_gpuenv = (m_dir / "node-name").string();

    Outcome outcome;
    util::NullProgress progress;
    FanoutOptions options;
    options.jobs = 3;
    options.timeout = std::chrono::seconds(60);
    run_fanout(
        aliases.size(),
        [&](std::size_t i) {
            return node_argv(m_transport, aliases[i], {"list", "--json"});
        },
        options, [&](std::size_t i, TaskResult&& result) { outcome.by_host[aliases[i]] = result; },
        progress);
    ASSERT_EQ(outcome.by_host.size(), aliases.size());
    for (const auto& alias : aliases) {
        const auto& result = outcome.by_host.at(alias);
        ASSERT_TRUE(result.ok()) << alias << ": " << failure_reason(result, "ssh", "gpuenv") << "\n"
                                 << sshd_log();
        EXPECT_EQ(result.out, alias + " list --json\n");
    }
}

TEST_F(SshTransport, KillsASessionThatHangs) {
    // The remote sleep outlives the killed ssh on the "node" (no pty, no SIGHUP), so it is short.
    m_transport.remote_gpuenv = "sleep";
    FanoutOptions options;
    options.timeout = std::chrono::seconds(1);
    TaskResult result;
    util::NullProgress progress;
    const auto start = Clock::now();
    run_fanout(
        1, [&](std::size_t) { return node_argv(m_transport, "node01", {"4"}); }, options,
        [&](std::size_t, TaskResult&& r) { result = std::move(r); }, progress);
    EXPECT_EQ(result.end, TaskEnd::timed_out);
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 8.0);
}

}  // namespace
}  // namespace gpuenv::core::fleet
