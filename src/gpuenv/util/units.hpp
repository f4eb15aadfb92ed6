#pragma once

// Sizes and durations as users type them on the command line and in config files.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gpuenv::util {

/// Parses a size: a whole number of bytes, or one with a unit (B; kB MB GB TB, powers of
/// 1000; KiB MiB GiB TiB, powers of 1024; case-insensitive, a space allowed). "1G" is refused
/// as ambiguous (10^9 to some tools, 2^30 to others). Returns nothing and sets `error` (a
/// sentence naming the text) otherwise.
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error);

/// Parses a duration: "500ms", "2s", "30m", "1h", "1d", decimals allowed ("1.5s"), a bare
/// number is seconds ("90"); nothing for anything else or more than ten years.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace gpuenv::util
