// gpuenv zombies: processes that hold GPU memory and should not (defunct, stopped, stuck,
// orphaned, idle, on another user's lease) and memory held by no process; --kill ends the
// caller's own.
#include <map>
#include <memory>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/lease_view.hpp>
#include <gpuenv/cli/nvml_loader.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/gpu/zombies.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/table.hpp>
#include <gpuenv/util/units.hpp>

namespace gpuenv::cli {
namespace {

namespace gpu = core::gpu;
using Json = nlohmann::ordered_json;

constexpr std::size_t k_command_width = 40;
constexpr std::uint64_t k_mib = 1024 * 1024;
// NVML samples taken over --sample: enough to catch a busy GPU between two quiet ones.
constexpr int k_samples = 5;

struct ZombiesRequest {
    bool json = false;
    bool kill = false;
    std::string grace = "10s";
    std::string sample = "2s";
    std::string idle_after = "1h";
    std::string min_memory = "1GiB";
};

std::chrono::milliseconds duration_option(const char* name, const std::string& text) {
    const auto value = util::parse_duration(text);
    if (!value)
        throw Error(ExitCode::usage,
                    fmt::format("invalid {} '{}': expected a duration like 500ms, 10s, 30m, 1h",
                                name, text));
    return *value;
}

gpu::ZombieThresholds thresholds_of(const ZombiesRequest& request) {
    gpu::ZombieThresholds thresholds;
    thresholds.idle_after = std::chrono::duration_cast<std::chrono::seconds>(
        duration_option("--idle-after", request.idle_after));
    std::string error;
    const auto size = util::parse_size(request.min_memory, error);
    if (!size)
        throw Error(ExitCode::usage, "invalid --min-memory: " + error);
    thresholds.min_memory = *size;
    return thresholds;
}

Json zombie_json(const gpu::Zombie& z) {
    Json j;
    j["gpu_index"] = z.gpu_index;
    j["gpu_uuid"] = z.gpu_uuid.empty() ? Json(nullptr) : Json(z.gpu_uuid);
    j["pid"] = z.pid == 0 ? Json(nullptr) : Json(z.pid);
    j["kind"] = gpu::zombie_kind_name(z.kind);
    j["reason"] = z.reason;
    j["used_memory_bytes"] = z.used_memory ? Json(*z.used_memory) : Json(nullptr);
    j["user"] = z.user.empty() ? Json(nullptr) : Json(z.user);
    j["command"] = z.command.empty() ? Json(nullptr) : Json(z.command);
    j["killable"] = z.killable;
    j["action"] = z.action ? Json{{"outcome", gpu::kill_outcome_name(z.action->outcome)},
                                  {"message", z.action->message}}
                           : Json(nullptr);
    return j;
}

void print_json_result(const std::vector<gpu::Zombie>& zombies) {
    Json list = Json::array();
    for (const auto& z : zombies)
        list.push_back(zombie_json(z));
    print_json(Json{{"schema", "gpuenv.zombies/1"}, {"zombies", std::move(list)}});
}

std::string action_text(const gpu::Zombie& z) {
    if (!z.action)
        return "";
    return fmt::format("{}: {}", gpu::kill_outcome_name(z.action->outcome), z.action->message);
}

void print_text_result(const std::vector<gpu::Zombie>& zombies, bool killed,
                       const std::vector<std::string>& errors) {
    if (zombies.empty()) {
        print_text("no zombie GPU memory found\n");
    } else {
        std::vector<std::string> headers = {"GPU", "PID", "USER", "KIND", "MEMORY", "COMMAND"};
        if (killed)
            headers.emplace_back("ACTION");
        headers.emplace_back("REASON");
        util::Table table(headers);
        for (const auto& z : zombies) {
            std::vector<std::string> cells = {
                std::to_string(z.gpu_index),
                z.pid == 0 ? "-" : std::to_string(z.pid),
                z.user.empty() ? "-" : z.user,
                std::string(gpu::zombie_kind_name(z.kind)),
                z.used_memory ? fmt::format("{} MiB", *z.used_memory / k_mib) : "n/a",
                z.command.empty() ? "-" : gpu::cmdline_to_text(z.command, k_command_width)};
            if (killed)
                cells.push_back(action_text(z));
            cells.push_back(z.reason);
            table.add_row(std::move(cells));
        }
        print_text(table.render());
    }
    for (const auto& error : errors)
        fmt::print(stderr, "gpuenv: warning: {}\n", error);
}

// With --kill, success means every killable row's process has ended.
int exit_code_of(const std::vector<gpu::Zombie>& zombies, bool killed) {
    for (const auto& z : zombies) {
        if (killed) {
            const bool ended = z.action && (z.action->outcome == gpu::KillOutcome::terminated ||
                                            z.action->outcome == gpu::KillOutcome::killed ||
                                            z.action->outcome == gpu::KillOutcome::gone);
            if (z.killable && !ended)
                return static_cast<int>(ExitCode::findings);
        } else if (gpu::is_finding(z)) {
            return static_cast<int>(ExitCode::findings);
        }
    }
    return static_cast<int>(ExitCode::ok);
}

int run_zombies(const ZombiesRequest& request) {
    const auto grace = duration_option("--grace", request.grace);
    const auto sample = duration_option("--sample", request.sample);
    if (sample.count() <= 0)
        throw Error(ExitCode::usage, "invalid --sample '" + request.sample + "': must be above 0");
    const gpu::ZombieThresholds thresholds = thresholds_of(request);
    const gpu::Nvml nvml = load_nvml();
    const gpu::ZombieScan scan = gpu::scan_zombie_evidence(nvml, sample, k_samples);
    if (scan.report.gpus.empty())
        throw Error(ExitCode::no_gpu, "no NVIDIA GPU found");
    gpuenv::Diagnostics lease_warnings;
    const std::map<std::string, std::string> lease_holders =
        lease_users(read_current_leases(lease_warnings));
    print_warnings(lease_warnings);
    std::vector<gpu::Zombie> zombies = gpu::find_zombies(scan.report, scan.evidence, lease_holders,
                                                         thresholds, gpu::current_caller());
    if (request.kill)
        zombies = gpu::end_zombies(std::move(zombies), grace);
    if (request.json)
        print_json_result(zombies);
    else
        print_text_result(zombies, request.kill, scan.report.errors);
    return exit_code_of(zombies, request.kill);
}

}  // namespace

CommandAction setup_zombies(CLI::App& command) {
    auto request = std::make_shared<ZombiesRequest>();
    command.add_flag("--json", request->json, "print the schema-versioned JSON document");
    command.add_flag("--kill", request->kill,
                     "end your own killable zombies (all users' as root): SIGTERM, then SIGKILL");
    command.add_option("--grace", request->grace, "time between SIGTERM and SIGKILL")
        ->capture_default_str();
    command
        .add_option("--sample", request->sample,
                    "window over which GPU utilisation and CPU use are sampled")
        ->capture_default_str();
    command
        .add_option("--idle-after", request->idle_after,
                    "minimum age of a process reported as idle")
        ->capture_default_str();
    command
        .add_option("--min-memory", request->min_memory,
                    "memory a GPU must use with no process to be reported")
        ->capture_default_str();
    return [request] { return run_zombies(*request); };
}

}  // namespace gpuenv::cli
