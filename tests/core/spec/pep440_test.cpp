#include <gpuenv/core/spec/pep440.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <gpuenv/util/error.hpp>

namespace gpuenv::core::spec {
namespace {

std::string norm(std::string_view text) {
    return Pep440Version::parse(text).normalized();
}

// Returns the message of the error parse() throws, or "" when it does not throw.
std::string parse_error(std::string_view text) {
    try {
        (void)Pep440Version::parse(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        return e.what();
    }
    return "";
}

// PEP 440, "Normalization": each row of the spec's examples.
TEST(Pep440Normalize, CaseAndIntegers) {
    EXPECT_EQ(norm("1.1RC1"), "1.1rc1");
    EXPECT_EQ(norm("00"), "0");
    EXPECT_EQ(norm("09000"), "9000");
    EXPECT_EQ(norm("1.0+foo0100"), "1.0+foo0100");
    EXPECT_EQ(norm("1.0+0100"), "1.0+100");
}

TEST(Pep440Normalize, PreReleaseSeparatorsSpellingsAndImplicitNumber) {
    EXPECT_EQ(norm("1.1.a1"), "1.1a1");
    EXPECT_EQ(norm("1.1-a1"), "1.1a1");
    EXPECT_EQ(norm("1.1_a1"), "1.1a1");
    EXPECT_EQ(norm("1.0a.1"), "1.0a1");
    EXPECT_EQ(norm("1.0a-1"), "1.0a1");
    EXPECT_EQ(norm("1.1alpha1"), "1.1a1");
    EXPECT_EQ(norm("1.1beta2"), "1.1b2");
    EXPECT_EQ(norm("1.1c3"), "1.1rc3");
    EXPECT_EQ(norm("1.1pre3"), "1.1rc3");
    EXPECT_EQ(norm("1.1preview3"), "1.1rc3");
    EXPECT_EQ(norm("1.2a"), "1.2a0");
    EXPECT_EQ(norm("1.2a."), "1.2a0");
}

TEST(Pep440Normalize, PostReleaseSeparatorsSpellingsAndImplicitForms) {
    EXPECT_EQ(norm("1.2-post2"), "1.2.post2");
    EXPECT_EQ(norm("1.2post2"), "1.2.post2");
    EXPECT_EQ(norm("1.2.post-2"), "1.2.post2");
    EXPECT_EQ(norm("1.0-r4"), "1.0.post4");
    EXPECT_EQ(norm("1.0-rev4"), "1.0.post4");
    EXPECT_EQ(norm("1.2.post"), "1.2.post0");
    EXPECT_EQ(norm("1.0-1"), "1.0.post1");
    EXPECT_EQ(norm("1.0a1-1"), "1.0a1.post1");
    EXPECT_EQ(norm("1.0a--1"), "1.0a0.post1");
}

TEST(Pep440Normalize, DevLocalPrefixAndWhitespace) {
    EXPECT_EQ(norm("1.2-dev2"), "1.2.dev2");
    EXPECT_EQ(norm("1.2dev2"), "1.2.dev2");
    EXPECT_EQ(norm("1.2.dev"), "1.2.dev0");
    EXPECT_EQ(norm("1.0+ubuntu-1"), "1.0+ubuntu.1");
    EXPECT_EQ(norm("1.0+ubuntu_1.UBUNTU"), "1.0+ubuntu.1.ubuntu");
    EXPECT_EQ(norm("v1.0"), "1.0");
    EXPECT_EQ(norm("V1.0"), "1.0");
    EXPECT_EQ(norm("  1.0\n"), "1.0");
    EXPECT_EQ(norm("\t1.0\v\f\r"), "1.0");
    EXPECT_EQ(norm("\u00a01.0\u3000"), "1.0");  // Python's str.strip() whitespace
    EXPECT_EQ(norm("1!2.0.0rc1.post2.dev3+abc.4"), "1!2.0.0rc1.post2.dev3+abc.4");
    EXPECT_EQ(norm("0!1.0"), "1.0");
}

TEST(Pep440Normalize, NumbersBeyondSixtyFourBits) {
    EXPECT_EQ(norm("1.0.99999999999999999999999"), "1.0.99999999999999999999999");
    EXPECT_EQ(norm("000000000000000000000000012"), "12");
    EXPECT_LT(Pep440Version::parse("1.99999999999999999999998"),
              Pep440Version::parse("1.99999999999999999999999"));
    EXPECT_LT(Pep440Version::parse("1.18446744073709551615"),
              Pep440Version::parse("1.18446744073709551616"));
    EXPECT_EQ(Pep440Version::parse("1.0099999999999999999999").release()[1].str(),
              "99999999999999999999");
}

// PEP 440, "Summary of permitted suffixes and relative ordering".
TEST(Pep440Order, SpecExampleIsSorted) {
    const std::vector<std::string> ordered = {
        "1.dev0",
        "1.0.dev456",
        "1.0a1",
        "1.0a2.dev456",
        "1.0a12.dev456",
        "1.0a12",
        "1.0b1.dev456",
        "1.0b2",
        "1.0b2.post345.dev456",
        "1.0b2.post345",
        "1.0rc1.dev456",
        "1.0rc1",
        "1.0",
        "1.0+abc.5",
        "1.0+abc.7",
        "1.0+5",
        "1.0.post456.dev34",
        "1.0.post456",
        "1.0.15",
        "1.1.dev1",
    };
    for (std::size_t i = 0; i + 1 < ordered.size(); ++i) {
        EXPECT_LT(Pep440Version::parse(ordered[i]), Pep440Version::parse(ordered[i + 1]))
            << ordered[i] << " < " << ordered[i + 1];
    }
    std::vector<Pep440Version> shuffled;
    for (auto it = ordered.rbegin(); it != ordered.rend(); ++it)
        shuffled.push_back(Pep440Version::parse(*it));
    std::sort(shuffled.begin(), shuffled.end());
    for (std::size_t i = 0; i < ordered.size(); ++i)
        EXPECT_EQ(shuffled[i].normalized(), norm(ordered[i]));
}

TEST(Pep440Order, EpochsTrailingZerosAndLocalLabels) {
    const auto v = [](std::string_view s) { return Pep440Version::parse(s); };
    EXPECT_LT(v("2013.10"), v("1!1.0"));
    EXPECT_EQ(v("1.0"), v("1.0.0"));
    EXPECT_EQ(v("1.0"), v("1"));
    EXPECT_NE(v("1.0"), v("1.0.post0"));
    EXPECT_EQ(v("1.0a"), v("1.0a0"));
    EXPECT_LT(v("1.0.dev0"), v("1.0a0"));
    EXPECT_LT(v("1.0a1.dev0"), v("1.0a1"));
    EXPECT_LT(v("1.0"), v("1.0+abc"));
    EXPECT_LT(v("1.0+abc"), v("1.0+abc.1"));  // shorter first
    EXPECT_LT(v("1.0+abc"), v("1.0+1"));      // text before numbers
    EXPECT_LT(v("1.0+2"), v("1.0+10"));       // numbers by value
    EXPECT_EQ(v("1.0+0"), v("1.0+00"));
    EXPECT_EQ(v("1.0+ABC"), v("1.0+abc"));
    EXPECT_LT(v("1.0+local"), v("1.0.post1"));
}

TEST(Pep440Version, Accessors) {
    const auto v = Pep440Version::parse("v2!1.02.3rc4.post5.dev6+Ubuntu.7");
    EXPECT_EQ(v.epoch().to_uint64(), 2u);
    ASSERT_EQ(v.release().size(), 3u);
    EXPECT_EQ(v.release()[1].to_uint64(), 2u);
    ASSERT_TRUE(v.pre());
    EXPECT_EQ(v.pre()->kind, PreReleaseKind::rc);
    EXPECT_EQ(v.pre()->number.to_uint64(), 4u);
    EXPECT_EQ(v.post()->to_uint64(), 5u);
    EXPECT_EQ(v.dev()->to_uint64(), 6u);
    EXPECT_EQ(v.local(), "ubuntu.7");
    EXPECT_EQ(v.public_version().normalized(), "2!1.2.3rc4.post5.dev6");
    EXPECT_EQ(v.base_version().normalized(), "2!1.2.3");
    EXPECT_TRUE(v.is_prerelease());
    EXPECT_TRUE(v.is_postrelease());
    EXPECT_TRUE(v.is_devrelease());
    EXPECT_TRUE(v.has_local());
}

TEST(Pep440Version, PreAndPostReleaseFlags) {
    EXPECT_TRUE(Pep440Version::parse("1.0a1").is_prerelease());
    EXPECT_TRUE(Pep440Version::parse("1.0.dev1").is_prerelease());
    EXPECT_TRUE(Pep440Version::parse("1.0.post1.dev1").is_prerelease());
    EXPECT_FALSE(Pep440Version::parse("1.0.post1").is_prerelease());
    EXPECT_FALSE(Pep440Version::parse("1.0+dev").is_prerelease());
    EXPECT_FALSE(Pep440Version::parse("1.0").is_postrelease());
}

TEST(Pep440Parse, RejectsNonVersionsAndPointsAtTheCharacter) {
    for (const char* bad :
         {"", "   ", "abc", "1.0-", "1.0+", "1.0+abc.", "1!", "1.0.*", "1.0a1.-1", "1..0", "1.0 a1",
          "1.0é", "١.0", "1.0_", "1,0", "1.0+ abc", "-1.0", "1.0.post1.post2", "1.0dev1a1"}) {
        EXPECT_FALSE(Pep440Version::try_parse(bad)) << bad;
        EXPECT_NE(parse_error(bad), "") << bad;
    }
    EXPECT_NE(parse_error("1.0-").find("column 4: unexpected character"), std::string::npos)
        << parse_error("1.0-");
    EXPECT_NE(parse_error("1.0+").find("column 5: expected a local version label after '+'"),
              std::string::npos);
    EXPECT_NE(parse_error("1!").find("column 3: expected a digit after '!'"), std::string::npos);
    EXPECT_NE(parse_error("  x").find("column 3: expected a digit"), std::string::npos);
    EXPECT_NE(parse_error("1.0é").find("non-ASCII"), std::string::npos);
    const std::string message = parse_error("1.0.x");
    EXPECT_NE(message.find("invalid PEP 440 version '1.0.x': column 4"), std::string::npos)
        << message;
    EXPECT_NE(message.find("\n  1.0.x\n     ^"), std::string::npos) << message;
}

TEST(Pep440Parse, ScanFindsTheGreedyPrefix) {
    const auto extent = scan_pep440("1.0.post1+abc;rest");
    ASSERT_TRUE(extent);
    EXPECT_EQ(extent->end, 13u);
    EXPECT_EQ(extent->local_begin, 9u);
    EXPECT_EQ(extent->release_end, 3u);
    EXPECT_EQ(extent->release_count, 2u);
    EXPECT_EQ(scan_pep440("1!x")->end, 1u);  // the epoch backtracks
    EXPECT_FALSE(scan_pep440("x1"));
}

TEST(Pep440Parse, HugeInputsStayLinear) {
    const auto start = std::chrono::steady_clock::now();
    std::string many_parts = "1";
    while (many_parts.size() < 1'000'000)
        many_parts += ".0";
    const auto a = Pep440Version::parse(many_parts);
    EXPECT_EQ(a, Pep440Version::parse("1"));
    EXPECT_FALSE(Pep440Version::try_parse(many_parts + "x"));
    const std::string long_number(1'000'000, '7');
    EXPECT_LT(Pep440Version::parse("1." + long_number), Pep440Version::parse("2"));
    std::string long_local = "1.0+a";
    while (long_local.size() < 1'000'000)
        long_local += ".b";
    EXPECT_EQ(Pep440Version::parse(long_local).local_segments().size(),
              (long_local.size() - 5) / 2 + 1);
    EXPECT_FALSE(Pep440Version::try_parse(std::string(1'000'000, ' ')));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace gpuenv::core::spec
