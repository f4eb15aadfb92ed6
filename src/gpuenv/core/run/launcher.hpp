#pragma once

// Starting the command of `gpuenv run` and standing by it: gpuenv stays the parent, forwards
// the signals other processes send it, and exits as the command did. The lease descriptors
// the caller made inheritable pass to the command; nothing else of gpuenv's does.

#include <filesystem>
#include <string>
#include <vector>

namespace gpuenv::core::run {

/// Says how a command name was found on a PATH.
enum class CommandStatus {
    found,           ///< an executable regular file
    not_found,       ///< nothing of that name (a shell's 127)
    not_executable,  ///< a file without execute permission, or a directory (a shell's 126)
};

/// Holds where a command name led.
struct CommandLookup {
    CommandStatus status = CommandStatus::not_found;
    std::filesystem::path path;  ///< the file, when found or not executable
};

/// Finds `command` as execvp does, but on `path_list` (the activated environment's PATH, not
/// gpuenv's own): a name with '/' is taken as is; an empty PATH entry means ".".
[[nodiscard]] CommandLookup find_command(const std::string& command, const std::string& path_list);

/// Returns the exit code a shell reports for a wait status: the exit status, or 128+signal.
[[nodiscard]] int exit_code_of(int wait_status);

/// Starts `executable` with `argv` (argv[0] as the user typed it) and exactly `envp`, waits
/// for it, and returns
/// exit_code_of its status. SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 that another
/// process sends gpuenv are passed on to the command; the same signals from the terminal
/// reach the command directly through its process group and are not sent twice. Throws
/// gpuenv::Error (internal) when the command cannot be started at all.
[[nodiscard]] int launch_and_wait(const std::filesystem::path& executable,
                                  const std::vector<std::string>& argv,
                                  const std::vector<std::string>& envp);

/// Replaces this process with `executable` (argv, exactly `envp`), as a shell's `exec` does:
/// signals then reach the command itself and its exit status is gpuenv's. Used when gpuenv
/// holds nothing the command must outlive (no lease). Throws gpuenv::Error (internal) only
/// when execve fails.
[[noreturn]] void exec_replacing(const std::filesystem::path& executable,
                                 const std::vector<std::string>& argv,
                                 const std::vector<std::string>& envp);

}  // namespace gpuenv::core::run
