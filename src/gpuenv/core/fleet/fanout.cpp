#include <gpuenv/core/fleet/fanout.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/process.hpp>

extern char** environ;

namespace gpuenv::core::fleet {
namespace {

using Clock = std::chrono::steady_clock;

// After the command exits, a grandchild may still hold its pipes open (a backgrounded helper);
// its output is not waited for longer than this.
constexpr auto k_exit_grace = std::chrono::milliseconds(1000);
// Without pidfds, how often exited children are looked for while their pipes stay open.
constexpr auto k_reap_tick = std::chrono::milliseconds(10);

enum class Stream { out, err };
enum class Reap { if_exited, wait };

struct Task {
    std::size_t index = 0;
    pid_t pid = -1;
    int out_fd = -1;
    int err_fd = -1;
    int pid_fd = -1;  ///< readable once the child exits; -1 where pidfd_open is missing
    Clock::time_point start;
    Clock::time_point deadline;
    std::optional<int> wait_status;
    Clock::time_point exited_at;
    std::optional<TaskEnd> forced;  ///< set when we killed it (timeout, output cap)
    TaskResult result;
};

void close_fd(int& fd) {
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    const long fd = ::syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
        return static_cast<int>(fd);
    }
#else
    (void)pid;
#endif
    return -1;
}

// Starts argv in a new process group, stdout and stderr on fresh pipes. Returns 0 or an errno.
int spawn(const std::vector<std::string>& argv, Task& task) {
    if (argv.empty())
        return EINVAL;
    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0)
        return errno;
    if (::pipe2(err, O_CLOEXEC) != 0) {
        const int e = errno;
        ::close(out[0]);
        ::close(out[1]);
        return e;
    }
    int pid = -1;
    const int rc =
        util::spawn_in_own_group(argv, nullptr, out[1], err[1], /*search_path=*/true, pid);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
        ::close(out[0]);
        ::close(err[0]);
        return rc;
    }
    ::fcntl(out[0], F_SETFL, O_NONBLOCK);
    ::fcntl(err[0], F_SETFL, O_NONBLOCK);
    task.pid = pid;
    task.out_fd = out[0];
    task.err_fd = err[0];
    task.pid_fd = open_pidfd(pid);
    return 0;
}

bool try_reap(Task& task, Reap how) {
    if (task.wait_status)
        return true;
    int status = 0;
    pid_t r = 0;
    do {
        r = ::waitpid(task.pid, &status, how == Reap::wait ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r != task.pid)
        return false;
    task.wait_status = status;
    task.exited_at = Clock::now();
    close_fd(task.pid_fd);
    return true;
}

void kill_group(Task& task) {
    if (task.pid <= 0)
        return;  // kill(-1) or kill(0) would reach far more than this task
    ::kill(-task.pid, SIGKILL);
    if (!task.wait_status)
        ::kill(task.pid, SIGKILL);  // in case it left its group
}

void append_tail(std::string& tail, const char* data, std::size_t n, std::size_t cap) {
    tail.append(data, n);
    if (tail.size() > 2 * cap + 4096)
        tail.erase(0, tail.size() - cap);
}

// Reads what is there now; returns false at end of file.
bool drain(int fd, Task& task, Stream stream, const FanoutOptions& options) {
    char buffer[65536];
    while (true) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK;
        if (n == 0)
            return false;
        const auto size = static_cast<std::size_t>(n);
        if (stream == Stream::err) {
            append_tail(task.result.err_tail, buffer, size, options.stderr_tail);
        } else if (task.result.out.size() + size > options.max_output) {
            task.forced = TaskEnd::output_too_large;
            return false;
        } else {
            // A node's answer is usually hundreds of KB (`gpuenv list --json`): start with room
            // for that rather than doubling up from 64 KB, copying it all each time.
            if (task.result.out.empty())
                task.result.out.reserve(std::min<std::size_t>(options.max_output, 512 * 1024));
            task.result.out.append(buffer, size);
        }
        if (size < sizeof buffer)
            return true;
    }
}

TaskResult finish(Task& task) {
    close_fd(task.out_fd);
    close_fd(task.err_fd);
    close_fd(task.pid_fd);
    TaskResult result = std::move(task.result);
    result.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - task.start);
    if (task.forced) {
        result.end = *task.forced;
        result.out.clear();
        return result;
    }
    const int status = task.wait_status.value_or(0);
    if (WIFSIGNALED(status)) {
        result.end = TaskEnd::signaled;
        result.signal = WTERMSIG(status);
    } else {
        result.end = TaskEnd::exited;
        result.exit_code = WEXITSTATUS(status);
    }
    return result;
}

// Owns the running tasks; kills and reaps whatever is left if the loop is left by an exception.
class Pool {
  public:
    explicit Pool(const FanoutOptions& options) : m_options(options) {}
    ~Pool() {
        for (auto& task : m_tasks) {
            if (task.pid <= 0)
                continue;
            kill_group(task);
            try_reap(task, Reap::wait);
            close_fd(task.out_fd);
            close_fd(task.err_fd);
            close_fd(task.pid_fd);
        }
    }
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    std::vector<Task>& tasks() { return m_tasks; }

    // Returns 0, or an errno when the task could not start.
    int start(std::size_t index, const std::vector<std::string>& argv) {
        Task task;
        task.index = index;
        task.start = Clock::now();
        task.deadline = task.start + m_options.timeout;
        const int e = spawn(argv, task);
        if (e == 0)
            m_tasks.push_back(std::move(task));
        return e;
    }

