#pragma once

// Internal to doctor: the facts about the environment's GPU binding that rule 10
// (binding_rules.cpp, which defines these) and rule 12 (kernelspec_rules.cpp) both read: the
// activation variables, where each was set, and how findings quote them.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <gpuenv/core/doctor/doctor.hpp>
#include <gpuenv/core/env/env_vars.hpp>

namespace gpuenv::core::doctor::binding_facts {

/// Names the variable that binds GPUs.
inline constexpr std::string_view k_visible = "CUDA_VISIBLE_DEVICES";
/// Names the variable that picks CUDA's device order.
inline constexpr std::string_view k_order = "CUDA_DEVICE_ORDER";
/// Names the order in which CUDA numbers GPUs as nvidia-smi does.
inline constexpr std::string_view k_pci_bus_id = "PCI_BUS_ID";

/// Maps variable names to values, as an environment or activation sets them.
using Vars = std::map<std::string, std::string>;

/// Returns a variable's value, or nothing when it is not set.
[[nodiscard]] std::optional<std::string> lookup(const Vars& vars, std::string_view name);

/// Returns the environment's prefix, or an empty path when no inventory was read.
[[nodiscard]] std::filesystem::path prefix_of(const DoctorInput& input);

/// Returns where an activation variable was read: conda-meta/state or etc/conda/env_vars.d.
[[nodiscard]] std::string source_of(const env::EnvVars& env_vars, std::string_view name);

/// Returns whether a CUDA_VISIBLE_DEVICES entry starts as an integer (an index, not a UUID).
[[nodiscard]] bool starts_as_integer(std::string_view token);

/// Says where activation sets CUDA_VISIBLE_DEVICES and to what, as evidence quotes it.
[[nodiscard]] std::string binding_line(std::string_view source, std::string_view value);

}  // namespace gpuenv::core::doctor::binding_facts
