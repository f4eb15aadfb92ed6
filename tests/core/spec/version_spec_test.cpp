#include <gpuenv/core/spec/version_spec.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <gpuenv/util/error.hpp>

namespace gpuenv::core::spec {
namespace {

bool contains(std::string_view spec, std::string_view version) {
    return VersionSpec::parse(spec).contains(CondaVersion::parse(version));
}

// conda's tests/models/test_version.py test_match, all against 1.7.1.
TEST(VersionSpec, CondaMatchTableAgainst171) {
    const std::vector<std::pair<std::string, bool>> table = {
        {"1.7.*", true},
        {"1.7.1", true},
        {"1.7.0", false},
        {"1.7", false},
        {"1.5.*", false},
        {">=1.5", true},
        {"!=1.5", true},
        {"!=1.7.1", false},
        {"==1.7.1", true},
        {"==1.7", false},
        {"==1.7.2", false},
        {"==1.7.1.0", true},
        {"1.7.*|1.8.*", true},
        {">1.7,<1.8", true},
        {">1.7.1,<1.8", false},
        {"^1.7.1$", true},
        {R"(^1\.7\.1$)", true},
        {R"(^1\.7\.[0-9]+$)", true},
        {R"(^1\.8.*$)", false},
        {R"(^1\.[5-8]\.1$)", true},
        {R"(^[^1].*$)", false},
        {R"(^[0-9+]+\.[0-9+]+\.[0-9]+$)", true},
        {"^$", false},
        {"^.*$", true},
        {"1.7.*|^0.*$", true},
        {"1.6.*|^0.*$", false},
        {"1.6.*|^0.*$|1.7.1", true},
        {"^0.*$|1.7.1", true},
        {R"(1.6.*|^.*\.7\.1$|0.7.1)", true},
        {"*", true},
        {"1.*.1", true},
        {"1.5.*|>1.7,<1.8", true},
        {"1.5.*|>1.7,<1.7.1", false},
    };
    for (const auto& [spec, expected] : table) {
        const VersionSpec parsed = VersionSpec::parse(spec);
        EXPECT_EQ(parsed.str(), spec);
        EXPECT_EQ(parsed.contains(CondaVersion::parse("1.7.1")), expected) << spec;
    }
}

// conda's test_ver_eval.
TEST(VersionSpec, CondaVerEval) {
    EXPECT_TRUE(contains("==1.7", "1.7.0"));
    EXPECT_TRUE(contains("<=1.7", "1.7.0"));
    EXPECT_FALSE(contains("<1.7", "1.7.0"));
    EXPECT_TRUE(contains(">=1.7", "1.7.0"));
    EXPECT_FALSE(contains(">1.7", "1.7.0"));
    EXPECT_FALSE(contains(">=1.7", "1.6.7"));
    EXPECT_FALSE(contains(">2013b", "2013a"));
    EXPECT_TRUE(contains(">2013b", "2013k"));
    EXPECT_FALSE(contains(">2013b", "3.0.0"));
    EXPECT_TRUE(contains(">1.0.0a", "1.0.0"));
    EXPECT_TRUE(contains(">1.0.0*", "1.0.0"));
    EXPECT_TRUE(contains("1.0*", "1.0"));
    EXPECT_TRUE(contains("1.0*", "1.0.0"));
    EXPECT_TRUE(contains("1.0.0*", "1.0"));
    EXPECT_FALSE(contains("1.0.0*", "1.0.1"));
    EXPECT_TRUE(contains("2013a*", "2013a"));
    EXPECT_FALSE(contains("2013b*", "2013a"));
    EXPECT_TRUE(contains("2013a*", "2013ab"));
    EXPECT_FALSE(contains("1.2.4*", "1.3.4"));
    EXPECT_TRUE(contains("1.2.3*", "1.2.3+4.5.6"));
    EXPECT_TRUE(contains("1.2.3+4*", "1.2.3+4.5.6"));
    EXPECT_FALSE(contains("1.2.3+5*", "1.2.3+4.5.6"));
    EXPECT_FALSE(contains("1.2.4+5*", "1.2.3+4.5.6"));
}

// conda's test_local_identifier: a version matches itself.
TEST(VersionSpec, VersionMatchesItself) {
    for (const char* version :
         {"1.7.0", "1.7.0.post123", "1.7.0.post123.gabcdef9", "1.7.0.post123+gabcdef9"}) {
        EXPECT_TRUE(contains(version, version)) << version;
    }
}

// conda's test_not_eq_star.
TEST(VersionSpec, StartsWithAndNotStartsWith) {
    EXPECT_TRUE(contains("=3.3", "3.3.1"));
    EXPECT_TRUE(contains("=3.3", "3.3"));
    EXPECT_FALSE(contains("=3.3", "3.4"));
    EXPECT_TRUE(contains("3.3.*", "3.3.1"));
    EXPECT_TRUE(contains("3.3.*", "3.3"));
    EXPECT_FALSE(contains("3.3.*", "3.4"));
    EXPECT_TRUE(contains("=3.3.*", "3.3.1"));
    EXPECT_TRUE(contains("=3.3.*", "3.3"));
    EXPECT_FALSE(contains("=3.3.*", "3.4"));
    EXPECT_FALSE(contains("!=3.3.*", "3.3.1"));
    EXPECT_TRUE(contains("!=3.3.*", "3.4"));
    EXPECT_TRUE(contains("!=3.3.*", "3.4.1"));
    EXPECT_TRUE(contains("!=3.3", "3.3.1"));
    EXPECT_FALSE(contains("!=3.3", "3.3.0.0"));
    EXPECT_FALSE(contains("!=3.3.*", "3.3.0.0"));
    EXPECT_FALSE(contains("1.*", "10.0"));
}

// conda's test_compound_versions.
TEST(VersionSpec, CompoundAndBindsTighterThanOr) {
    const VersionSpec vs = VersionSpec::parse(">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*");
    EXPECT_FALSE(vs.contains(CondaVersion::parse("2.6.8")));
    EXPECT_TRUE(vs.contains(CondaVersion::parse("2.7.2")));
    EXPECT_FALSE(vs.contains(CondaVersion::parse("3.3")));
    EXPECT_FALSE(vs.contains(CondaVersion::parse("3.3.4")));
    EXPECT_TRUE(vs.contains(CondaVersion::parse("3.4")));
    EXPECT_TRUE(vs.contains(CondaVersion::parse("3.4a")));
    EXPECT_TRUE(contains(">=1.8,<2|3.*", "3.1"));
    EXPECT_TRUE(contains(">=1.8,<2|3.*", "1.9"));
    EXPECT_FALSE(contains(">=1.8,<2|3.*", "2.5"));
    EXPECT_FALSE(contains("(>=1.8|3.*),<2", "3.1"));
}

// conda's test_compatible_release_versions.
TEST(VersionSpec, CompatibleRelease) {
    EXPECT_TRUE(contains("~=1.10", "1.11.0"));
    EXPECT_FALSE(contains("~=1.10.0", "1.11.0"));
    EXPECT_FALSE(contains("~=3.3.2", "3.4.0"));
    EXPECT_FALSE(contains("~=3.3.2", "3.3.1"));
    EXPECT_TRUE(contains("~=3.3.2", "3.3.2.0"));
    EXPECT_TRUE(contains("~=3.3.2", "3.3.3"));
    EXPECT_TRUE(contains("~=3.3.2|==2.2", "2.2.0"));
    EXPECT_TRUE(contains("~=3.3.2|==2.2", "3.3.3"));
    EXPECT_FALSE(contains("~=3.3.2|==2.2", "2.2.1"));
    EXPECT_TRUE(contains("~=1.7.1", "1.7.5"));
    EXPECT_FALSE(contains("~=1.7.1", "1.8.0"));
}

// conda raises inside the matcher for '~=1' (startswith on an empty version); mamba accepts it.
// Following conda's outcome, it is an error here, reported when parsing.
TEST(VersionSpec, CompatibleReleaseNeedsTwoComponents) {
    ParseFailure failure;
    EXPECT_FALSE(VersionSpec::try_parse("~=1", &failure));
    EXPECT_EQ(failure.reason, "'~=' needs a version with at least two components");
    EXPECT_FALSE(VersionSpec::try_parse("~=3.3.2.*", &failure));
    EXPECT_EQ(failure.reason, "'~=' cannot be combined with '.*'");
}

TEST(VersionSpec, Pitfalls) {
    EXPECT_TRUE(contains("<2", "2.0a1"));       // 2.0a1 < 2
    EXPECT_FALSE(contains("<2.0a0", "2.0a1"));  // the conda-forge way to exclude 2.x
    EXPECT_FALSE(contains("2.*.*", "2.1"));     // conda: regex ^2\..*\..*$
    EXPECT_TRUE(contains("2.*.*", "2.1.0"));
    // conda drops a superfluous '.*' after '==': '==1.7.1.*' is '==1.7.1' (mamba: startswith).
    EXPECT_FALSE(contains("==1.7.1.*", "1.7.1.1"));
    EXPECT_TRUE(contains("==1.7.1.*", "1.7.1"));
    EXPECT_TRUE(contains(">=1.7.*", "1.7.0"));
    EXPECT_TRUE(contains("<1.7.*", "1.6.9"));
    EXPECT_TRUE(contains("1.7.1*", "1.7.1"));
    EXPECT_TRUE(contains("1.2.3", "1.2.3.0"));
}

TEST(VersionSpec, IsExact) {
    EXPECT_TRUE(VersionSpec::parse("1.7.1").is_exact());
    EXPECT_TRUE(VersionSpec::parse("==1.7.1").is_exact());
    EXPECT_FALSE(VersionSpec::parse("1.7.1*").is_exact());
    EXPECT_FALSE(VersionSpec::parse("1.7.1.*,1.8.1.*").is_exact());
    EXPECT_FALSE(VersionSpec::parse(">=1.7").is_exact());
    EXPECT_TRUE(VersionSpec::parse("*").matches_all());
    EXPECT_FALSE(VersionSpec::parse("1.*").matches_all());
}

// conda's treeify/untreeify docstrings; conda's own VersionSpec.spec flattens the nested
// strings without parentheses ("1.5|1.6|1.7,1.8,1.9|2.0|2.1"), which changes the meaning when
// read back, so the tree is rendered as untreeify renders the full tree.
TEST(VersionSpec, NormalizedRendersTheTree) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"1.2.3", "1.2.3"},
        {"1.2.3,>4.5.6", "1.2.3,>4.5.6"},
        {"1.2.3,4.5.6|<=7.8.9", "(1.2.3,4.5.6)|<=7.8.9"},
        {"(1.2.3|4.5.6),<=7.8.9", "(1.2.3|4.5.6),<=7.8.9"},
        {"((1.5|((1.6|1.7), 1.8), 1.9 |2.0))|2.1", "1.5|((1.6|1.7),1.8,1.9)|2.0|2.1"},
        {"1.5|(1.6|1.7),1.8,1.9|2.0|2.1", "1.5|((1.6|1.7),1.8,1.9)|2.0|2.1"},
        {"( (1.5|((1.6|1.7), 1.8), 1.9 |2.0))|2.1", "1.5|((1.6|1.7),1.8,1.9)|2.0|2.1"},
        {"1.7.1*", "1.7.1*"},
        {"**", "**"},
        {" >=1.0 , <2 ", ">=1.0,<2"},
        {"(1|2)|3", "1|2|3"},
    };
    for (const auto& [spec, tree] : cases)
        EXPECT_EQ(VersionSpec::parse(spec).normalized(), tree) << spec;
    const VersionSpec nested = VersionSpec::parse("( (1.5|((1.6|1.7), 1.8), 1.9 |2.0))|2.1");
    EXPECT_TRUE(nested.contains(CondaVersion::parse("1.5")));
    EXPECT_TRUE(nested.contains(CondaVersion::parse("2.1")));
    EXPECT_FALSE(nested.contains(CondaVersion::parse("1.6")));  // 1.6 is not also 1.8 and 1.9
    EXPECT_FALSE(nested.contains(CondaVersion::parse("1.8")));
}

