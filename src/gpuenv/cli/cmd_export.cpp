// gpuenv export: the environment.yml of an installed environment, pinned or from history.
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/env_options.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/env/history.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/lock/environment_export.hpp>

namespace gpuenv::cli {
namespace {

struct ExportRequest {
    core::env::EnvSelection env;
    bool from_history = false;
    bool no_builds = false;
    bool json = false;
    std::string output = "-";
};

// Returns the document `conda env export --json` prints.
nlohmann::ordered_json to_json(const core::lock::ExportedEnv& env) {
    nlohmann::ordered_json doc;
    doc["name"] = env.name;
    doc["channels"] = env.channels;
    auto deps = nlohmann::ordered_json::array();
    for (const auto& spec : env.conda)
        deps.push_back(spec);
    if (!env.pip.empty())
        deps.push_back({{"pip", env.pip}});
    doc["dependencies"] = std::move(deps);
    auto vars = nlohmann::ordered_json::object();
    for (const auto& [name, value] : env.variables)
        vars[name] = value;
    if (!vars.empty())
        doc["variables"] = std::move(vars);
    return doc;
}

int run_export(const ExportRequest& request) {
    const auto prefix = open_selected_env(request.env);
    const auto inventory = core::env::read_inventory(prefix);
    auto locked = core::lock::lock_from_inventory(inventory, core::lock::HashRecords::no);
    locked.name = prefix.path.filename().string();
    core::lock::ExportedEnv exported;
    gpuenv::Diagnostics warnings = inventory.warnings;
    warnings.insert(warnings.end(), locked.warnings.begin(), locked.warnings.end());
    if (request.from_history) {
        const auto history = core::env::read_history(prefix.path);
        warnings.insert(warnings.end(), history.warnings.begin(), history.warnings.end());
        exported = core::lock::export_from_history(inventory, history, locked);
    } else {
        exported = core::lock::export_pinned(
            locked, request.no_builds ? core::lock::Builds::no : core::lock::Builds::yes);
    }
    print_warnings(warnings);
    if (request.json)
        write_result(request.output, to_json(exported).dump(2) + "\n");
    else
        write_result(request.output, core::lock::render_environment_yml(exported));
    return 0;
}

}  // namespace

CommandAction setup_export(CLI::App& command) {
    auto request = std::make_shared<ExportRequest>();
    add_env_options(command, request->env);
    command.add_flag("--from-history", request->from_history,
                     "export the specs the user asked for (conda-meta/history) and the pip "
                     "distributions installed on request (REQUESTED), not every package");
    command.add_flag("--no-builds", request->no_builds, "leave build strings out of conda pins");
    command.add_flag("--json", request->json, "print the environment as JSON");
    command.add_option("-o,--output", request->output, "file to write atomically; - for stdout")
        ->type_name("FILE");
    command.get_option("--no-builds")->excludes("--from-history");
    return [request] { return run_export(*request); };
}

}  // namespace gpuenv::cli
