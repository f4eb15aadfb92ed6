#include <gtest/gtest.h>

#include <sys/stat.h>

#include <gpuenv/util/atomic_write.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::util {
namespace {

namespace fs = std::filesystem;

std::size_t entries_in(const fs::path& dir) {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST(AtomicWrite, CreatesAndReplacesLeavingNoTemporaryFiles) {
    test::TempDir dir;
    const auto file = dir / "gpuenv.lock";
    write_file_atomic(file, "one\n");
    EXPECT_EQ(read_file(file), "one\n");
    write_file_atomic(file, "two\n");
    EXPECT_EQ(read_file(file), "two\n");
    EXPECT_EQ(entries_in(dir.path()), 1U);
}

TEST(AtomicWrite, KeepsTheModeOfAnExistingFile) {
    test::TempDir dir;
    const auto file = dir / "lock.yml";
    test::write_file(file, "old");
    ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
    write_file_atomic(file, "new");
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
}

TEST(AtomicWrite, ReplacesASymlinkInsteadOfWritingThroughIt) {
    test::TempDir dir;
    const auto victim = dir / "victim";
    test::write_file(victim, "precious");
    fs::create_symlink(victim, dir / "out.lock");
    write_file_atomic(dir / "out.lock", "lock");
    EXPECT_EQ(read_file(victim), "precious");
    EXPECT_FALSE(fs::is_symlink(dir / "out.lock"));
    EXPECT_EQ(read_file(dir / "out.lock"), "lock");
}

TEST(AtomicWrite, FailureNamesTheFileAndLeavesNothing) {
    test::TempDir dir;
    const auto file = dir / "missing-dir" / "gpuenv.lock";
    try {
        write_file_atomic(file, "x");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    }
    EXPECT_EQ(entries_in(dir.path()), 0U);
}

}  // namespace gpuenv::util
