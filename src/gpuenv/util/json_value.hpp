#pragma once

// Small JSON documents (notebooks, kernelspecs, direct_url.json, conda-meta/state, the
// doctor's probe report, a node's `gpuenv gpus --json`) read into nlohmann::json through
// util::json::Cursor, so that their errors have the wording and the place of every other
// JSON error gpuenv reports.

#include <string_view>

#include <nlohmann/json.hpp>

#include <gpuenv/util/json_cursor.hpp>

namespace gpuenv::util::json {

/// How deep parse_value nests arrays and objects before it gives up (no document it reads
/// comes near; the limit keeps a hostile one from exhausting the stack).
inline constexpr int k_max_depth = 512;

/// Parses one JSON document as nlohmann::json::parse would (non-negative integers unsigned,
/// negative ones signed, others double; the last of duplicate keys wins). Throws SyntaxError
/// for text that is not JSON, for a number past double's range, and for nesting deeper than
/// k_max_depth.
[[nodiscard]] nlohmann::json parse_value(std::string_view text);

/// The same into nlohmann::ordered_json, which keeps the members in the text's order (for a
/// file gpuenv writes back, such as conda-meta/state).
[[nodiscard]] nlohmann::ordered_json parse_ordered_value(std::string_view text);

}  // namespace gpuenv::util::json
