#pragma once

// Asking every node of a fleet the same gpuenv question through the site's own engine (ssh,
// srun, kubectl or a template) and sorting the answers into outputs and failures, each
// failure with its kind and reason. The caller keeps what it needs of each output at once.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gpuenv/core/fleet/fanout.hpp>
#include <gpuenv/core/fleet/fleet_report.hpp>
#include <gpuenv/core/fleet/transport.hpp>
#include <gpuenv/util/progress.hpp>

namespace gpuenv::core::fleet {

/// Describes one question to the fleet.
struct FleetQuery {
    std::vector<std::string> hosts;
    TransportOptions transport;
    std::vector<std::string> remote_args;  ///< gpuenv's arguments on the node: list --json ...
    std::size_t jobs = 32;
    std::chrono::milliseconds timeout{30'000};  ///< per node (for srun: for the whole step)
    std::function<bool()> cancelled;            ///< Ctrl-C
    std::filesystem::path srun_output_dir;      ///< srun only: where nodes write (shared)
};

/// Receives a node's standard output (it answered with status 0).
using NodeOutput = std::function<void(const std::string& host, std::string&& out)>;
/// Receives a node that did not answer, with the kind and the reason in words.
using NodeFailed =
    std::function<void(const std::string& host, NodeFailure kind, const std::string& reason)>;

/// Classifies a finished task: unreachable (ssh exit 255, kubectl/runner errors reaching the
/// node), timeout, no_gpuenv (127, "not found"), garbage (output too large) or failed.
[[nodiscard]] NodeFailure failure_kind(const TaskResult& result, const TransportOptions& transport);

/// Runs the query on every host (validating all host names first: throws gpuenv::Error
/// (usage) for one the transport refuses) and reports each exactly once.
void query_fleet(const FleetQuery& query, const NodeOutput& on_output, const NodeFailed& on_failed,
                 util::Progress& progress);

}  // namespace gpuenv::core::fleet
