#include <gpuenv/cli/doctor_view.hpp>

#include <algorithm>
#include <map>

#include <fmt/core.h>

namespace gpuenv::cli {
namespace {

namespace doctor = core::doctor;
namespace gpu = core::gpu;
using Json = nlohmann::ordered_json;

constexpr std::uint64_t k_mib = 1024 * 1024;
constexpr std::uint64_t k_gib = 1024 * k_mib;

std::string size_text(std::uint64_t bytes) {
    if (bytes >= k_gib)
        return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / static_cast<double>(k_gib));
    return fmt::format("{} MiB", bytes / k_mib);
}

// "2x NVIDIA H100 80GB HBM3, NVIDIA A100-SXM4-40GB": models in index order, counted.
std::string gpu_models(const gpu::NvmlSnapshot& snapshot) {
    std::vector<std::pair<std::string, int>> models;
    for (const auto& g : snapshot.gpus) {
        const std::string name = g.name.ok() ? *g.name.value : "unknown GPU";
        auto it = std::find_if(models.begin(), models.end(),
                               [&](const auto& m) { return m.first == name; });
        if (it == models.end())
            models.emplace_back(name, 1);
        else
            ++it->second;
    }
    std::string out;
    for (const auto& [name, count] : models) {
        if (!out.empty())
            out += ", ";
        out += count > 1 ? fmt::format("{}x {}", count, name) : name;
    }
    return out;
}

Json optional_string(const std::optional<std::string>& value) {
    return value ? Json(*value) : Json(nullptr);
}

Json machine_json(const doctor::MachineFacts& machine) {
    Json j;
    if (machine.nvml) {
        const auto& s = *machine.nvml;
        Json gpus = Json::array();
        for (const auto& g : s.gpus) {
            gpus.push_back({{"index", g.index},
                            {"name", g.name.ok() ? Json(*g.name.value) : Json(nullptr)},
                            {"uuid", g.uuid.ok() ? Json(*g.uuid.value) : Json(nullptr)},
                            {"compute_capability",
                             g.compute_capability.ok()
                                 ? Json(fmt::format("{}.{}", g.compute_capability.value->major,
                                                    g.compute_capability.value->minor))
                                 : Json(nullptr)}});
        }
        j["driver"] = s.driver_version.ok() ? Json(*s.driver_version.value) : Json(nullptr);
        j["cuda"] = s.cuda_driver_version.ok()
                        ? Json(doctor::format_cuda_version(*s.cuda_driver_version.value))
                        : Json(nullptr);
        j["gpus"] = std::move(gpus);
        j["nvml_error"] = nullptr;
    } else {
        j["driver"] = nullptr;
        j["cuda"] = nullptr;
        j["gpus"] = Json::array();
        j["nvml_error"] =
            machine.nvml_failure ? Json(machine.nvml_failure->message) : Json(nullptr);
    }
    j["cpus"] = {{"logical", machine.cpus.logical}, {"physical", machine.cpus.physical}};
    j["shm"] = {
        {"path", machine.shm.path.string()},
        {"size_bytes", machine.shm.size_bytes ? Json(*machine.shm.size_bytes) : Json(nullptr)},
        {"error", machine.shm.error.empty() ? Json(nullptr) : Json(machine.shm.error)}};
    return j;
}

Json probe_json(const doctor::ProbeResult& p) {
    Json devices = Json::array();
    for (const auto& d : p.devices)
        devices.push_back({{"name", d.name},
                           {"compute_capability", fmt::format("{}.{}", d.cc_major, d.cc_minor)},
                           {"error", d.error.empty() ? Json(nullptr) : Json(d.error)}});
    Json errors = Json::object();
    for (const auto& [key, text] : p.call_errors)
        errors[key] = text;
    return {{"python", p.python},
            {"ran", p.ran},
            {"error", p.error.empty() ? Json(nullptr) : Json(p.error)},
            {"python_version", p.python_version.empty() ? Json(nullptr) : Json(p.python_version)},
            {"torch_imported", p.torch_imported},
            {"torch_error", p.torch_error.empty() ? Json(nullptr) : Json(p.torch_error)},
            {"torch_version", p.torch_version.empty() ? Json(nullptr) : Json(p.torch_version)},
            {"cuda", optional_string(p.cuda)},
            {"cuda_available", p.cuda_available ? Json(*p.cuda_available) : Json(nullptr)},
            {"device_count", p.device_count},
            {"cudnn_version", p.cudnn_version ? Json(*p.cudnn_version) : Json(nullptr)},
            {"arch_list", p.arch_list},
            {"devices", std::move(devices)},
            {"errors", std::move(errors)}};
}

}  // namespace

