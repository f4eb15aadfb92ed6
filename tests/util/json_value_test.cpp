#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuenv/util/json_value.hpp>

namespace gpuenv::util::json {
namespace {

std::string error_of(std::string_view text) {
    try {
        (void)parse_value(text);
    } catch (const SyntaxError& e) {
        return describe(text, e);
    }
    return "";
}

TEST(JsonValue, GivesWhatNlohmannParses) {
    const std::vector<std::string> documents = {
        R"({"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "env": {"CUDA_VISIBLE_DEVICES": "0"}, "metadata": {"debugger": true}})",
        R"([0, 5, -5, 18446744073709551615, 18446744073709551616, -9223372036854775808, 2.5])",
        R"({"a": 1, "a": 2})",
        R"("\u00e9")",
        "null",
    };
    for (const std::string& text : documents) {
        const nlohmann::json ours = parse_value(text);
        const nlohmann::json theirs = nlohmann::json::parse(text);
        EXPECT_EQ(ours, theirs) << text;
        EXPECT_EQ(ours.dump(), theirs.dump()) << text;  // the same number types too
    }
    EXPECT_TRUE(parse_value("5").is_number_unsigned());
    EXPECT_TRUE(parse_value("-5").is_number_integer());
    EXPECT_FALSE(parse_value("-5").is_number_unsigned());
}

TEST(JsonValue, ErrorsAreLocatedAsTheCursorLocatesThem) {
    EXPECT_EQ(error_of("{\n  \"url\": \"x\",\n  oops\n}"),
              "line 3, column 3: expected a key in double quotes, found 'o'");
    EXPECT_EQ(error_of("[1, 2"),
              "line 1, column 6: expected ',' or ']' after an array element, found the end of "
              "the text");
    EXPECT_EQ(error_of("{} {}"), "line 1, column 4: extra data after the JSON value");
}

TEST(JsonValue, ANumberPastDoublesRangeIsAnErrorAtItsPlace) {
    // nlohmann refuses it with no position; here it is located.
    EXPECT_EQ(error_of("{\"size\":\n  1e999}"), "line 2, column 3: number out of range '1e999'");
    EXPECT_EQ(parse_value("1e-999"), nlohmann::json(0.0));
}

TEST(JsonValue, NestingIsBounded) {
    const std::string ok = std::string(k_max_depth, '[') + std::string(k_max_depth, ']');
    EXPECT_EQ(error_of(ok), "");
    const std::string deep = "[" + ok + "]";
    EXPECT_EQ(error_of(deep), "line 1, column " + std::to_string(k_max_depth + 1) +
                                  ": nesting deeper than " + std::to_string(k_max_depth) +
                                  " levels");
}

}  // namespace
}  // namespace gpuenv::util::json
