#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <support/temp_dir.hpp>

namespace gpuenv::test {

/// Names the environment variable through which a test node learns its own host alias.
inline constexpr const char* k_test_node_variable = "GPUENV_TEST_NODE";

/// Runs a real OpenSSH server on a free loopback port for the duration of a test, with a
/// generated host key and user key, and writes a client config (for `ssh -F`) in which every
/// alias reaches it. Each alias in `aliases` sends GPUENV_TEST_NODE=<alias> (ssh_config
/// SetEnv, accepted by sshd's AcceptEnv), so a script on the "node" can serve a per-host
/// prefix; each alias in `refused_aliases` points at a closed loopback port instead.
class TestSshd {
  public:
    TestSshd(const std::vector<std::string>& aliases,
             const std::vector<std::string>& refused_aliases = {});
    ~TestSshd();
    TestSshd(const TestSshd&) = delete;
    TestSshd& operator=(const TestSshd&) = delete;

    /// Returns why no test sshd can run here ("/usr/sbin/sshd is not installed"), or "".
    [[nodiscard]] static std::string unavailable_reason();

    /// Returns the port sshd listens on (127.0.0.1).
    [[nodiscard]] int port() const { return m_port; }
    /// Returns the client config file to pass with `ssh -F`.
    [[nodiscard]] std::filesystem::path client_config() const { return m_dir / "ssh_config"; }
    /// Returns the ssh options that select the client config ({"-F", client_config()}).
    [[nodiscard]] std::vector<std::string> ssh_args() const;
    /// Returns what sshd logged so far (for failure messages).
    [[nodiscard]] std::string log() const;

  private:
    void write_keys();
    void write_client_config(const std::vector<std::string>& aliases,
                             const std::vector<std::string>& refused_aliases) const;
    bool start_server();

    TempDir m_dir;
    int m_port = 0;
    int m_pid = 0;
};

}  // namespace gpuenv::test
