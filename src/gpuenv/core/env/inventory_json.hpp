#pragma once

#include <nlohmann/json.hpp>

#include <gpuenv/core/env/inventory.hpp>

namespace gpuenv::core::env {

/// Names the schema of `gpuenv list --json` (documented in docs/json-schema.md).
inline constexpr const char* k_list_schema = "gpuenv.list/1";

/// Converts an inventory to the `gpuenv list --json` document; paths inside the prefix are
/// written relative to it.
[[nodiscard]] nlohmann::ordered_json to_json(const Inventory& inventory);

/// Converts one package to its `packages[]` entry.
[[nodiscard]] nlohmann::ordered_json to_json(const Package& package, const Prefix& prefix);

/// Converts warnings to the `warnings[]` array.
[[nodiscard]] nlohmann::ordered_json to_json(const gpuenv::Diagnostics& warnings);

}  // namespace gpuenv::core::env
