// gpuenv diff A B: what differs between two environments, locks or saved inventories.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/lock_json.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/env/env_locator.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/core/verify/diff.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/table.hpp>

namespace gpuenv::cli {
namespace {

namespace fs = std::filesystem;
using core::verify::DiffResult;
using core::verify::FindingKind;

struct DiffRequest {
    std::vector<std::string> sides;
    bool json = false;
};

// Reads one side: a prefix directory, a lock file of any format, or a named environment.
core::lock::LockedEnv load_side(const std::string& arg, gpuenv::Diagnostics& warnings) {
    fs::path path(arg);
    if (!util::is_directory(path) && !util::exists(path) && path.filename() == arg) {
        // Not a file here: a conda environment name, as -n takes it.
        const auto context = core::env::LocatorContext::from_environment();
        path = core::env::locate_env({arg, {}}, context).prefix;
    }
    if (util::is_directory(path)) {
        const auto prefix = core::env::open_prefix(fs::absolute(path));
        const auto inventory = core::env::read_inventory(prefix);
        warnings.insert(warnings.end(), inventory.warnings.begin(), inventory.warnings.end());
        auto env = core::lock::lock_from_inventory(inventory);
        env.source = prefix.path.string();
        warnings.insert(warnings.end(), env.warnings.begin(), env.warnings.end());
        return env;
    }
    auto env = core::lock::read_lock(path);
    warnings.insert(warnings.end(), env.warnings.begin(), env.warnings.end());
    return env;
}

std::string change_names(const std::vector<FindingKind>& changes) {
    std::string out;
    for (const auto kind : changes)
        out += (out.empty() ? "" : ", ") + std::string(core::verify::to_string(kind));
    return out;
}

std::string render_table(const DiffResult& d, const core::lock::LockedEnv& a,
                         const core::lock::LockedEnv& b) {
    std::string out = "--- A: " + a.source + "\n+++ B: " + b.source + "\n";
    if (d.platform)
        out += "platform: A is " + d.platform->first + ", B is " + d.platform->second + "\n";
    if (d.empty()) {
        out += "no differences\n";
        return out;
    }
    util::Table table({"Change", "Package", "A", "B", "What"});
    auto name_of = [](const core::lock::LockedPackage& p) {
        return p.manager == core::lock::Manager::pypi ? p.name + " (pypi)" : p.name;
    };
    for (const auto& c : d.removed)
        table.add_row({"removed", name_of(*c.a), describe(*c.a), "-", ""});
    for (const auto& c : d.added)
        table.add_row({"added", name_of(*c.b), "-", describe(*c.b), ""});
    for (const auto& c : d.changed)
        table.add_row(
            {"changed", name_of(*c.a), describe(*c.a), describe(*c.b), change_names(c.changes)});
    for (const auto& v : d.variables)
        table.add_row({"variable", v.name, v.a.value_or("-"), v.b.value_or("-"), ""});
    out += table.render();
    out += std::to_string(d.added.size()) + " added, " + std::to_string(d.removed.size()) +
           " removed, " + std::to_string(d.changed.size()) + " changed, " +
           std::to_string(d.variables.size()) + " variables\n";
    return out;
}

nlohmann::ordered_json render_json(const DiffResult& d, const core::lock::LockedEnv& a,
                                   const core::lock::LockedEnv& b) {
    nlohmann::ordered_json doc;
    doc["schema"] = "gpuenv.diff/1";
    doc["a"] = {{"source", a.source}, {"platform", a.platform}, {"fingerprint", a.fingerprint}};
    doc["b"] = {{"source", b.source}, {"platform", b.platform}, {"fingerprint", b.fingerprint}};
    doc["same"] = d.empty();
    doc["platform"] =
        d.platform ? nlohmann::ordered_json{{"a", d.platform->first}, {"b", d.platform->second}}
                   : nlohmann::ordered_json(nullptr);
    auto list = [](const std::vector<core::verify::PackageChange>& changes) {
        auto arr = nlohmann::ordered_json::array();
        for (const auto& c : changes) {
            nlohmann::ordered_json j;
            j["key"] = c.key;
            if (!c.changes.empty()) {
                auto kinds = nlohmann::ordered_json::array();
                for (const auto k : c.changes)
                    kinds.push_back(core::verify::to_string(k));
                j["changes"] = kinds;
            }
            j["a"] = c.a ? to_json(*c.a) : nlohmann::ordered_json(nullptr);
            j["b"] = c.b ? to_json(*c.b) : nlohmann::ordered_json(nullptr);
            arr.push_back(std::move(j));
        }
        return arr;
    };
    doc["added"] = list(d.added);
    doc["removed"] = list(d.removed);
    doc["changed"] = list(d.changed);
    auto vars = nlohmann::ordered_json::array();
    for (const auto& v : d.variables) {
        vars.push_back(
            {{"name", v.name},
             {"a", v.a ? nlohmann::ordered_json(*v.a) : nlohmann::ordered_json(nullptr)},
             {"b", v.b ? nlohmann::ordered_json(*v.b) : nlohmann::ordered_json(nullptr)}});
    }
    doc["variables"] = std::move(vars);
    doc["notes"] = d.notes;
    return doc;
}

int run_diff(const DiffRequest& request) {
    gpuenv::Diagnostics warnings;
    const auto a = load_side(request.sides.at(0), warnings);
    const auto b = load_side(request.sides.at(1), warnings);
    const auto d = core::verify::diff(a, b);
    print_warnings(warnings);
    if (request.json) {
        print_json(render_json(d, a, b));
    } else {
        for (const auto& note : d.notes)
            fmt::print(stderr, "gpuenv: note: {}\n", note);
        print_text(render_table(d, a, b));
    }
    return d.empty() ? 0 : static_cast<int>(ExitCode::findings);
}

}  // namespace

CommandAction setup_diff(CLI::App& command) {
    auto request = std::make_shared<DiffRequest>();
    command
        .add_option("sides", request->sides,
                    "A and B: each a prefix directory, an environment name, a lock "
                    "(gpuenv, explicit, conda-lock, environment.yml, requirements) or a saved "
                    "`gpuenv list --json`")
        ->expected(2)
        ->required();
    command.add_flag("--json", request->json, "print the gpuenv.diff/1 document");
    return [request] { return run_diff(*request); };
}

}  // namespace gpuenv::cli
