#pragma once

// What /proc says about a process NVML lists (../shared/reference/gpu.md §4): its user,
// command, age, state and the environment it runs in. The parsing is pure; read_process_info
// does the I/O. A pid /proc cannot show is a result, never an error.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace gpuenv::core::gpu {

/// Holds the fields of /proc/PID/stat that gpuenv uses.
struct StatFields {
    char state = '?';  ///< R, S, D, Z, T, t, X, I
    int ppid = 0;
    std::uint64_t start_ticks = 0;  ///< field 22: clock ticks after boot
};

/// Reads a /proc file (whose size /proc does not tell) up to `max_bytes`; nothing when it
/// cannot be opened or read.
[[nodiscard]] std::optional<std::string> read_proc_file(const std::string& path,
                                                        std::size_t max_bytes);

/// Parses a /proc/PID/stat line, reading the fields after the last ')' (comm may hold any
/// character); returns nothing when the line is malformed.
[[nodiscard]] std::optional<StatFields> parse_stat_line(std::string_view line);

/// Parses a NUL-separated environment block (/proc/PID/environ) into names and values.
[[nodiscard]] std::map<std::string, std::string> parse_environ_block(std::string_view block);

/// Turns a NUL-separated command line into text: NULs become spaces, the end is trimmed, and
/// the result is cut to `max_chars` characters ending in "...".
[[nodiscard]] std::string cmdline_to_text(std::string_view raw, std::size_t max_chars);

/// Returns seconds since a process started from its start ticks, the uptime and ticks per second.
[[nodiscard]] std::uint64_t elapsed_seconds(std::uint64_t start_ticks, double uptime_s,
                                            long ticks_per_second);

/// Formats a duration the way `ps` users read it: "42s", "5m07s", "1h02m", "3d04h".
[[nodiscard]] std::string format_elapsed(std::uint64_t seconds);

/// Says where the environment of a process was found.
enum class EnvironmentSource {
    none,          ///< not found
    conda_prefix,  ///< CONDA_PREFIX in /proc/PID/environ
    virtual_env,   ///< VIRTUAL_ENV in /proc/PID/environ
    executable,    ///< a prefix above /proc/PID/exe
};

/// Describes a process as /proc shows it; when not visible, only pid is set.
struct ProcessInfo {
    unsigned pid = 0;
    bool visible = false;  ///< false when /proc has no such pid (another PID namespace, or gone)
    std::string user;      ///< the user name, or the uid in decimal when it has no name
    std::string command;   ///< the command line, NULs as spaces, bounded
    std::optional<std::uint64_t> elapsed_s;
    char state = '?';
    std::optional<int> ppid;
    std::string environment;  ///< the prefix it runs in, empty when unknown
    EnvironmentSource environment_source = EnvironmentSource::none;
};

/// Returns the prefix of a conda env or venv holding `exe`: the first directory, walking up at
/// most 3 levels from the executable's directory, with conda-meta/ or pyvenv.cfg; else "".
[[nodiscard]] std::string prefix_of_executable(std::string_view exe);

/// Returns the name of a user, or the uid in decimal when it has no name.
[[nodiscard]] std::string user_name(std::uint32_t uid);

/// Reads what /proc shows about `pid`; a pid it cannot show comes back with visible false.
[[nodiscard]] ProcessInfo read_process_info(unsigned pid);

/// Looks up a process by pid; read_process_info in gpuenv, a fake in tests.
using ProcessLookup = std::function<ProcessInfo(unsigned pid)>;

}  // namespace gpuenv::core::gpu
