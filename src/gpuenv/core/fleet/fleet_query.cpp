#include <gpuenv/core/fleet/fleet_query.hpp>

#include <gpuenv/core/fleet/fanout.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv::core::fleet {
namespace {

constexpr int k_ssh_failure = 255;  // ssh's own failures: connect, auth, host key
constexpr int k_not_found = 127;
constexpr std::size_t k_max_output = std::size_t{64} << 20;

void query_with_srun(const FleetQuery& query, const NodeOutput& on_output,
                     const NodeFailed& on_failed, util::Progress& progress) {
    const std::vector<std::string> argv =
        srun_argv(query.transport, query.hosts, query.srun_output_dir, query.remote_args);
    FanoutOptions options;
    options.jobs = 1;
    options.timeout = query.timeout;
    options.cancelled = query.cancelled;
    TaskResult step;
    util::NullProgress quiet;
    run_fanout(
        1, [&](std::size_t) { return argv; }, options,
        [&](std::size_t, TaskResult&& result) { step = std::move(result); }, quiet);
    progress.start("nodes", query.hosts.size());
    auto outputs = read_srun_outputs(query.srun_output_dir, query.hosts, k_max_output);
    const std::string step_reason = failure_reason(step, "srun", query.transport.remote_gpuenv);
    for (const std::string& host : query.hosts) {
        SrunNodeOutput& node = outputs[host];
        // A node's own exit status is not visible in one step's files: an empty or missing
        // output with something on stderr is that node's failure.
        if (node.out && !node.out->empty()) {
            on_output(host, std::move(*node.out));
        } else if (step.end == TaskEnd::timed_out) {
            on_failed(host, NodeFailure::timeout, step_reason);
        } else if (!node.err_tail.empty()) {
            const bool missing = node.err_tail.find("not found") != std::string::npos ||
                                 node.err_tail.find("No such file") != std::string::npos;
            on_failed(
                host, missing ? NodeFailure::no_gpuenv : NodeFailure::failed,
                node.err_tail.substr(node.err_tail.rfind('\n', node.err_tail.size() - 2) + 1));
        } else {
            on_failed(
                host, NodeFailure::unreachable,
                step_reason.empty() ? "no output from this node in the srun step" : step_reason);
        }
        progress.advance(1);
    }
    progress.finish();
}

}  // namespace

NodeFailure failure_kind(const TaskResult& result, const TransportOptions& transport) {
    switch (result.end) {
        case TaskEnd::timed_out:
            return NodeFailure::timeout;
        case TaskEnd::output_too_large:
            return NodeFailure::garbage;
        case TaskEnd::not_started:
        case TaskEnd::signaled:
            return NodeFailure::failed;
        case TaskEnd::exited:
            break;
    }
    if (result.exit_code == k_not_found ||
        failure_reason(result, runner_program(transport), transport.remote_gpuenv)
                .find("not found on the node") != std::string::npos)
        return NodeFailure::no_gpuenv;
    if (transport.kind == TransportKind::ssh && result.exit_code == k_ssh_failure)
        return NodeFailure::unreachable;
    return NodeFailure::failed;
}

void query_fleet(const FleetQuery& query, const NodeOutput& on_output, const NodeFailed& on_failed,
                 util::Progress& progress) {
    if (query.transport.kind == TransportKind::srun) {
        query_with_srun(query, on_output, on_failed, progress);
        return;
    }
    std::vector<std::vector<std::string>> argvs;
    argvs.reserve(query.hosts.size());
    for (const std::string& host : query.hosts)
        argvs.push_back(node_argv(query.transport, host, query.remote_args));  // validates
    FanoutOptions options;
    options.jobs = query.jobs;
    options.timeout = query.timeout;
    options.cancelled = query.cancelled;
    const std::string runner = runner_program(query.transport);
    run_fanout(
        query.hosts.size(), [&](std::size_t i) { return std::move(argvs[i]); }, options,
        [&](std::size_t i, TaskResult&& result) {
            const std::string& host = query.hosts[i];
            if (result.ok()) {
                on_output(host, std::move(result.out));
                return;
            }
            on_failed(host, failure_kind(result, query.transport),
                      failure_reason(result, runner, query.transport.remote_gpuenv));
        },
        progress);
}

}  // namespace gpuenv::core::fleet
