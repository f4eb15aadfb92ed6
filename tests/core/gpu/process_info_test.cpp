#include <gpuenv/core/gpu/process_info.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/sleeper.hpp"
#include "support/temp_dir.hpp"

namespace gpuenv::core::gpu {
namespace {

using namespace std::string_literals;

using test::Sleeper;

TEST(ProcessInfo, ParsesStatAfterTheLastParenthesis) {
    const std::string line =
        "18976 (a) b) (c) S 18973 18976 18973 34816 18976 4194304 98 0 0 0 0 0 0 0 20 0 1 0 "
        "168651 5718016 112 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
    const auto stat = parse_stat_line(line);
    ASSERT_TRUE(stat);
    EXPECT_EQ(stat->state, 'S');
    EXPECT_EQ(stat->ppid, 18973);
    EXPECT_EQ(stat->start_ticks, 168651u);
}

TEST(ProcessInfo, RejectsMalformedStat) {
    EXPECT_FALSE(parse_stat_line(""));
    EXPECT_FALSE(parse_stat_line("12 (x) S 1 2 3"));
    EXPECT_FALSE(parse_stat_line("12 x S 1"));
}

TEST(ProcessInfo, ParsesEnvironBlock) {
    const std::string block = "A=1\0CONDA_PREFIX=/opt/envs/x\0EMPTY=\0A=2\0junk\0B=x=y"s;
    const auto vars = parse_environ_block(block);
    EXPECT_EQ(vars.at("A"), "1");
    EXPECT_EQ(vars.at("CONDA_PREFIX"), "/opt/envs/x");
    EXPECT_EQ(vars.at("EMPTY"), "");
    EXPECT_EQ(vars.at("B"), "x=y");
    EXPECT_EQ(vars.count("junk"), 0u);
}

TEST(ProcessInfo, TurnsCmdlineIntoBoundedText) {
    EXPECT_EQ(cmdline_to_text("python\0train.py\0--lr\0"s, 100), "python train.py --lr");
    EXPECT_EQ(cmdline_to_text("abcdefghij"s, 8), "abcde...");
    EXPECT_EQ(cmdline_to_text(""s, 8), "");
}

TEST(ProcessInfo, FormatsElapsed) {
    EXPECT_EQ(elapsed_seconds(1000, 20.5, 100), 10u);
    EXPECT_EQ(elapsed_seconds(5000, 20.0, 100), 0u);
    EXPECT_EQ(format_elapsed(42), "42s");
    EXPECT_EQ(format_elapsed(307), "5m07s");
    EXPECT_EQ(format_elapsed(3720), "1h02m");
    EXPECT_EQ(format_elapsed(3 * 86400 + 4 * 3600), "3d04h");
}

TEST(ProcessInfo, FindsPrefixAboveExecutable) {
    test::TempDir dir;
    std::filesystem::create_directories(dir / "envs/x/conda-meta");
    std::filesystem::create_directories(dir / "envs/x/bin");
    test::write_file(dir / "venv/pyvenv.cfg", "home = /usr/bin\n");
    EXPECT_EQ(prefix_of_executable((dir / "envs/x/bin/python3.11").string()),
              (dir / "envs/x").string());
    EXPECT_EQ(prefix_of_executable((dir / "venv/bin/python").string()), (dir / "venv").string());
    EXPECT_EQ(prefix_of_executable((dir / "a/b/c/d/e/python").string()), "");
}

TEST(ProcessInfo, ReadsOwnSleeperWithCondaPrefix) {
    test::TempDir prefix;
    Sleeper sleeper("/bin/sleep", {"CONDA_PREFIX=" + prefix.path().string(), "PATH=/usr/bin"});
    const ProcessInfo info = read_process_info(sleeper.pid());
    ASSERT_TRUE(info.visible);
    EXPECT_EQ(info.pid, sleeper.pid());
    EXPECT_FALSE(info.user.empty());
    EXPECT_EQ(info.command, "/bin/sleep 30");
    EXPECT_EQ(info.ppid, static_cast<int>(::getpid()));
    EXPECT_TRUE(info.elapsed_s.has_value());
    EXPECT_EQ(info.environment, prefix.path().string());
    EXPECT_EQ(info.environment_source, EnvironmentSource::conda_prefix);
}

TEST(ProcessInfo, ReadsStoppedStateAndExecutablePrefix) {
    test::TempDir dir;
    std::filesystem::create_directories(dir / "envs/x/conda-meta");
    std::filesystem::create_directories(dir / "envs/x/bin");
    const auto exe = dir / "envs/x/bin/sleep";
    std::filesystem::copy_file("/bin/sleep", exe);
    Sleeper sleeper(exe.string(), {"PATH=/usr/bin"});
    sleeper.stop();
    const ProcessInfo info = read_process_info(sleeper.pid());
    ASSERT_TRUE(info.visible);
    EXPECT_EQ(info.state, 'T');
    EXPECT_EQ(info.environment, (dir / "envs/x").string());
    EXPECT_EQ(info.environment_source, EnvironmentSource::executable);
}

TEST(ProcessInfo, ReportsAPidProcCannotShow) {
    const ProcessInfo info = read_process_info(4194304 + 1);  // above pid_max's ceiling
    EXPECT_FALSE(info.visible);
    EXPECT_EQ(info.pid, 4194305u);
    EXPECT_TRUE(info.user.empty());
}

}  // namespace
}  // namespace gpuenv::core::gpu
