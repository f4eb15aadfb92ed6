#pragma once

// Helpers shared by the two conda-meta record readers (conda_record.cpp for the inventory,
// record_paths.cpp for verify): JSON checks simdjson's On-Demand API leaves to its caller,
// and error messages with a line and column.

#include <filesystem>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace gpuenv::core::env::record_json {

/// Returns "cannot read conda record <path>: ", the start of every record error.
[[nodiscard]] std::string error_prefix(const std::filesystem::path& path);

/// Returns how messages name a JSON type ("an array", "a string", "null", ...).
[[nodiscard]] std::string_view type_name(simdjson::ondemand::json_type type);

/// Returns whether text is a number by JSON's grammar (simdjson cannot convert, and so
/// cannot check, one past double's range).
[[nodiscard]] bool is_json_number(std::string_view text);

/// Checks that a value typed null really is the literal null.
[[nodiscard]] simdjson::error_code check_null(simdjson::ondemand::value value);

/// Throws gpuenv::Error(not_found) for a record that is not valid JSON: simdjson does not say
/// where the text goes wrong, so this parses it again with nlohmann::json, which does (the
/// fast path never pays for it), and names the line and column; else simdjson's reason.
[[noreturn]] void throw_syntax_error(const std::filesystem::path& path, std::string_view text,
                                     simdjson::error_code code);

}  // namespace gpuenv::core::env::record_json