struct InvalidSpec {
    std::string text;
    std::size_t offset;
    std::string reason;
};

// conda's test_invalid_version_specs, test_version_spec_2, test_ver_eval_errors and
// test_pep_440_arbitrary_equality_operator, with where and why.
TEST(VersionSpec, RejectsInvalidWithOffsetAndReason) {
    const std::vector<InvalidSpec> cases = {
        {"~", 0, "invalid operator"},
        {"^", 0, "a regex must start with '^' and end with '$'"},
        {"1.2+", 4, "empty version component"},
        {"+1.2", 0, "missing version before local version separator '+'"},
        {"+1.2+", 4, "duplicated local version separator '+'"},
        {"++", 1, "duplicated local version separator '+'"},
        {"c +, 0/|0 *", 1, "invalid character ' '"},
        {"a[version=)|(", 1, "invalid character '['"},
        {"a=)(=b", 1, "invalid character '='"},
        {"==", 2, "missing version after '=='"},
        {"=", 1, "missing version after '='"},
        {">=", 2, "missing version after '>='"},
        {"<=", 2, "missing version after '<='"},
        {"(1.5", 0, "unmatched '('"},
        {"1.5)", 3, "unmatched ')'"},
        {"1.5||1.6", 4, "expected a version before '|'"},
        {"^1.5", 0, "a regex must start with '^' and end with '$'"},
        {"===3.3.2", 0, "invalid operator"},
        {"><2.4.5", 0, "invalid operator"},
        {"!!2.4.5", 0, "invalid operator"},
        {"!", 0, "invalid operator"},
        {"", 0, "empty version spec"},
        {"   ", 3, "empty version spec"},
        {"()", 1, "expected a version before ')'"},
        {"1.0,", 4, "expected a version at the end"},
        {"|1.0", 0, "expected a version before '|'"},
        {"1.0 (2.0)", 4, "expected ',' or '|' before '('"},
        {"^1$abc", 3, "expected ',' or '|' before 'a'"},
        {">= 1.0", 2, "unexpected space in a version clause"},
        {"1.*[", 3, "invalid character '[' in a version glob"},
        {"^(?=1)$", 1,
         "unsupported group syntax '(?' (lookaround, named groups and inline "
         "flags are not supported)"},
        {">=1.0$", 0, "a regex must start with '^' and end with '$'"},
    };
    for (const auto& c : cases) {
        ParseFailure failure;
        EXPECT_FALSE(VersionSpec::try_parse(c.text, &failure).has_value()) << c.text;
        EXPECT_EQ(failure.offset, c.offset) << c.text;
        EXPECT_EQ(failure.reason, c.reason) << c.text;
    }
}

