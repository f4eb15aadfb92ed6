#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpuenv::core::fleet {

/// Names the engine that reaches a node.
enum class TransportKind { ssh, srun, kubectl, command_template };

/// Describes how to reach nodes and which gpuenv to run there.
struct TransportOptions {
    TransportKind kind = TransportKind::ssh;
    std::string template_text;                 ///< the runner template, for command_template
    std::string remote_gpuenv = "gpuenv";      ///< gpuenv's path (or name on PATH) on the nodes
    std::chrono::seconds connect_timeout{10};  ///< ssh's ConnectTimeout
    std::vector<std::string> ssh_args;         ///< extra ssh options (-F FILE, -o K=V, -p PORT)
    std::string kube_namespace;                ///< kubectl -n, empty for the context's default
    std::string kube_container;                ///< kubectl -c, empty for the pod's default
};

/// Parses a --via value: "ssh", "srun", "kubectl", or a runner template holding "{host}"
/// ("pdsh -w {host}", "docker exec {host}"); throws gpuenv::Error (usage) otherwise.
[[nodiscard]] TransportOptions parse_via(std::string_view via);

/// Returns `word` quoted for a POSIX shell: bare when it holds only safe characters,
/// otherwise in single quotes (a single quote written as '\'').
[[nodiscard]] std::string shell_quote(std::string_view word);

/// Joins words into one POSIX shell command line that a shell splits back into exactly
/// these words; a leading "~/" on the first word is left unquoted so the remote shell expands it.
[[nodiscard]] std::string shell_join(const std::vector<std::string>& words);

/// Splits a runner template into argv words on whitespace; '...' and "..." (with \" and \\)
/// group a word with spaces; throws gpuenv::Error (usage) on an unterminated quote or on
/// shell syntax (| & ; < > $ `) outside quotes, since no shell ever runs the template.
[[nodiscard]] std::vector<std::string> split_template(std::string_view text);

/// Builds the argv that runs `remote_gpuenv remote_args...` on one host through ssh, kubectl
/// or a template; throws gpuenv::Error (usage) for srun (see srun_argv) or a host name that is
/// empty, starts with '-' or holds whitespace or control characters.
[[nodiscard]] std::vector<std::string> node_argv(const TransportOptions& options,
                                                 const std::string& host,
                                                 const std::vector<std::string>& remote_args);

/// Builds the one srun argv that runs `remote_gpuenv remote_args...` once on each host, each
/// node's stdout and stderr going to output_dir/<node>.out and .err.
[[nodiscard]] std::vector<std::string> srun_argv(const TransportOptions& options,
                                                 const std::vector<std::string>& hosts,
                                                 const std::filesystem::path& output_dir,
                                                 const std::vector<std::string>& remote_args);

/// Holds what one node wrote under srun.
struct SrunNodeOutput {
    std::optional<std::string> out;  ///< stdout, std::nullopt when the node left no file
    std::string err_tail;            ///< the last 4 KiB of stderr
};

/// Reads back the per-node files srun_argv asked srun to write, one entry per host; stdout
/// larger than max_output is left out (std::nullopt) with a note in err_tail.
[[nodiscard]] std::map<std::string, SrunNodeOutput> read_srun_outputs(
    const std::filesystem::path& output_dir, const std::vector<std::string>& hosts,
    std::size_t max_output);

/// Returns the local program a transport runs ("ssh", "srun", "kubectl", the template's first
/// word), for failure messages.
[[nodiscard]] std::string runner_program(const TransportOptions& options);

}  // namespace gpuenv::core::fleet
