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
