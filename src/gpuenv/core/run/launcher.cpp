#include <gpuenv/core/run/launcher.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::run {
namespace {

constexpr int k_forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

CommandStatus status_of(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return CommandStatus::not_found;
    if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0)
        return CommandStatus::not_executable;
    return CommandStatus::found;
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (const std::string& s : strings)
        out.push_back(const_cast<char*>(s.c_str()));  // posix_spawn's signature, never written
    out.push_back(nullptr);
    return out;
}

// Blocks the forwarded signals and SIGCHLD for this thread while in scope, so that none is
// lost between spawning and waiting: they are collected with sigwaitinfo instead.
class BlockedSignals {
  public:
    BlockedSignals() {
        sigemptyset(&m_set);
        for (const int sig : k_forwarded)
            sigaddset(&m_set, sig);
        sigaddset(&m_set, SIGCHLD);
        ::pthread_sigmask(SIG_BLOCK, &m_set, &m_old);
    }
    ~BlockedSignals() { ::pthread_sigmask(SIG_SETMASK, &m_old, nullptr); }
    BlockedSignals(const BlockedSignals&) = delete;
    BlockedSignals& operator=(const BlockedSignals&) = delete;

    [[nodiscard]] const sigset_t& set() const { return m_set; }
    [[nodiscard]] const sigset_t& old() const { return m_old; }

  private:
    sigset_t m_set{};
    sigset_t m_old{};
};

pid_t spawn(const std::filesystem::path& executable, const std::vector<std::string>& argv,
            const std::vector<std::string>& envp, const sigset_t& child_mask) {
    posix_spawnattr_t attr;
    ::posix_spawnattr_init(&attr);
    // The child starts with gpuenv's original mask; dispositions are inherited untouched, so a
    // SIGINT a shell told its background job to ignore stays ignored, as with exec.
    ::posix_spawnattr_setsigmask(&attr, &child_mask);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    auto args = c_strings(argv);
    auto env = c_strings(envp);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, executable.c_str(), nullptr, &attr, args.data(), env.data());
    if (rc == ENOEXEC) {
        // A script without "#!": execvp hands it to /bin/sh, and so does gpuenv.
        std::vector<std::string> sh_argv = {"/bin/sh", executable.string()};
        sh_argv.insert(sh_argv.end(), argv.begin() + 1, argv.end());
        auto sh_args = c_strings(sh_argv);
        rc = ::posix_spawn(&pid, "/bin/sh", nullptr, &attr, sh_args.data(), env.data());
    }
    ::posix_spawnattr_destroy(&attr);
    if (rc != 0)
        throw Error(ExitCode::internal,
                    "cannot start " + executable.string() + ": " + std::strerror(rc));
    return pid;
}

// Says whether a signal was sent by a process (kill, sigqueue, tgkill) rather than raised by
// the kernel for the terminal's foreground process group, which the child is part of.
bool sent_by_a_process(const siginfo_t& info) {
    return info.si_code <= 0;
}

}  // namespace

CommandLookup find_command(const std::string& command, const std::string& path_list) {
    if (command.empty())
        return {};
    if (command.find('/') != std::string::npos)
        return {status_of(command), command};
    CommandLookup first_unusable;
    for (const std::string_view dir : util::split(path_list, ':')) {
        const std::filesystem::path candidate =
            std::filesystem::path(dir.empty() ? "." : std::string(dir)) / command;
        const CommandStatus status = status_of(candidate);
        if (status == CommandStatus::found)
            return {status, candidate};
        // execvp goes on past a file it may not execute, and reports EACCES only at the end.
        if (status == CommandStatus::not_executable &&
            first_unusable.status == CommandStatus::not_found)
            first_unusable = {status, candidate};
    }
    return first_unusable;
}

int exit_code_of(int wait_status) {
    if (WIFEXITED(wait_status))
        return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status))
        return 128 + WTERMSIG(wait_status);
    return 128;
}

int launch_and_wait(const std::filesystem::path& executable, const std::vector<std::string>& argv,
                    const std::vector<std::string>& envp) {
    if (argv.empty())
        throw Error(ExitCode::internal, "launch_and_wait needs an argv");
    const BlockedSignals blocked;
    const pid_t child = spawn(executable, argv, envp, blocked.old());
    for (;;) {
        siginfo_t info{};
        const int sig = ::sigwaitinfo(&blocked.set(), &info);
        if (sig < 0)
            continue;  // EINTR from a signal outside the set
        if (sig != SIGCHLD) {
            if (sent_by_a_process(info))
                ::kill(child, sig);
            continue;
        }
        int status = 0;
        const pid_t done = ::waitpid(child, &status, WNOHANG);
        if (done == child)
            return exit_code_of(status);
        if (done < 0 && errno == ECHILD)
            throw Error(ExitCode::internal, "lost track of " + executable.string());
    }
}

void exec_replacing(const std::filesystem::path& executable, const std::vector<std::string>& argv,
                    const std::vector<std::string>& envp) {
    auto args = c_strings(argv);
    auto env = c_strings(envp);
    ::execve(executable.c_str(), args.data(), env.data());
    if (errno == ENOEXEC) {
        // A script without "#!": execvp hands it to /bin/sh, and so does gpuenv.
        std::vector<std::string> sh_argv = {"/bin/sh", executable.string()};
        sh_argv.insert(sh_argv.end(), argv.begin() + 1, argv.end());
        auto sh_args = c_strings(sh_argv);
        ::execve("/bin/sh", sh_args.data(), env.data());
    }
    throw Error(ExitCode::internal,
                "cannot start " + executable.string() + ": " + std::strerror(errno));
}

}  // namespace gpuenv::core::run
