#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuenv/util/json_cursor.hpp>

namespace gpuenv::util::json {
namespace {

using ::testing::HasSubstr;

// Builds nlohmann's value of the cursor's next value: the oracle compares it with what
// nlohmann parses from the same text.
nlohmann::json build(Cursor& c) {
    switch (c.peek()) {
        case Type::object: {
            nlohmann::json out = nlohmann::json::object();
            c.enter_object();
            for (std::string_view key; c.next_field(key);) {
                const std::string name(key);
                out[name] = build(c);
            }
            return out;
        }
        case Type::array: {
            nlohmann::json out = nlohmann::json::array();
            c.enter_array();
            while (c.next_element())
                out.push_back(build(c));
            return out;
        }
        case Type::string:
            return std::string(c.read_string());
        case Type::number: {
            const std::string_view literal = c.read_number();
            if (const auto integer = to_int64(literal))
                return *integer;
            return *to_double(literal);
        }
        case Type::boolean:
            return c.read_bool();
        case Type::null:
            c.read_null();
            return nullptr;
    }
    return {};
}

nlohmann::json parse(std::string_view text) {
    Cursor c(text);
    nlohmann::json out = build(c);
    c.finish();
    return out;
}

// Returns "line L, column C: reason", or "" when the text is valid.
std::string error_of(std::string_view text) {
    try {
        Cursor c(text);
        c.skip();
        c.finish();
    } catch (const SyntaxError& e) {
        return describe(text, e);
    }
    return "";
}

bool accepted(std::string_view text) {
    return error_of(text).empty();
}

TEST(JsonCursor, ReadsWhatNlohmannReads) {
    const std::vector<std::string> documents = {
        R"({"name": "numpy", "version": "1.26.4", "build_number": 0, "depends": ["python >=3.9",
           "libblas >=3.9.0"], "noarch": null, "ok": true, "no": false, "size": 7654321})",
        R"([1, -2, 3.5, -0.25e-3, 1E+2, 0, -0, 9223372036854775807, -9223372036854775808])",
        R"({"a": {"b": {"c": [[], {}, [{}], {"d": []}]}}})",
        R"(["\"\\\/\b\f\n\r\t", "\u00e9\u4e2d\ud83d\ude00", "caf\u00E9", "plain é 中 😀"])",
        "\t\r\n {\"x\" :\n[ 1 ,2 ] } \n",
        R"("just a string")",
        "42",
        "null",
    };
    for (const std::string& text : documents)
        EXPECT_EQ(parse(text), nlohmann::json::parse(text)) << text;
}

TEST(JsonCursor, UnreadValuesAreSkipped) {
    Cursor c(R"({"skip": {"deep": [1, {"x": "y"}]}, "files": ["a", "b"], "name": "x"})");
    c.enter_object();
    std::vector<std::string> keys;
    std::string name;
    for (std::string_view key; c.next_field(key);) {
        keys.emplace_back(key);
        if (key == "name")
            name = c.read_string();
    }
    c.finish();
    EXPECT_THAT(keys, ::testing::ElementsAre("skip", "files", "name"));
    EXPECT_EQ(name, "x");
}

TEST(JsonCursor, EscapedStringsOutliveLaterReads) {
    Cursor c(R"(["a\nb", "plain", "\u0041\u0042"])");
    std::vector<std::string_view> views;
    c.enter_array();
    while (c.next_element())
        views.push_back(c.read_string());
    ASSERT_EQ(views.size(), 3U);
    EXPECT_EQ(views[0], "a\nb");
    EXPECT_EQ(views[1], "plain");
    EXPECT_EQ(views[2], "AB");
}

TEST(JsonCursor, OffsetIsTheStartOfTheNextValue) {
    Cursor c("{\"a\":   [1]}");
    c.enter_object();
    std::string_view key;
    ASSERT_TRUE(c.next_field(key));
    EXPECT_EQ(c.peek(), Type::array);
    EXPECT_EQ(c.offset(), 8U);
}

TEST(JsonCursor, AByteOrderMarkIsSkipped) {
    EXPECT_EQ(parse("\xEF\xBB\xBF{\"a\": 1}"), nlohmann::json({{"a", 1}}));
}

