#include <gpuenv/util/units.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <vector>

#include <gpuenv/util/text.hpp>

namespace gpuenv::util {
namespace {

struct Unit {
    std::string_view suffix;
    double factor;
};

// Reads a non-negative decimal number followed by one of `units` (the empty suffix included).
std::optional<double> parse_with_units(std::string_view text, const std::vector<Unit>& units) {
    text = trim(text);
    double value = 0;
    const auto [end, ec] =
        std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
    if (ec != std::errc() || end == text.data() || !(value >= 0) || std::isinf(value))
        return std::nullopt;
    const std::string suffix =
        to_lower(trim(std::string_view(end, text.data() + text.size() - end)));
    for (const Unit& unit : units) {
        if (suffix == unit.suffix)
            return value * unit.factor;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error) {
    const std::string_view s = trim(text);
    std::size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9')
        ++digits;
    if (!s.empty() && s.front() == '-') {
        error = "must not be negative, got '" + std::string(text) + "'";
        return std::nullopt;
    }
    if (digits == 0 || (digits < s.size() && (s[digits] == '.' || s[digits] == ','))) {
        error = "expected a whole number of bytes or one with a unit such as 256MiB, got '" +
                std::string(text) + "'";
        return std::nullopt;
    }
    const std::string unit = to_lower(trim(s.substr(digits)));
    struct Unit {
        std::string_view name;
        std::uint64_t factor;
    };
    static constexpr Unit k_units[] = {{"", 1},
                                       {"b", 1},
                                       {"kb", 1000},
                                       {"mb", 1000000},
                                       {"gb", 1000000000},
                                       {"tb", 1000000000000},
                                       {"kib", 1ULL << 10},
                                       {"mib", 1ULL << 20},
                                       {"gib", 1ULL << 30},
                                       {"tib", 1ULL << 40}};
    const auto* found = std::find_if(std::begin(k_units), std::end(k_units),
                                     [&](const Unit& u) { return u.name == unit; });
    if (found == std::end(k_units)) {
        // "1G" is 10^9 to some tools and 2^30 to others; refuse to guess.
        const bool ambiguous = (unit.size() == 1 || (unit.size() == 2 && unit[1] == 'i')) &&
                               std::string_view("kmgt").find(unit[0]) != std::string_view::npos;
        error = ambiguous ? "unit '" + std::string(trim(s.substr(digits))) +
                                "' is ambiguous: write kB, MB, GB (powers of 1000) or KiB, MiB, "
                                "GiB (powers of 1024)"
                          : "unknown unit in '" + std::string(text) +
                                "': use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB";
        return std::nullopt;
    }
    std::uint64_t value = 0;
    const std::uint64_t max = std::numeric_limits<std::uint64_t>::max() / found->factor;
    for (const char c : s.substr(0, digits)) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (max - digit) / 10) {
            error = "size '" + std::string(text) + "' is too large";
            return std::nullopt;
        }
        value = value * 10 + digit;
    }
    return value * found->factor;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    static const std::vector<Unit> units = {{"", 1000.0},       {"ms", 1.0},
                                            {"s", 1000.0},      {"m", 60'000.0},
                                            {"h", 3'600'000.0}, {"d", 86'400'000.0}};
    const auto ms = parse_with_units(text, units);
    // Bounded so that the conversion below cannot overflow: ten years is plenty.
    if (!ms || *ms > 3.2e11)
        return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(*ms)));
}

}  // namespace gpuenv::util
