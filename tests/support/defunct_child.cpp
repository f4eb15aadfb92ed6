#include <support/defunct_child.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace gpuenv::test {

DefunctChild::DefunctChild() {
    m_pid = ::fork();
    if (m_pid < 0)
        throw std::runtime_error("cannot fork");
    if (m_pid == 0)
        ::_exit(0);
    // The child is a zombie once /proc/PID/stat's state (after the last ')') is Z; ~5 s at most.
    const std::string path = "/proc/" + std::to_string(m_pid) + "/stat";
    for (int i = 0; i < 5000; ++i) {
        std::ifstream in(path);
        const std::string line((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        const auto close = line.rfind(')');
        if (close != std::string::npos && line.compare(close, 3, ") Z") == 0)
            return;
        ::usleep(1000);
    }
}

DefunctChild::~DefunctChild() {
    int status = 0;
    ::waitpid(m_pid, &status, 0);
}

}  // namespace gpuenv::test
