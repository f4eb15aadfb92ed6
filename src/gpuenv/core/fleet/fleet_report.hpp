#pragma once

// The result side of `gpuenv fleet check` and `gpuenv fleet gpus`: nodes' answers collected
// one at a time (one stored environment per distinct fingerprint), grouped, compared with a
// reference and turned into a drift matrix, a JSON document and an exit code.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuenv/core/lock/locked_env.hpp>
#include <gpuenv/core/verify/diff.hpp>
#include <gpuenv/core/verify/finding.hpp>

namespace gpuenv::core::fleet {

/// Names why a node gave no environment; every kind counts as unreachable for the exit code.
enum class NodeFailure {
    unreachable,  ///< the transport could not reach the node (ssh: connection refused, ...)
    timeout,      ///< no complete answer within the per-node timeout
    no_gpuenv,    ///< the node answered but has no gpuenv (command not found, exit 127)
    garbage,      ///< the node answered something that is not a `gpuenv list --json` document
    failed,       ///< gpuenv ran on the node and failed (non-zero exit, its error message)
};

/// Returns "unreachable", "timeout", "no_gpuenv", "garbage" or "failed".
[[nodiscard]] const char* to_string(NodeFailure kind);

/// Holds one node that gave no usable answer and the human reason why.
struct FailedNode {
    std::string host;
    NodeFailure kind = NodeFailure::failed;
    std::string reason;  ///< e.g. "ssh: connect to host node07 port 22: Connection refused"
};

/// Holds one node's parsed answer: its environment, or why it could not be read.
using NodeResult = std::variant<lock::LockedEnv, FailedNode>;

/// Parses one node's `gpuenv list --json` output; malformed output gives a FailedNode of
/// kind garbage whose reason names the host, line and column ("node07: gpuenv list
/// --json:1:1: invalid JSON: ..."). The environment's source is "HOST: gpuenv list --json".
[[nodiscard]] NodeResult parse_node_output(std::string_view stdout_text, const std::string& host);

struct FleetReport;

/// Collects nodes' answers one at a time, keeping one LockedEnv per distinct fingerprint
/// (nodes only keep a group index), so memory grows with the number of distinct
/// environments, not with nodes times environment size. Not thread-safe: call it from one
/// thread (the fan-out's completion callback) or serialise the calls.
class FleetCollector {
  public:
    /// Adds a node's environment: computes its fingerprint (lock::fingerprint of the packages)
    /// and stores the environment only when no node had that fingerprint yet.
    void add_environment(std::string host, lock::LockedEnv env);

    /// Adds a node's raw `gpuenv list --json` output: parse_node_output, then
    /// add_environment or add_failure (garbage).
    void add_output(std::string host, std::string_view stdout_text);

    /// Adds a node that gave no environment, with the kind and a human reason.
    void add_failure(std::string host, NodeFailure kind, std::string reason);

    /// Returns the number of nodes added so far, failures included.
    [[nodiscard]] std::size_t node_count() const;

    /// Returns the number of LockedEnvs stored: one per distinct fingerprint.
    [[nodiscard]] std::size_t stored_environments() const { return m_groups.size(); }

    /// Holds the nodes that share one environment (one stored copy).
    struct Group {
        std::string fingerprint;
        lock::LockedEnv env;
        std::vector<std::string> hosts;  ///< in the order they were added
    };

    /// Returns the groups in order of first appearance.
    [[nodiscard]] const std::vector<Group>& groups() const { return m_groups; }

    /// Returns the failed nodes in the order they were added.
    [[nodiscard]] const std::vector<FailedNode>& failures() const { return m_failures; }

