#include <gtest/gtest.h>

#include <gpuenv/core/env/env_locator.hpp>
#include <gpuenv/util/error.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

fs::path make_conda_env(const fs::path& p) {
    fs::create_directories(p / "conda-meta");
    write_file(p / "conda-meta/history", "");
    return p;
}

void make_executable(const fs::path& p, std::string_view text) {
    write_file(p, text);
    fs::permissions(p, fs::perms::owner_all);
}

ExitCode code_of(const EnvSelection& selection, const LocatorContext& context) {
    try {
        (void)locate_env(selection, context);
    } catch (const Error& e) {
        return e.code();
    }
    return ExitCode::ok;
}

}  // namespace

TEST(EnvLocator, PrefixFlagIsTakenAsIs) {
    LocatorContext context;
    context.conda_prefix = "/somewhere/else";
    const auto located = locate_env({"", "/opt/env"}, context);
    EXPECT_EQ(located.prefix, "/opt/env");
    EXPECT_EQ(located.origin, EnvOrigin::flag_prefix);
}

TEST(EnvLocator, NameAndPrefixTogetherIsAUsageError) {
    EXPECT_EQ(code_of({"x", "/opt/env"}, LocatorContext{}), ExitCode::usage);
}

TEST(EnvLocator, NameIsSearchedInEnvsPathThenRootEnvs) {
    TempDir dir;
    make_conda_env(dir / "root/envs/torch");
    make_conda_env(dir / "custom/torch");
    LocatorContext context;
    context.mamba_root_prefix = (dir / "root").string();
    EXPECT_EQ(locate_env({"torch", {}}, context).prefix, dir / "root/envs/torch");
    context.conda_envs_path = (dir / "missing").string() + ":" + (dir / "custom").string();
    EXPECT_EQ(locate_env({"torch", {}}, context).prefix, dir / "custom/torch");
}

TEST(EnvLocator, NameFallsBackToEnvironmentsTxt) {
    TempDir dir;
    make_conda_env(dir / "projects/exp42");
    write_file(dir / "home/.conda/environments.txt",
               "# comment\n\n" + (dir / "projects/exp42").string() + "\n");
    LocatorContext context;
    context.home = dir / "home";
    EXPECT_EQ(locate_env({"exp42", {}}, context).prefix, dir / "projects/exp42");
}

TEST(EnvLocator, BaseIsTheRootFromCondaExe) {
    TempDir dir;
    make_conda_env(dir / "miniforge3");
    LocatorContext context;
    context.conda_exe = (dir / "miniforge3/bin/conda").string();
    EXPECT_EQ(locate_env({"base", {}}, context).prefix, dir / "miniforge3");
}

TEST(EnvLocator, UnknownNameIsNotFoundAndNamesTheSearchedDirs) {
    TempDir dir;
    LocatorContext context;
    context.mamba_root_prefix = (dir / "root").string();
    try {
        (void)locate_env({"nope", {}}, context);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find((dir / "root/envs").string()), std::string::npos);
    }
}

TEST(EnvLocator, NameWithSlashIsNeverAPath) {
    TempDir dir;
    make_conda_env(dir / "root/envs/a");
    LocatorContext context;
    context.mamba_root_prefix = (dir / "root").string();
    EXPECT_EQ(code_of({"../envs/a", {}}, context), ExitCode::not_found);
}

TEST(EnvLocator, DefaultsAreCondaPrefixThenVirtualEnvThenPython) {
    TempDir dir;
    fs::create_directories(dir / "venv/bin");
    write_file(dir / "venv/pyvenv.cfg", "home = /usr/bin\n");
    make_executable(dir / "venv/bin/python3",
                    "\x7f"
                    "ELF");
    LocatorContext context;
    context.path = (dir / "venv/bin").string();
    context.virtual_env = "/from/virtual_env";
    context.conda_prefix = "/from/conda_prefix";
    EXPECT_EQ(locate_env({}, context).origin, EnvOrigin::conda_prefix);
    context.conda_prefix.clear();
    EXPECT_EQ(locate_env({}, context).prefix, "/from/virtual_env");
    context.virtual_env.clear();
    const auto located = locate_env({}, context);
    EXPECT_EQ(located.origin, EnvOrigin::python_on_path);
    EXPECT_EQ(located.prefix, dir / "venv");
}

TEST(EnvLocator, NoPythonAndNoVariablesIsNotFound) {
    TempDir dir;
    LocatorContext context;
    context.path = (dir / "empty").string();
    EXPECT_EQ(code_of({}, context), ExitCode::not_found);
}

TEST(PythonPrefix, VenvPythonSymlinkedToBaseStaysInTheVenv) {
    TempDir dir;
    make_executable(dir / "base/bin/python3.11",
                    "\x7f"
                    "ELF");
    fs::create_directories(dir / "venv/bin");
    write_file(dir / "venv/pyvenv.cfg", "home = " + (dir / "base/bin").string() + "\n");
    fs::create_symlink(dir / "base/bin/python3.11", dir / "venv/bin/python3");
    EXPECT_EQ(python_prefix(dir / "venv/bin/python3"), dir / "venv");
}

TEST(PythonPrefix, SymlinkedInterpreterResolvesToItsInstallation) {
    TempDir dir;
    make_executable(dir / "usr/bin/python3.11",
                    "\x7f"
                    "ELF");
    fs::create_directories(dir / "links");
    fs::create_symlink(dir / "usr/bin/python3.11", dir / "links/python3");
    EXPECT_EQ(python_prefix(dir / "links/python3"), dir / "usr");
}

TEST(PythonPrefix, LauncherScriptIsAskedForSysPrefix) {
    TempDir dir;
    fs::create_directories(dir / "versions/3.11.7");
    // Like a pyenv shim: a script that execs the real interpreter; here it answers directly.
    make_executable(dir / "shims/python3",
                    "#!/bin/sh\necho '" + (dir / "versions/3.11.7").string() + "'\n");
    EXPECT_EQ(python_prefix(dir / "shims/python3"), dir / "versions/3.11.7");
}

TEST(PythonPrefix, FailingLauncherGivesNoPrefix) {
    TempDir dir;
    make_executable(dir / "shims/python3", "#!/bin/sh\nexit 3\n");
    EXPECT_EQ(python_prefix(dir / "shims/python3"), fs::path());
}

TEST(KnownEnvs, ListsRootEnvsDirsAndRegisteredOnceEach) {
    TempDir dir;
    make_conda_env(dir / "root");
    make_conda_env(dir / "root/envs/a");
    make_conda_env(dir / "root/envs/b");
    fs::create_directories(dir / "root/envs/not-an-env");
    make_conda_env(dir / "elsewhere/c");
    write_file(dir / "home/.conda/environments.txt", (dir / "root/envs/a").string() + "\n" +
                                                         (dir / "elsewhere/c").string() + "\n" +
                                                         (dir / "gone").string() + "\n");
    LocatorContext context;
    context.home = dir / "home";
    context.mamba_root_prefix = (dir / "root").string();
    context.conda_prefix = (dir / "root/envs/b").string();
    const auto envs = list_known_envs(context);
    ASSERT_EQ(envs.size(), 4U);
    EXPECT_EQ(envs[0].name, "base");
    EXPECT_EQ(envs[1].name, "a");
    EXPECT_EQ(envs[2].name, "b");
    EXPECT_TRUE(envs[2].active);
    EXPECT_FALSE(envs[1].active);
    EXPECT_EQ(envs[3].name, "");
    EXPECT_EQ(envs[3].prefix, dir / "elsewhere/c");
}

}  // namespace gpuenv::core::env
