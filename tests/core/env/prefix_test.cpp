#include <gtest/gtest.h>

#include <gpuenv/core/env/prefix.hpp>
#include <gpuenv/util/error.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

}  // namespace

TEST(Prefix, CondaMetaMakesACondaEnvironment) {
    TempDir dir;
    fs::create_directories(dir / "conda-meta");
    fs::create_directories(dir / "lib/python3.11/site-packages");
    const auto prefix = open_prefix(dir.path());
    EXPECT_EQ(prefix.kind, PrefixKind::conda);
    EXPECT_EQ(prefix.python_version, "3.11");
    ASSERT_EQ(prefix.site_packages.size(), 1U);
    EXPECT_EQ(prefix.site_packages[0], dir / "lib/python3.11/site-packages");
}

TEST(Prefix, CondaEnvironmentWithoutPythonHasNoSitePackages) {
    TempDir dir;
    fs::create_directories(dir / "conda-meta");
    const auto prefix = open_prefix(dir.path());
    EXPECT_EQ(prefix.kind, PrefixKind::conda);
    EXPECT_TRUE(prefix.site_packages.empty());
    EXPECT_EQ(prefix.python_version, "");
}

TEST(Prefix, PyvenvCfgMakesAVenv) {
    TempDir dir;
    write_file(dir / "pyvenv.cfg", "home = /usr/bin\n");
    fs::create_directories(dir / "lib/python3.12/site-packages");
    const auto prefix = open_prefix(dir.path());
    EXPECT_EQ(prefix.kind, PrefixKind::venv);
    EXPECT_EQ(prefix.python_version, "3.12");
}

TEST(Prefix, DebianLayoutFindsEveryDistPackagesDirectory) {
    TempDir dir;
    fs::create_directories(dir / "lib/python3/dist-packages");
    fs::create_directories(dir / "lib/python3.11/dist-packages");
    const auto prefix = open_prefix(dir.path());
    EXPECT_EQ(prefix.kind, PrefixKind::python);
    ASSERT_EQ(prefix.site_packages.size(), 2U);
    EXPECT_EQ(prefix.site_packages[0], dir / "lib/python3/dist-packages");
    EXPECT_EQ(prefix.site_packages[1], dir / "lib/python3.11/dist-packages");
    EXPECT_EQ(prefix.python_version, "3.11");
}

TEST(Prefix, DebianVersionComesFromTheStandardLibraryDirectory) {
    TempDir dir;
    fs::create_directories(dir / "lib/python3/dist-packages");
    fs::create_directories(dir / "lib/python3.9");
    fs::create_directories(dir / "lib/python3.11");
    EXPECT_EQ(open_prefix(dir.path()).python_version, "3.11");
}

TEST(Prefix, FreeThreadedAndWindowsLayoutsAreFound) {
    TempDir dir;
    fs::create_directories(dir / "conda-meta");
    fs::create_directories(dir / "lib/python3.13t/site-packages");
    fs::create_directories(dir / "Lib/site-packages");
    const auto prefix = open_prefix(dir.path());
    ASSERT_EQ(prefix.site_packages.size(), 2U);
    EXPECT_EQ(prefix.site_packages[0], dir / "lib/python3.13t/site-packages");
    EXPECT_EQ(prefix.site_packages[1], dir / "Lib/site-packages");
    EXPECT_EQ(prefix.python_version, "3.13");
}

TEST(Prefix, SymlinkedLib64IsListedOnce) {
    TempDir dir;
    fs::create_directories(dir / "lib/python3.11/site-packages");
    fs::create_directory_symlink("lib", dir / "lib64");
    const auto prefix = open_prefix(dir.path());
    EXPECT_EQ(prefix.site_packages.size(), 1U);
}

TEST(Prefix, VersionsSortNumerically) {
    TempDir dir;
    fs::create_directories(dir / "lib/python3.10/site-packages");
    fs::create_directories(dir / "lib/python3.9/site-packages");
    const auto prefix = open_prefix(dir.path());
    ASSERT_EQ(prefix.site_packages.size(), 2U);
    EXPECT_EQ(prefix.site_packages[0], dir / "lib/python3.9/site-packages");
}

TEST(Prefix, TrailingSlashAndDotsAreNormalized) {
    TempDir dir;
    fs::create_directories(dir / "env/conda-meta");
    const auto prefix = open_prefix((dir / "env/../env/").string());
    EXPECT_EQ(prefix.path, dir / "env");
}

TEST(Prefix, MissingDirectoryIsNotFound) {
    TempDir dir;
    try {
        (void)open_prefix(dir / "nope");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
    }
}

TEST(Prefix, PlainDirectoryIsNotAnEnvironment) {
    TempDir dir;
    fs::create_directories(dir / "empty");
    try {
        (void)open_prefix(dir / "empty");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        EXPECT_NE(std::string(e.what()).find("not an environment"), std::string::npos);
    }
}

TEST(Prefix, FileIsNotAnEnvironment) {
    TempDir dir;
    write_file(dir / "file", "x");
    EXPECT_THROW((void)open_prefix(dir / "file"), Error);
}

TEST(Prefix, DanglingSymlinkIsNotFound) {
    TempDir dir;
    fs::create_symlink(dir / "gone", dir / "link");
    try {
        (void)open_prefix(dir / "link");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
    }
}

}  // namespace gpuenv::core::env
