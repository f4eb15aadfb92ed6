// gpuenv doctor: why an environment is slow or broken on this machine, from its files, NVML,
// /proc, /sys and /dev/shm; --probe also asks the environment's own Python.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/doctor_input.hpp>
#include <gpuenv/cli/doctor_view.hpp>
#include <gpuenv/cli/env_options.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/doctor/doctor.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/env/inventory_json.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv::cli {
namespace {

namespace doctor = core::doctor;
using Json = nlohmann::ordered_json;

struct DoctorRequest {
    core::env::EnvSelection env;
    DoctorOptions options;
    bool json = false;
};

int run_doctor(const DoctorRequest& request) {
    const auto prefix = open_selected_env(request.env);
    const auto inventory = core::env::read_inventory(prefix);
    gpuenv::Diagnostics warnings = inventory.warnings;
    const doctor::DoctorInput input = gather_doctor_input(inventory, request.options, warnings);
    const doctor::DoctorReport report = doctor::run_doctor(input);
    warnings.insert(warnings.end(), report.warnings.begin(), report.warnings.end());
    print_warnings(warnings);

    if (request.json) {
        Json doc;
        doc["schema"] = "gpuenv.doctor/1";
        doc["prefix"] = prefix.path.string();
        doc.update(doctor_json(input, report));
        doc["warnings"] = core::env::to_json(warnings);
        print_json(doc);
    } else {
        std::string text =
            fmt::format("environment: {} ({}, {} packages)\n", prefix.path.string(),
                        core::env::to_string(prefix.kind), inventory.packages.size());
        text += "machine: " + machine_line(input.machine) + "\n";
        text += "torch: " + torch_line(input) + "\n\n";
        text += findings_text(report.findings);
        if (!report.findings.empty())
            text += "\n";
        text += findings_summary(report.findings) +
                (doctor::unhealthy(report.findings) ? "\n" : ": healthy\n");
        print_text(text);
    }
    return doctor::unhealthy(report.findings) ? static_cast<int>(ExitCode::findings) : 0;
}

}  // namespace

CommandAction setup_doctor(CLI::App& command) {
    auto request = std::make_shared<DoctorRequest>();
    add_env_options(command, request->env);
    add_doctor_options(command, request->options);
    command.add_flag("--json", request->json, "print the gpuenv.doctor/1 document");
    return [request] { return run_doctor(*request); };
}

}  // namespace gpuenv::cli
