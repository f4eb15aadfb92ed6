// `gpuenv zombies --kill`: ends processes identified by (pid, start ticks), through a pidfd so
// that a pid reused between the scan and the signal is never hit (gpu.md §4.4).
#include <gpuenv/core/gpu/zombies.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

// Older libc headers lack the numbers; they are the same on every architecture.
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace gpuenv::core::gpu {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long SIGKILL gets to take effect before a process is called still alive.
constexpr milliseconds k_kill_wait{2000};
constexpr milliseconds k_poll_step{20};

// A process as --kill knows it: its pid, its start ticks, and a pidfd when the kernel has them.
struct Target {
    unsigned pid = 0;
    std::uint64_t start_ticks = 0;
    int pidfd = -1;
};

// Says whether the target no longer runs: gone, its pid reused, or exited and not yet reaped.
bool has_ended(const Target& target) {
    std::ifstream in("/proc/" + std::to_string(target.pid) + "/stat");
    const std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto stat = parse_stat_line(line);
    return !stat || stat->start_ticks != target.start_ticks || stat->state == 'Z' ||
           stat->state == 'X';
}

// Sends a signal; returns 0 or the errno.
int send(const Target& target, int signal) {
    if (target.pidfd >= 0) {
        return ::syscall(SYS_pidfd_send_signal, target.pidfd, signal, nullptr, 0) == 0 ? 0 : errno;
    }
    // Without pidfds, the start ticks are checked right before kill(2): the window left for a
    // reused pid is the few microseconds between the two.
    if (has_ended(target))
        return ESRCH;
    return ::kill(static_cast<pid_t>(target.pid), signal) == 0 ? 0 : errno;
}

// Waits up to `timeout` for the target to exit; returns whether it did.
bool wait_for_exit(const Target& target, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    if (target.pidfd >= 0) {
        // A pidfd becomes readable when the process exits, reaped or not.
        while (true) {
            const auto left = std::max(
                milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
            pollfd fd{target.pidfd, POLLIN, 0};
            const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
            if (ready > 0)
                return true;
            if (ready == 0)
                return false;
            if (errno != EINTR)
                break;
        }
    }
    while (!has_ended(target)) {
        if (Clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(k_poll_step);
    }
    return true;
}

KillAction end_process(const Zombie& zombie, milliseconds grace) {
    Target target{zombie.pid, zombie.start_ticks, -1};
    const long fd = ::syscall(SYS_pidfd_open, static_cast<pid_t>(zombie.pid), 0);
    if (fd >= 0)
        target.pidfd = static_cast<int>(fd);
    else if (errno == ESRCH)
        return {KillOutcome::gone, "exited before it was signalled"};
    else if (errno != ENOSYS)
        return {KillOutcome::skipped, std::string("cannot open a pidfd: ") + std::strerror(errno)};
    struct Closer {
        int fd;
        ~Closer() {
            if (fd >= 0)
                ::close(fd);
        }
    } closer{target.pidfd};
    // Checked after the pidfd is open: from then on the pidfd refers to this very process.
    if (has_ended(target))
        return {KillOutcome::gone, "exited, or its pid was reused, before it was signalled"};
    int error = send(target, SIGTERM);
    if (error == ESRCH)
        return {KillOutcome::gone, "exited before it was signalled"};
    if (error != 0)
        return {KillOutcome::skipped, std::string("cannot signal it: ") + std::strerror(error)};
    // A stopped process gets SIGTERM only once continued; SIGCONT lets it clean up (and free
    // its CUDA context) instead of going straight to SIGKILL.
    if (zombie.state == 'T' || zombie.state == 't')
        send(target, SIGCONT);
    if (wait_for_exit(target, grace))
        return {KillOutcome::terminated, "ended by SIGTERM"};
    error = send(target, SIGKILL);
    if (error == ESRCH)
        return {KillOutcome::terminated, "ended by SIGTERM"};
    if (error != 0)
        return {KillOutcome::skipped, std::string("cannot send SIGKILL: ") + std::strerror(error)};
    if (wait_for_exit(target, k_kill_wait))
        return {KillOutcome::killed,
                "ended by SIGKILL after " + format_window(grace) + " of grace after SIGTERM"};
    return {KillOutcome::still_alive,
            "still alive after SIGKILL: stuck in the kernel (driver); a GPU reset or a reboot "
            "may be needed"};
}

}  // namespace

std::vector<Zombie> end_zombies(std::vector<Zombie> zombies, milliseconds grace) {
    // A process on several GPUs has a row per GPU and is signalled once.
    std::map<unsigned, KillAction> done;
    for (Zombie& zombie : zombies) {
        if (!zombie.killable) {
            zombie.action = KillAction{KillOutcome::skipped, zombie.not_killable_reason};
            continue;
        }
        auto found = done.find(zombie.pid);
        if (found == done.end())
            found = done.emplace(zombie.pid, end_process(zombie, grace)).first;
        zombie.action = found->second;
    }
    return zombies;
}

}  // namespace gpuenv::core::gpu