TEST(VersionSpec, ParseThrowsUsageError) {
    try {
        (void)VersionSpec::parse(">=1.21,<<2");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        EXPECT_NE(std::string(e.what()).find("invalid version spec '>=1.21,<<2': column 8: "
                                             "invalid operator"),
                  std::string::npos)
            << e.what();
    }
}

TEST(VersionSpec, NestingIsBounded) {
    std::string ok = std::string(VersionSpec::k_max_depth, '(') + "1.0" +
                     std::string(VersionSpec::k_max_depth, ')');
    EXPECT_TRUE(VersionSpec::parse(ok).contains(CondaVersion::parse("1.0")));
    ParseFailure failure;
    const std::string deep = std::string(100000, '(') + "1.0" + std::string(100000, ')');
    EXPECT_FALSE(VersionSpec::try_parse(deep, &failure));
    EXPECT_EQ(failure.offset, 64u);
    EXPECT_EQ(failure.reason, "parentheses nested deeper than 64");
}

TEST(VersionSpec, LongInputsStayLinear) {
    const auto start = std::chrono::steady_clock::now();
    std::string chain;
    for (int i = 0; i < 100000; ++i)
        chain += (i > 0 ? "|" : "") + std::to_string(i % 1000) + ".0";
    const VersionSpec spec = VersionSpec::parse(chain);
    EXPECT_TRUE(spec.contains(CondaVersion::parse("999.0")));
    EXPECT_FALSE(spec.contains(CondaVersion::parse("1000.0")));
    ParseFailure failure;
    EXPECT_FALSE(VersionSpec::try_parse(std::string(1 << 20, 'x'), &failure));
    EXPECT_FALSE(VersionSpec::try_parse(std::string(1 << 20, ','), &failure));
    EXPECT_FALSE(VersionSpec::try_parse("^" + std::string(1 << 20, 'a') + "$", &failure));
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 5.0);
}

TEST(VersionSpec, RegexCannotBlowUp) {
    const VersionSpec spec = VersionSpec::parse(R"(^((1|\.|1)*)*2$)");
    std::string version;
    while (version.size() < 60)
        version += "1.";
    version += "3";
    EXPECT_FALSE(spec.contains(CondaVersion::parse(version)));
}

}  // namespace
}  // namespace gpuenv::core::spec
