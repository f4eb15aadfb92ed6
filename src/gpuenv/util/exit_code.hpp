#pragma once

namespace gpuenv {

/// Lists the process exit codes of every gpuenv command (the README's table).
enum class ExitCode : int {
    ok = 0,           ///< success, nothing to report
    findings = 1,     ///< drift or findings were reported (a result, not an error)
    usage = 2,        ///< bad command line or invalid argument
    not_found = 3,    ///< environment, file or directory missing, unreadable or not an environment
    no_gpu = 4,       ///< not enough free GPUs
    unreachable = 5,  ///< some fleet nodes could not be reached
    internal = 70,    ///< a bug in gpuenv (EX_SOFTWARE)
};

}  // namespace gpuenv
