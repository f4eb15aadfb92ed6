#include <gpuenv/cli/gpu_view.hpp>

#include <filesystem>

#include <fmt/core.h>

#include <gpuenv/core/gpu/process_info.hpp>
#include <gpuenv/util/table.hpp>

namespace gpuenv::cli {
namespace {

namespace gpu = core::gpu;
using Json = nlohmann::ordered_json;

constexpr std::size_t k_command_width = 60;
constexpr std::uint64_t k_mib = 1024 * 1024;
constexpr std::size_t k_uuid_prefix = 12;  // "GPU-8932f937"

template <typename T, typename F>
std::string text_or_na(const gpu::NvmlField<T>& field, F&& format) {
    return field.ok() ? format(*field.value) : std::string("n/a");
}

template <typename T, typename F>
Json json_or_null(const gpu::NvmlField<T>& field, F&& convert) {
    return field.ok() ? Json(convert(*field.value)) : Json(nullptr);
}

// Shows an env under .../envs/NAME by its name, anything else by its prefix.
std::string environment_label(const std::string& prefix) {
    const std::filesystem::path path(prefix);
    if (path.parent_path().filename() == "envs")
        return path.filename().string();
    return prefix;
}

Json process_json(const gpu::GpuProcessRow& row) {
    const gpu::ProcessInfo& info = row.info;
    Json j;
    j["pid"] = row.nvml.pid;
    j["user"] = info.visible ? Json(info.user) : Json(nullptr);
    j["command"] = info.visible ? Json(info.command) : Json(nullptr);
    j["elapsed_s"] = info.elapsed_s ? Json(*info.elapsed_s) : Json(nullptr);
    j["state"] = info.visible ? Json(std::string(1, info.state)) : Json(nullptr);
    j["environment"] = info.environment.empty() ? Json(nullptr) : Json(info.environment);
    j["used_memory_bytes"] = row.nvml.used_memory ? Json(*row.nvml.used_memory) : Json(nullptr);
    j["visible_in_proc"] = info.visible;
    j["lease"] = row.lease.empty() ? Json(nullptr) : Json(row.lease);
    return j;
}

Json gpu_json(const gpu::GpuRow& row) {
    const gpu::GpuInfo& g = row.gpu;
    const auto same = [](const auto& v) { return v; };
    Json j;
    j["index"] = g.index;
    j["uuid"] = json_or_null(g.uuid, same);
    j["name"] = json_or_null(g.name, same);
    j["pci_bus_id"] = json_or_null(g.pci_bus_id, same);
    j["memory"] = json_or_null(g.memory, [](const gpu::GpuMemory& m) {
        return Json{{"used", m.used}, {"total", m.total}};
    });
    j["utilization"] = json_or_null(g.utilisation, [](const gpu::GpuUtilisation& u) {
        return Json{{"gpu", u.gpu}, {"memory", u.memory}};
    });
    j["temperature_c"] = json_or_null(g.temperature_c, same);
    j["power_mw"] = json_or_null(g.power_mw, same);
    j["compute_capability"] = json_or_null(
        g.compute_capability,
        [](const gpu::ComputeCapability& c) { return fmt::format("{}.{}", c.major, c.minor); });
    j["mig_mode"] = json_or_null(g.mig_mode, [](const gpu::MigMode& m) {
        return Json{{"current", m.current}, {"pending", m.pending}};
    });
    Json mig = Json::array();
    if (g.mig_devices.ok()) {
        for (const gpu::MigDevice& d : *g.mig_devices.value) {
            mig.push_back({{"index", d.index},
                           {"uuid", json_or_null(d.uuid, same)},
                           {"gpu_instance_id", json_or_null(d.gpu_instance_id, same)},
                           {"compute_instance_id", json_or_null(d.compute_instance_id, same)},
                           {"memory", json_or_null(d.memory, [](const gpu::GpuMemory& m) {
                                return Json{{"used", m.used}, {"total", m.total}};
                            })}});
        }
    }
    j["mig_devices"] = std::move(mig);
    j["lease"] = row.lease.empty() ? Json(nullptr) : Json(row.lease);
    Json processes = Json::array();
    for (const auto& p : row.processes)
        processes.push_back(process_json(p));
    j["processes"] = std::move(processes);
    return j;
}

Json report_json(const gpu::GpuReport& report) {
    Json doc;
    doc["driver"] = json_or_null(report.driver_version, [](const auto& v) { return v; });
    doc["cuda"] = json_or_null(report.cuda_driver_version, [](const gpu::CudaVersion& v) {
        return fmt::format("{}.{}", v.major, v.minor);
    });
    Json gpus = Json::array();
    for (const auto& row : report.gpus)
        gpus.push_back(gpu_json(row));
    doc["gpus"] = std::move(gpus);
    doc["errors"] = report.errors;
    return doc;
}

std::string gpu_line(const gpu::GpuInfo& g) {
    const std::string memory = text_or_na(g.memory, [](const gpu::GpuMemory& m) {
        return fmt::format("{} / {} MiB", m.used / k_mib, m.total / k_mib);
    });
    return fmt::format(
        "GPU {}  {}  {}  {}  {}  {}  {}\n", g.index,
        text_or_na(g.name, [](const std::string& s) { return s; }), memory,
        text_or_na(g.utilisation,
                   [](const gpu::GpuUtilisation& u) { return fmt::format("{}%", u.gpu); }),
        text_or_na(g.temperature_c, [](unsigned t) { return fmt::format("{}C", t); }),
        text_or_na(g.power_mw, [](unsigned p) { return fmt::format("{}W", p / 1000); }),
        text_or_na(g.uuid, [](const std::string& s) { return s.substr(0, k_uuid_prefix); }));
}

std::string processes_text(const gpu::GpuRow& row) {
    const std::string lease_line = row.lease.empty() ? "" : "    leased by " + row.lease + "\n";
    if (row.processes.empty())
        return lease_line + "    no processes\n";
    // A LEASE column only under a leased GPU: it tells the job's processes from intruders.
    const bool leased = !row.lease.empty();
    std::vector<std::string> headers = {"PID", "USER", "MEMORY", "ELAPSED", "ENV"};
    if (leased)
        headers.emplace_back("LEASE");
    headers.emplace_back("COMMAND");
    util::Table table(headers);
    for (const auto& p : row.processes) {
        const std::string memory =
            p.nvml.used_memory ? fmt::format("{} MiB", *p.nvml.used_memory / k_mib) : "n/a";
        std::vector<std::string> cells;
        if (!p.info.visible) {
            cells = {std::to_string(p.nvml.pid), "", memory, "", ""};
        } else {
            cells = {std::to_string(p.nvml.pid), p.info.user, memory,
                     p.info.elapsed_s ? gpu::format_elapsed(*p.info.elapsed_s) : "n/a",
                     p.info.environment.empty() ? "-" : environment_label(p.info.environment)};
        }
        if (leased)
            cells.emplace_back(p.lease.empty() ? "outside" : "held");
        cells.push_back(p.info.visible ? gpu::cmdline_to_text(p.info.command, k_command_width)
                                       : "(other PID namespace)");
        table.add_row(std::move(cells));
    }
    std::string text = lease_line;
    const std::string rendered = table.render();
    std::size_t pos = 0;
    while (pos < rendered.size()) {
        const std::size_t end = rendered.find('\n', pos);
        text += "    " + rendered.substr(pos, end - pos + 1);
        pos = end + 1;
    }
    return text;
}

std::string report_text(const gpu::GpuReport& report) {
    std::string text = fmt::format(
        "Driver {}  CUDA {}\n", text_or_na(report.driver_version, [](const auto& v) { return v; }),
        text_or_na(report.cuda_driver_version, [](const gpu::CudaVersion& v) {
            return fmt::format("{}.{}", v.major, v.minor);
        }));
    for (const auto& row : report.gpus) {
        text += gpu_line(row.gpu);
        text += processes_text(row);
    }
    return text;
}

}  // namespace

std::string gpu_report_text(const gpu::GpuReport& report) {
    return report_text(report);
}

Json gpu_report_json(const gpu::GpuReport& report) {
    return report_json(report);
}

}  // namespace gpuenv::cli
