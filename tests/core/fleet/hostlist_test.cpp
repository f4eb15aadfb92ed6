#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <gpuenv/core/fleet/hostlist.hpp>
#include <gpuenv/util/error.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::fleet {
namespace {

using Hosts = std::vector<std::string>;

// Returns the message of the gpuenv::Error that `f` throws, checking its exit code.
template <typename F>
std::string error_of(F f, ExitCode code = ExitCode::usage) {
    try {
        f();
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), code) << error.what();
        return error.what();
    }
    ADD_FAILURE() << "no gpuenv::Error thrown";
    return {};
}

std::string expand_error(const std::string& expression) {
    return error_of([&] { (void)expand_hostlist(expression); });
}

TEST(Hostlist, ExpandsSlurmDocumentedExamples) {
    // scontrol(1) hostnames: "tux[1-3]" is tux1, tux2 and tux3.
    EXPECT_EQ(expand_hostlist("tux[1-3]"), (Hosts{"tux1", "tux2", "tux3"}));
    // Slurm::Hostlist(3pm): "node1,node[2-5,12]".
    EXPECT_EQ(expand_hostlist("node1,node[2-5,12]"),
              (Hosts{"node1", "node2", "node3", "node4", "node5", "node12"}));
    // slurm_hostlist_create(3): "linux[1-3,6]".
    EXPECT_EQ(expand_hostlist("linux[1-3,6]"), (Hosts{"linux1", "linux2", "linux3", "linux6"}));
}

TEST(Hostlist, PlainNamesPassThrough) {
    EXPECT_EQ(expand_hostlist("login01"), (Hosts{"login01"}));
    EXPECT_EQ(expand_hostlist("a.example.org"), (Hosts{"a.example.org"}));
}

TEST(Hostlist, PadsToTheWrittenWidthOfTheLowBound) {
    EXPECT_EQ(expand_hostlist("gpu[08-11]"), (Hosts{"gpu08", "gpu09", "gpu10", "gpu11"}));
    EXPECT_EQ(expand_hostlist("gpu[8-11]"), (Hosts{"gpu8", "gpu9", "gpu10", "gpu11"}));
    EXPECT_EQ(expand_hostlist("n[001-3]"), (Hosts{"n001", "n002", "n003"}));
    // Each comma element has its own width.
    EXPECT_EQ(expand_hostlist("n[1,02,003]"), (Hosts{"n1", "n02", "n003"}));
    EXPECT_EQ(expand_hostlist("n[0000-0001]"), (Hosts{"n0000", "n0001"}));
}

TEST(Hostlist, RangesAndSingleNumbersMix) {
    const Hosts hosts = expand_hostlist("gpu[01-16,20]");
    ASSERT_EQ(hosts.size(), 17u);
    EXPECT_EQ(hosts.front(), "gpu01");
    EXPECT_EQ(hosts[15], "gpu16");
    EXPECT_EQ(hosts.back(), "gpu20");
}

TEST(Hostlist, SeveralGroupsExpandFirstGroupSlowest) {
    EXPECT_EQ(expand_hostlist("rack[1-2]-node[01-03]"),
              (Hosts{"rack1-node01", "rack1-node02", "rack1-node03", "rack2-node01", "rack2-node02",
                     "rack2-node03"}));
    EXPECT_EQ(
        expand_hostlist("r[0-1]c[0-1]n[0-1]"),
        (Hosts{"r0c0n0", "r0c0n1", "r0c1n0", "r0c1n1", "r1c0n0", "r1c0n1", "r1c1n0", "r1c1n1"}));
}

TEST(Hostlist, AcceptsTextAfterTheLastBracket) {
    EXPECT_EQ(expand_hostlist("node[1-3]-ib"), (Hosts{"node1-ib", "node2-ib", "node3-ib"}));
    EXPECT_EQ(expand_hostlist("[1-2]"), (Hosts{"1", "2"}));
}

TEST(Hostlist, TopLevelCommasAndWhitespaceSeparate) {
    EXPECT_EQ(expand_hostlist("a,b,gpu[1-2]"), (Hosts{"a", "b", "gpu1", "gpu2"}));
    EXPECT_EQ(expand_hostlist("a b\tc"), (Hosts{"a", "b", "c"}));
    // Empty items are skipped, as Slurm's tokenizer does.
    EXPECT_EQ(expand_hostlist(",a,,b,"), (Hosts{"a", "b"}));
    EXPECT_TRUE(expand_hostlist("").empty());
    EXPECT_TRUE(expand_hostlist(" , ").empty());
}