std::string machine_line(const doctor::MachineFacts& machine) {
    std::string gpus;
    if (!machine.nvml) {
        gpus = machine.nvml_failure ? "no NVIDIA GPU usable (" + machine.nvml_failure->message + ")"
                                    : "no NVIDIA GPU";
    } else if (machine.nvml->gpus.empty()) {
        gpus = "no NVIDIA GPU (NVML lists none)";
    } else {
        const auto& s = *machine.nvml;
        gpus = fmt::format(
            "{} GPU{} ({}), driver {}, CUDA {}", s.gpus.size(), s.gpus.size() == 1 ? "" : "s",
            gpu_models(s), s.driver_version.ok() ? *s.driver_version.value : "n/a",
            s.cuda_driver_version.ok() ? doctor::format_cuda_version(*s.cuda_driver_version.value)
                                       : "n/a");
    }
    const std::string shm =
        machine.shm.size_bytes
            ? fmt::format("{} {}", machine.shm.path.string(), size_text(*machine.shm.size_bytes))
            : fmt::format("{} unreadable", machine.shm.path.string());
    return fmt::format("{}; {} CPUs ({} cores); {}", gpus, machine.cpus.logical,
                       machine.cpus.physical, shm);
}

std::string torch_line(const doctor::DoctorInput& input) {
    if (!input.torch)
        return "not installed";
    const auto& t = *input.torch;
    std::string build = t.cuda ? "CUDA " + *t.cuda : t.hip ? "ROCm " + *t.hip : "CPU-only";
    return fmt::format("{} {} ({}), {} build", t.package, t.version, t.installer, build);
}

std::string findings_text(const doctor::DoctorFindings& findings, const std::string& indent) {
    std::string out;
    for (const auto& f : findings) {
        out += fmt::format("{}{}: {}: {}\n", indent, doctor::severity_name(f.severity), f.rule,
                           f.title);
        for (const auto& line : f.evidence)
            out += fmt::format("{}    {}\n", indent, line);
        if (!f.fix.empty())
            out += fmt::format("{}    fix: {}\n", indent, f.fix);
    }
    return out;
}

std::string findings_summary(const doctor::DoctorFindings& findings) {
    if (findings.empty())
        return "no findings";
    std::map<doctor::Severity, int> counts;
    for (const auto& f : findings)
        ++counts[f.severity];
    std::string out;
    const auto add = [&](doctor::Severity s, const char* one, const char* many) {
        const int n = counts[s];
        if (n == 0)
            return;
        out += (out.empty() ? "" : ", ") + fmt::format("{} {}", n, n == 1 ? one : many);
    };
    add(doctor::Severity::error, "error", "errors");
    add(doctor::Severity::warning, "warning", "warnings");
    add(doctor::Severity::info, "note", "notes");
    return out;
}

Json doctor_json(const doctor::DoctorInput& input, const doctor::DoctorReport& report) {
    Json j;
    j["machine"] = machine_json(input.machine);
    if (input.torch) {
        const auto& t = *input.torch;
        j["torch"] = {{"package", t.package},          {"installer", t.installer},
                      {"version", t.version},          {"cuda", optional_string(t.cuda)},
                      {"hip", optional_string(t.hip)}, {"version_file", t.version_file.string()}};
    } else {
        j["torch"] = nullptr;
    }
    j["probe"] = input.probe ? probe_json(*input.probe) : Json(nullptr);
    Json findings = Json::array();
    std::map<std::string, int> counts = {{"error", 0}, {"warning", 0}, {"info", 0}};
    for (const auto& f : report.findings) {
        findings.push_back({{"rule", f.rule},
                            {"severity", doctor::severity_name(f.severity)},
                            {"title", f.title},
                            {"evidence", f.evidence},
                            {"fix", f.fix},
                            {"inferred", f.inferred}});
        ++counts[std::string(doctor::severity_name(f.severity))];
    }
    j["findings"] = std::move(findings);
    j["summary"] = {
        {"error", counts["error"]}, {"warning", counts["warning"]}, {"info", counts["info"]}};
    j["healthy"] = !doctor::unhealthy(report.findings);
    return j;
}

}  // namespace gpuenv::cli
