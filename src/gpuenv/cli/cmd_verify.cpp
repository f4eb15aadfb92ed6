// gpuenv verify: every difference between an environment and its lock, its environment.yml
// and its own files, plus dependency consistency and pip-over-conda shadowing.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/env_options.hpp>
#include <gpuenv/cli/lock_json.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/cli/progress_bar.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/env/inventory_json.hpp>
#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/core/verify/verify.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/table.hpp>

namespace gpuenv::cli {
namespace {

using core::verify::FileCheck;
using core::verify::Finding;
using core::verify::Findings;

struct VerifyCliRequest {
    core::env::EnvSelection env;
    std::string lock;
    std::string spec;
    std::string files = "quick";
    unsigned jobs = 0;
    bool json = false;
};

FileCheck parse_file_check(const std::string& text) {
    if (text == "none")
        return FileCheck::none;
    if (text == "quick")
        return FileCheck::quick;
    if (text == "full")
        return FileCheck::full;
    throw Error(ExitCode::usage, "--files must be none, quick or full, not '" + text + "'");
}

struct Group {
    const char* check;
    const char* title;
    const Findings* findings;
};

std::vector<Group> groups_of(const core::verify::VerifyResult& r) {
    return {{"lock", "against the lock", &r.lock},
            {"spec", "against the environment.yml", &r.spec},
            {"files", "installed files", &r.files},
            {"consistency", "consistency", &r.consistency}};
}

std::string render_table(const core::verify::VerifyResult& result, const std::string& prefix) {
    std::string out;
    std::size_t total = 0;
    for (const auto& group : groups_of(result)) {
        if (group.findings->empty())
            continue;
        out += "# " + std::string(group.title) + "\n";
        util::Table table({"Kind", "Package", "Expected", "Found", "Detail"});
        for (const auto& f : *group.findings) {
            std::string detail = f.path;
            if (!f.detail.empty())
                detail += (detail.empty() ? "" : ": ") + f.detail;
            table.add_row({core::verify::to_string(f.kind), f.package,
                           f.expected.empty() ? "-" : f.expected, f.found.empty() ? "-" : f.found,
                           detail});
            if (f.kind != core::verify::FindingKind::spec_unchecked)
                ++total;
        }
        out += table.render();
        out += "\n";
    }
    if (total == 0)
        out += "ok: no drift in " + prefix + "\n";
    else
        out += std::to_string(total) + (total == 1 ? " finding" : " findings") + " in " + prefix +
               "\n";
    return out;
}

int run_verify(const VerifyCliRequest& request) {
    core::verify::VerifyRequest core_request;
    core_request.files.level = parse_file_check(request.files);
    core_request.files.jobs = request.jobs;
    // Inputs first: a broken lock or environment.yml stops before the environment is read.
    if (!request.lock.empty())
        core_request.lock = core::lock::read_lock(request.lock);
    const auto prefix = open_selected_env(request.env);
    // The conda records' files are looked at while the inventory is read.
    core::verify::EarlyFileCheck early_files(prefix, core_request.files);
    core_request.early_files = &early_files;
    const auto inventory = core::env::read_inventory(prefix);
    if (!request.spec.empty()) {
        core_request.spec = core::spec::read_environment_yml(
            request.spec, {core::lock::environment_platform(inventory)});
    }
    const auto progress = make_progress(request.json);
    const auto result = core::verify::verify(inventory, core_request, *progress);

    gpuenv::Diagnostics warnings = inventory.warnings;
    if (core_request.lock)
        warnings.insert(warnings.end(), core_request.lock->warnings.begin(),
                        core_request.lock->warnings.end());
    if (core_request.spec)
        warnings.insert(warnings.end(), core_request.spec->warnings.begin(),
                        core_request.spec->warnings.end());
    warnings.insert(warnings.end(), result.warnings.begin(), result.warnings.end());
    print_warnings(warnings);

    if (request.json) {
        nlohmann::ordered_json doc;
        doc["schema"] = "gpuenv.verify/1";
        doc["prefix"] = prefix.path.string();
        doc["drift"] = result.drift();
        doc["checks"] = {{"lock", request.lock.empty() ? nlohmann::ordered_json(nullptr)
                                                       : nlohmann::ordered_json(request.lock)},
                         {"spec", request.spec.empty() ? nlohmann::ordered_json(nullptr)
                                                       : nlohmann::ordered_json(request.spec)},
                         {"files", request.files},
                         {"consistency", true}};
        auto findings = nlohmann::ordered_json::array();
        for (const auto& group : groups_of(result)) {
            for (const auto& f : *group.findings)
                findings.push_back(to_json(f, group.check));
        }
        doc["findings"] = std::move(findings);
        doc["warnings"] = core::env::to_json(warnings);
        print_json(doc);
    } else {
        print_text(render_table(result, prefix.path.string()));
    }
    return result.drift() ? static_cast<int>(ExitCode::findings) : 0;
}

}  // namespace

CommandAction setup_verify(CLI::App& command) {
    auto request = std::make_shared<VerifyCliRequest>();
    add_env_options(command, request->env);
    command
        .add_option("--lock", request->lock,
                    "compare with a lock: gpuenv, explicit, conda-lock, environment.yml with "
                    "pinned specs, requirements, or a saved list --json")
        ->type_name("FILE");
    command
        .add_option("--spec", request->spec,
                    "check that an environment.yml's conda specs and pip requirements are met")
        ->type_name("FILE");
    command
        .add_option("--files", request->files,
                    "none, quick (existence, type, size; the default) or full (also content "
                    "hashes, on all cores)")
        ->type_name("LEVEL");
    command
        .add_option("-j,--jobs", request->jobs,
                    "hashing threads for --files full (default: all cores)")
        ->type_name("N");
    command.add_flag("--json", request->json, "print the gpuenv.verify/1 document");
    return [request] { return run_verify(*request); };
}

}  // namespace gpuenv::cli
