#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <gpuenv/core/fleet/transport.hpp>
#include <gpuenv/util/error.hpp>
#include <support/run_gpuenv.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::fleet {
namespace {

using Argv = std::vector<std::string>;

template <typename F>
std::string usage_error_of(F f) {
    try {
        f();
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), ExitCode::usage) << error.what();
        return error.what();
    }
    ADD_FAILURE() << "no gpuenv::Error thrown";
    return {};
}

// Words that a careless join would split, expand or run.
const Argv k_hostile = {"plain",       "two words", "it's",  "\"double\"", "$(touch x)",
                        "`id`",        "a;b&&c|d",  "$HOME", "",           "*",
                        "back\\slash", "new\nline", "-p",    "~root",      "'"};

TEST(Transport, ParsesViaNames) {
    EXPECT_EQ(parse_via("ssh").kind, TransportKind::ssh);
    EXPECT_EQ(parse_via("srun").kind, TransportKind::srun);
    EXPECT_EQ(parse_via("kubectl").kind, TransportKind::kubectl);
    const auto options = parse_via("pdsh -w {host}");
    EXPECT_EQ(options.kind, TransportKind::command_template);
    EXPECT_EQ(options.template_text, "pdsh -w {host}");
}

TEST(Transport, RejectsUnknownViaAndBadTemplates) {
    EXPECT_NE(usage_error_of([] { (void)parse_via("rsh"); }).find("unknown transport 'rsh'"),
              std::string::npos);
    EXPECT_NE(usage_error_of([] { (void)parse_via(""); }).find("unknown transport"),
              std::string::npos);
    EXPECT_NE(usage_error_of([] { (void)parse_via("ssh {host} 'x"); }).find("unterminated"),
              std::string::npos);
    EXPECT_NE(usage_error_of([] { (void)parse_via("ssh {host} | tee"); }).find("'|'"),
              std::string::npos);
    EXPECT_NE(usage_error_of([] { (void)parse_via("run {host}; rm"); }).find("column 11"),
              std::string::npos);
}

TEST(Transport, SplitsTemplatesWithQuotes) {
    EXPECT_EQ(split_template("  docker   exec {host} "), (Argv{"docker", "exec", "{host}"}));
    EXPECT_EQ(split_template("run --label 'a b' \"c \\\"d\\\"\" x'y'z"),
              (Argv{"run", "--label", "a b", "c \"d\"", "xyz"}));
    EXPECT_EQ(split_template("'' x"), (Argv{"", "x"}));
    EXPECT_EQ(split_template("'$(not run) | ;'"), (Argv{"$(not run) | ;"}));
    (void)usage_error_of([] { (void)split_template("   "); });
    (void)usage_error_of([] { (void)split_template("a \"b"); });
}

TEST(Transport, QuotesForThePosixShell) {
    EXPECT_EQ(shell_quote("gpuenv"), "gpuenv");
    EXPECT_EQ(shell_quote("/opt/gpuenv-1.0/bin/gpuenv"), "/opt/gpuenv-1.0/bin/gpuenv");
    EXPECT_EQ(shell_quote(""), "''");
    EXPECT_EQ(shell_quote("a b"), "'a b'");
    EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
    EXPECT_EQ(shell_join({"~/bin/gpuenv", "list"}), "~/bin/gpuenv list");
    EXPECT_EQ(shell_join({"~/my bin/gpuenv"}), "~/'my bin/gpuenv'");
}

TEST(Transport, SshRemoteStringSurvivesARealShell) {
    TransportOptions options;
    options.remote_gpuenv = "printf";
    Argv args{"[%s]\\n"};
    args.insert(args.end(), k_hostile.begin(), k_hostile.end());
    const auto argv = node_argv(options, "node01", args);
    const auto shell = test::run_command({"/bin/sh", "-c", argv.back()});
    ASSERT_EQ(shell.exit_code, 0) << shell.err;
    std::string expected;
    for (const auto& word : k_hostile)
        expected += "[" + word + "]\n";
    EXPECT_EQ(shell.out, expected);
}

TEST(Transport, BuildsSshArgv) {
    TransportOptions options;
    options.connect_timeout = std::chrono::seconds(5);
    options.ssh_args = {"-F", "/etc/cluster ssh", "-p", "2222"};
    options.remote_gpuenv = "/opt/gpuenv/bin/gpuenv";
    EXPECT_EQ(node_argv(options, "gpu01", {"list", "--json", "-p", "/envs/my env"}),
              (Argv{"ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-T", "-F",
                    "/etc/cluster ssh", "-p", "2222", "--", "gpu01",
                    "/opt/gpuenv/bin/gpuenv list --json -p '/envs/my env'"}));
}

