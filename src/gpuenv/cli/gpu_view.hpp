#pragma once

// The GPU table of `gpuenv gpus`, shared with `gpuenv check`: each GPU with its processes,
// as text and as the "gpus" part of the JSON documents.

#include <string>

#include <nlohmann/json.hpp>

#include <gpuenv/core/gpu/gpu_report.hpp>

namespace gpuenv::cli {

/// Renders the driver line, each GPU's line and its process table.
[[nodiscard]] std::string gpu_report_text(const core::gpu::GpuReport& report);

/// Returns the report as the gpuenv.gpus/1 document (without its "schema" key).
[[nodiscard]] nlohmann::ordered_json gpu_report_json(const core::gpu::GpuReport& report);

}  // namespace gpuenv::cli
