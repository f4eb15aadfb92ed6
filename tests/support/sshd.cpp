#include <support/sshd.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <support/run_gpuenv.hpp>

extern char** environ;

namespace gpuenv::test {
namespace {

constexpr const char* k_sshd = "/usr/sbin/sshd";

// Returns a loopback port that was free a moment ago (bound to port 0, then released).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error("cannot create a socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot bind a loopback port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool accepts_connections(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

bool executable(const char* path) {
    return ::access(path, X_OK) == 0;
}

std::string find_program(const std::string& name) {
    for (const char* dir : {"/usr/bin/", "/bin/", "/usr/local/bin/"}) {
        const std::string path = std::string(dir) + name;
        if (executable(path.c_str()))
            return path;
    }
    return {};
}

void keygen(const std::filesystem::path& key) {
    const auto result = run_command(
        {find_program("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", key.string()});
    if (result.exit_code != 0)
        throw std::runtime_error("ssh-keygen failed: " + result.err);
}

}  // namespace

std::string TestSshd::unavailable_reason() {
    if (!executable(k_sshd))
        return "/usr/sbin/sshd is not installed (openssh-server)";
    if (find_program("ssh").empty() || find_program("ssh-keygen").empty())
        return "ssh or ssh-keygen is not installed (openssh-client)";
    return {};
}

TestSshd::TestSshd(const std::vector<std::string>& aliases,
                   const std::vector<std::string>& refused_aliases) {
    write_keys();
    // The port is found free, then handed to sshd: another process may take it in between,
    // so a failed start is retried on a fresh port.
    for (int attempt = 0; attempt < 5; ++attempt) {
        m_port = free_port();
        if (start_server()) {
            write_client_config(aliases, refused_aliases);
            return;
        }
    }
    throw std::runtime_error("cannot start sshd: " + log());
}

TestSshd::~TestSshd() {
    if (m_pid > 0) {
        ::kill(m_pid, SIGTERM);
        int status = 0;
        while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
}

std::vector<std::string> TestSshd::ssh_args() const {
    return {"-F", client_config().string()};
}

std::string TestSshd::log() const {
    std::ifstream in(m_dir / "sshd.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

void TestSshd::write_keys() {
    keygen(m_dir / "host_ed25519");
    keygen(m_dir / "id_ed25519");
    std::ifstream pub(m_dir / "id_ed25519.pub");
    std::stringstream key;
    key << pub.rdbuf();
    write_file(m_dir / "authorized_keys", key.str());
}

bool TestSshd::start_server() {
    const auto dir = m_dir.path().string();
    std::ostringstream config;
    config << "ListenAddress 127.0.0.1:" << m_port << "\n"
           << "HostKey " << dir << "/host_ed25519\n"
           << "PidFile " << dir << "/sshd.pid\n"
           << "AuthorizedKeysFile " << dir << "/authorized_keys\n"
           << "PubkeyAuthentication yes\n"
           << "PasswordAuthentication no\n"
           << "KbdInteractiveAuthentication no\n"
           // The tests run as root in CI; keys only.
           << "PermitRootLogin prohibit-password\n"
           // The temp dir's modes are not sshd's business here.
           << "StrictModes no\n"
           << "UsePAM no\n"
           << "UseDNS no\n"
           << "AcceptEnv " << k_test_node_variable
           << "\n"
           // A fan-out opens many connections at once; the default (10:30:100) drops some.
           << "MaxStartups 200\n"
           << "LogLevel ERROR\n";
    write_file(m_dir / "sshd_config", config.str());
    // As root, sshd wants its privilege separation directory (Debian creates it at boot).
    if (::geteuid() == 0)
        ::mkdir("/run/sshd", 0755);

    const std::string log_path = dir + "/sshd.log";
    const std::string config_path = dir + "/sshd_config";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> argv{k_sshd, "-D", "-e", "-f", config_path};
    std::vector<char*> args;
    for (auto& a : argv)
        args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, k_sshd, &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        throw std::runtime_error("cannot run /usr/sbin/sshd");

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid)
            return false;  // it exited: the port was taken, or the config is wrong (see log)
        if (accepts_connections(m_port)) {
            m_pid = pid;
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return false;
}

void TestSshd::write_client_config(const std::vector<std::string>& aliases,
                                   const std::vector<std::string>& refused_aliases) const {
    // ssh_config takes the first value it finds for each option, so the per-alias blocks
    // come before "Host *".
    std::ostringstream config;
    for (const auto& alias : aliases)
        config << "Host " << alias << "\n  SetEnv " << k_test_node_variable << "=" << alias << "\n";
    const int closed_port = free_port();
    for (const auto& alias : refused_aliases)
        config << "Host " << alias << "\n  Port " << closed_port << "\n";
    const auto dir = m_dir.path().string();
    config << "Host *\n"
           << "  HostName 127.0.0.1\n"
           << "  Port " << m_port << "\n"
           << "  IdentityFile " << dir << "/id_ed25519\n"
           << "  IdentitiesOnly yes\n"
           << "  UserKnownHostsFile /dev/null\n"
           << "  GlobalKnownHostsFile /dev/null\n"
           << "  StrictHostKeyChecking no\n"
           << "  ControlMaster no\n"
           << "  LogLevel ERROR\n";
    write_file(client_config(), config.str());
}

}  // namespace gpuenv::test
