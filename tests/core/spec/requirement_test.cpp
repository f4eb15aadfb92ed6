#include <gpuenv/core/spec/requirement.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include <gpuenv/util/error.hpp>

namespace gpuenv::core::spec {
namespace {

// Returns the message of the error parse() throws, or "" when it does not throw.
std::string parse_error(std::string_view text) {
    try {
        (void)Requirement::parse(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        return e.what();
    }
    return "";
}

MarkerEnvironment linux_py311() {
    MarkerEnvironment env;
    env.python_full_version = "3.11.2";
    env.python_version = "3.11";
    env.sys_platform = "linux";
    env.platform_system = "Linux";
    env.platform_machine = "x86_64";
    return env;
}

// PEP 508, "Complete Grammar": the examples its test harness parses, printed as packaging
// prints them.
TEST(RequirementParse, SpecExamples) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"A", "A"},
        {"A.B-C_D", "A.B-C_D"},
        {"aa", "aa"},
        {"name", "name"},
        {"name<=1", "name<=1"},
        {"name>=3", "name>=3"},
        {"name>=3,<2", "name<2,>=3"},
        {"name@http://foo.com", "name@ http://foo.com"},
        {"name [fred,bar] @ http://foo.com ; python_version=='2.7'",
         "name[bar,fred]@ http://foo.com ; python_version == \"2.7\""},
        {"name[quux, strange];python_version<'2.7' and platform_version=='2'",
         "name[quux,strange]; python_version < \"2.7\" and platform_version == \"2\""},
        {"name; os_name=='a' or os_name=='b'", "name; os_name == \"a\" or os_name == \"b\""},
        {"name; os_name=='a' and os_name=='b' or os_name=='c'",
         "name; os_name == \"a\" and os_name == \"b\" or os_name == \"c\""},
        {"name; os_name=='a' and (os_name=='b' or os_name=='c')",
         "name; os_name == \"a\" and (os_name == \"b\" or os_name == \"c\")"},
        {"name; os_name=='a' or os_name=='b' and os_name=='c'",
         "name; os_name == \"a\" or os_name == \"b\" and os_name == \"c\""},
        {"name; (os_name=='a' or os_name=='b') and os_name=='c'",
         "name; (os_name == \"a\" or os_name == \"b\") and os_name == \"c\""},
    };
    for (const auto& [text, printed] : cases)
        EXPECT_EQ(Requirement::parse(text).str(), printed) << text;
}

TEST(RequirementParse, FillsEveryField) {
    const auto r = Requirement::parse("name [fred,bar] @ http://foo.com ; python_version=='2.7'");
    EXPECT_EQ(r.name, "name");
    EXPECT_EQ(r.normalized_name, "name");
    EXPECT_EQ(r.extras, (std::vector<std::string>{"bar", "fred"}));
    EXPECT_TRUE(r.specifier.empty());
    EXPECT_EQ(r.url, "http://foo.com");
    ASSERT_TRUE(r.marker);
    EXPECT_EQ(r.marker->str(), "python_version == \"2.7\"");

    const auto s = Requirement::parse("  Foo.Bar_baz [Security, SOCKS,security] (>= 1.0 , < 2) ");
    EXPECT_EQ(s.name, "Foo.Bar_baz");
    EXPECT_EQ(s.normalized_name, "foo-bar-baz");
    EXPECT_EQ(s.extras, (std::vector<std::string>{"security", "socks"}));
    EXPECT_EQ(s.specifier.str(), "<2,>=1.0");
    EXPECT_EQ(s.url, "");
    EXPECT_FALSE(s.marker);
}

TEST(RequirementParse, AcceptsWhatPackagingAccepts) {
    for (const char* text : {"foo_",
                             "1foo",
                             "foo[]",
                             "foo[ ]",
                             "foo >=1.0,",
                             "foo(>=1.0,<2)",
                             "foo\t==1",
                             "foo ==\n1.0",
                             "foo (===bar )",
                             "foo ===bar,>=1",
                             "foo==1.0.*",
                             "foo @ file:///tmp/x",
                             "foo @ file://localhost/x",
                             "foo @ http://x.com ",
                             "foo @ git+https://github.com/a/b.git@v1#egg=b",
                             "foo @ http://[::1]:8080/x",
                             "foo==1.0 ;os_name=='a'   ",
                             "foo\n",
                             "foo>=1 \n",
                             "foo; os_name == 'a'\n"})
        EXPECT_NO_THROW((void)Requirement::parse(text)) << text;
    EXPECT_EQ(Requirement::parse("foo @ http://x.com;os_name=='a'").url,
              "http://x.com;os_name=='a'");  // the URL runs to whitespace
    EXPECT_EQ(Requirement::parse("foo ===bar,>=1").specifier.str(), "===bar,>=1");
}

