// gpuenv fleet: the same question to many nodes through the engine a site already runs (ssh,
// srun, kubectl, or a command template), and one answer: which nodes differ, in what.
//   gpuenv fleet check HOSTS...  environments against a lock or the majority
//   gpuenv fleet gpus HOSTS...   every node's GPUs, free ones at a glance
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/cli/progress_bar.hpp>
#include <gpuenv/core/fleet/fleet_html.hpp>
#include <gpuenv/core/fleet/fleet_query.hpp>
#include <gpuenv/core/fleet/fleet_report.hpp>
#include <gpuenv/core/fleet/hostlist.hpp>
#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/table.hpp>

namespace gpuenv::cli {
namespace {

namespace fleet = core::fleet;
using Json = nlohmann::ordered_json;

constexpr std::uint64_t k_gib = 1024ULL * 1024 * 1024;

volatile std::sig_atomic_t g_stop = 0;  // set by SIGINT/SIGTERM: the nodes run in their own groups

void on_stop(int /*signal*/) {
    g_stop = 1;
}

// Routes SIGINT and SIGTERM to a flag while in scope, so that a fleet run stops cleanly: the
// fan-out kills and reaps every node command, which Ctrl-C would not reach by itself.
class StopFlag {
  public:
    StopFlag() {
        struct sigaction action {};
        action.sa_handler = on_stop;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGINT, &action, &m_old_int);
        ::sigaction(SIGTERM, &action, &m_old_term);
    }
    ~StopFlag() {
        ::sigaction(SIGINT, &m_old_int, nullptr);
        ::sigaction(SIGTERM, &m_old_term, nullptr);
    }
    StopFlag(const StopFlag&) = delete;
    StopFlag& operator=(const StopFlag&) = delete;

