#include <support/run_gpuenv.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <support/temp_dir.hpp>

extern char** environ;

namespace gpuenv::test {
namespace {

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

namespace {

std::vector<std::string> environment_for(const RunEnv& env) {
    std::map<std::string, std::string> vars;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry(*e);
        const auto eq = entry.find('=');
        if (eq != std::string::npos)
            vars[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    for (const char* name : {"CONDA_PREFIX", "CONDA_DEFAULT_ENV", "VIRTUAL_ENV", "CONDA_ENVS_PATH",
                             "CONDA_ENVS_DIRS", "MAMBA_ROOT_PREFIX", "CONDA_EXE", "CONDA_ROOT"}) {
        vars.erase(name);
    }
    for (const auto& [name, value] : env.set) {
        if (value) {
            vars[name] = *value;
        } else {
            vars.erase(name);
        }
    }
    std::vector<std::string> env_strings;
    for (const auto& [name, value] : vars)
        env_strings.push_back(name + "=" + value);
    return env_strings;
}

// Starts argv with stdin from /dev/null and stdout/stderr into files under `capture`.
int spawn_captured(const std::vector<std::string>& argv, const RunEnv& env,
                   const std::filesystem::path& capture) {
    std::vector<std::string> env_strings = environment_for(env);
    std::vector<char*> envp;
    for (auto& s : env_strings)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const auto out_path = capture / "stdout";
    const auto err_path = capture / "stderr";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0)
        throw std::runtime_error("cannot start " + argv[0]);
    return pid;
}

RunResult collect(int pid, const std::filesystem::path& capture) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    RunResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = slurp(capture / "stdout");
    result.err = slurp(capture / "stderr");
    return result;
}

}  // namespace

RunResult run_command(const std::vector<std::string>& argv, const RunEnv& env) {
    TempDir capture;
    return collect(spawn_captured(argv, env, capture.path()), capture.path());
}

BackgroundCommand::BackgroundCommand(const std::vector<std::string>& argv, const RunEnv& env) {
    char pattern[] = "/tmp/gpuenv-bg-XXXXXX";
    if (::mkdtemp(pattern) == nullptr)
        throw std::runtime_error("cannot create a temp dir");
    m_capture = pattern;
    m_pid = spawn_captured(argv, env, m_capture);
}

BackgroundCommand::~BackgroundCommand() {
    if (!m_reaped) {
        ::kill(m_pid, SIGKILL);
        int status = 0;
        while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    std::error_code ec;
    std::filesystem::remove_all(m_capture, ec);
}

RunResult BackgroundCommand::wait() {
    RunResult result = collect(m_pid, m_capture);
    m_reaped = true;
    return result;
}

std::unique_ptr<BackgroundCommand> start_gpuenv(const std::vector<std::string>& args,
                                                const RunEnv& env) {
    std::vector<std::string> argv{GPUENV_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<BackgroundCommand>(argv, env);
}

RunResult run_gpuenv(const std::vector<std::string>& args, const RunEnv& env) {
    std::vector<std::string> argv{GPUENV_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, env);
}

}  // namespace gpuenv::test
