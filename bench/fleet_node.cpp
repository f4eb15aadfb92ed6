// A simulated fleet node for `make bench` (bench/fleet_bench.sh): sleeps 100 ms, then writes
// the saved `gpuenv list --json` answer named by $FLEET_ANSWER to stdout, as `ssh NODE gpuenv
// list --json` would. One small static process per node, as the ssh transport starts one ssh
// client per node; the shell script it replaces (sh, sleep, cat) started three, which made the
// fan-out, not gpuenv, the cost on 2 cores. argv[1] is the host, ignored.
#include <cerrno>
#include <cstdlib>
#include <ctime>

#include <fcntl.h>
#include <unistd.h>

int main() {
    const char* answer = std::getenv("FLEET_ANSWER");
    if (answer == nullptr)
        return 2;
    timespec delay{0, 100'000'000};
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {
    }
    const int fd = open(answer, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    static char buffer[1 << 16];
    for (;;) {
        const ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? 0 : 1;
        for (ssize_t done = 0; done < n;) {
            const ssize_t w =
                write(STDOUT_FILENO, buffer + done, static_cast<std::size_t>(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return 1;
            done += w;
        }
    }
}
