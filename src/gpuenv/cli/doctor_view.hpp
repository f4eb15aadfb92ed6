#pragma once

// How doctor's facts and findings are shown, shared by `gpuenv doctor` and `gpuenv check`.

#include <string>

#include <nlohmann/json.hpp>

#include <gpuenv/core/doctor/doctor.hpp>

namespace gpuenv::cli {

/// Returns one line on the machine: GPUs, driver, CPUs, /dev/shm ("no NVIDIA GPU: ..." when
/// NVML could not be used).
[[nodiscard]] std::string machine_line(const core::doctor::MachineFacts& machine);

/// Returns one line on the torch build ("not installed" when there is none).
[[nodiscard]] std::string torch_line(const core::doctor::DoctorInput& input);

/// Renders each finding: severity and rule, title, evidence lines, fix; `indent` starts every
/// line.
[[nodiscard]] std::string findings_text(const core::doctor::DoctorFindings& findings,
                                        const std::string& indent = "");

/// Returns "1 error, 2 warnings, 1 info" ("no findings" when empty).
[[nodiscard]] std::string findings_summary(const core::doctor::DoctorFindings& findings);

/// Returns the doctor part of the JSON documents: "machine", "torch", "probe", "findings",
/// "summary" and "healthy".
[[nodiscard]] nlohmann::ordered_json doctor_json(const core::doctor::DoctorInput& input,
                                                 const core::doctor::DoctorReport& report);

}  // namespace gpuenv::cli