  private:
    friend FleetReport build_report(FleetCollector&& collector,
                                    const std::optional<lock::LockedEnv>& reference_lock);
    std::vector<Group> m_groups;
    std::unordered_map<std::string, std::size_t> m_group_of_fingerprint;
    std::vector<FailedNode> m_failures;
};

/// Says what the nodes were compared with.
enum class ReferenceKind {
    lock,      ///< the --lock file
    majority,  ///< the environment most nodes have
    none,      ///< no lock and no node answered: nothing to compare
};

/// Returns "lock", "majority" or "none".
[[nodiscard]] const char* to_string(ReferenceKind kind);

/// Describes the reference environment.
struct FleetReference {
    ReferenceKind kind = ReferenceKind::none;
    std::string fingerprint;  ///< lock::fingerprint of its packages
    std::string label;        ///< the lock's source, or the majority group's host label
    /// Majority only: how many groups share the largest size. Above 1 it was a tie, broken
    /// by taking the group whose first host name (natural order, gpu2 < gpu10) sorts first.
    std::size_t tied_groups = 0;
};

/// Holds the nodes sharing one environment and how it differs from the reference.
struct EnvGroup {
    std::string label;               ///< compress_hostlist of the sorted hosts: "gpu[01-14]"
    std::vector<std::string> hosts;  ///< in the order the nodes were added
    std::string fingerprint;
    std::size_t packages = 0;  ///< how many packages the environment holds
    bool identical = false;    ///< verify::diff(reference, env) is empty
    verify::DiffResult diff;   ///< reference (a) against this group (b)
};

/// Counts nodes by outcome; nodes == identical + drifted + unreachable.
struct FleetSummary {
    std::size_t nodes = 0;
    std::size_t identical = 0;
    std::size_t drifted = 0;
    std::size_t unreachable = 0;  ///< every FailedNode, whatever its kind
};

/// Says how a matrix cell compares with the reference column's cell of the same row.
enum class CellState {
    same,     ///< as in the reference (possibly absent in both)
    changed,  ///< present in both, different version, build, channel, installer or content
    added,    ///< present here, absent in the reference
    missing,  ///< absent here, present in the reference
};

/// Returns "same", "changed", "added" or "missing".
[[nodiscard]] const char* to_string(CellState state);

/// Holds one cell: the package as a column has it.
struct MatrixCell {
    std::string text;  ///< "version build (channel)" or "version (installer)"; "" when absent
    CellState state = CellState::same;
    std::vector<verify::FindingKind> changes;  ///< for changed: what differs
};

/// Holds one column of the matrix: the reference, or one drifted group.
struct MatrixColumn {
    std::string label;                ///< group label; for a lock reference the lock's source
    std::vector<std::size_t> groups;  ///< indexes into FleetReport::groups it stands for
    std::size_t nodes = 0;            ///< nodes it stands for (0 for a lock nobody matches)
    bool reference = false;           ///< true for column 0
};

/// Holds one package that differs from the reference in at least one group.
struct MatrixRow {
    std::string package;  ///< display name: conda name, or "name (pypi)"
    std::string key;      ///< PEP 503 key
    lock::Manager manager = lock::Manager::conda;
    std::vector<MatrixCell> cells;  ///< one per column, reference first
};

/// Holds the drift matrix: packages that differ anywhere by column, identical nodes
/// collapsed into the reference column. Rows are sorted by key, conda before pypi.
struct DriftMatrix {
    std::vector<MatrixColumn> columns;
    std::vector<MatrixRow> rows;
};

/// Holds a whole fleet check result.
struct FleetReport {
    FleetReference reference;
    FleetSummary summary;
    std::vector<EnvGroup> groups;  ///< identical groups first (the reference group leads),
                                   ///< then drifted ones, each by size descending
    DriftMatrix matrix;
    std::vector<FailedNode> failures;  ///< in the order they were added
};

/// Groups the collected nodes, compares each group with the reference (the lock when given,
/// else the majority group) and builds the matrix; consumes the collector.
[[nodiscard]] FleetReport build_report(FleetCollector&& collector,
                                       const std::optional<lock::LockedEnv>& reference_lock);

/// Returns the exit code: 5 (unreachable) when any node failed, whatever the others showed,
/// since the check is then incomplete; else 1 (findings) when any node drifted; else 0.
[[nodiscard]] int exit_code(const FleetReport& report);

/// Describes a package as a matrix cell shows it: "1.26.4 py311h64a7726_0 (conda-forge)",
/// "2.0.0 (pip)".
[[nodiscard]] std::string describe_package(const lock::LockedPackage& package);

/// Returns the gpuenv.fleet/1 document.
[[nodiscard]] nlohmann::ordered_json fleet_json(const FleetReport& report);

/// Holds one GPU of a node as `gpuenv gpus --json` reports it; absent NVML fields are nullopt.
struct NodeGpu {
    unsigned index = 0;
    std::string name;
    std::string uuid;
    std::optional<std::uint64_t> memory_used;   ///< bytes
    std::optional<std::uint64_t> memory_total;  ///< bytes
    std::optional<unsigned> utilization;        ///< percent (GPU)
    std::size_t processes = 0;                  ///< compute processes holding it
    bool free = false;                          ///< no process holds it
};

/// Holds one node's GPUs, or why they could not be read.
struct NodeGpus {
    std::string host;
    std::string driver;
    std::string cuda;
    std::vector<NodeGpu> gpus;
    std::optional<FailedNode> failure;  ///< set when the node gave no usable answer

    /// Returns the number of GPUs.
    [[nodiscard]] std::size_t total() const { return gpus.size(); }

    /// Returns the number of GPUs no process holds.
    [[nodiscard]] std::size_t free_count() const;
};

/// Parses one node's `gpuenv gpus --json` output (gpuenv.gpus/1); malformed output gives
/// a NodeGpus whose failure is of kind garbage, naming the host and the problem.
[[nodiscard]] NodeGpus parse_node_gpus(std::string_view json_text, const std::string& host);

/// Returns a NodeGpus for a node that gave no answer.
[[nodiscard]] NodeGpus failed_node_gpus(std::string host, NodeFailure kind, std::string reason);

/// Returns the gpuenv.fleet-gpus/1 document: one entry per node, in the given order.
[[nodiscard]] nlohmann::ordered_json fleet_gpus_json(const std::vector<NodeGpus>& nodes);

/// Returns the exit code of `fleet gpus`: 5 when any node failed, else 0.
[[nodiscard]] int exit_code(const std::vector<NodeGpus>& nodes);

}  // namespace gpuenv::core::fleet
