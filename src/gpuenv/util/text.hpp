#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gpuenv::util {

/// Returns the view without leading and trailing ASCII whitespace.
[[nodiscard]] std::string_view trim(std::string_view s);

/// Returns an ASCII-lowercased copy.
[[nodiscard]] std::string to_lower(std::string_view s);

/// Returns an ASCII-uppercased copy (conda's str.upper() on variable names).
[[nodiscard]] std::string to_upper(std::string_view s);

/// Splits on a separator character, keeping empty fields.
[[nodiscard]] std::vector<std::string_view> split(std::string_view s, char sep);

/// Joins strings with a separator between them ("a, b, c").
[[nodiscard]] std::string join(const std::vector<std::string>& items, std::string_view separator);

/// Returns the edit distance between a and b: insertions, deletions, substitutions and swaps
/// of adjacent characters, each counting one (restricted Damerau-Levenshtein).
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

/// Returns whether s equals t ignoring ASCII case.
[[nodiscard]] bool iequals(std::string_view s, std::string_view t);

/// Converts a byte offset in text to a 1-based line and column.
struct LineColumn {
    int line = 1;
    int column = 1;
};
[[nodiscard]] LineColumn line_column(std::string_view text, std::size_t offset);

/// Appends a Unicode code point to `out` as UTF-8 (the caller checks it is a valid scalar).
void append_utf8(std::string& out, std::uint32_t code_point);

/// Returns the value of a hex digit (0-9, a-f, A-F), or -1 for any other character.
[[nodiscard]] int hex_value(char c);

}  // namespace gpuenv::util
