// gpuenv fingerprint: one SHA-256 for an environment's package set.
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/env_options.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/lock/fingerprint.hpp>

namespace gpuenv::cli {
namespace {

struct FingerprintRequest {
    core::env::EnvSelection env;
    bool json = false;
    bool canonical = false;
};

int run_fingerprint(const FingerprintRequest& request) {
    const auto prefix = open_selected_env(request.env);
    const auto inventory = core::env::read_inventory(prefix);
    const auto locked = core::lock::lock_from_inventory(inventory, core::lock::HashRecords::no);
    print_warnings(inventory.warnings);
    if (request.canonical) {
        print_text(core::lock::fingerprint_text(locked.packages));
    } else if (request.json) {
        nlohmann::ordered_json doc;
        doc["schema"] = "gpuenv.fingerprint/1";
        doc["prefix"] = prefix.path.string();
        doc["fingerprint"] = locked.fingerprint;
        doc["counts"] = {{"total", inventory.packages.size()},
                         {"conda", inventory.conda_count()},
                         {"pypi", inventory.pypi_count()}};
        print_json(doc);
    } else {
        print_text(locked.fingerprint + "\n");
    }
    return 0;
}

}  // namespace

CommandAction setup_fingerprint(CLI::App& command) {
    auto request = std::make_shared<FingerprintRequest>();
    add_env_options(command, request->env);
    command.add_flag("--json", request->json, "print the fingerprint with the package counts");
    command.add_flag("--canonical", request->canonical,
                     "print the canonical package lines that are hashed instead of the hash");
    return [request] { return run_fingerprint(*request); };
}

}  // namespace gpuenv::cli