TEST(Hostlist, KeepsDuplicatesAndOrder) {
    EXPECT_EQ(expand_hostlist("n[3,1-2,2],n1"), (Hosts{"n3", "n1", "n2", "n2", "n1"}));
}

TEST(Hostlist, RejectsUnbalancedBracketsWithColumn) {
    EXPECT_NE(expand_error("gpu[1-2").find("column 4: '[' is never closed"), std::string::npos);
    EXPECT_NE(expand_error("gpu1-2]").find("column 7: ']' without a matching '['"),
              std::string::npos);
    EXPECT_NE(expand_error("a,gpu[1[2]]").find("column 8: nested '['"), std::string::npos);
    // The message names the expression.
    EXPECT_NE(expand_error("gpu[1-2").find("invalid hostlist 'gpu[1-2'"), std::string::npos);
}

TEST(Hostlist, RejectsEmptyRanges) {
    EXPECT_NE(expand_error("n[]").find("column 3: empty range"), std::string::npos);
    EXPECT_NE(expand_error("n[1,,2]").find("column 5: empty range"), std::string::npos);
    EXPECT_NE(expand_error("n[1,]").find("column 5: empty range"), std::string::npos);
    EXPECT_NE(expand_error("n[-3]").find("column 3: expected a number"), std::string::npos);
    EXPECT_NE(expand_error("n[3-]").find("column 5: expected a number after '-'"),
              std::string::npos);
}

TEST(Hostlist, RejectsHighBelowLow) {
    EXPECT_NE(expand_error("gpu[1,5-3]").find("column 7: range 5-3 ends before it starts"),
              std::string::npos);
}

TEST(Hostlist, RejectsNonNumericRanges) {
    EXPECT_NE(expand_error("n[a-c]").find("column 3: expected a number"), std::string::npos);
    EXPECT_NE(expand_error("n[1-2-3]").find("column 6"), std::string::npos);
    EXPECT_NE(expand_error("n[1, 2]").find("column 5"), std::string::npos);
    EXPECT_NE(expand_error("n[1x2]").find("column 4"), std::string::npos);
    EXPECT_NE(expand_error("n[1234567890123456789]").find("longer than 18 digits"),
              std::string::npos);
}

TEST(Hostlist, BoundsTheExpansion) {
    EXPECT_EQ(expand_hostlist("n[1-1000000]").size(), k_max_hosts);
    EXPECT_NE(expand_error("n[1-1000001]").find("more than 1000000 hosts"), std::string::npos);
    // The product of several groups counts, and saturates instead of wrapping.
    EXPECT_NE(expand_error("a,r[1-1000]n[1-1001]").find("column 3: expands to more than"),
              std::string::npos);
    EXPECT_NE(expand_error("n[0-999999999999999999]x[0-999999999999999999]").find("more than"),
              std::string::npos);
    // The total over items counts too.
    EXPECT_NE(expand_error("a[1-600000],b[1-600000]").find("column 13"), std::string::npos);
    // Long names hit the byte cap first.
    const std::string long_prefix(200, 'x');
    EXPECT_NE(expand_error(long_prefix + "[1-999999]").find("MiB of host names"),
              std::string::npos);
}

TEST(Hostlist, CompressesLikeScontrolShowHostlist) {
    EXPECT_EQ(compress_hostlist(expand_hostlist("gpu[01-16,20]")), "gpu[01-16,20]");
    EXPECT_EQ(compress_hostlist({"tux1", "tux2", "tux3"}), "tux[1-3]");
    EXPECT_EQ(compress_hostlist({"tux1"}), "tux1");
    EXPECT_EQ(compress_hostlist({"login", "gpu1", "gpu2"}), "login,gpu[1-2]");
    // Not sorted and not made unique (scontrol hostlist, unlike hostlistsorted).
    EXPECT_EQ(compress_hostlist({"tux2", "tux1", "tux2"}), "tux[2,1-2]");
    EXPECT_TRUE(compress_hostlist({}).empty());
}

