#include <gpuenv/core/spec/conda_version.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <gpuenv/util/error.hpp>

namespace gpuenv::core::spec {
namespace {

CondaVersion v(std::string_view text) {
    return CondaVersion::parse(text);
}

// Expects every adjacent pair of a list to compare as the relation written before the second.
void expect_chain(const std::vector<std::pair<std::string, std::string>>& chain) {
    for (std::size_t i = 1; i < chain.size(); ++i) {
        const auto& [relation, text] = chain[i];
        const CondaVersion a = v(chain[i - 1].second);
        const CondaVersion b = v(text);
        const std::string where = chain[i - 1].second + " " + relation + " " + text;
        if (relation == "==") {
            EXPECT_TRUE(a == b) << where;
            EXPECT_TRUE((a <=> b) == 0) << where;
        } else {
            EXPECT_TRUE(a < b) << where;
            EXPECT_TRUE(b > a) << where;
            EXPECT_FALSE(a == b) << where;
        }
    }
}

// The "Examples" list of CEP 33 ("Version literals and their ordering").
TEST(CondaVersion, Cep33ExampleListCompares) {
    expect_chain({{"", "0.4"},        {"==", "0.4.0"},      {"<", "0.4.1.rc"},
                  {"==", "0.4.1.RC"}, {"<", "0.4.1+local"}, {"<", "0.4.1+0.local"},
                  {"<", "0.4.1"},     {"==", "0.4.1+0"},    {"<", "0.4.1+1.local"},
                  {"<", "0.5a1"},     {"<", "0.5b3"},       {"<", "0.5C1"},
                  {"<", "0.5"},       {"<", "0.9.6"},       {"<", "0.960923"},
                  {"<", "1.0"},       {"<", "1.1dev1"},     {"<", "1.1a1"},
                  {"<", "1.1.0dev1"}, {"==", "1.1.dev1"},   {"<", "1.1.a1"},
                  {"<", "1.1.0rc1"},  {"<", "1.1.0.0"},     {"==", "1.1.0"},
                  {"==", "1.1"},      {"<", "1.1.post1"},   {"==", "1.1.0post1"},
                  {"<", "1.1post1"},  {"<", "1996.07.12"},  {"<", "1!0.4.1"},
                  {"<", "1!3.1.1.6"}, {"<", "2!0.4.1"}});
}

// conda's VersionOrder docstring list, which also places the openssl-style trailing '_'.
TEST(CondaVersion, CondaDocstringListCompares) {
    expect_chain({{"", "0.4"},         {"==", "0.4.0"},     {"<", "0.4.1.rc"},   {"==", "0.4.1.RC"},
                  {"<", "0.4.1"},      {"<", "0.5a1"},      {"<", "0.5b3"},      {"<", "0.5C1"},
                  {"<", "0.5"},        {"<", "0.9.6"},      {"<", "0.960923"},   {"<", "1.0"},
                  {"<", "1.1dev1"},    {"<", "1.1_"},       {"<", "1.1a1"},      {"<", "1.1.0dev1"},
                  {"==", "1.1.dev1"},  {"<", "1.1.a1"},     {"<", "1.1.0rc1"},   {"<", "1.1.0"},
                  {"==", "1.1"},       {"<", "1.1.0post1"}, {"==", "1.1.post1"}, {"<", "1.1post1"},
                  {"<", "1996.07.12"}, {"<", "1!0.4.1"},    {"<", "1!3.1.1.6"},  {"<", "2!0.4.1"}});
}

// conda's tests/models/test_version.py test_version_order: the list is sorted.
TEST(CondaVersion, CondaTestListIsSorted) {
    const std::vector<std::string> sorted = {"0.4",
                                             "0.4.0",
                                             "0.4.1a.vc11",
                                             "0.4.1.rc",
                                             "0.4.1.vc11",
                                             "0.4.1",
                                             "0.5*",
                                             "0.5a1",
                                             "0.5b3",
                                             "0.5C1",
                                             "0.5z",
                                             "0.5za",
                                             "0.5",
                                             "0.5_5",
                                             "0.5-5",
                                             "0.9.6",
                                             "0.960923",
                                             "1.0",
                                             "1.0.4a3",
                                             "1.0.4b1",
                                             "1.0.4",
                                             "1.1dev1",
                                             "1.1_",
                                             "1.1a1",
                                             "1.1.dev1",
                                             "1.1.a1",
                                             "1.1",
                                             "1.1.post1",
                                             "1.1.1dev1",
                                             "1.1.1rc1",
                                             "1.1.1",
                                             "1.1.1post1",
                                             "1.1post1",
                                             "2g6",
                                             "2.0b1pr0",
                                             "2.2be.ta29",
                                             "2.2be5ta29",
                                             "2.2beta29",
                                             "2.2.0.1",
                                             "3.1.1.6",
                                             "3.2.p.r0",
                                             "3.2.pr0",
                                             "3.2.pr.1",
                                             "5.5.kw",
                                             "11g",
                                             "14.3.1",
                                             "14.3.1.post26.g9d75ca2",
                                             "1996.07.12",
                                             "1!0.4.1",
                                             "1!3.1.1.6",
                                             "2!0.4.1"};
    for (std::size_t i = 1; i < sorted.size(); ++i)
        EXPECT_TRUE(v(sorted[i - 1]) <= v(sorted[i])) << sorted[i - 1] << " <= " << sorted[i];
    EXPECT_TRUE(v("0.4") == v("0.4.0"));
    EXPECT_TRUE(v("0.5_5") == v("0.5-5"));
    EXPECT_EQ(v("0.5-5").normalized(), "0.5_5");
    EXPECT_EQ(v("  0.4.1.RC  ").normalized(), "0.4.1.rc");

    std::vector<CondaVersion> shuffled;
    for (const auto& s : sorted)
        shuffled.push_back(v(s));
    std::mt19937 rng(42);
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    std::stable_sort(shuffled.begin(), shuffled.end());
    for (std::size_t i = 0; i < sorted.size(); ++i)
        EXPECT_TRUE(shuffled[i] == v(sorted[i])) << i;
}

TEST(CondaVersion, OpensslTrailingUnderscoreSortsBeforeLetters) {
    const std::vector<std::string> openssl = {
        "1.0.1dev",    "1.0.1_",      "1.0.1a",      "1.0.1b",       "1.0.1c", "1.0.1d",
        "1.0.1r",      "1.0.1rc",     "1.0.1rc1",    "1.0.1rc2",     "1.0.1s", "1.0.1",
        "1.0.1post.a", "1.0.1post.b", "1.0.1post.z", "1.0.1post.za", "1.0.2"};
    for (std::size_t i = 1; i < openssl.size(); ++i)
        EXPECT_TRUE(v(openssl[i - 1]) < v(openssl[i])) << openssl[i - 1] << " < " << openssl[i];
}

// conda's test_pep440: PEP 440 versions sort the same way under conda's rules.
TEST(CondaVersion, Pep440ListIsSorted) {
    const std::vector<std::string> base = {"1.0a1",
                                           "1.0a2.dev456",
                                           "1.0a12.dev456",
                                           "1.0a12",
                                           "1.0b1.dev456",
                                           "1.0b2",
                                           "1.0b2.post345.dev456",
                                           "1.0b2.post345",
                                           "1.0c1.dev456",
                                           "1.0c1",
                                           "1.0c3",
                                           "1.0rc2",
                                           "1.0.dev456",
                                           "1.0",
                                           "1.0.post456.dev34",
                                           "1.0.post456",
                                           "1.1.dev1",
                                           "1.2.r32+123456",
                                           "1.2.rev33+123456",
                                           "1.2+abc",
                                           "1.2+abc123def",
                                           "1.2+abc123",
                                           "1.2+123abc",
                                           "1.2+123abc456",
                                           "1.2+1234.abc",
                                           "1.2+123456"};
    std::vector<std::string> all = base;
    for (const auto& s : base)
        all.push_back("1!" + s);
    for (std::size_t i = 1; i < all.size(); ++i)
        EXPECT_TRUE(v(all[i - 1]) < v(all[i])) << all[i - 1] << " < " << all[i];
    EXPECT_TRUE(v("0.3.0.dev") < v("0.3.3"));  // test_hexrd
}

TEST(CondaVersion, DevSortsBeforeAlpha) {
    EXPECT_TRUE(v("1.0dev") < v("1.0a"));
    EXPECT_TRUE(v("1.0.dev1") < v("1.0.a1"));
    EXPECT_TRUE(v("1.0dev") < v("1.0_"));  // 'DEV' < '_' < 'a'
    EXPECT_TRUE(v("1.0*") < v("1.0dev"));  // '*' < 'DEV'
}

// dev and post are special only as whole runs (as rattler's tests also say).
TEST(CondaVersion, DevAndPostAreSpecialOnlyAsWholeRuns) {
    EXPECT_TRUE(v("1.2dev") < v("1.2.devdev"));
    EXPECT_TRUE(v("1.2devdev") > v("1.2dev"));
    EXPECT_TRUE(v("1.2postpost") < v("1.2post"));
    EXPECT_TRUE(v("1.2post") > v("1.2.99999"));
}

TEST(CondaVersion, PadsMissingComponentsWithZero) {
    EXPECT_TRUE(v("1.1") == v("1.1.0"));
    EXPECT_TRUE(v("1.1") == v("1.1.0.0"));
    EXPECT_TRUE(v("0.4.a1") == v("0.4.0a1"));
    EXPECT_TRUE(v("0.4.a1") != v("0.4.1a1"));
    EXPECT_TRUE(v("0.4") != v("0.4.1"));
    EXPECT_TRUE(v("007") == v("7"));
}

// CEP 33 warning and conda/conda#12568.
TEST(CondaVersion, PrereleaseMarkersAreSensitiveToZerosAndPeriods) {
    EXPECT_TRUE(v("1.1.0rc") == v("1.1.rc"));
    EXPECT_TRUE(v("1.1.rc") > v("1.1rc"));
    EXPECT_TRUE(v("2.0a1") < v("2"));
}

TEST(CondaVersion, EpochAndLocalVersion) {
    EXPECT_TRUE(v("1!0.1") > v("9999"));
    EXPECT_EQ(v("3!1.0").epoch(), 3u);
    EXPECT_EQ(v("1.0").epoch(), 0u);
    EXPECT_TRUE(v("1.0+local") < v("1.0"));
    EXPECT_TRUE(v("1.0+1") > v("1.0"));
    EXPECT_TRUE(v("1.0+a_b") == v("1.0+a.b"));
    EXPECT_TRUE(v("1.0+abc").has_local());
    EXPECT_TRUE(v("1.1+zzz") > v("1.0+aaa"));  // the main version decides first
}

TEST(CondaVersion, CaseAndDashesFold) {
    EXPECT_TRUE(v("1.0RC1") == v("1.0rc1"));
    EXPECT_TRUE(v("1-2-3") == v("1.2.3"));
    EXPECT_TRUE(v("1.0.1-") == v("1.0.1_"));  // '-' read as '_' when there is no '_'
    EXPECT_EQ(v("1-2-A").normalized(), "1_2_a");
    EXPECT_EQ(v("1.0").str(), "1.0");
    EXPECT_EQ(v(" 1.0 ").str(), " 1.0 ");
}

// conda's test_version_order startswith checks.
TEST(CondaVersion, StartsWithFollowsConda) {
    EXPECT_TRUE(v("0.4.1").starts_with(v("0")));
    EXPECT_TRUE(v("0.4.1").starts_with(v("0.4")));
    EXPECT_TRUE(v("0.4.1p1").starts_with(v("0.4")));
    EXPECT_TRUE(v("0.4.1p1").starts_with(v("0.4.1p")));
    EXPECT_FALSE(v("0.4.1p1").starts_with(v("0.4.1q1")));
    EXPECT_FALSE(v("0.4").starts_with(v("0.4.1")));
    EXPECT_TRUE(v("0.4.1+1.3").starts_with(v("0.4.1")));
    EXPECT_TRUE(v("0.4.1+1.3").starts_with(v("0.4.1+1")));
    EXPECT_FALSE(v("0.4.1").starts_with(v("0.4.1+1.3")));
    EXPECT_FALSE(v("0.4.1+1").starts_with(v("0.4.1+1.3")));
    EXPECT_FALSE(v("10.0").starts_with(v("1")));
    EXPECT_TRUE(v("2013ab").starts_with(v("2013a")));
    EXPECT_TRUE(v("1.0").starts_with(v("1.0.0")));
    EXPECT_FALSE(v("1.0.1").starts_with(v("1.0.0")));
}

TEST(CondaVersion, AcceptsLimits) {
    EXPECT_NO_THROW(v("2147483647"));
    std::string longest;
    while (longest.size() < CondaVersion::k_max_length)
        longest += "1.";
    longest.back() = '1';
    EXPECT_EQ(v(longest).str().size(), 64u);
    EXPECT_NO_THROW(v("1.1._"));
    EXPECT_NO_THROW(v("0.5*"));
}

struct InvalidVersion {
    std::string text;
    std::size_t offset;
    std::string reason;
};

// The invalid strings of conda's tests and the reference, each with where and why.
TEST(CondaVersion, RejectsInvalidWithOffsetAndReason) {
    const std::vector<InvalidVersion> cases = {
        {"", 0, "empty version"},
        {"  ", 2, "empty version"},
        {"3.5&1", 3, "invalid character '&'"},
        {"5.5++", 4, "duplicated local version separator '+'"},
        {"5.5..mw", 4, "empty version component"},
        {"!", 0, "epoch must be an integer"},
        {"a!1.0", 0, "epoch must be an integer"},
        {"a!b!1.0", 3, "duplicated epoch separator '!'"},
        {"1.2+", 4, "empty version component"},
        {"+1.2", 0, "missing version before local version separator '+'"},
        {"+1.2+", 4, "duplicated local version separator '+'"},
        {"++", 1, "duplicated local version separator '+'"},
        {"1!", 2, "missing version after epoch"},
        {"1.0_-1", 4, "invalid character '-' (a version with '_' cannot also use '-')"},
        {"2147483648", 0, "number larger than 2147483647"},
        {"1.99999999999999999999", 2, "number larger than 2147483647"},
        {"99999999999!1.0", 0, "number larger than 2147483647"},
        {std::string(65, '1'), 64, "version longer than 64 characters"},
        {"1.0 2.0", 3, "invalid character ' '"},
        {"1.0\x01", 3, "invalid character byte 0x01"},
        {"1.0.", 4, "empty version component"},
        {".1", 0, "empty version component"},
        {"1__2", 2, "empty version component"},
        {"1.0+a..b", 6, "empty version component"},
    };
    for (const auto& c : cases) {
        ParseFailure failure;
        EXPECT_FALSE(CondaVersion::try_parse(c.text, &failure).has_value()) << c.text;
        EXPECT_EQ(failure.offset, c.offset) << c.text;
        EXPECT_EQ(failure.reason, c.reason) << c.text;
    }
}

TEST(CondaVersion, ParseThrowsUsageErrorWithCaret) {
    try {
        (void)CondaVersion::parse("1.0$");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        const std::string message = e.what();
        EXPECT_NE(message.find("invalid conda version '1.0$': column 4: invalid character '$'"),
                  std::string::npos)
            << message;
        EXPECT_NE(message.find("\n     ^"), std::string::npos) << message;
    }
}

TEST(CondaVersion, HugeInputFailsFast) {
    const std::string huge(1 << 20, '1');
    ParseFailure failure;
    EXPECT_FALSE(CondaVersion::try_parse(huge, &failure));
    EXPECT_EQ(failure.offset, 64u);
}

}  // namespace
}  // namespace gpuenv::core::spec
