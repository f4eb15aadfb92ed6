#include <gpuenv/core/spec/marker.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

#include <gpuenv/util/error.hpp>

namespace gpuenv::core::spec {
namespace {

MarkerEnvironment linux_py311() {
    MarkerEnvironment env;
    env.implementation_version = "3.11.2";
    env.platform_machine = "x86_64";
    env.platform_release = "5.10.0-28-amd64";
    env.platform_system = "Linux";
    env.platform_version = "#1 SMP Debian 5.10.209-2 (2024-01-31)";
    env.python_full_version = "3.11.2";
    env.python_version = "3.11";
    env.sys_platform = "linux";
    return env;
}

bool eval(std::string_view marker, std::string_view extra = "") {
    return Marker::parse(marker).evaluate(linux_py311(), extra);
}

// Returns the message of the error parse() throws, or "" when it does not throw.
std::string parse_error(std::string_view text) {
    try {
        (void)Marker::parse(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        return e.what();
    }
    return "";
}

// PEP 508's examples, evaluated on Linux with CPython 3.11.
TEST(MarkerEvaluate, SpecExamples) {
    EXPECT_FALSE(eval("python_version < \"2.7\" and platform_version=='2'"));
    EXPECT_TRUE(eval("os_name=='a' or os_name=='posix'"));
    EXPECT_TRUE(eval("sys_platform == 'linux' and python_version >= '3.8'"));
    EXPECT_FALSE(eval("sys_platform == 'win32'"));
    EXPECT_TRUE(
        eval("platform_machine == 'x86_64' and platform_python_implementation == 'CPython'"));
    EXPECT_TRUE(eval("implementation_name == \"cpython\""));
}

TEST(MarkerEvaluate, AndBindsTighterThanOr) {
    // a and b or c == (a and b) or c; a or b and c == a or (b and c)
    EXPECT_TRUE(eval("os_name=='x' and os_name=='y' or os_name=='posix'"));
    EXPECT_FALSE(eval("os_name=='x' and (os_name=='y' or os_name=='posix')"));
    EXPECT_TRUE(eval("os_name=='posix' or os_name=='y' and os_name=='x'"));
    EXPECT_FALSE(eval("(os_name=='posix' or os_name=='y') and os_name=='x'"));
    EXPECT_TRUE(eval("((((os_name=='posix'))))"));
}

TEST(MarkerEvaluate, ComparesVersionsAsVersions) {
    EXPECT_FALSE(eval("python_version >= '3.12'"));
    EXPECT_TRUE(eval("python_version >= '3.9'"));  // as text "3.11" < "3.9"
    EXPECT_TRUE(eval("python_version > '3.9'"));
    EXPECT_TRUE(eval("python_version == '3.11.0'"));  // zero padding
    EXPECT_TRUE(eval("python_version == '3.*'"));
    EXPECT_FALSE(eval("python_version != '3.11.*'"));
    EXPECT_TRUE(eval("python_version ~= '3.10'"));
    EXPECT_TRUE(eval("python_full_version >= '3.11.0rc1'"));
    EXPECT_TRUE(eval("'3.8' < python_version"));
    EXPECT_TRUE(eval("python_version === '3.11'"));
}

TEST(MarkerEvaluate, FallsBackToTextForNonVersions) {
    EXPECT_TRUE(eval("platform_release == '5.10.0-28-amd64'"));
    EXPECT_TRUE(eval("platform_release >= '5.10'"));  // packaging 23.0 raises; PEP 508: text
    EXPECT_TRUE(eval("python_version < '3.8.*'"));    // "<3.8.*" is no specifier: text
    EXPECT_TRUE(eval("python_full_version < '3.11.2+local'"));
    EXPECT_TRUE(eval("'linux' in sys_platform"));
    EXPECT_TRUE(eval("python_version in '3.10 3.11'"));
    EXPECT_FALSE(eval("'nt' in os_name"));
    EXPECT_TRUE(eval("'nt' not  in os_name"));
    EXPECT_TRUE(eval("'Debian' in platform_version"));
}

TEST(MarkerEvaluate, ExtraIsComparedInNormalizedForm) {
    EXPECT_TRUE(eval("extra == 'Foo_Bar'", "foo-bar"));
    EXPECT_TRUE(eval("extra == 'foo.bar'", "FOO__BAR"));
    EXPECT_FALSE(eval("extra == 'foo'"));
    EXPECT_TRUE(eval("os_name == 'posix' and extra == 'test'", "Test"));
    EXPECT_FALSE(eval("extra == 'test'", "docs"));
}

TEST(MarkerEvaluate, MirrorsPackagingOperandRules) {
    // The right side of variable-to-variable comparisons is the variable's name, as text.
    EXPECT_FALSE(eval("python_version == python_full_version"));
    // A literal on the right of a literal names the variable to look up.
    EXPECT_TRUE(eval("'3.8' < 'python_version'"));
    EXPECT_THROW((void)eval("'a' == 'b'"), Error);
    EXPECT_THROW((void)eval("os_name ~= 'foo'"), Error);
    EXPECT_THROW((void)eval("os_name == 'posix' or os_name ~= 'x'"), Error);
}

TEST(MarkerParse, QuotesEscapesAndAliases) {
    EXPECT_EQ(Marker::parse("os_name == '\\x41'").str(), "os_name == \"A\"");
    EXPECT_EQ(Marker::parse("os_name == 'a\\\nb'").str(), "os_name == \"ab\"");
    EXPECT_EQ(Marker::parse("os_name == '\\101\\u00e9\\d'").str(), "os_name == \"A\u00e9\\d\"");
    EXPECT_EQ(Marker::parse("os.name == \"posix\"").str(), "os_name == \"posix\"");
    EXPECT_EQ(Marker::parse("python_implementation == 'CPython'").str(),
              "platform_python_implementation == \"CPython\"");
    EXPECT_TRUE(eval("platform.machine == 'x86_64' and sys.platform == 'linux'"));
    EXPECT_TRUE(eval("os_name == 'posix'\n"));  // "$" matches before a final newline
}

TEST(MarkerParse, PrintsLikePackaging) {
    EXPECT_EQ(Marker::parse("os_name=='posix'and(python_version>'3')").str(),
              "os_name == \"posix\" and python_version > \"3\"");
    EXPECT_EQ(
        Marker::parse("(os_name == 'a') and (python_version > '3' or python_version < '2')").str(),
        "os_name == \"a\" and (python_version > \"3\" or python_version < \"2\")");
    EXPECT_EQ(Marker::parse("((os_name == 'a' or os_name == 'b'))").str(),
              "os_name == \"a\" or os_name == \"b\"");
    EXPECT_EQ(Marker::parse("extra == 'Foo_Bar'").str(), "extra == \"foo-bar\"");
    EXPECT_EQ(Marker::parse("os_name == 'a' and extra == 'Foo_Bar'").str(),
              "os_name == \"a\" and extra == \"Foo_Bar\"");  // packaging: first item only
    EXPECT_EQ(Marker::parse("\t'posix'  not in   os_name ").str(), "\"posix\" not in os_name");
    // packaging 23.0 prints `a and ((b or c))` as `a and b or c`; the parentheses stay here.
    EXPECT_EQ(Marker::parse("os_name == 'a' and ((os_name == 'b' or os_name == 'c'))").str(),
              "os_name == \"a\" and (os_name == \"b\" or os_name == \"c\")");
}

TEST(MarkerParse, ErrorsPointAtTheOffendingCharacter) {
    EXPECT_NE(parse_error("").find("column 1: expected a marker variable or quoted string"),
              std::string::npos);
    EXPECT_NE(parse_error("python_version > '3' or").find("column 24"), std::string::npos);
    EXPECT_NE(parse_error("os_name notin 'x'").find("column 9: expected a marker operator"),
              std::string::npos);
    EXPECT_NE(parse_error("os_name not'x'").find("column 12: expected whitespace after 'not'"),
              std::string::npos);
    EXPECT_NE(parse_error("(os_name == 'a'").find("column 16: expected ')'"), std::string::npos);
    EXPECT_NE(parse_error("os_name == 'a' garbage").find("column 16: expected 'and', 'or'"),
              std::string::npos);
    EXPECT_NE(parse_error("os_name == 'ab\\'").find("unterminated"), std::string::npos);
    EXPECT_NE(parse_error("os_name == \"a\nb\"").find("line break"), std::string::npos);
    EXPECT_NE(parse_error("os_name == '\\x4'").find("truncated"), std::string::npos);
    for (const char* bad : {"os_name", "os_name ==", "'a'", "os_namex == 'a'", "OS_NAME == 'a'",
                            "os_name == 'a' andx", "os_name = 'a'", "os_name == 'a\"",
                            "os_name == 'a'\n\n", "os_name == '\\N{EM DASH}'", "()"})
        EXPECT_NE(parse_error(bad), "") << bad;
}

TEST(MarkerParse, NestingIsBounded) {
    const auto nested = [](std::size_t depth) {
        return std::string(depth, '(') + "os_name == 'posix'" + std::string(depth, ')');
    };
    EXPECT_TRUE(Marker::parse(nested(Marker::k_max_depth)).evaluate(linux_py311()));
    EXPECT_NE(parse_error(nested(Marker::k_max_depth + 1)).find("nest too deeply"),
              std::string::npos);
    EXPECT_NE(parse_error(std::string(1'000'000, '(')), "");
}

TEST(MarkerParse, HugeInputsStayLinear) {
    const auto start = std::chrono::steady_clock::now();
    std::string many = "os_name == 'x'";
    while (many.size() < 1'000'000)
        many += " or os_name == 'x' and python_version >= '3'";
    many += " or os_name == 'posix'";
    const auto marker = Marker::parse(many);
    EXPECT_TRUE(marker.evaluate(linux_py311()));
    std::replace(many.begin(), many.end(), '\'', '"');
    EXPECT_EQ(marker.str(), many);
    const std::string long_literal = "os_name in '" + std::string(1'000'000, 'p') + "osix'";
    EXPECT_TRUE(Marker::parse(long_literal).evaluate(linux_py311()));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace gpuenv::core::spec
