// gpuenv check: the main job. One screen on an environment and this machine: the packages by
// installer, the fingerprint and GPU binding, integrity (files, drift against a lock given or
// found), doctor's findings, and the GPU table. Works without a GPU and without conda.
#include <filesystem>
#include <map>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/doctor_input.hpp>
#include <gpuenv/cli/doctor_view.hpp>
#include <gpuenv/cli/env_options.hpp>
#include <gpuenv/cli/gpu_view.hpp>
#include <gpuenv/cli/lock_json.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/doctor/doctor.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/env/inventory_json.hpp>
#include <gpuenv/core/lock/fingerprint.hpp>
#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/core/lock/locked_env.hpp>
#include <gpuenv/core/verify/verify.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/progress.hpp>

namespace gpuenv::cli {
namespace {

namespace doctor = core::doctor;
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// File findings shown on the screen; `gpuenv verify` lists them all.
constexpr std::size_t k_shown_file_findings = 5;
// The variables of a GPU binding shown in the environment summary.
constexpr const char* k_binding_vars[] = {"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"};

struct CheckRequest {
    core::env::EnvSelection env;
    DoctorOptions options;
    std::string lock;
    bool json = false;
};

// The lock check compares with: --lock, else a gpuenv.lock inside the environment, else
// PREFIX.gpuenv.lock next to it (envs/train and envs/train.gpuenv.lock).
std::optional<fs::path> find_lock(const CheckRequest& request, const core::env::Prefix& prefix) {
    if (!request.lock.empty())
        return fs::path(request.lock);
    for (const fs::path& candidate :
         {prefix.path / "gpuenv.lock", fs::path(prefix.path.string() + ".gpuenv.lock")}) {
        std::error_code ec;
        if (fs::is_regular_file(candidate, ec))
            return candidate;
    }
    return std::nullopt;
}

std::map<std::string, std::size_t> counts_by_installer(const core::env::Inventory& inventory) {
    std::map<std::string, std::size_t> counts;
    for (const auto& p : inventory.packages)
        ++counts[p.installer.empty() ? "unknown" : p.installer];
    return counts;
}

std::string installer_text(const std::map<std::string, std::size_t>& counts, std::size_t total) {
    std::string out = std::to_string(total);
    std::string parts;
    for (const auto& [installer, n] : counts)
        parts += (parts.empty() ? "" : ", ") + fmt::format("{} {}", n, installer);
    return parts.empty() ? out : out + " (" + parts + ")";
}

std::vector<std::pair<std::string, std::string>> binding_of(const doctor::DoctorInput& input) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const char* name : k_binding_vars) {
        const auto it = input.env_vars.vars.find(name);
        if (it != input.env_vars.vars.end())
            out.emplace_back(name, it->second);
    }
    return out;
}

struct Integrity {
    std::optional<fs::path> lock;
    core::verify::VerifyResult result;

    [[nodiscard]] bool drift() const { return !result.lock.empty() || !result.files.empty(); }
};

Integrity check_integrity(const core::env::Inventory& inventory,
                          const std::optional<core::lock::LockedEnv>& lock,
                          std::optional<fs::path> lock_path,
                          const core::verify::Findings& consistency) {
    core::verify::VerifyRequest verify_request;
    verify_request.lock = lock;
    verify_request.consistency = &consistency;
    verify_request.files.level = core::verify::FileCheck::quick;
    util::NullProgress progress;
    return {std::move(lock_path), core::verify::verify(inventory, verify_request, progress)};
}

std::string findings_lines(const core::verify::Findings& findings, std::size_t limit) {
    std::string out;
    std::size_t shown = 0;
    for (const auto& f : findings) {
        if (shown == limit) {
            out += fmt::format("    ... and {} more\n", findings.size() - shown);
            break;
        }
        std::string what = f.package;
        if (!f.path.empty())
            what += (what.empty() ? "" : ": ") + f.path;
        std::string change;
        if (!f.expected.empty() || !f.found.empty())
            change = fmt::format(" (expected {}, found {})", f.expected.empty() ? "-" : f.expected,
                                 f.found.empty() ? "-" : f.found);
        out += fmt::format("    {}: {}{}\n", core::verify::to_string(f.kind), what, change);
        ++shown;
    }
    return out;
}

std::string integrity_text(const Integrity& integrity, const core::env::Prefix& prefix) {
    std::string out;
    const auto& files = integrity.result.files;
    out += files.empty()
               ? "  files: ok (existence, type and size of every recorded file)\n"
               : fmt::format("  files: {} problem{} (gpuenv verify -p {} lists them)\n",
                             files.size(), files.size() == 1 ? "" : "s", prefix.path.string());
    out += findings_lines(files, k_shown_file_findings);
    if (!integrity.lock) {
        out += fmt::format("  lock: none given or found ({}/gpuenv.lock, {}.gpuenv.lock)\n",
                           prefix.path.string(), prefix.path.string());
    } else {
        const auto& lock = integrity.result.lock;
        out += lock.empty() ? fmt::format("  lock: no drift against {}\n", integrity.lock->string())
                            : fmt::format("  lock: {} difference{} from {}\n", lock.size(),
                                          lock.size() == 1 ? "" : "s", integrity.lock->string());
        out += findings_lines(lock, k_shown_file_findings);
    }
    return out;
}