  private:
    struct sigaction m_old_int {};
    struct sigaction m_old_term {};
};

struct FleetOptions {
    std::vector<std::string> hosts;
    std::string via = "ssh";
    std::size_t jobs = 32;
    double timeout_s = 30;
    std::string remote_gpuenv = "gpuenv";
    std::string ssh_config;
    std::vector<std::string> ssh_options;
    std::string kube_namespace;
    std::string kube_container;
    bool json = false;
};

struct CheckRequest {
    FleetOptions fleet;
    std::string name;
    std::string prefix;
    std::string lock;
    std::string html;
};

void add_fleet_options(CLI::App& command, FleetOptions& options) {
    command
        .add_option("hosts", options.hosts,
                    "host names, Slurm hostlists (gpu[01-16,20]) or @FILE (one per line)")
        ->required()
        ->type_name("HOSTS...");
    command
        .add_option("--via", options.via,
                    "ssh (default), srun, kubectl, or a template with {host}: 'docker exec {host}'")
        ->type_name("ENGINE");
    command.add_option("--jobs", options.jobs, "nodes asked at once (default 32)")->type_name("N");
    command.add_option("--timeout", options.timeout_s, "seconds per node (default 30)")
        ->type_name("S");
    command
        .add_option("--remote-gpuenv", options.remote_gpuenv,
                    "gpuenv's path on the nodes (default: gpuenv on their PATH)")
        ->type_name("PATH");
    command.add_option("--ssh-config", options.ssh_config, "ssh: use this client config (-F)")
        ->type_name("FILE");
    command
        .add_option("--ssh-option", options.ssh_options,
                    "ssh: one more -o option (repeatable), e.g. User=ops")
        ->type_name("K=V")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    command.add_option("--namespace", options.kube_namespace, "kubectl: the pods' namespace")
        ->type_name("NS");
    command.add_option("--container", options.kube_container, "kubectl: the container in the pod")
        ->type_name("NAME");
    command.add_flag("--json", options.json, "print the schema-versioned JSON document");
}

fleet::FleetQuery make_query(const FleetOptions& options, std::vector<std::string> remote_args) {
    if (options.jobs == 0)
        throw Error(ExitCode::usage, "--jobs: at least 1");
    if (!(options.timeout_s > 0))
        throw Error(ExitCode::usage, "--timeout: a number of seconds above 0");
    fleet::FleetQuery query;
    query.hosts = fleet::read_host_arguments(options.hosts);
    query.transport = fleet::parse_via(options.via);
    query.transport.remote_gpuenv = options.remote_gpuenv;
    query.transport.kube_namespace = options.kube_namespace;
    query.transport.kube_container = options.kube_container;
    // ssh's own connect timeout stays below the node's, so that a dead host is reported as
    // unreachable with ssh's reason rather than as a timeout.
    const auto timeout =
        std::chrono::milliseconds(static_cast<long long>(options.timeout_s * 1000));
    query.transport.connect_timeout = std::chrono::seconds(std::max<long long>(
        1, std::min<long long>(10, static_cast<long long>(options.timeout_s / 2))));
    if (!options.ssh_config.empty())
        query.transport.ssh_args.insert(query.transport.ssh_args.end(), {"-F", options.ssh_config});
    for (const std::string& option : options.ssh_options)
        query.transport.ssh_args.insert(query.transport.ssh_args.end(), {"-o", option});
    query.remote_args = std::move(remote_args);
    query.jobs = options.jobs;
    query.timeout = timeout;
    query.cancelled = [] { return g_stop != 0; };
    return query;
}

// Holds srun's per-node output files for the life of a query: in the current directory,
// which a cluster's login node shares with its compute nodes (a home or project file system);
// /tmp is local to each node.
class SrunOutputDir {
  public:
    explicit SrunOutputDir(fleet::FleetQuery& query) {
        if (query.transport.kind != fleet::TransportKind::srun)
            return;
        std::string pattern = (std::filesystem::current_path() / ".gpuenv-fleet-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr)
            throw Error(ExitCode::not_found,
                        "cannot create a directory for srun's per-node output in " +
                            std::filesystem::current_path().string());
        m_path = pattern;
        query.srun_output_dir = m_path;
    }
    ~SrunOutputDir() {
        std::error_code ec;
        if (!m_path.empty())
            std::filesystem::remove_all(m_path, ec);
    }
    SrunOutputDir(const SrunOutputDir&) = delete;
    SrunOutputDir& operator=(const SrunOutputDir&) = delete;

  private:
    std::filesystem::path m_path;
};

void check_not_stopped() {
    if (g_stop != 0)
        throw Error(ExitCode::unreachable, "interrupted: the nodes still running were stopped");
}

std::string cell_text(const fleet::MatrixCell& cell) {
    const std::string text = cell.text.empty() ? "-" : cell.text;
    return cell.state == fleet::CellState::same ? text : text + " *";
}

std::string report_text(const fleet::FleetReport& report) {
    const fleet::FleetSummary& s = report.summary;
    std::string text =
        fmt::format("{} nodes: {} identical to the reference, {} drifted, {} unreachable\n",
                    s.nodes, s.identical, s.drifted, s.unreachable);
    switch (report.reference.kind) {
        case fleet::ReferenceKind::lock:
            text += "reference: the lock " + report.reference.label + "\n";
            break;
        case fleet::ReferenceKind::majority:
            text += "reference: the majority environment, on " + report.reference.label +
                    (report.reference.tied_groups > 1 ? " (a tie, broken by host name)" : "") +
                    "\n";
            break;
        case fleet::ReferenceKind::none:
            text += "reference: none (no lock given and no node answered)\n";
            break;
    }
    if (!report.matrix.rows.empty()) {
        std::vector<std::string> headers = {"PACKAGE"};
        for (const fleet::MatrixColumn& column : report.matrix.columns) {
            headers.push_back(column.label + (column.reference ? " (reference" : " (") +
                              (column.reference && column.nodes == 0
                                   ? ")"
                                   : std::string(column.reference ? ", " : "") +
                                         std::to_string(column.nodes) +
                                         (column.nodes == 1 ? " node)" : " nodes)")));
        }
        util::Table table(headers);
        for (const fleet::MatrixRow& row : report.matrix.rows) {
            std::vector<std::string> cells = {row.package};
            for (const fleet::MatrixCell& cell : row.cells)
                cells.push_back(cell_text(cell));
            table.add_row(std::move(cells));
        }
        text += "\n" + table.render() + "(* differs from the reference; - not installed)\n";
    }
    if (!report.failures.empty()) {
        util::Table failures({"UNREACHABLE", "WHY", "DETAIL"});
        for (const fleet::FailedNode& node : report.failures)
            failures.add_row({node.host, fleet::to_string(node.kind), node.reason});
        text += "\n" + failures.render();
    }
    return text;
}

// Makes malloc keep and reuse freed memory for the rest of the process. Each node's answer is
// a buffer of hundreds of KB, past glibc's mmap threshold: every buffer was a fresh mapping,
// page-faulted in and unmapped again, a fifth of `fleet check`'s time over 256 nodes
// (docs/BENCHMARKS.md). From the heap the same pages serve node after node; the peak stays
// what the --jobs answers in flight need.
void reuse_freed_memory() {
    ::mallopt(M_MMAP_THRESHOLD, 64 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

int run_check(const CheckRequest& request) {
    reuse_freed_memory();
    if (!request.name.empty() && !request.prefix.empty())
        throw Error(ExitCode::usage, "-n and -p exclude one another");
    std::vector<std::string> remote_args = {"list", "--json"};
    if (!request.name.empty())
        remote_args.insert(remote_args.end(), {"-n", request.name});
    if (!request.prefix.empty())
        remote_args.insert(remote_args.end(), {"-p", request.prefix});
    fleet::FleetQuery query = make_query(request.fleet, std::move(remote_args));
    std::optional<core::lock::LockedEnv> lock;
    if (!request.lock.empty())
        lock = core::lock::read_lock(request.lock);

    fleet::FleetCollector collector;
    {
        const StopFlag stop;
        const SrunOutputDir srun_dir(query);
        const auto progress = make_progress(request.fleet.json);
        fleet::query_fleet(
            query,
            [&](const std::string& host, std::string&& out) { collector.add_output(host, out); },
            [&](const std::string& host, fleet::NodeFailure kind, const std::string& reason) {
                collector.add_failure(host, kind, reason);
            },
            *progress);
        check_not_stopped();
    }
    const fleet::FleetReport report = fleet::build_report(std::move(collector), lock);
    if (!request.html.empty())
        write_result(request.html, fleet::fleet_html(report, "gpuenv fleet check"));
    if (request.fleet.json)
        print_json(fleet::fleet_json(report));
    else
        print_text(report_text(report));
    return fleet::exit_code(report);
}

std::string gpus_text(const std::vector<fleet::NodeGpus>& nodes) {
    util::Table table({"HOST", "GPUS", "FREE", "DRIVER", "DETAIL"});
    for (const fleet::NodeGpus& node : nodes) {
        if (node.failure) {
            table.add_row(
                {node.host, "-", "-", "-",
                 std::string(fleet::to_string(node.failure->kind)) + ": " + node.failure->reason});
            continue;
        }
        std::string detail;
        for (const fleet::NodeGpu& gpu : node.gpus) {
            if (!detail.empty())
                detail += "  ";
            detail += std::to_string(gpu.index) + ":";
            if (gpu.free) {
                detail += "free";
            } else {
                detail += fmt::format("{} proc", gpu.processes);
            }
            if (gpu.memory_used && gpu.memory_total) {
                detail +=
                    fmt::format(" {:.0f}/{:.0f}G", static_cast<double>(*gpu.memory_used) / k_gib,
                                static_cast<double>(*gpu.memory_total) / k_gib);
            }
        }
        table.add_row({node.host, std::to_string(node.total()), std::to_string(node.free_count()),
                       node.driver, detail});
    }
    return table.render();
}

int run_fleet_gpus(const FleetOptions& options) {
    reuse_freed_memory();
    fleet::FleetQuery query = make_query(options, {"gpus", "--json"});
    std::vector<fleet::NodeGpus> nodes;
    {
        const StopFlag stop;
        const SrunOutputDir srun_dir(query);
        const auto progress = make_progress(options.json);
        fleet::query_fleet(
            query,
            [&](const std::string& host, std::string&& out) {
                nodes.push_back(fleet::parse_node_gpus(out, host));
            },
            [&](const std::string& host, fleet::NodeFailure kind, const std::string& reason) {
                nodes.push_back(fleet::failed_node_gpus(host, kind, reason));
            },
            *progress);
        check_not_stopped();
    }
    // Answers arrive in completion order; the table follows the order the hosts were given.
    std::vector<fleet::NodeGpus> ordered;
    ordered.reserve(nodes.size());
    for (const std::string& host : query.hosts) {
        for (fleet::NodeGpus& node : nodes) {
            if (node.host == host) {
                ordered.push_back(std::move(node));
                break;
            }
        }
    }
    if (options.json)
        print_json(fleet::fleet_gpus_json(ordered));
    else
        print_text(gpus_text(ordered));
    return fleet::exit_code(ordered);
}

}  // namespace

CommandAction setup_fleet(CLI::App& command) {
    command.require_subcommand(1);
    auto check = std::make_shared<CheckRequest>();
    CLI::App* check_command = command.add_subcommand(
        "check", "compare the environment on many nodes with a lock or with the majority");
    add_fleet_options(*check_command, check->fleet);
    check_command->add_option("-n,--name", check->name, "the environment's name on the nodes")
        ->type_name("NAME");
    check_command->add_option("-p,--prefix", check->prefix, "the environment's path on the nodes")
        ->type_name("PREFIX");
    check_command->add_option("--lock", check->lock, "compare with this lock (any format)")
        ->type_name("FILE");
    check_command->add_option("--html", check->html, "also write a self-contained HTML report")
        ->type_name("FILE");
    auto gpus = std::make_shared<FleetOptions>();
    CLI::App* gpus_command = command.add_subcommand(
        "gpus", "show every node's GPUs in one table, free ones at a glance");
    add_fleet_options(*gpus_command, *gpus);
    return [check, gpus, check_command] {
        if (check_command->parsed())
            return run_check(*check);
        return run_fleet_gpus(*gpus);
    };
}

}  // namespace gpuenv::cli