TEST(JsonCursor, ErrorsPointAtTheCharacterThatBreaksTheText) {
    EXPECT_EQ(error_of(""), "line 1, column 1: expected a value, found the end of the text");
    EXPECT_EQ(error_of("  \n "), "line 2, column 2: expected a value, found the end of the text");
    EXPECT_EQ(error_of("[1, 2"),
              "line 1, column 6: expected ',' or ']' after an array element, found the end of "
              "the text");
    EXPECT_EQ(error_of("{\n  \"a\": \"x\"\n  \"b\": 1}"),
              "line 3, column 3: expected ',' or '}' after an object member, found '\"'");
    EXPECT_EQ(error_of("[\"a\",\n  ]"), "line 2, column 3: expected a value, found ']'");
    EXPECT_EQ(error_of("{\"a\": 1,}"),
              "line 1, column 9: expected a key in double quotes, found '}'");
    EXPECT_EQ(error_of("{a: 1}"), "line 1, column 2: expected a key in double quotes, found 'a'");
    EXPECT_EQ(error_of("{\"a\" 1}"), "line 1, column 6: expected ':' after a key, found '1'");
    EXPECT_EQ(error_of("{} x"), "line 1, column 4: extra data after the JSON value");
    EXPECT_EQ(error_of("{}\n{}"), "line 2, column 1: extra data after the JSON value");
    EXPECT_EQ(error_of("@"), "line 1, column 1: expected a value, found '@'");
    EXPECT_EQ(error_of("\x01"), "line 1, column 1: expected a value, found byte 0x01");
}

TEST(JsonCursor, BadLiteralsAndNumbersAreNamedWhole) {
    EXPECT_EQ(error_of("[tru]"), "line 1, column 2: invalid literal 'tru'");
    EXPECT_EQ(error_of("[truex]"), "line 1, column 2: invalid literal 'truex'");
    EXPECT_EQ(error_of("{\"a\": None}"), "line 1, column 7: invalid literal 'None'");
    EXPECT_EQ(error_of("[NaN]"), "line 1, column 2: invalid literal 'NaN'");
    EXPECT_EQ(error_of("[01]"), "line 1, column 2: invalid number '01'");
    EXPECT_EQ(error_of("[3x]"), "line 1, column 2: invalid number '3x'");
    EXPECT_EQ(error_of("[1.]"), "line 1, column 2: invalid number '1.'");
    EXPECT_EQ(error_of("[-]"), "line 1, column 2: invalid number '-'");
    EXPECT_EQ(error_of("[1e+]"), "line 1, column 2: invalid number '1e+'");
    EXPECT_EQ(error_of("[+1]"), "line 1, column 2: invalid literal '+1'");
    EXPECT_EQ(error_of("[.5]"), "line 1, column 2: invalid literal '.5'");
}

TEST(JsonCursor, BadStringsAreLocated) {
    EXPECT_EQ(error_of("[\"a\\qb\"]"), "line 1, column 4: invalid escape '\\q' in a string");
    EXPECT_EQ(error_of("[\"\\u12\"]"),
              "line 1, column 3: invalid \\u escape in a string (four hex digits expected)");
    EXPECT_EQ(error_of("[\"\\ud800\"]"),
              "line 1, column 3: high surrogate \\ud800 not followed by a low surrogate in a "
              "string");
    EXPECT_EQ(error_of("[\"\\udc00\"]"),
              "line 1, column 3: lone low surrogate \\udc00 in a string");
    EXPECT_EQ(error_of("[\"a\nb\"]"),
              "line 1, column 4: unescaped control character 0x0A in a string");
    EXPECT_EQ(error_of("[\"x\xff\"]"), "line 1, column 4: invalid UTF-8 (byte 0xFF) in a string");
    EXPECT_EQ(error_of("[\"\xc0\xaf\"]"),
              "line 1, column 3: invalid UTF-8 (byte 0xC0) in a string");
    EXPECT_EQ(error_of("[\"\xed\xa0\x80\"]"),
              "line 1, column 3: invalid UTF-8 (byte 0xED) in a string");
    EXPECT_EQ(error_of("[\"abc"), "line 1, column 2: unterminated string");
    EXPECT_EQ(error_of("[\"abc\\"), "line 1, column 2: unterminated string");
    // A long plain run is scanned sixteen bytes at a time; the bad byte is still found.
    const std::string run(40, 'a');
    EXPECT_EQ(error_of("[\"" + run + "\x01\"]"),
              "line 1, column 43: unescaped control character 0x01 in a string");
    EXPECT_EQ(error_of("[\"" + run + "\\x\"]"),
              "line 1, column 43: invalid escape '\\x' in a string");
}