TEST(Hostlist, CompressesOnTheTrailingNumberOnly) {
    EXPECT_EQ(compress_hostlist(expand_hostlist("rack[1-2]-node[01-02]")),
              "rack1-node[01-02],rack2-node[01-02]");
    // A name that does not end in digits is kept whole.
    EXPECT_EQ(compress_hostlist(expand_hostlist("node[1-2]-ib")), "node1-ib,node2-ib");
}

TEST(Hostlist, CompressKeepsMixedPadding) {
    EXPECT_EQ(compress_hostlist({"n9", "n10"}), "n[9-10]");
    EXPECT_EQ(compress_hostlist({"n09", "n10"}), "n[09-10]");
    EXPECT_EQ(compress_hostlist({"n1", "n01", "n2"}), "n[1,01,2]");
    EXPECT_EQ(compress_hostlist({"n9", "n010"}), "n[9,010]");
}

TEST(Hostlist, CompressRefusesNamesItCannotWrite) {
    (void)error_of([] { (void)compress_hostlist({"a,b"}); });
    (void)error_of([] { (void)compress_hostlist({"a[1]"}); });
    (void)error_of([] { (void)compress_hostlist({""}); });
}

TEST(Hostlist, CompressRoundTrips) {
    const std::vector<std::string> expressions = {"gpu[01-16,20]",
                                                  "a,b,gpu[1-2]",
                                                  "rack[1-3]-node[001-004,010]",
                                                  "n[9-11],n[09-11]",
                                                  "x[1,3,5-7],y,z[00-01]",
                                                  "n[5,3,4,4],n1",
                                                  "node[1-3]-ib,n7",
                                                  "n12345678901234567890,n[99-101]"};
    for (const std::string& expression : expressions) {
        const Hosts hosts = expand_hostlist(expression);
        EXPECT_EQ(expand_hostlist(compress_hostlist(hosts)), hosts) << expression;
    }
}

TEST(Hostlist, ParsesHostFileText) {
    const std::string text =
        "# GPU nodes\n"
        "gpu[01-03]\n"
        "\n"
        "  login01   # the login node\r\n"
        "a, b\n";
    EXPECT_EQ(parse_host_file(text, "hosts.txt"),
              (Hosts{"gpu01", "gpu02", "gpu03", "login01", "a", "b"}));
}

TEST(Hostlist, HostFileErrorsNameFileAndLine) {
    const std::string message =
        error_of([] { (void)parse_host_file("ok\n# c\ngpu[3-1]\n", "hosts.txt"); });
    EXPECT_EQ(message.rfind("hosts.txt:3: invalid hostlist 'gpu[3-1]': column 5", 0), 0u)
        << message;
}

TEST(Hostlist, ReadsArgumentsAndFilesKeepingFirstOccurrence) {
    const test::TempDir dir;
    test::write_file(dir / "hosts", "# rack 1\nn[2-3]\n\nn1  # again\n");
    const Hosts hosts = read_host_arguments({"n1", "@" + (dir / "hosts").string(), "n[3-4]"});
    EXPECT_EQ(hosts, (Hosts{"n1", "n2", "n3", "n4"}));
}

TEST(Hostlist, UnreadableHostFileIsNotFound) {
    const test::TempDir dir;
    const std::string path = (dir / "missing").string();
    const std::string message =
        error_of([&] { (void)read_host_arguments({"@" + path}); }, ExitCode::not_found);
    EXPECT_NE(message.find(path), std::string::npos);
}

TEST(Hostlist, BadExpressionInFileNamesFileAndLine) {
    const test::TempDir dir;
    const std::string path = (dir / "hosts").string();
    test::write_file(path, "a\nb[1-\n");
    const std::string message = error_of([&] { (void)read_host_arguments({"@" + path}); });
    EXPECT_EQ(message.rfind(path + ":2: invalid hostlist", 0), 0u) << message;
}

TEST(Hostlist, ArgumentsNamingNoHostAreRefused) {
    const test::TempDir dir;
    test::write_file(dir / "empty", "# nothing\n\n");
    (void)error_of([] { (void)read_host_arguments({""}); });
    (void)error_of([] { (void)read_host_arguments({"@"}); });
    (void)error_of([&] { (void)read_host_arguments({"@" + (dir / "empty").string()}); });
}

TEST(Hostlist, ArgumentsShareOneBound) {
    (void)error_of([] { (void)read_host_arguments({"a[1-600000]", "b[1-600000]"}); });
}

}  // namespace
}  // namespace gpuenv::core::fleet
