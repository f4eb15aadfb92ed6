// End-to-end tests of the command table: only the named command declares its options
// (cli.cpp), so each command's own help and the root help are checked through the binary.
#include <gtest/gtest.h>

#include <string>

#include <support/run_gpuenv.hpp>

namespace gpuenv {
namespace {

using test::run_gpuenv;

// One option each command declares, as its --help shows it.
const std::vector<std::pair<std::string, std::string>> k_command_options = {
    {"check", "--lock"},   {"list", "--json"},           {"envs", "--json"},
    {"lock", "--format"},  {"export", "--from-history"}, {"fingerprint", "--json"},
    {"diff", "--json"},    {"verify", "--files"},        {"fleet", "check"},
    {"gpus", "--json"},    {"bind", "--gpus"},           {"unbind", "--prefix"},
    {"run", "--gpus"},     {"leases", "--json"},         {"zombies", "--kill"},
    {"doctor", "--probe"},
};

TEST(Cli, RootHelpListsEveryCommand) {
    const auto r = run_gpuenv({"--help"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const auto& [name, option] : k_command_options)
        EXPECT_NE(r.out.find("\n  " + name + " "), std::string::npos) << name << "\n" << r.out;
}

TEST(Cli, EachCommandDeclaresItsOptionsWhenNamed) {
    for (const auto& [name, option] : k_command_options) {
        const auto r = run_gpuenv({name, "--help"});
        EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
        EXPECT_NE(r.out.find("Usage: gpuenv " + name), std::string::npos) << r.out;
        EXPECT_NE(r.out.find(option), std::string::npos) << name << " lacks " << option << "\n"
                                                         << r.out;
    }
}

TEST(Cli, RootOptionBeforeTheCommandStillFindsIt) {
    // The command is the first argument not starting with '-'; the root's own flags
    // (--version, --help) take no value, so they may come first.
    const auto r = run_gpuenv({"--version", "list"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, std::string("gpuenv ") + "0.1.0\n");
}

TEST(Cli, UnknownCommandIsAUsageError) {
    const auto r = run_gpuenv({"frobnicate"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err, "gpuenv: 'frobnicate' is not a gpuenv command; see 'gpuenv --help'\n");
    EXPECT_EQ(r.out, "");
}

TEST(Cli, MistypedCommandSuggestsTheNearestOne) {
    const auto r = run_gpuenv({"lsit", "-p", "/nonexistent"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.err,
              "gpuenv: 'lsit' is not a gpuenv command (did you mean 'list'?); see 'gpuenv "
              "--help'\n");
    for (const auto& [typo, command] : std::vector<std::pair<std::string, std::string>>{
             {"chek", "check"}, {"doctr", "doctor"}, {"gpu", "gpus"}, {"zombie", "zombies"}}) {
        const auto t = run_gpuenv({typo});
        EXPECT_NE(t.err.find("(did you mean '" + command + "'?)"), std::string::npos) << t.err;
    }
    // Too far from every command, or too short to guess from.
    for (const char* word : {"install", "x", "ls"}) {
        const auto t = run_gpuenv({word});
        EXPECT_EQ(t.exit_code, 2);
        EXPECT_EQ(t.err.find("did you mean"), std::string::npos) << word << ": " << t.err;
    }
}

TEST(Cli, OptionOfAnotherCommandIsRejected) {
    // --probe is doctor's; list must refuse it rather than accept an option it never set up.
    const auto r = run_gpuenv({"list", "--probe"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--probe"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace gpuenv
