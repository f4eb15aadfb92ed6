// gpuenv list: every package of an environment, conda records and Python distributions
// together, like `conda list` with the pip side made explicit.
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/env_options.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/env/inventory_json.hpp>
#include <gpuenv/core/env/package_filter.hpp>
#include <gpuenv/core/env/state_file.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/table.hpp>

namespace gpuenv::cli {
namespace {

struct ListRequest {
    core::env::EnvSelection env;
    std::vector<std::string> match;
    bool json = false;
};

// Returns the Note cell: how a distribution was installed and what it shadows.
std::string note_for(const core::env::Package& p) {
    std::string note;
    auto add = [&](const std::string& part) {
        if (!note.empty())
            note += "; ";
        note += part;
    };
    if (p.shadows) {
        add("shadows conda " + p.shadows->name + " " + p.shadows->version + " " + p.shadows->build);
    }
    if (p.shadowed_by) {
        add("shadowed by " + p.shadowed_by->installer + " " + p.shadowed_by->name + " " +
            p.shadowed_by->version);
    }
    if (p.kind == core::env::PackageKind::pypi && p.dist && p.dist->direct_url) {
        const auto& u = *p.dist->direct_url;
        if (u.editable) {
            add("editable " + u.url);
        } else if (u.kind == core::env::DirectUrl::Kind::vcs) {
            add(u.vcs + "+" + u.url + (u.commit_id.empty() ? "" : "@" + u.commit_id));
        } else {
            add("from " + u.url);
        }
    }
    return note;
}

// Reads what `gpuenv bind` set, as a warning rather than a failure when the state file is
// unreadable: the package list is still worth printing.
std::optional<core::env::Binding> read_binding_of(const core::env::Prefix& prefix,
                                                  gpuenv::Diagnostics& warnings) {
    if (prefix.kind != core::env::PrefixKind::conda)
        return std::nullopt;
    try {
        return core::env::read_binding(prefix.path);
    } catch (const Error& e) {
        warnings.push_back({"", 0, 0, e.what()});
        return std::nullopt;
    }
}

std::string binding_line(const std::optional<core::env::Binding>& binding) {
    if (!binding)
        return "";
    std::string line = "# GPU binding (gpuenv bind):";
    for (const auto& var : binding->vars)
        line += " " + var.name + "=" + var.value;
    return line + "\n";
}

std::string render_table(const core::env::Inventory& inventory,
                         const std::optional<core::env::Binding>& binding) {
    bool any_note = false;
    std::vector<std::vector<std::string>> rows;
    rows.reserve(inventory.packages.size());
    for (const auto& p : inventory.packages) {
        const bool conda = p.kind == core::env::PackageKind::conda;
        std::string note = note_for(p);
        any_note = any_note || !note.empty();
        rows.push_back({p.name, p.version, conda ? p.build : "-", conda ? p.channel : p.installer,
                        std::move(note)});
    }
    std::vector<std::string> headers = {"# Name", "Version", "Build", "Channel"};
    if (any_note)
        headers.emplace_back("Note");
    util::Table table(headers);
    for (auto& row : rows) {
        if (!any_note)
            row.pop_back();
        table.add_row(std::move(row));
    }
    const auto& prefix = inventory.prefix;
    std::string out = "# packages in environment at " + prefix.path.string() + " (" +
                      core::env::to_string(prefix.kind) +
                      (prefix.python_version.empty() ? "" : ", python " + prefix.python_version) +
                      "):\n" + binding_line(binding) + "#\n";
    out += table.render();
    return out;
}

int run_list(const ListRequest& request) {
    // Specs first: a typo exits 2 before any file is read.
    const auto filter = core::env::PackageFilter::parse(request.match);
    const auto prefix = open_selected_env(request.env);
    auto inventory = core::env::read_inventory(prefix);
    core::env::apply_filter(inventory, filter);
    const auto binding = read_binding_of(prefix, inventory.warnings);
    print_warnings(inventory.warnings);
    if (request.json) {
        auto doc = core::env::to_json(inventory);
        if (!request.match.empty())
            doc["match"] = request.match;
        nlohmann::ordered_json bound = nullptr;
        if (binding) {
            bound = nlohmann::ordered_json::object();
            for (const auto& var : binding->vars)
                bound[var.name] = var.value;
        }
        doc["gpu_binding"] = std::move(bound);
        print_json(doc);
    } else {
        print_text(render_table(inventory, binding));
    }
    return 0;
}

}  // namespace

CommandAction setup_list(CLI::App& command) {
    auto request = std::make_shared<ListRequest>();
    add_env_options(command, request->env);
    command
        .add_option(
            "--match", request->match,
            "keep packages matching SPEC (repeatable; any may match): a conda MatchSpec such as "
            "'numpy >=1.21,<2' or 'conda-forge::pytorch=2.*', or pip:REQ, a PEP 508 "
            "requirement such as 'pip:requests>=2.31' for Python distributions")
        ->type_name("SPEC")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    command.add_flag("--json", request->json,
                     "print the schema-versioned JSON document (docs/json-schema.md)");
    return [request] { return run_list(*request); };
}

}  // namespace gpuenv::cli
