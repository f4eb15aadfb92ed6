#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gpuenv::core::fleet {

/// Caps the host names one call may produce, so that hostile input cannot exhaust memory.
inline constexpr std::size_t k_max_hosts = 1'000'000;

/// Caps the bytes of host names one call may produce (with k_max_hosts, about 64 bytes a name).
inline constexpr std::size_t k_max_host_bytes = std::size_t{64} << 20;

/// Expands a Slurm hostlist expression ("gpu[01-16,20]", "rack[1-2]-node[01-04]", "a,b")
/// into host names in Slurm's order, duplicates kept; throws gpuenv::Error (usage) naming
/// the expression and the offending column.
[[nodiscard]] std::vector<std::string> expand_hostlist(std::string_view expression);

/// Compresses host names into a hostlist expression as `scontrol show hostlist` does
/// ("gpu[01-16,20]"): input order kept, ranges on the trailing number only; throws
/// gpuenv::Error (usage) on a name that is empty or holds '[', ']', ',' or whitespace.
[[nodiscard]] std::string compress_hostlist(const std::vector<std::string>& hosts);

/// Expands the text of a host file (one host or expression per line, '#' comments and blank
/// lines ignored), duplicates kept; errors name `label` and the line ("hosts.txt:3: ...").
[[nodiscard]] std::vector<std::string> parse_host_file(std::string_view text,
                                                       std::string_view label);

/// Expands command-line host arguments (a name, an expression or "@file") into unique host
/// names, keeping the first occurrence; throws gpuenv::Error (not_found) for an unreadable
/// file and (usage) for a bad expression or an argument that names no host.
[[nodiscard]] std::vector<std::string> read_host_arguments(const std::vector<std::string>& args);

}  // namespace gpuenv::core::fleet
