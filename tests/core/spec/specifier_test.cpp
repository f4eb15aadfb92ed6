#include <gpuenv/core/spec/specifier.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <gpuenv/util/error.hpp>

namespace gpuenv::core::spec {
namespace {

bool in(std::string_view spec, std::string_view version, PreReleases pre = PreReleases::by_rule) {
    return SpecifierSet::parse(spec).contains(Pep440Version::parse(version), pre);
}

// Returns the message of the error parse() throws, or "" when it does not throw.
std::string parse_error(std::string_view text) {
    try {
        (void)SpecifierSet::parse(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        return e.what();
    }
    return "";
}

// PEP 440, "Compatible release": ~=V.N means >=V.N, ==V.*.
TEST(SpecifierCompatible, SpecExamples) {
    EXPECT_TRUE(in("~=2.2", "2.3"));
    EXPECT_TRUE(in("~=2.2", "2.2"));
    EXPECT_FALSE(in("~=2.2", "3.0"));
    EXPECT_FALSE(in("~=2.2", "2.1"));
    EXPECT_TRUE(in("~=1.4.5", "1.4.9"));
    EXPECT_FALSE(in("~=1.4.5", "1.5.0"));
    EXPECT_TRUE(in("~=2.2.post3", "2.2.post4"));
    EXPECT_TRUE(in("~=2.2.post3", "2.9"));
    EXPECT_FALSE(in("~=2.2.post3", "2.2"));
    EXPECT_TRUE(in("~=1.4.5a4", "1.4.5"));
    EXPECT_TRUE(in("~=1.4.5a4", "1.4.5a5"));
    EXPECT_FALSE(in("~=1.4.5a4", "1.5"));
    EXPECT_TRUE(in("~=2.2.0", "2.2.9"));
    EXPECT_FALSE(in("~=2.2.0", "2.3"));
    EXPECT_NE(parse_error("~=1"), "");
}

// PEP 440, "Version matching", including zero padding and prefix matching.
TEST(SpecifierEqual, SpecExamples) {
    EXPECT_FALSE(in("==1.1", "1.1.post1"));
    EXPECT_TRUE(in("==1.1.post1", "1.1.post1"));
    EXPECT_TRUE(in("==1.1.*", "1.1.post1"));
    EXPECT_TRUE(in("==1.1", "1.1.0"));
    EXPECT_TRUE(in("==1.1.0", "1.1"));
    EXPECT_TRUE(in("==1.0.0.*", "1"));
    EXPECT_TRUE(in("==3.1.*", "3.1.5"));
    EXPECT_FALSE(in("==3.1.*", "3.10"));
    EXPECT_FALSE(in("==1.0.*", "1.0rc1"));
    EXPECT_TRUE(in("==1.0.*", "1.0rc1", PreReleases::allow));
    EXPECT_FALSE(in("!=1.1.*", "1.1.post1"));
    EXPECT_TRUE(in("!=1.1.*", "1.2"));
    EXPECT_NE(parse_error("==1.0a1.*"), "");
    EXPECT_NE(parse_error("==1.0.*+local"), "");
}

// PEP 440, "Local version identifiers": == without a label ignores the candidate's.
TEST(SpecifierEqual, LocalVersionRules) {
    EXPECT_TRUE(in("==1.0", "1.0+local"));
    EXPECT_FALSE(in("==1.0+local", "1.0"));
    EXPECT_TRUE(in("==1.0+local", "1.0+LOCAL"));
    EXPECT_FALSE(in("==1.0+local", "1.0+other"));
    EXPECT_FALSE(in("!=1.0", "1.0+local"));
    EXPECT_TRUE(in("<=1.7", "1.7+local"));
    EXPECT_TRUE(in(">=1.7", "1.7+local"));
    EXPECT_TRUE(in("<1.7", "1.6+local"));
    for (const char* spec : {"<=1.0+local", ">=1.0+local", "<1.0+local", ">1.0+l", "~=1.0+l"})
        EXPECT_NE(parse_error(spec), "") << spec;
}

// PEP 440, "Exclusive ordered comparison".
TEST(SpecifierExclusive, PrePostAndLocalRules) {
    EXPECT_TRUE(in(">1.7", "1.7.1"));
    EXPECT_FALSE(in(">1.7", "1.7.0.post1"));
    EXPECT_TRUE(in(">1.7.post2", "1.7.1"));
    EXPECT_TRUE(in(">1.7.post2", "1.7.0.post3"));
    EXPECT_FALSE(in(">1.7.post2", "1.7.0"));
    EXPECT_FALSE(in(">1.7", "1.7.0+local"));
    EXPECT_FALSE(in("<1.7", "1.7.0rc1", PreReleases::allow));
    EXPECT_FALSE(in("<1.7", "1.7.0.dev1", PreReleases::allow));
    EXPECT_TRUE(in("<1.7", "1.6.9rc1", PreReleases::allow));
    EXPECT_TRUE(in("<1.7.0rc1", "1.7.0b1", PreReleases::allow));
}

// PEP 440, "Handling of pre-releases", as packaging applies it.
TEST(SpecifierPreReleases, ExcludedUnlessAClauseNamesOne) {
    EXPECT_FALSE(in(">=1.0", "2.0a1"));
    EXPECT_TRUE(in(">=1.0", "2.0a1", PreReleases::allow));
    EXPECT_TRUE(in(">=1.0a1", "2.0b1"));
    EXPECT_FALSE(in(">=1.0a1", "2.0b1", PreReleases::deny));
    EXPECT_FALSE(in("!=1.0a1", "2.0b1"));  // exclusions do not opt in
    EXPECT_FALSE(in(">=1.0,!=1.5", "1.6a1"));
    EXPECT_TRUE(in(">=1.0a1,!=1.5", "1.6a1"));
    EXPECT_TRUE(in("==1.0a1", "1.0a1"));
    EXPECT_FALSE(in("", "1.0a1"));
    EXPECT_TRUE(in("", "1.0a1", PreReleases::allow));
    EXPECT_TRUE(in("", "1.0"));
    EXPECT_TRUE(in("<=2.0a1", "1.0"));
    EXPECT_FALSE(in("==1.*", "1.5.dev1"));
}

TEST(SpecifierArbitrary, ComparesTheText) {
    const auto set = SpecifierSet::parse("===foo");
    EXPECT_TRUE(set.contains("foo"));
    EXPECT_TRUE(set.contains("FOO"));
    EXPECT_FALSE(set.contains("1.0"));
    EXPECT_TRUE(in("===1.0", "1.0"));
    EXPECT_TRUE(in("===1.0", "V1.0"));  // packaging compares the normalized form
    EXPECT_FALSE(in("===1.0", "1.0.0"));
    EXPECT_EQ(SpecifierSet::parse("=== foo").str(), "===foo");
    EXPECT_NE(parse_error("===foo bar"), "");
}

TEST(SpecifierSet, InvalidVersionsMatchOnlyArbitraryClauses) {
    EXPECT_FALSE(SpecifierSet::parse(">=1").contains("not a version"));
    EXPECT_FALSE(SpecifierSet::parse("===a,>=1").contains("a"));
    EXPECT_TRUE(SpecifierSet::parse("===Weird-1").contains(" weird-1 "));
    EXPECT_TRUE(SpecifierSet().contains("not a version"));
    EXPECT_TRUE(SpecifierSet::parse(">=1.0").contains(" 1.5 "));
}

// packaging's quirks, mirrored so that gpuenv answers as pip does.
TEST(SpecifierSet, MirrorsPackagingOnOddInputs) {
    EXPECT_TRUE(in("==0.*", "1!5"));         // epochs pad as "0"
    EXPECT_FALSE(in("==1!2.0.*", "1!2.0"));  // the epoch glues onto the first token
    EXPECT_FALSE(in("~=1.4.c1", "1.5"));     // ~= cuts the text as written
    EXPECT_TRUE(in("~=1.4.rc1", "1.5"));
    EXPECT_FALSE(in("~=1!1.0a1", "1!1.0a2", PreReleases::allow));
    EXPECT_EQ(SpecifierSet::parse("===1.0,===1.0.0").str(), "===1.0");  // one key, first kept
}

TEST(SpecifierSet, ParsesAndPrintsLikePackaging) {
    EXPECT_EQ(SpecifierSet::parse(">=1.0,<2").str(), "<2,>=1.0");
    EXPECT_EQ(SpecifierSet::parse(" >= 1.0 , < 2 ,").str(), "<2,>=1.0");
    EXPECT_EQ(SpecifierSet::parse(">=1.0,>=1.0.0").str(), ">=1.0");
    EXPECT_EQ(SpecifierSet::parse("<2,<2.0").str(), "<2");
    EXPECT_EQ(SpecifierSet::parse("~=1.0,~=1.0.0").str(), "~=1.0,~=1.0.0");
    EXPECT_EQ(SpecifierSet::parse("==1.0.*,==1.0.0.*").str(), "==1.0.*,==1.0.0.*");
    EXPECT_EQ(SpecifierSet::parse("==v1.0").str(), "==v1.0");
    EXPECT_EQ(SpecifierSet::parse("==\u00a01.0").str(), "==1.0");
    EXPECT_EQ(SpecifierSet::parse("").str(), "");
    EXPECT_TRUE(SpecifierSet::parse(" , ,").empty());
    const auto set = SpecifierSet::parse("~=1.4.5,!=1.4.7");
    ASSERT_EQ(set.specifiers().size(), 2u);
    EXPECT_EQ(set.specifiers()[0].op(), SpecifierOperator::compatible);
    EXPECT_EQ(set.specifiers()[0].version_text(), "1.4.5");
    EXPECT_EQ(set.specifiers()[1].str(), "!=1.4.7");
    EXPECT_TRUE(SpecifierSet::parse("==1.2.*").specifiers()[0].is_wildcard());
}

TEST(SpecifierSet, ErrorsPointAtTheOffendingCharacter) {
    EXPECT_NE(parse_error("lolwat").find("column 1: expected an operator"), std::string::npos);
    const std::string message = parse_error(">=1.0,<<2");
    EXPECT_NE(message.find("invalid PEP 440 specifier '>=1.0,<<2': column 8"), std::string::npos)
        << message;
    EXPECT_NE(parse_error("<=1.0+local").find("column 6: a local version label"),
              std::string::npos);
    EXPECT_NE(parse_error("==1.0a1.*").find("column 6: '.*' may only follow"), std::string::npos);
    EXPECT_NE(parse_error("~=1").find("column 4: '~=' needs"), std::string::npos);
    EXPECT_NE(parse_error("=== foo bar").find("column 8: unexpected whitespace"),
              std::string::npos);
    EXPECT_NE(parse_error(">=").find("column 3: empty version"), std::string::npos);
    for (const char* bad : {"=>1", ">=1.0;", "==1.0)", "1.0", "== =1", "<==1", "~=1.*", ">=1.*"})
        EXPECT_NE(parse_error(bad), "") << bad;
}

TEST(Specifier, MatchLengthReadsLikeTheRequirementTokenizer) {
    EXPECT_EQ(Specifier::match_length(">=1.0,<2"), 5u);
    EXPECT_EQ(Specifier::match_length("==1.0.*;"), 7u);
    EXPECT_EQ(Specifier::match_length("==1.0+abc)"), 9u);
    EXPECT_EQ(Specifier::match_length("<=1.0+abc"), 5u);  // no local label after <=
    EXPECT_EQ(Specifier::match_length("===foo,>=1 x"), 10u);
    EXPECT_EQ(Specifier::match_length("== 1.0a"), 7u);
    EXPECT_EQ(Specifier::match_length("~=1"), 0u);
    EXPECT_EQ(Specifier::match_length("=>1"), 0u);
}

TEST(SpecifierSet, HugeInputsStayLinear) {
    const auto start = std::chrono::steady_clock::now();
    std::string many;
    for (int i = 0; many.size() < 1'000'000; ++i)
        many += ">=" + std::to_string(i % 1000) + ".0,";
    const auto set = SpecifierSet::parse(many);
    EXPECT_EQ(set.specifiers().size(), 1000u);
    EXPECT_TRUE(set.contains(Pep440Version::parse("1000")));
    std::string wild = "==1";
    while (wild.size() < 1'000'000)
        wild += ".0";
    EXPECT_TRUE(SpecifierSet::parse(wild + ".*").contains(Pep440Version::parse("1")));
    EXPECT_NE(parse_error(std::string(1'000'000, ',') + "x"), "");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace gpuenv::core::spec
