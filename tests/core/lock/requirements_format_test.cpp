// Tests of pip requirements as a lock: pins of every Python distribution, read as pip reads.
#include <gtest/gtest.h>

#include <core/lock/lock_test_util.hpp>
#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv {
namespace {

using core::env::DirectUrl;
using core::lock::LockedEnv;
using core::lock::LockFormat;
using core::lock::parse_lock;
using core::lock::render_lock;
using test::conda_package;
using test::dump;
using test::pypi_package;

const std::string k_sha(64, 'a');
const std::string k_commit(40, 'c');

LockedEnv parse(const std::string& text) {
    return parse_lock(text, "reqs.txt", LockFormat::requirements);
}

std::string parse_error(const std::string& text) {
    try {
        (void)parse(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        return e.what();
    }
    return "";
}

LockedEnv python_env() {
    LockedEnv env;
    auto numpy = conda_package("numpy", "1.26.4", "py311h64a7726_0");
    numpy.python_name = "numpy";
    numpy.python_version = "1.26.4";
    auto pytorch = conda_package("pytorch", "2.3.0", "py3.11_cuda12.1_0");
    pytorch.python_name = "torch";
    pytorch.python_version = "2.3.0";
    auto legacy = conda_package("legacy-tool", "2004", "0");
    legacy.python_name = "legacy";
    legacy.python_version = "2004d";  // not PEP 440: pinned with ===
    auto python = conda_package("python", "3.11.9", "hab00c5b_0_cpython");
    auto shadow = pypi_package("numpy", "2.0.0");
    auto mylib = pypi_package("mylib", "0.1.dev0");
    mylib.direct_url = test::direct_url(
        {.kind = DirectUrl::Kind::dir, .url = "file:///src/mylib", .editable = true});
    auto some = pypi_package("Some.Pkg", "2.0");
    some.direct_url =
        test::direct_url({.kind = DirectUrl::Kind::archive,
                          .url = "https://files.example.com/some_pkg-2.0-py3-none-any.whl",
                          .archive_hash = "sha256=" + k_sha});
    some.pypi_sha256 = k_sha;
    auto git = pypi_package("gitpkg", "0.3");
    git.direct_url = test::direct_url({.kind = DirectUrl::Kind::vcs,
                                       .url = "https://github.com/o/gitpkg.git",
                                       .vcs = "git",
                                       .commit_id = k_commit,
                                       .requested_revision = "main"});
    auto local = pypi_package("localdir", "1.0");
    local.direct_url =
        test::direct_url({.kind = DirectUrl::Kind::dir, .url = "file:///src/localdir"});
    env.packages = {numpy, pytorch, legacy, python, shadow, mylib, some, git, local};
    core::lock::sort_packages(env.packages);
    return env;
}

TEST(RequirementsLock, PinsEveryPythonDistributionSortedByName) {
    const auto rendered = render_lock(python_env(), LockFormat::requirements);
    EXPECT_EQ(rendered.text,
              "# pip requirements written by gpuenv: every Python distribution of the "
              "environment, pinned\n"
              "# install with `pip install --no-deps -r <this file>`\n"
              "gitpkg @ git+https://github.com/o/gitpkg.git@" +
                  k_commit +
                  "\n"
                  "legacy===2004d\n"
                  "localdir @ file:///src/localdir\n"
                  "# mylib==0.1.dev0 is an editable install from file:///src/mylib and cannot be "
                  "pinned\n"
                  "numpy==2.0.0\n"
                  "Some.Pkg @ https://files.example.com/some_pkg-2.0-py3-none-any.whl#sha256=" +
                  k_sha +
                  "\n"
                  "torch==2.3.0\n");
    EXPECT_EQ(test::messages(rendered.warnings),
              "editable installs cannot be pinned and are written as comments: mylib "
              "0.1.dev0\n"
              "conda-owned distributions shadowed by a pip install are left out: numpy 1.26.4 "
              "(conda package numpy, under numpy 2.0.0)\n");
}

TEST(RequirementsLock, RoundTripKeepsThePythonView) {
    const auto text = render_lock(python_env(), LockFormat::requirements).text;
    const auto back = parse(text);
    EXPECT_TRUE(back.warnings.empty()) << test::messages(back.warnings);
    const auto pin = [](std::string name, std::string version) {
        auto p = pypi_package(std::move(name), std::move(version));
        p.installer.clear();
        return p;
    };
    LockedEnv expected;
    expected.fields = {.conda = false,
                       .pypi = true,
                       .python_only = true,
                       .build = false,
                       .channel = false,
                       .installer = false,
                       .hashes = false,
                       .env_vars = false};
    auto git = pin("gitpkg", "");  // the version of a VCS checkout is not in its URL
    git.direct_url = test::direct_url({.kind = DirectUrl::Kind::vcs,
                                       .url = "https://github.com/o/gitpkg.git",
                                       .vcs = "git",
                                       .commit_id = k_commit});
    auto local = pin("localdir", "");
    local.direct_url =
        test::direct_url({.kind = DirectUrl::Kind::dir, .url = "file:///src/localdir"});
    auto some = pin("Some.Pkg", "2.0");  // from the wheel's file name
    some.direct_url =
        test::direct_url({.kind = DirectUrl::Kind::archive,
                          .url = "https://files.example.com/some_pkg-2.0-py3-none-any.whl",
                          .archive_hash = "sha256=" + k_sha});
    some.pypi_sha256 = k_sha;
    expected.packages = {git,  pin("legacy", "2004d"), local, pin("numpy", "2.0.0"),
                         some, pin("torch", "2.3.0")};
    EXPECT_EQ(dump(back), dump(expected));
    EXPECT_EQ(render_lock(back, LockFormat::requirements).text,
              "# pip requirements written by gpuenv: every Python distribution of the "
              "environment, pinned\n"
              "# install with `pip install --no-deps -r <this file>`\n"
              "gitpkg @ git+https://github.com/o/gitpkg.git@" +
                  k_commit +
                  "\n"
                  "legacy===2004d\n"
                  "localdir @ file:///src/localdir\n"
                  "numpy==2.0.0\n"
                  "Some.Pkg @ https://files.example.com/some_pkg-2.0-py3-none-any.whl#sha256=" +
                  k_sha +
                  "\n"
                  "torch==2.3.0\n");
}

TEST(RequirementsLock, ReadsWhatPipReads) {
    const auto env = parse(
        "# comment\n"
        "numpy==1.26.4 \\\n"
        "    --hash=sha256:abc \\\n"
        "    --hash=sha256:def\n"
        "\n"
        "Foo_Bar === 1.0-weird  # trailing comment\n"
        "torch==2.3.0+cu121 ; python_version >= \"3.8\"\n"
        "-r other.txt\n"
        "--index-url https://example.com/simple\n"
        "-e ./src\n"
        "pkg[extra]==1.0 --config-settings=x\n"
        "git @ git+https://github.com/o/git.git@v1.2#subdirectory=py\n");
    ASSERT_EQ(env.packages.size(), 5U);
    EXPECT_EQ(env.packages[0].key, "foo-bar");
    EXPECT_EQ(env.packages[0].name, "Foo_Bar");
    EXPECT_EQ(env.packages[0].version, "1.0-weird");
    EXPECT_EQ(env.packages[1].name, "git");
    ASSERT_TRUE(env.packages[1].direct_url.has_value());
    EXPECT_EQ(env.packages[1].direct_url->requested_revision, "v1.2");
    EXPECT_EQ(env.packages[1].direct_url->commit_id, "");
    EXPECT_EQ(env.packages[1].direct_url->subdirectory, "py");
    EXPECT_EQ(env.packages[2].version, "1.26.4");
    EXPECT_EQ(env.packages[3].version, "1.0");
    EXPECT_EQ(env.packages[4].version, "2.3.0+cu121");
    EXPECT_EQ(env.packages[4].manager, core::lock::Manager::pypi);
    EXPECT_EQ(test::messages(env.warnings),
              "reqs.txt:7: the environment marker of torch is ignored\n"
              "reqs.txt:8: pip option '-r other.txt' is skipped\n"
              "reqs.txt:9: pip option '--index-url https://example.com/simple' is skipped\n"
              "reqs.txt:10: pip option '-e ./src' is skipped (an editable install cannot be "
              "pinned)\n"
              "reqs.txt:11: option '--config-settings=x' is ignored\n");
}

TEST(RequirementsLock, OnlyExactPinsAreLockable) {
    EXPECT_EQ(parse_error("a==1\nnumpy>=1.0\n"),
              "reqs.txt:2: 'numpy>=1.0' is not an exact pin (name==version or name @ url)");
    EXPECT_EQ(parse_error("numpy==1.*\n"),
              "reqs.txt:1: 'numpy==1.*' is not an exact pin (name==version or name @ url)");
    EXPECT_EQ(parse_error("numpy\n"),
              "reqs.txt:1: 'numpy' is not an exact pin (name==version or name @ url)");
    EXPECT_EQ(parse_error("numpy==1,==2\n"),
              "reqs.txt:1: 'numpy==1,==2' is not an exact pin (name==version or name @ url)");
    EXPECT_EQ(parse_error("x==1\nnumpy==1.0, \\\n  <2\n"),
              "reqs.txt:2: 'numpy==1.0,   <2' is not an exact pin (name==version or name @ url)");
}

TEST(RequirementsLock, InvalidLinesAreErrorsNamingTheLine) {
    EXPECT_TRUE(parse_error("ok==1\n==1.0\n").starts_with("reqs.txt:2: ")) << parse_error("==1.0");
    const std::string garbage("\x01\xff\xfe==\x80\n", 7);
    EXPECT_TRUE(parse_error(garbage).starts_with("reqs.txt:1: ")) << parse_error(garbage);
}

TEST(RequirementsLock, KnowsOnlyThePythonSide) {
    const auto env = parse("a==1\n");
    EXPECT_FALSE(env.fields.conda);
    EXPECT_TRUE(env.fields.pypi);
    EXPECT_TRUE(env.fields.python_only);
    EXPECT_FALSE(env.fields.build);
    EXPECT_FALSE(env.fields.channel);
    EXPECT_FALSE(env.fields.installer);
    EXPECT_FALSE(env.fields.hashes);
    EXPECT_FALSE(env.fields.env_vars);
    EXPECT_EQ(env.source, "reqs.txt (requirements)");
}

TEST(RequirementsLock, VariablesAreNamedInAWarning) {
    LockedEnv env;
    env.env_vars["CUDA_HOME"] = "/usr/local/cuda";
    const auto rendered = render_lock(env, LockFormat::requirements);
    EXPECT_EQ(test::messages(rendered.warnings),
              "the requirements format cannot hold environment variables; left out: "
              "CUDA_HOME\n");
}

}  // namespace
}  // namespace gpuenv
