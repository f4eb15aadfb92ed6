#include <support/sleeper.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace gpuenv::test {
namespace {

// Waits until the child's exec finished: posix_spawn returns once the child released the
// parent's memory, which is before the kernel wrote the new command line. Gives up after
// about 5 s (the test then fails on what it reads, not here).
void wait_for_exec(pid_t pid) {
    const std::string path = "/proc/" + std::to_string(pid) + "/cmdline";
    for (int i = 0; i < 5000; ++i) {
        std::ifstream in(path, std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        if (text.find("30") != std::string::npos)
            return;
        ::usleep(1000);
    }
}

}  // namespace

Sleeper::Sleeper(const std::string& exe, const std::vector<std::string>& env) {
    std::vector<std::string> args = {exe, "30"};
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_copy = env;
    std::vector<char*> envp;
    for (auto& e : env_copy)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    if (::posix_spawn(&m_pid, exe.c_str(), nullptr, nullptr, argv.data(), envp.data()) != 0)
        throw std::runtime_error("cannot start " + exe);
    wait_for_exec(m_pid);
}

Sleeper::~Sleeper() {
    ::kill(m_pid, SIGKILL);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
}

void Sleeper::stop() {
    ::kill(m_pid, SIGSTOP);
    int status = 0;
    ::waitpid(m_pid, &status, WUNTRACED);
}

}  // namespace gpuenv::test