TEST(JsonCursor, PeekChecksLiteralsAndNumbersBeforeNamingATypeFromThem) {
    Cursor bad_literal("tru");
    EXPECT_THROW((void)bad_literal.peek(), SyntaxError);
    Cursor bad_number("1.");
    EXPECT_THROW((void)bad_number.peek(), SyntaxError);
    Cursor good("-1.5e3");
    EXPECT_EQ(good.peek(), Type::number);
    EXPECT_EQ(good.read_number(), "-1.5e3");
}

TEST(JsonCursor, DeepNestingIsSkippedWithoutRecursion) {
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    EXPECT_TRUE(accepted(deep));
    EXPECT_FALSE(accepted(std::string(200000, '[') + std::string(199999, ']')));
}

TEST(JsonCursor, AgreesWithNlohmannOnWhatIsJson) {
    const std::vector<std::string> texts = {
        "{}",
        "[]",
        "[[]]",
        "{\"a\":[]}",
        "[1,]",
        "[,1]",
        "{\"a\":1,,\"b\":2}",
        "[1 2]",
        "{\"a\"}",
        "{\"a\":}",
        "\"\\u0000\"",
        "\"\\uD834\\uDD1E\"",
        "\"\\uD834\\u0041\"",
        "[\"\xe2\x82\xac\"]",
        "[\"\xe2\x82\"]",
        "[\"\xf4\x90\x80\x80\"]",
        "[\"\xf0\x9f\x98\x80\"]",
        "-",
        "-0",
        "-01",
        "1e5",
        "1E-5",
        "0.0",
        "00",
        "1.5e",
        "[true,false,null]",
        "nul",
        "[\"a\" , \"b\"]",
        " [ ] ",
        "{\"a\":{\"b\":{}}}",
        "{\"\":\"\"}",
        "[\"\t\"]",
        "\x7f",
    };
    for (const std::string& text : texts)
        EXPECT_EQ(accepted(text), nlohmann::json::accept(text)) << text;
}

TEST(JsonCursor, NumbersConvertOnlyWhenTheyFit) {
    EXPECT_EQ(to_int64("9223372036854775807"), 9223372036854775807);
    EXPECT_EQ(to_int64("-0"), 0);
    EXPECT_FALSE(to_int64("9223372036854775808"));
    EXPECT_FALSE(to_int64("3.0"));
    EXPECT_FALSE(to_int64("3e2"));
    EXPECT_EQ(to_double("3e2"), 300.0);
    EXPECT_EQ(to_double("-0.5"), -0.5);
    EXPECT_FALSE(to_double("1e999"));
    EXPECT_EQ(to_double("1e-999"), 0.0);
    EXPECT_TRUE(is_number("-0.5e+3"));
    EXPECT_FALSE(is_number("01"));
    EXPECT_FALSE(is_number(""));
    EXPECT_FALSE(is_number(" 1"));
}

TEST(JsonCursor, WrongCallsForTheTextAreSyntaxErrors) {
    Cursor c("[1]");
    EXPECT_THAT([&] { c.enter_object(); },
                ::testing::ThrowsMessage<SyntaxError>(HasSubstr("expected an object, found '['")));
    Cursor s("5");
    EXPECT_THROW((void)s.read_string(), SyntaxError);
    Cursor b("null");
    EXPECT_THROW((void)b.read_bool(), SyntaxError);
}

}  // namespace
}  // namespace gpuenv::util::json
