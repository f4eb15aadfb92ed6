#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <gpuenv/util/error.hpp>

namespace gpuenv::util {

/// Formats a parse failure that points at the offending character:
///   invalid match spec 'numpy >=1.21,<<2': column 15: unexpected '<'
///     numpy >=1.21,<<2
///                   ^
/// `what` names the kind of input ("match spec", "PEP 440 version"); `offset` is a byte
/// offset into `text` (clamped to its end). Long texts are shown around the offset only.
[[nodiscard]] std::string format_parse_error(std::string_view what, std::string_view text,
                                             std::size_t offset, std::string_view reason);

/// Throws gpuenv::Error(code, format_parse_error(...)).
[[noreturn]] void throw_parse_error(std::string_view what, std::string_view text,
                                    std::size_t offset, std::string_view reason,
                                    ExitCode code = ExitCode::usage);

}  // namespace gpuenv::util
