#include <gtest/gtest.h>

#include <gpuenv/util/diagnostic.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::util {

TEST(Text, TrimRemovesAsciiWhitespaceOnBothEnds) {
    EXPECT_EQ(trim(" \t pip\r\n"), "pip");
    EXPECT_EQ(trim("   "), "");
    EXPECT_EQ(trim("a b"), "a b");
}

TEST(Text, SplitKeepsEmptyFields) {
    const auto parts = split("a::b:", ':');
    ASSERT_EQ(parts.size(), 4U);
    EXPECT_EQ(parts[0], "a");
    EXPECT_EQ(parts[1], "");
    EXPECT_EQ(parts[2], "b");
    EXPECT_EQ(parts[3], "");
}

TEST(Text, IequalsIgnoresAsciiCaseOnly) {
    EXPECT_TRUE(iequals("Conda", "cONDA"));
    EXPECT_FALSE(iequals("conda", "conda "));
}

TEST(Text, LineColumnCountsFromOne) {
    const std::string text = "{\n  \"a\": 1,\n  oops\n}";
    const auto start = line_column(text, 0);
    EXPECT_EQ(start.line, 1);
    EXPECT_EQ(start.column, 1);
    const auto at = line_column(text, text.find("oops"));
    EXPECT_EQ(at.line, 3);
    EXPECT_EQ(at.column, 3);
}

TEST(Diagnostic, FormatsPathLineAndColumnWhenKnown) {
    EXPECT_EQ((Diagnostic{"a.json", 3, 5, "bad"}).to_string(), "a.json:3:5: bad");
    EXPECT_EQ((Diagnostic{"a.json", 3, 0, "bad"}).to_string(), "a.json:3: bad");
    EXPECT_EQ((Diagnostic{"a.json", 0, 0, "bad"}).to_string(), "a.json: bad");
}

}  // namespace gpuenv::util

#include <gpuenv/util/parse_error.hpp>

namespace gpuenv::util {

TEST(ParseError, PointsAtTheOffendingCharacter) {
    EXPECT_EQ(format_parse_error("match spec", "numpy >=1.21,<<2", 14, "unexpected '<'"),
              "invalid match spec 'numpy >=1.21,<<2': column 15: unexpected '<'\n"
              "  numpy >=1.21,<<2\n"
              "                ^");
}

TEST(ParseError, OffsetPastTheEndPointsJustAfterTheText) {
    EXPECT_EQ(format_parse_error("version", "1.", 99, "empty component"),
              "invalid version '1.': column 3: empty component\n  1.\n    ^");
}

TEST(ParseError, LongInputIsShownAroundTheOffsetOnly) {
    const std::string text(1000, 'a');
    const auto message = format_parse_error("version", text, 500, "too long");
    EXPECT_LT(message.size(), 300U);
    EXPECT_NE(message.find("column 501"), std::string::npos);
    const auto caret_line = message.substr(message.rfind('\n') + 1);
    const auto text_line_start = message.find("\n  ") + 1;
    const auto text_line = message.substr(text_line_start, message.rfind('\n') - text_line_start);
    EXPECT_EQ(text_line[caret_line.size() - 1], 'a');
}

TEST(ParseError, ControlCharactersAreMadeVisible) {
    EXPECT_NE(format_parse_error("spec", std::string("a\nb", 3), 1, "bad").find("'a?b'"),
              std::string::npos);
}

TEST(Text, EditDistanceCountsEditsAndAdjacentSwaps) {
    EXPECT_EQ(edit_distance("", ""), 0U);
    EXPECT_EQ(edit_distance("list", "list"), 0U);
    EXPECT_EQ(edit_distance("", "gpus"), 4U);
    EXPECT_EQ(edit_distance("gpus", ""), 4U);
    EXPECT_EQ(edit_distance("gpu", "gpus"), 1U);     // insertion
    EXPECT_EQ(edit_distance("chekc", "check"), 1U);  // adjacent swap
    EXPECT_EQ(edit_distance("lsit", "list"), 1U);
    EXPECT_EQ(edit_distance("doctr", "doctor"), 1U);
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3U);
    EXPECT_EQ(edit_distance("ca", "abc"), 3U);  // restricted: no edit inside a swapped pair
}

}  // namespace gpuenv::util
