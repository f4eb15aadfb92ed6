// gpuenv leases: who holds which GPU now, since when, for which command. Stale holder records
// (their job is gone, the lock is free) are shown as free and the caller's own are removed.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/gpu/lease.hpp>
#include <gpuenv/core/gpu/process_info.hpp>
#include <gpuenv/util/table.hpp>

namespace gpuenv::cli {
namespace {

namespace gpu = core::gpu;
using Json = nlohmann::ordered_json;

constexpr std::size_t k_command_width = 50;
constexpr std::int64_t k_ns_per_s = 1'000'000'000;

struct LeasesRequest {
    bool json = false;
};

std::string index_of(const gpu::LeaseInfo& lease) {
    const gpu::LeaseRecord* record = lease.current         ? &*lease.current
                                     : lease.stale.empty() ? nullptr
                                                           : &lease.stale.front();
    return record != nullptr && record->gpu_index ? std::to_string(*record->gpu_index) : "-";
}

std::string command_text(const std::vector<std::string>& argv) {
    std::string text;
    for (const std::string& arg : argv)
        text += (text.empty() ? "" : " ") + arg;
    return gpu::cmdline_to_text(text, k_command_width);
}

std::vector<std::string> row_of(const gpu::LeaseInfo& lease, std::int64_t now_ns) {
    const std::string state = lease.state == gpu::LeaseState::held   ? "held"
                              : lease.state == gpu::LeaseState::free ? "free"
                                                                     : "unsafe";
    std::vector<std::string> row = {index_of(lease), lease.uuid, state};
    if (lease.state == gpu::LeaseState::unsafe) {
        row.insert(row.end(), {"", "", "", "", lease.problem});
        return row;
    }
    if (lease.state != gpu::LeaseState::held) {
        row.insert(row.end(), {"", "", "", "", ""});
        return row;
    }
    if (!lease.current || !lease.current->holder) {
        row.insert(row.end(), {"?", "", "", "", "(holder unknown)"});
        return row;
    }
    const gpu::LeaseHolder& h = *lease.current->holder;
    const auto age = static_cast<std::uint64_t>(
        std::max<std::int64_t>(0, now_ns - h.start_unix_ns) / k_ns_per_s);
    row.insert(row.end(), {h.user, std::to_string(h.pid), gpu::format_elapsed(age),
                           h.env_prefix.empty() ? "-" : h.env_prefix, command_text(h.command)});
    return row;
}

int run_leases(const LeasesRequest& request) {
    const auto path = gpu::state_dir_from_env(std::getenv("GPUENV_STATE_DIR"));
    const std::optional<gpu::LeaseDir> dir = gpu::LeaseDir::open_existing(path);
    std::vector<gpu::LeaseInfo> leases;
    std::vector<std::string> cleaned;
    if (dir) {
        leases = gpu::read_leases(*dir);
        cleaned = gpu::clean_stale(*dir);
    }
    if (request.json) {
        Json doc;
        doc["schema"] = "gpuenv.leases/1";
        doc["state_dir"] = path.string();
        doc["leases"] = gpu::leases_json(leases);
        doc["removed_stale_records"] = cleaned;
        print_json(doc);
        return 0;
    }
    if (leases.empty()) {
        print_text("no GPU leases in " + path.string() + "\n");
        return 0;
    }
    const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    util::Table table({"GPU", "UUID", "STATE", "USER", "PID", "HELD", "ENV", "COMMAND"});
    for (const gpu::LeaseInfo& lease : leases)
        table.add_row(row_of(lease, now_ns));
    print_text(table.render());
    if (!cleaned.empty()) {
        fmt::print(stderr, "gpuenv: removed {} stale lease record{} of finished jobs\n",
                   cleaned.size(), cleaned.size() == 1 ? "" : "s");
    }
    return 0;
}

}  // namespace

CommandAction setup_leases(CLI::App& command) {
    auto request = std::make_shared<LeasesRequest>();
    command.add_flag("--json", request->json, "print the schema-versioned JSON document");
    return [request] { return run_leases(*request); };
}

}  // namespace gpuenv::cli
