// gpuenv unbind: take back exactly what `gpuenv bind` wrote into conda-meta/state.
#include <string>

#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/env_options.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/env/state_file.hpp>

namespace gpuenv::cli {
namespace {

using Json = nlohmann::ordered_json;

struct UnbindRequest {
    core::env::EnvSelection env;
    bool json = false;
};

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names)
        out += (out.empty() ? "" : ", ") + n;
    return out;
}

int run_unbind(const UnbindRequest& request) {
    const core::env::Prefix prefix = open_selected_env(request.env);
    const core::env::UnbindResult result = core::env::unbind_env_vars(prefix.path);
    gpuenv::Diagnostics warnings;
    for (const auto& name : result.kept) {
        warnings.push_back({"", 0, 0,
                            name + " was changed after `gpuenv bind` (by conda env config vars or "
                                   "by hand); left as it is"});
    }
    print_warnings(warnings);
    if (request.json) {
        Json doc;
        doc["schema"] = "gpuenv.unbind/1";
        doc["prefix"] = prefix.path.string();
        doc["was_bound"] = result.was_bound;
        doc["removed"] = result.removed;
        doc["restored"] = result.restored;
        doc["kept"] = result.kept;
        doc["state_file_removed"] = result.state_file_removed;
        print_json(doc);
        return 0;
    }
    if (!result.was_bound) {
        print_text("no GPU binding in " + prefix.path.string() + "; nothing changed\n");
        return 0;
    }
    std::string text = "unbound " + prefix.path.string() + "\n";
    if (!result.removed.empty())
        text += "  removed " + joined(result.removed) + "\n";
    if (!result.restored.empty())
        text += "  restored the previous " + joined(result.restored) + "\n";
    if (result.state_file_removed)
        text += "  removed conda-meta/state, which bind had created\n";
    print_text(text);
    return 0;
}

}  // namespace

CommandAction setup_unbind(CLI::App& command) {
    auto request = std::make_shared<UnbindRequest>();
    add_env_options(command, request->env);
    command.add_flag("--json", request->json, "print the schema-versioned JSON document");
    return [request] { return run_unbind(*request); };
}

}  // namespace gpuenv::cli
