// gpuenv envs: the conda environments on this machine with their package counts, like
// `conda env list`.
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/env/env_locator.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/env/inventory_json.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/table.hpp>

namespace gpuenv::cli {
namespace {

struct EnvsRequest {
    bool json = false;
};

struct EnvSummary {
    core::env::KnownEnv env;
    std::optional<core::env::Inventory> inventory;
    std::string error;  ///< why the environment could not be read
};

int run_envs(const EnvsRequest& request) {
    std::vector<EnvSummary> summaries;
    for (auto& known : core::env::list_known_envs(core::env::LocatorContext::from_environment())) {
        EnvSummary s{std::move(known), std::nullopt, {}};
        try {
            s.inventory = core::env::read_inventory(core::env::open_prefix(s.env.prefix));
        } catch (const Error& e) {
            s.error = e.what();
        }
        summaries.push_back(std::move(s));
    }

    if (request.json) {
        nlohmann::ordered_json doc;
        doc["schema"] = "gpuenv.envs/1";
        auto& envs = doc["envs"] = nlohmann::ordered_json::array();
        for (const auto& s : summaries) {
            nlohmann::ordered_json j;
            j["name"] = s.env.name;
            j["prefix"] = s.env.prefix.string();
            j["active"] = s.env.active;
            if (s.inventory) {
                j["kind"] = core::env::to_string(s.inventory->prefix.kind);
                j["python_version"] = s.inventory->prefix.python_version;
                j["counts"] = {{"total", s.inventory->packages.size()},
                               {"conda", s.inventory->conda_count()},
                               {"pypi", s.inventory->pypi_count()}};
                j["warnings"] = core::env::to_json(s.inventory->warnings);
            } else {
                j["error"] = s.error;
            }
            envs.push_back(std::move(j));
        }
        print_json(doc);
        return 0;
    }

    util::Table table({"# Name", "Active", "Packages", "Conda", "PyPI", "Prefix"});
    for (const auto& s : summaries) {
        if (s.inventory) {
            print_warnings(s.inventory->warnings);
            table.add_row({s.env.name.empty() ? "-" : s.env.name, s.env.active ? "*" : "",
                           std::to_string(s.inventory->packages.size()),
                           std::to_string(s.inventory->conda_count()),
                           std::to_string(s.inventory->pypi_count()), s.env.prefix.string()});
        } else {
            print_warnings({{s.env.prefix.string(), 0, 0, s.error}});
            table.add_row({s.env.name.empty() ? "-" : s.env.name, s.env.active ? "*" : "", "?", "?",
                           "?", s.env.prefix.string()});
        }
    }
    print_text("# conda environments:\n#\n" + table.render());
    return 0;
}

}  // namespace

CommandAction setup_envs(CLI::App& command) {
    auto request = std::make_shared<EnvsRequest>();
    command.add_flag("--json", request->json, "print the schema-versioned JSON document");
    return [request] { return run_envs(*request); };
}

}  // namespace gpuenv::cli
