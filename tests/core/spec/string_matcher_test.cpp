#include <gpuenv/core/spec/string_matcher.hpp>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

namespace gpuenv::core::spec {
namespace {

bool matches(std::string_view pattern, std::string_view subject) {
    return StringMatcher::parse(pattern).matches(subject);
}

// CEP 29 string matching: exact, glob and regex, all ignoring case.
TEST(StringMatcher, ExactIgnoresCase) {
    EXPECT_EQ(StringMatcher::parse("py311_0").kind(), StringMatcher::Kind::exact);
    EXPECT_TRUE(matches("py311_0", "py311_0"));
    EXPECT_TRUE(matches("PY311_0", "py311_0"));
    EXPECT_FALSE(matches("py311_0", "py311_1"));
    EXPECT_FALSE(matches("py311", "py311_0"));
}

TEST(StringMatcher, GlobAnchorsBothEnds) {
    EXPECT_EQ(StringMatcher::parse("*_cpython").kind(), StringMatcher::Kind::glob);
    EXPECT_TRUE(matches("*_cpython", "h932a869_0_cpython"));
    EXPECT_FALSE(matches("*_cpython", "h932a869_0_pypy"));
    EXPECT_TRUE(matches("py3*", "py311h7125741_0"));
    EXPECT_FALSE(matches("py3*", "cpy311"));
    EXPECT_TRUE(matches("*cuda*", "cuda120_py311"));
    EXPECT_TRUE(matches("*CUDA*", "h1_cuda120"));
    EXPECT_TRUE(matches("a*b*c", "aXXbYYc"));
    EXPECT_FALSE(matches("a*b*c", "aXXbYYcd"));
    EXPECT_TRUE(matches("a.b*", "a.bc"));
    EXPECT_FALSE(matches("a.b*", "axbc"));  // '.' is literal in a glob
    EXPECT_TRUE(matches("*", ""));
    EXPECT_TRUE(StringMatcher::parse("**").matches_all());
}

TEST(StringMatcher, RegexSearches) {
    EXPECT_EQ(StringMatcher::parse("^py.*$").kind(), StringMatcher::Kind::regex);
    EXPECT_TRUE(matches(R"(^py3\d+h[0-9a-f]+_\d$)", "py311h7125741_0"));
    EXPECT_FALSE(matches(R"(^py2\d+.*$)", "py311h7125741_0"));
    EXPECT_TRUE(matches("^(cuda|cpu)_.*$", "CPU_mkl"));
    EXPECT_TRUE(matches("^a|b$", "xxb"));  // search: either branch anywhere it is anchored
    EXPECT_TRUE(matches("^x{2,3}$", "xxx"));
    EXPECT_FALSE(matches("^x{2,3}$", "xxxx"));
    EXPECT_TRUE(matches("^x{2,}$", "xxxxxx"));
    EXPECT_TRUE(matches("^x{,2}y$", "y"));
    EXPECT_TRUE(matches("^a{b$", "a{b"));  // not a quantifier: a literal '{'
    EXPECT_TRUE(matches(R"(^[^_]+_\w+$)", "abc_def"));
    EXPECT_FALSE(matches(R"(^[^_]+$)", "abc_def"));
    EXPECT_TRUE(matches(R"(^[\]a-c]+$)", "a]b"));
    EXPECT_TRUE(matches(R"(^\S+\s\d*?$)", "ab 12"));
    EXPECT_TRUE(matches("^$", ""));
    EXPECT_FALSE(matches("^$", "a"));
}

TEST(StringMatcher, RejectsUnsupportedRegex) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"^(?=a)$",
         "unsupported group syntax '(?' (lookaround, named groups and inline flags "
         "are not supported)"},
        {"^(a)\\1$", "unsupported escape '\\1'"},
        {"^\\bword$", "unsupported escape '\\b'"},
        {"^*a$", "nothing to repeat"},
        {"^a**$", "multiple repeat"},
        {"^(a$", "missing ')'"},
        {"^a)$", "unbalanced parenthesis"},
        {"^[a$", "unterminated character class"},
        {"^[z-a]$", "bad character range"},
        {"^a{5,2}$", "min repeat greater than max repeat"},
        {"^a{2000}$", "repeat count larger than 1000"},
        {"^((a{1000}){1000})$", "regex too complex"},
        {"^" + std::string(300, 'a') + "$", "regex longer than 256 characters"},
        {"^" + std::string(70, '(') + "a" + std::string(70, ')') + "$",
         "groups nested deeper than 64"},
    };
    for (const auto& [pattern, reason] : cases) {
        ParseFailure failure;
        EXPECT_FALSE(StringMatcher::try_parse(pattern, &failure)) << pattern;
        EXPECT_EQ(failure.reason, reason) << pattern;
    }
}

// A backtracking engine takes exponential time on these; the NFA stays linear.
TEST(StringMatcher, PathologicalRegexesStayFast) {
    const auto start = std::chrono::steady_clock::now();
    const std::string subject(StringMatcher::k_max_subject_length, 'a');
    EXPECT_FALSE(matches("^(a*)*b$", subject));
    EXPECT_FALSE(matches("^(a|a)*b$", subject));
    EXPECT_FALSE(matches("^(a|aa)+$", subject + "b"));
    EXPECT_TRUE(matches("^(a|aa)+$", subject));
    EXPECT_FALSE(matches("*a*a*a*a*a*a*a*b", subject));
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 5.0);
    EXPECT_FALSE(matches("^a*$", std::string(StringMatcher::k_max_subject_length + 1, 'a')));
}

TEST(StringMatcher, GlobMatchHelper) {
    EXPECT_TRUE(glob_match("", ""));
    EXPECT_FALSE(glob_match("", "a"));
    EXPECT_TRUE(glob_match("*a", "bba"));
    EXPECT_TRUE(glob_match("A*", "abc"));
    EXPECT_TRUE(equals_ignoring_case("Conda-Forge", "conda-forge"));
}

}  // namespace
}  // namespace gpuenv::core::spec