TEST(Transport, BuildsKubectlArgvWithoutAShell) {
    TransportOptions options = parse_via("kubectl");
    EXPECT_EQ(node_argv(options, "trainer-0", {"list", "--json"}),
              (Argv{"kubectl", "exec", "trainer-0", "--", "gpuenv", "list", "--json"}));
    options.kube_namespace = "ml";
    options.kube_container = "cuda";
    EXPECT_EQ(node_argv(options, "trainer-0", {"list", "a b"}),
              (Argv{"kubectl", "exec", "trainer-0", "-n", "ml", "-c", "cuda", "--", "gpuenv",
                    "list", "a b"}));
}

TEST(Transport, SubstitutesHostAsOneWord) {
    TransportOptions options = parse_via("docker exec --env 'N={host}' {host}");
    EXPECT_EQ(node_argv(options, "box.1", {"list", "$(x) y"}),
              (Argv{"docker", "exec", "--env", "N=box.1", "box.1", "gpuenv", "list", "$(x) y"}));
    EXPECT_EQ(runner_program(options), "docker");
}

TEST(Transport, PassesOneQuotedCommandWhereTheTemplateAsks) {
    // pdsh hands its command to a remote shell as one string, like ssh.
    TransportOptions options = parse_via("pdsh -R ssh -w {host} {command}");
    EXPECT_EQ(node_argv(options, "n1", {"list", "-p", "/a b"}),
              (Argv{"pdsh", "-R", "ssh", "-w", "n1", "gpuenv list -p '/a b'"}));
}

TEST(Transport, RejectsHostsThatWouldBeOptions) {
    const TransportOptions options;
    EXPECT_NE(usage_error_of([&] {
                  (void)node_argv(options, "-oProxyCommand=x", {});
              }).find("starts with '-'"),
              std::string::npos);
    (void)usage_error_of([&] { (void)node_argv(options, "", {}); });
    (void)usage_error_of([&] { (void)node_argv(options, "a b", {}); });
    (void)usage_error_of([&] { (void)node_argv(parse_via("srun"), "n1", {}); });
}

TEST(Transport, BuildsOneSrunStepForAllNodes) {
    TransportOptions options = parse_via("srun");
    options.remote_gpuenv = "/shared/bin/gpuenv";
    EXPECT_EQ(srun_argv(options, {"gpu01", "gpu02", "gpu03", "gpu07"}, "/home/u/.fleet run",
                        {"list", "--json"}),
              (Argv{"srun", "-N", "4", "--ntasks-per-node=1", "-w", "gpu[01-03,07]",
                    "--output=/home/u/.fleet run/%N.out", "--error=/home/u/.fleet run/%N.err",
                    "--kill-on-bad-exit=0", "--quiet", "/shared/bin/gpuenv", "list", "--json"}));
    (void)usage_error_of([&] { (void)srun_argv(options, {}, "/tmp", {}); });
    EXPECT_NE(usage_error_of([&] {
                  (void)srun_argv(options, {"n1"}, "/tmp/50%", {});
              }).find("srun expands"),
              std::string::npos);
}

TEST(Transport, ReadsSrunOutputsPerNode) {
    const test::TempDir dir;
    test::write_file(dir / "gpu01.out", "{\"ok\": 1}");
    test::write_file(dir / "gpu01.err", "");
    test::write_file(dir / "gpu02.err", std::string(10000, 'x') + "gpuenv: not found");
    test::write_file(dir / "gpu03.out", std::string(2000, 'y'));
    const auto outputs = read_srun_outputs(dir.path(), {"gpu01", "gpu02", "gpu03", "gpu04"}, 1000);
    ASSERT_EQ(outputs.size(), 4U);
    EXPECT_EQ(outputs.at("gpu01").out, "{\"ok\": 1}");
    EXPECT_FALSE(outputs.at("gpu02").out);
    EXPECT_EQ(outputs.at("gpu02").err_tail.size(), 4096U);
    EXPECT_TRUE(outputs.at("gpu02").err_tail.ends_with("gpuenv: not found"));
    EXPECT_FALSE(outputs.at("gpu03").out);
    EXPECT_NE(outputs.at("gpu03").err_tail.find("larger than 1000"), std::string::npos);
    EXPECT_FALSE(outputs.at("gpu04").out);
}

}  // namespace
}  // namespace gpuenv::core::fleet