    // Waits for output, exits or deadlines, and moves finished tasks to `done`.
    void step(std::vector<Task>& done) {
        std::vector<pollfd> fds;
        fds.reserve(m_tasks.size() * 3);
        auto now = Clock::now();
        auto wake = Clock::time_point::max();
        for (auto& task : m_tasks) {
            for (const int fd : {task.out_fd, task.err_fd, task.pid_fd})
                if (fd >= 0)
                    fds.push_back({fd, POLLIN, 0});
            wake = std::min(wake, task.deadline);
            if (task.wait_status)
                wake = std::min(wake, task.exited_at + k_exit_grace);
            else if (task.pid_fd < 0)
                wake = std::min(wake, now + k_reap_tick);
        }
        const auto wait_ms =
            std::chrono::ceil<std::chrono::milliseconds>(std::max(wake - now, Clock::duration{}));
        const int timeout = static_cast<int>(std::min<long long>(wait_ms.count(), 60'000));
        if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR)
            throw Error(ExitCode::internal, std::string("poll failed: ") + std::strerror(errno));

        now = Clock::now();
        for (auto& task : m_tasks)
            advance(task, now);
        const auto finished = std::stable_partition(m_tasks.begin(), m_tasks.end(),
                                                    [](const Task& t) { return t.pid >= 0; });
        std::move(finished, m_tasks.end(), std::back_inserter(done));
        m_tasks.erase(finished, m_tasks.end());
    }

  private:
    // Reads, reaps and enforces limits for one task; marks it finished with pid = -1.
    void advance(Task& task, Clock::time_point now) {
        if (task.out_fd >= 0 && !drain(task.out_fd, task, Stream::out, m_options))
            close_fd(task.out_fd);
        if (task.err_fd >= 0 && !drain(task.err_fd, task, Stream::err, m_options))
            close_fd(task.err_fd);
        if (!task.forced && now >= task.deadline && !task.wait_status)
            task.forced = TaskEnd::timed_out;
        if (task.forced) {
            kill_group(task);
            try_reap(task, Reap::wait);
        } else {
            try_reap(task, Reap::if_exited);
        }
        if (!task.wait_status)
            return;
        const bool pipes_open = task.out_fd >= 0 || task.err_fd >= 0;
        if (pipes_open && !task.forced && now < task.exited_at + k_exit_grace &&
            now < task.deadline)
            return;
        if (pipes_open && !task.forced)
            kill_group(task);  // a leftover of its group still holds the pipes
        if (task.result.err_tail.size() > m_options.stderr_tail)
            task.result.err_tail.erase(0, task.result.err_tail.size() - m_options.stderr_tail);
        task.result = finish(task);
        task.pid = -1;
    }

    const FanoutOptions& m_options;
    std::vector<Task> m_tasks;
};

std::string last_line(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
        text.remove_suffix(1);
    const auto at = text.find_last_of('\n');
    if (at != std::string_view::npos)
        text.remove_prefix(at + 1);
    if (text.size() > 300)
        text = text.substr(0, 300);
    return std::string(text);
}

}  // namespace

void run_fanout(std::size_t count, const TaskArgv& argv_of, const FanoutOptions& options,
                const TaskDone& on_done, util::Progress& progress) {
    if (options.jobs == 0)
        throw Error(ExitCode::usage, "--jobs must be at least 1");
    progress.start("nodes", count);
    Pool pool(options);
    std::vector<Task> done;
    std::size_t next = 0;
    std::size_t reported = 0;
    while (reported < count) {
        if (options.cancelled && options.cancelled())
            break;  // the pool's destructor kills and reaps what runs
        while (next < count && pool.tasks().size() < options.jobs) {
            const int e = pool.start(next, argv_of(next));
            // Out of file descriptors: wait for running tasks to free some.
            if ((e == EMFILE || e == ENFILE) && !pool.tasks().empty())
                break;
            if (e != 0) {
                TaskResult result;
                result.end = TaskEnd::not_started;
                result.start_errno = e;
                on_done(next, std::move(result));
                progress.advance(1);
                ++reported;
            }
            ++next;
        }
        if (pool.tasks().empty())
            continue;
        pool.step(done);
        for (auto& task : done) {
            on_done(task.index, std::move(task.result));
            progress.advance(1);
            ++reported;
        }
        done.clear();
    }
    progress.finish();
}

std::string failure_reason(const TaskResult& result, std::string_view runner,
                           std::string_view remote) {
    const auto seconds = static_cast<double>(result.duration.count()) / 1000.0;
    switch (result.end) {
        case TaskEnd::not_started:
            if (result.start_errno == ENOENT)
                return std::string(runner) + " not found";
            return "cannot start " + std::string(runner) + ": " + std::strerror(result.start_errno);
        case TaskEnd::timed_out: {
            char text[64];
            std::snprintf(text, sizeof text, "timed out after %.1f s", seconds);
            return text;
        }
        case TaskEnd::output_too_large:
            return "garbage: output too large";
        case TaskEnd::signaled:
            return std::string(runner) + " killed by signal " + std::to_string(result.signal) +
                   " (" + strsignal(result.signal) + ")";
        case TaskEnd::exited:
            break;
    }
    if (result.exit_code == 0)
        return {};
    const std::string detail = last_line(result.err_tail);
    // 127 is the shell's "command not found"; container runtimes say it in words.
    if (result.exit_code == 127 || detail.find("executable file not found") != std::string::npos)
        return std::string(remote) + " not found on the node" +
               (detail.empty() ? "" : ": " + detail);
    if (detail.empty())
        return "exit " + std::to_string(result.exit_code);
    return "exit " + std::to_string(result.exit_code) + ": " + detail;
}

}  // namespace gpuenv::core::fleet
