// Finding the command on the activated PATH as execvp would, and exit codes as a shell reports
// them, with real files and real processes.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gpuenv/core/run/launcher.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::run {
namespace {

namespace fs = std::filesystem;

void write_executable(const fs::path& path, const std::string& text, mode_t mode = 0755) {
    test::write_file(path, text);
    fs::permissions(path, static_cast<fs::perms>(mode));
}

TEST(Launcher, FindsTheFirstExecutableOnThePath) {
    test::TempDir dir;
    write_executable(dir / "a/tool", "#!/bin/sh\n", 0644);  // not executable: skipped
    write_executable(dir / "b/tool", "#!/bin/sh\n");
    write_executable(dir / "c/tool", "#!/bin/sh\n");
    const std::string path =
        (dir / "a").string() + ":" + (dir / "b").string() + ":" + (dir / "c").string();
    const CommandLookup found = find_command("tool", path);
    EXPECT_EQ(found.status, CommandStatus::found);
    EXPECT_EQ(found.path, dir / "b/tool");
}

TEST(Launcher, ReportsNotExecutableOnlyWhenNothingBetterExists) {
    test::TempDir dir;
    write_executable(dir / "a/tool", "#!/bin/sh\n", 0644);
    fs::create_directories(dir / "b/tool");  // a directory of that name
    const CommandLookup lookup =
        find_command("tool", (dir / "b").string() + ":" + (dir / "a").string());
    EXPECT_EQ(lookup.status, CommandStatus::not_executable);
    EXPECT_EQ(find_command("nothing-like-this", (dir / "a").string()).status,
              CommandStatus::not_found);
    EXPECT_EQ(find_command("", "/bin").status, CommandStatus::not_found);
}

TEST(Launcher, ANameWithASlashIsNotSearched) {
    test::TempDir dir;
    write_executable(dir / "tool", "#!/bin/sh\n");
    EXPECT_EQ(find_command((dir / "tool").string(), "").status, CommandStatus::found);
    EXPECT_EQ(find_command((dir / "missing").string(), "/bin").status, CommandStatus::not_found);
}

TEST(Launcher, AnEmptyPathEntryIsTheCurrentDirectory) {
    const CommandLookup lookup = find_command("tool", "");
    EXPECT_EQ(lookup.status, CommandStatus::not_found);
    test::TempDir dir;
    write_executable(dir / "tool", "#!/bin/sh\n");
    const fs::path old = fs::current_path();
    fs::current_path(dir.path());
    const CommandLookup here = find_command("tool", "/nonexistent::/also-not");
    fs::current_path(old);
    EXPECT_EQ(here.status, CommandStatus::found);
    EXPECT_EQ(here.path, fs::path(".") / "tool");
}

TEST(Launcher, ReturnsTheExitStatusOrTheSignalPlus128) {
    EXPECT_EQ(launch_and_wait("/bin/sh", {"sh", "-c", "exit 3"}, {"PATH=/usr/bin:/bin"}), 3);
    EXPECT_EQ(launch_and_wait("/bin/sh", {"sh", "-c", "kill -TERM $$"}, {"PATH=/usr/bin:/bin"}),
              143);
    EXPECT_EQ(launch_and_wait("/bin/true", {"true"}, {}), 0);
}

TEST(Launcher, TheChildGetsExactlyTheEnvironmentGiven) {
    test::TempDir dir;
    const auto out = dir / "env.txt";
    EXPECT_EQ(
        launch_and_wait("/bin/sh", {"sh", "-c", "env > \"$0\"", out.string()}, {"ONLY_THIS=1 2 3"}),
        0);
    std::string text;
    {
        std::ifstream in(out);
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    EXPECT_NE(text.find("ONLY_THIS=1 2 3\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("HOME="), std::string::npos) << text;
}

TEST(Launcher, AScriptWithoutAShebangRunsUnderSh) {
    test::TempDir dir;
    write_executable(dir / "script", "exit 5\n");
    EXPECT_EQ(launch_and_wait(dir / "script", {"script"}, {}), 5);
}

}  // namespace
}  // namespace gpuenv::core::run
