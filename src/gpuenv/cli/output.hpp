#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::cli {

/// Prints each warning to stderr as "gpuenv: warning: <path>:<line>:<column>: <message>".
void print_warnings(const gpuenv::Diagnostics& warnings);

/// Prints a JSON document to stdout, indented by two spaces, with a final newline.
void print_json(const nlohmann::ordered_json& document);

/// Writes text to stdout as is.
void print_text(std::string_view text);

}  // namespace gpuenv::cli

namespace gpuenv::cli {

/// Writes a command's result to `target`: stdout for "-", else the file, atomically (a
/// temporary file renamed over it), so a failure leaves any old file as it was.
void write_result(const std::string& target, std::string_view text);

}  // namespace gpuenv::cli