TEST(RequirementParse, RejectsCommentsAndBadSyntax) {
    EXPECT_NE(parse_error("foo >=1.0 # comment").find("column 11: expected the end or ';'"),
              std::string::npos)
        << parse_error("foo >=1.0 # comment");
    EXPECT_NE(parse_error("foo # comment").find("column 5"), std::string::npos);
    EXPECT_NE(parse_error("foo; os_name == 'a' # comment").find("column 21"), std::string::npos);
    EXPECT_NE(parse_error("-foo").find("column 1: expected a package name"), std::string::npos);
    EXPECT_NE(parse_error("foo[a b]").find("column 7: expected a comma"), std::string::npos);
    EXPECT_NE(parse_error("foo[a,]").find("column 7: expected an extra name"), std::string::npos);
    EXPECT_NE(parse_error("foo (>=1.0").find("column 11: expected ')'"), std::string::npos);
    EXPECT_NE(parse_error("foo;").find("column 5: expected a marker variable"), std::string::npos);
    const std::string message = parse_error("numpy >=1.21,<<2");
    EXPECT_NE(message.find("invalid PEP 508 requirement 'numpy >=1.21,<<2': column 14"),
              std::string::npos)
        << message;
    for (const char* bad :
         {"", "foo-", "foo~=1", "foo==1.0.*+abc", "foo>=1.0 and", "foo==1.0;", "foo[", "foo @",
          "foo @ http://x.com os_name=='a'", "foo (===a,b)", "foo; os_name == 'a' )", "foo\n\n"})
        EXPECT_NE(parse_error(bad), "") << bad;
}

TEST(RequirementParse, ChecksUrlsLikePackaging) {
    for (const char* bad : {"foo @ file:/tmp/x", "foo @ FILE:///x", "foo @ file:///x?", "foo @ ./x",
                            "foo @ http://", "foo @ http://[::1/x", "foo @ http://[1.2.3.4]/x",
                            "foo @ http://[::1]x/", "foo @ /abs/path"})
        EXPECT_NE(parse_error(bad).find("URL"), std::string::npos) << bad;
}

TEST(RequirementMatches, ChecksNameVersionAndMarker) {
    const auto env = linux_py311();
    const auto r = Requirement::parse("Typing_Extensions>=4.0; python_version >= '3.8'");
    EXPECT_TRUE(r.matches("typing-extensions", "4.9.0", env));
    EXPECT_TRUE(r.matches("typing.extensions", "5.0rc1", env));  // installed pre-releases count
    EXPECT_FALSE(r.matches("typing-extensions", "3.10.0", env));
    EXPECT_FALSE(r.matches("numpy", "4.9.0", env));
    auto old_env = env;
    old_env.python_version = "3.7";
    EXPECT_FALSE(r.matches("typing-extensions", "4.9.0", old_env));  // does not apply
    EXPECT_FALSE(Requirement::parse("pytest; extra == 'test'").matches("pytest", "8.0", env));
    EXPECT_TRUE(Requirement::parse("torch==2.1.0").matches("torch", "2.1.0+cu118", env));
    EXPECT_TRUE(Requirement::parse("foo @ http://x.com/foo.whl").matches("foo", "1.0", env));
    EXPECT_FALSE(Requirement::parse("foo>=1").matches("foo", "not-a-version", env));
    EXPECT_TRUE(Requirement::parse("foo===legacy-1").matches("foo", "legacy-1", env));
}

TEST(RequirementParse, HugeInputsStayLinear) {
    const auto start = std::chrono::steady_clock::now();
    std::string many = "foo";
    for (int i = 0; many.size() < 1'000'000; ++i)
        many += (i == 0 ? " " : ", ") + std::string(">=") + std::to_string(i % 997);
    EXPECT_EQ(Requirement::parse(many).specifier.specifiers().size(), 997u);
    std::string extras = "foo[a";
    while (extras.size() < 1'000'000)
        extras += ",a";
    EXPECT_EQ(Requirement::parse(extras + "]").extras.size(), 1u);
    EXPECT_NE(parse_error(std::string(1'000'000, 'a') + "-"), "");
    EXPECT_NE(parse_error("foo; " + std::string(1'000'000, '(')), "");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace gpuenv::core::spec
