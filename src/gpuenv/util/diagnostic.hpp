#pragma once

#include <string>
#include <vector>

namespace gpuenv {

/// Describes a problem with one input file that did not stop the operation (a warning).
struct Diagnostic {
    std::string path;  ///< the file concerned
    int line = 0;      ///< 1-based line, 0 when it does not apply
    int column = 0;    ///< 1-based column, 0 when it does not apply
    std::string message;

    /// Formats as "path:line:column: message", leaving out parts that do not apply
    /// (just the message when there is no path).
    [[nodiscard]] std::string to_string() const;
};

/// Collects diagnostics during an operation; the cli decides how to show them.
using Diagnostics = std::vector<Diagnostic>;

}  // namespace gpuenv
