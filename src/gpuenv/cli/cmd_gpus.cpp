// gpuenv gpus: every GPU and who uses it, like nvidia-smi's process table but about people:
// user, elapsed time, environment and command of each process, from /proc.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <gpuenv/cli/command.hpp>
#include <gpuenv/cli/gpu_view.hpp>
#include <gpuenv/cli/lease_view.hpp>
#include <gpuenv/cli/nvml_loader.hpp>
#include <gpuenv/cli/output.hpp>
#include <gpuenv/core/gpu/gpu_report.hpp>
#include <gpuenv/core/gpu/nvml.hpp>
#include <gpuenv/core/gpu/process_info.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv::cli {
namespace {

namespace gpu = core::gpu;
using Json = nlohmann::ordered_json;

struct GpusRequest {
    bool json = false;
};

void print_report_json(const gpu::GpuReport& report) {
    Json doc;
    doc["schema"] = "gpuenv.gpus/1";
    doc.update(gpu_report_json(report));
    print_json(doc);
}

void print_report_text(const gpu::GpuReport& report) {
    print_text(gpu_report_text(report));
    for (const auto& error : report.errors)
        fmt::print(stderr, "gpuenv: warning: {}\n", error);
}

int run_gpus(const GpusRequest& request) {
    const gpu::Nvml nvml = load_nvml();
    const gpu::NvmlSnapshot snapshot = nvml.snapshot();
    if (snapshot.gpus.empty())
        throw Error(ExitCode::no_gpu, "no NVIDIA GPU found");
    gpuenv::Diagnostics lease_warnings;
    const auto leases = report_leases(read_current_leases(lease_warnings));
    print_warnings(lease_warnings);
    const gpu::GpuReport report = gpu::build_gpu_report(snapshot, gpu::read_process_info, leases);
    if (request.json)
        print_report_json(report);
    else
        print_report_text(report);
    return 0;
}

}  // namespace

CommandAction setup_gpus(CLI::App& command) {
    auto request = std::make_shared<GpusRequest>();
    command.add_flag("--json", request->json, "print the schema-versioned JSON document");
    return [request] { return run_gpus(*request); };
}

}  // namespace gpuenv::cli
