#pragma once

// Errors and warnings at a place in a YAML file, from yaml-cpp's marks (0-based), shared by
// the readers of environment.yml and of the GPU policy file.

#include <filesystem>
#include <string>

#include <yaml-cpp/yaml.h>

#include <gpuenv/util/diagnostic.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv::core {

/// Throws gpuenv::Error (not_found) reading "path:line:column: message".
[[noreturn]] inline void fail_at(const std::filesystem::path& path, const YAML::Mark& mark,
                                 const std::string& message) {
    std::string where = path.string();
    if (!mark.is_null())
        where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    throw Error(ExitCode::not_found, where + ": " + message);
}

/// Returns a warning at the mark's line and column (none when the mark is null).
[[nodiscard]] inline Diagnostic warning_at(const std::filesystem::path& path,
                                           const YAML::Mark& mark, std::string message) {
    return {path.string(), mark.is_null() ? 0 : mark.line + 1, mark.is_null() ? 0 : mark.column + 1,
            std::move(message)};
}

}  // namespace gpuenv::core
