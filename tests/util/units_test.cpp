// Sizes and durations as users type them.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <gpuenv/util/units.hpp>

namespace gpuenv::util {
namespace {

using std::chrono::milliseconds;

std::optional<std::uint64_t> size_of(std::string_view text) {
    std::string error;
    return parse_size(text, error);
}

TEST(Units, Durations) {
    EXPECT_EQ(parse_duration("2s"), milliseconds(2000));
    EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
    EXPECT_EQ(parse_duration("1h"), milliseconds(3'600'000));
    EXPECT_EQ(parse_duration("30m"), milliseconds(1'800'000));
    EXPECT_EQ(parse_duration("1d"), milliseconds(86'400'000));
    EXPECT_EQ(parse_duration("90"), milliseconds(90'000));
    EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
    EXPECT_EQ(parse_duration("0s"), milliseconds(0));
    for (const char* bad : {"", "s", "-1s", "2x", "1e3s", "inf", "nan", "1h30m", "20y"})
        EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
    EXPECT_FALSE(parse_duration("999999999d").has_value());  // beyond ten years
}

TEST(Units, SizesAreExactAndNeverGuessTheBase) {
    EXPECT_EQ(size_of("1GiB"), 1ULL << 30);
    EXPECT_EQ(size_of("512 MiB"), 512ULL << 20);
    EXPECT_EQ(size_of("1GB"), 1'000'000'000ULL);
    EXPECT_EQ(size_of("4096"), 4096ULL);
    EXPECT_EQ(size_of("0"), 0ULL);
    std::string error;
    EXPECT_FALSE(parse_size("1G", error).has_value());
    EXPECT_NE(error.find("ambiguous"), std::string::npos) << error;
    for (const char* bad :
         {"", "GiB", "-1GiB", "1X", "1 GiB extra", "1.5GiB", "99999999999999999999"})
        EXPECT_FALSE(size_of(bad).has_value()) << bad;
}

}  // namespace
}  // namespace gpuenv::util