// The last line: "healthy", or what makes the environment unhealthy.
std::string verdict(const Integrity& integrity, const doctor::DoctorFindings& findings) {
    std::vector<std::string> reasons;
    const auto count = [](std::size_t n, const char* one, const char* many) {
        return fmt::format("{} {}", n, n == 1 ? one : many);
    };
    if (!integrity.result.files.empty())
        reasons.push_back(count(integrity.result.files.size(), "file problem", "file problems"));
    if (!integrity.result.lock.empty())
        reasons.push_back(count(integrity.result.lock.size(), "difference from the lock",
                                "differences from the lock"));
    if (doctor::unhealthy(findings))
        reasons.push_back("doctor: " + findings_summary(findings));
    if (reasons.empty())
        return "healthy";
    std::string out = "not healthy: ";
    for (std::size_t i = 0; i < reasons.size(); ++i)
        out += (i == 0 ? "" : "; ") + reasons[i];
    return out;
}

int run_check(const CheckRequest& request) {
    // A named lock must read: a broken one stops before anything else is done.
    const auto prefix = open_selected_env(request.env);
    const auto lock_path = find_lock(request, prefix);
    std::optional<core::lock::LockedEnv> lock;
    if (lock_path)
        lock = core::lock::read_lock(*lock_path);
    const auto inventory = core::env::read_inventory(prefix);
    gpuenv::Diagnostics warnings = inventory.warnings;
    if (lock)
        warnings.insert(warnings.end(), lock->warnings.begin(), lock->warnings.end());

    // The dependency checks run once: the doctor's rule 7 and verify both read them.
    const core::verify::Findings consistency = core::verify::check_consistency(inventory, warnings);
    doctor::DoctorInput input = gather_doctor_input(inventory, request.options, warnings);
    input.consistency = &consistency;
    const doctor::DoctorReport report = doctor::run_doctor(input);
    warnings.insert(warnings.end(), report.warnings.begin(), report.warnings.end());
    const Integrity integrity = check_integrity(inventory, lock, lock_path, consistency);
    warnings.insert(warnings.end(), integrity.result.warnings.begin(),
                    integrity.result.warnings.end());
    const std::string fingerprint =
        core::lock::lock_from_inventory(inventory, core::lock::HashRecords::no).fingerprint;
    const auto installers = counts_by_installer(inventory);
    const auto binding = binding_of(input);
    const bool healthy = !doctor::unhealthy(report.findings) && !integrity.drift();
    print_warnings(warnings);

    if (request.json) {
        Json doc;
        doc["schema"] = "gpuenv.check/1";
        doc["prefix"] = prefix.path.string();
        Json by_installer = Json::object();
        for (const auto& [installer, n] : installers)
            by_installer[installer] = n;
        Json bound = Json::object();
        for (const auto& [name, value] : binding)
            bound[name] = value;
        doc["environment"] = {
            {"kind", core::env::to_string(prefix.kind)},
            {"python_version",
             prefix.python_version.empty() ? Json(nullptr) : Json(prefix.python_version)},
            {"packages",
             {{"total", inventory.packages.size()},
              {"conda", inventory.conda_count()},
              {"pypi", inventory.pypi_count()},
              {"by_installer", std::move(by_installer)}}},
            {"fingerprint", fingerprint},
            {"gpu_binding", binding.empty() ? Json(nullptr) : std::move(bound)}};
        Json findings = Json::array();
        for (const auto& f : integrity.result.files)
            findings.push_back(to_json(f, "files"));
        for (const auto& f : integrity.result.lock)
            findings.push_back(to_json(f, "lock"));
        doc["integrity"] = {
            {"files", "quick"},
            {"lock", integrity.lock ? Json(integrity.lock->string()) : Json(nullptr)},
            {"drift", integrity.drift()},
            {"findings", std::move(findings)}};
        doc["doctor"] = doctor_json(input, report);
        doc["gpus"] = input.machine.gpus ? gpu_report_json(*input.machine.gpus) : Json(nullptr);
        doc["healthy"] = healthy;
        doc["warnings"] = core::env::to_json(warnings);
        print_json(doc);
        return healthy ? 0 : static_cast<int>(ExitCode::findings);
    }

    std::string text;
    text += fmt::format("environment  {} ({}{})\n", prefix.path.string(),
                        core::env::to_string(prefix.kind),
                        prefix.python_version.empty() ? "" : ", python " + prefix.python_version);
    text += "packages     " + installer_text(installers, inventory.packages.size()) + "\n";
    text += "fingerprint  " + fingerprint + "\n";
    std::string bound;
    for (const auto& [name, value] : binding)
        bound += (bound.empty() ? "" : " ") + name + "=" + value;
    text += "GPU binding  " + (bound.empty() ? std::string("none") : bound) + "\n";
    text += "torch        " + torch_line(input) + "\n";
    text += "machine      " + machine_line(input.machine) + "\n";
    text += "\n# integrity\n" + integrity_text(integrity, prefix);
    text += "\n# doctor: " + findings_summary(report.findings) + "\n";
    text += findings_text(report.findings, "  ");
    text += "\n# GPUs\n";
    if (input.machine.gpus && !input.machine.gpus->gpus.empty())
        text += gpu_report_text(*input.machine.gpus);
    else
        text += "  " +
                machine_line(input.machine).substr(0, machine_line(input.machine).find(';')) + "\n";
    text += "\n" + verdict(integrity, report.findings) + "\n";
    print_text(text);
    return healthy ? 0 : static_cast<int>(ExitCode::findings);
}

}  // namespace

CommandAction setup_check(CLI::App& command) {
    auto request = std::make_shared<CheckRequest>();
    add_env_options(command, request->env);
    command
        .add_option("--lock", request->lock,
                    "check drift against this lock (default: PREFIX/gpuenv.lock or "
                    "PREFIX.gpuenv.lock when present)")
        ->type_name("FILE");
    add_doctor_options(command, request->options);
    command.add_flag("--json", request->json, "print the gpuenv.check/1 document");
    return [request] { return run_check(*request); };
}

}  // namespace gpuenv::cli
