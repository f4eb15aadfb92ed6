#include <support/orphan.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace gpuenv::test {
namespace {

// Waits until `pid` runs sleep (the shell forks before it execs); gives up after about 5 s.
void wait_for_sleep(pid_t pid) {
    const std::string path = "/proc/" + std::to_string(pid) + "/cmdline";
    for (int i = 0; i < 5000; ++i) {
        std::ifstream in(path, std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        if (text.rfind("sleep", 0) == 0)
            return;
        ::usleep(1000);
    }
}

}  // namespace

Orphan::Orphan() {
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        throw std::runtime_error("cannot become a child subreaper");
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0)
        throw std::runtime_error("cannot create a pipe");
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    ::posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    ::posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
    posix_spawnattr_t attr;
    ::posix_spawnattr_init(&attr);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    ::posix_spawnattr_setpgroup(&attr, 0);
    // The sleep must not keep the pipe open, or reading the pid would wait for it to end.
    std::string sh = "/bin/sh";
    std::string flag = "-c";
    std::string script = "sleep 60 >/dev/null 2>&1 </dev/null & echo $!";
    char* argv[] = {sh.data(), flag.data(), script.data(), nullptr};
    char* envp[] = {nullptr};
    const int rc = ::posix_spawn(&m_leader, sh.c_str(), &actions, &attr, argv, envp);
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
    ::close(pipe_fds[1]);
    std::string text;
    char c = 0;
    while (rc == 0 && ::read(pipe_fds[0], &c, 1) == 1 && c != '\n')
        text += c;
    ::close(pipe_fds[0]);
    if (rc != 0)
        throw std::runtime_error("cannot start /bin/sh");
    int status = 0;
    ::waitpid(m_leader, &status, 0);
    m_pid = static_cast<pid_t>(std::stoi(text));
    wait_for_sleep(m_pid);
}

Orphan::~Orphan() {
    if (m_reaped)
        return;
    ::kill(m_pid, SIGKILL);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
}

bool Orphan::reap_if_exited() {
    if (m_reaped)
        return true;
    int status = 0;
    m_reaped = ::waitpid(m_pid, &status, WNOHANG) == m_pid;
    return m_reaped;
}

}  // namespace gpuenv::test
