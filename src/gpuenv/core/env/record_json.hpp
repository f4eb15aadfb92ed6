#pragma once

// Helpers shared by the two conda-meta record readers (conda_record.cpp for the inventory,
// record_paths.cpp for verify): how their errors begin and how syntax errors are told.

#include <filesystem>
#include <string>
#include <string_view>

#include <gpuenv/util/json_cursor.hpp>

namespace gpuenv::core::env::record_json {

/// Returns "cannot read conda record <path>: ", the start of every record error.
[[nodiscard]] std::string error_prefix(const std::filesystem::path& path);

/// Throws gpuenv::Error(not_found) for a record that is not valid JSON, naming the line and
/// column where the text goes wrong.
[[noreturn]] void throw_syntax_error(const std::filesystem::path& path, std::string_view text,
                                     const util::json::SyntaxError& error);

/// Throws gpuenv::Error(not_found) for a record whose top level is not an object, once the
/// cursor has checked the rest of the text (a syntax error anywhere comes first).
[[noreturn]] void throw_not_an_object(const std::filesystem::path& path, util::json::Cursor& cursor,
                                      util::json::Type type);

}  // namespace gpuenv::core::env::record_json
