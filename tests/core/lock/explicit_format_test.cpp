// Tests of CEP 23 @EXPLICIT files: conda's layout, the CEP 23 URL regex, errors.
#include <gtest/gtest.h>

#include <core/lock/lock_test_util.hpp>
#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv {
namespace {

using core::lock::LockedEnv;
using core::lock::LockFormat;
using core::lock::parse_lock;
using core::lock::render_lock;
using test::conda_package;
using test::dump;
using test::pypi_package;

const std::string k_sha(64, 'a');
const std::string k_md5(32, 'b');
const std::string k_forge = "https://conda.anaconda.org/conda-forge/linux-64/";

LockedEnv parse(const std::string& text) {
    return parse_lock(text, "env.txt", LockFormat::explicit_);
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

std::string explicit_file(const std::string& lines) {
    return "@EXPLICIT\n" + lines;
}

LockedEnv three_packages() {
    LockedEnv env;
    env.platform = "linux-64";
    auto python = conda_package("python", "3.11.9", "hab00c5b_0_cpython", {"libzlib >=1.2.13"});
    python.sha256 = k_sha;
    python.md5 = k_md5;
    auto zlib = conda_package("libzlib", "1.3.1", "h4ab18f5_1", {"__glibc >=2.17"});
    zlib.md5 = k_md5;  // no sha256: falls back to md5
    auto numpy = conda_package("numpy", "1.26.4", "py311h64a7726_0", {"python >=3.11"});
    env.packages = {zlib, numpy, python};
    core::lock::sort_packages(env.packages);
    return env;
}

TEST(ExplicitLock, RendersLikeCondaListExplicitSha256) {
    const auto rendered = render_lock(three_packages(), LockFormat::explicit_);
    EXPECT_TRUE(rendered.warnings.empty());
    EXPECT_EQ(rendered.text,
              "# This file may be used to create an environment using:\n"
              "# $ conda create --name <env> --file <this file>\n"
              "# platform: linux-64\n"
              "# created-by: gpuenv\n"
              "@EXPLICIT\n" +
                  k_forge + "libzlib-1.3.1-h4ab18f5_1.conda#" + k_md5 + "\n" + k_forge +
                  "python-3.11.9-hab00c5b_0_cpython.conda#sha256:" + k_sha + "\n" + k_forge +
                  "numpy-1.26.4-py311h64a7726_0.conda\n");
}

TEST(ExplicitLock, OutputParsesBack) {
    LockedEnv env = three_packages();
    env.channels = {"conda-forge"};
    env.fields.pypi = false;
    env.fields.installer = false;
    env.fields.env_vars = false;
    for (auto& p : env.packages) {
        p.depends.clear();  // an explicit file holds no dependencies
        if (!p.sha256.empty())
            p.md5.clear();  // and one hash per package, sha256 first
    }
    const auto back = parse(render_lock(three_packages(), LockFormat::explicit_).text);
    EXPECT_EQ(dump(back), dump(env));
    EXPECT_TRUE(back.warnings.empty());
}

TEST(ExplicitLock, PackagesWithoutUrlAndPipDistributionsAreNamedInWarnings) {
    LockedEnv env = three_packages();
    env.packages[0].url.clear();  // libzlib
    env.packages.push_back(pypi_package("torch", "2.3.0"));
    env.packages.push_back(pypi_package("mylib", "0.1"));
    env.env_vars["CUDA_HOME"] = "/usr/local/cuda";
    const auto rendered = render_lock(env, LockFormat::explicit_);
    EXPECT_NE(rendered.text.find("@EXPLICIT\n# no URL for: libzlib-1.3.1-h4ab18f5_1\n"),
              std::string::npos)
        << rendered.text;
    EXPECT_EQ(rendered.text.find("torch"), std::string::npos);
    ASSERT_EQ(rendered.warnings.size(), 3U);
    EXPECT_EQ(rendered.warnings[0].message,
              "conda packages without a download URL are written as comments and will not be "
              "installed: libzlib-1.3.1-h4ab18f5_1");
    EXPECT_EQ(rendered.warnings[1].message,
              "the explicit format cannot hold pip-installed distributions; left out: torch "
              "2.3.0, mylib 0.1");
    EXPECT_EQ(rendered.warnings[2].message,
              "the explicit format cannot hold environment variables; left out: CUDA_HOME");
    const auto back = parse(rendered.text);
    EXPECT_EQ(back.packages.size(), 2U);
    EXPECT_EQ(test::messages(back.warnings),
              "env.txt:6:1: no URL for libzlib-1.3.1-h4ab18f5_1: the package is not in the lock\n");
}

TEST(ExplicitLock, ReadsEveryCep23HashForm) {
    const auto env = parse(explicit_file(
        k_forge + "a-1-0.conda#" + k_md5 + "\n" + k_forge + "b-1-0.conda#" + k_sha + "\n" +
        k_forge + "c-1-0.tar.bz2#sha256:" + k_sha + "\n" + k_forge + "d-1-0.conda\n"));
    ASSERT_EQ(env.packages.size(), 4U);
    EXPECT_EQ(env.packages[0].md5, k_md5);
    EXPECT_EQ(env.packages[0].sha256, "");
    EXPECT_EQ(env.packages[1].sha256, k_sha);
    EXPECT_EQ(env.packages[2].sha256, k_sha);
    EXPECT_EQ(env.packages[2].url, k_forge + "c-1-0.tar.bz2");
    EXPECT_EQ(env.packages[3].md5 + env.packages[3].sha256, "");
}

struct RegexCase {
    std::string line;
    bool accepted;
    std::string name;  // when accepted
    std::string url;
};

TEST(ExplicitLock, FollowsTheCep23Regex) {
    const std::vector<RegexCase> cases = {
        {"https://x/linux-64/a-1-0.conda", true, "a", "https://x/linux-64/a-1-0.conda"},
        {"a-b_c-1.0-py_0.tar.bz2", true, "a-b_c", "a-b_c-1.0-py_0.tar.bz2"},  // a bare file name
        {"C:\\pkgs\\a-1-0.conda", true, "a", "C:\\pkgs\\a-1-0.conda"},
        {"file:///tmp/pk gs/a-1-0.conda", true, "a", "file:///tmp/pk gs/a-1-0.conda"},
        {"https://x/a#b/a-1-0.conda", true, "a", "https://x/a#b/a-1-0.conda"},  // '#' in url_p
        {"//a-1-0.conda", true, "a", "//a-1-0.conda"},
        {"/a-1-0.conda", false, "", ""},  // url_p needs one character
        {"https://x/a-1-0.zip", false, "", ""},
        {"https://x/.conda", false, "", ""},
        {"https://x/a-1-0.conda#" + std::string(32, 'B'), false, "", ""},  // uppercase hex
        {"https://x/a-1-0.conda#abc", false, "", ""},
        {"https://x/a-1-0.conda#sha256:" + k_md5, false, "", ""},
        {"https://x/a-1-0.conda#md5:" + k_md5, false, "", ""},
        {"https://x/a-1-0.conda " + k_md5, false, "", ""},
        {"https://x/a-1.conda", false, "", ""},  // not name-version-build
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.line);
        if (!c.accepted) {
            EXPECT_TRUE(parse_error(explicit_file(c.line)).starts_with("env.txt:2:1: "));
            continue;
        }
        const auto env = parse(explicit_file(c.line));
        ASSERT_EQ(env.packages.size(), 1U);
        EXPECT_EQ(env.packages[0].name, c.name);
        EXPECT_EQ(env.packages[0].url, c.url);
    }
}

TEST(ExplicitLock, ChannelAndSubdirComeFromTheUrl) {
    const auto env = parse(
        explicit_file("https://conda.anaconda.org/conda-forge/noarch/a-1-0.conda\n"
                      "https://repo.anaconda.com/pkgs/main/linux-64/b-1-0.conda\n"
                      "https://user:pw@example.com/t/tok123/custom/linux-aarch64/c-1-0.conda\n"
                      "file:///opt/local/d-1-0.tar.bz2\n"
                      "e-1-0.conda\n"));
    ASSERT_EQ(env.packages.size(), 5U);
    EXPECT_EQ(env.packages[0].channel, "conda-forge");
    EXPECT_EQ(env.packages[0].subdir, "noarch");
    EXPECT_EQ(env.packages[1].channel, "pkgs/main");
    EXPECT_EQ(env.packages[1].subdir, "linux-64");
    EXPECT_EQ(env.packages[2].channel, "https://example.com/custom");
    EXPECT_EQ(env.packages[2].subdir, "linux-aarch64");
    EXPECT_EQ(env.packages[3].channel, "file:///opt/local");
    EXPECT_EQ(env.packages[3].subdir, "");
    EXPECT_EQ(env.packages[4].channel, "");
    // No `# platform:` line: the first subdir that is not noarch.
    EXPECT_EQ(env.platform, "linux-64");
}

TEST(ExplicitLock, BlankLinesCommentsAndCrlfAreIgnored) {
    const auto env = parse(
        "# This file may be used to create an environment using:\r\n"
        "\r\n"
        "# platform: osx-arm64\r\n"
        "  @EXPLICIT  \r\n"
        "\r\n"
        "# a comment\r\n" +
        k_forge + "a-1-0.conda#" + k_md5 + "\r\n");
    EXPECT_EQ(env.platform, "osx-arm64");
    ASSERT_EQ(env.packages.size(), 1U);
    EXPECT_EQ(env.packages[0].md5, k_md5);
    EXPECT_EQ(env.source, "env.txt (explicit)");
}

TEST(ExplicitLock, KnowsNoPipSideInstallerOrVariables) {
    const auto env = parse(explicit_file(k_forge + "a-1-0.conda\n"));
    EXPECT_FALSE(env.fields.pypi);
    EXPECT_FALSE(env.fields.installer);
    EXPECT_FALSE(env.fields.env_vars);
    EXPECT_TRUE(env.fields.conda);
    EXPECT_TRUE(env.fields.build);
    EXPECT_EQ(env.packages[0].installer, "conda");
    EXPECT_EQ(env.packages[0].manager, core::lock::Manager::conda);
}

TEST(ExplicitLock, LinesBeforeExplicitAreAnError) {
    EXPECT_EQ(parse_error("# header\n" + k_forge + "a-1-0.conda\n@EXPLICIT\n"),
              "env.txt:2:1: expected @EXPLICIT before '" + k_forge +
                  "a-1-0.conda' (not an explicit file)");
    EXPECT_EQ(parse_error("@explicit\n"),
              "env.txt:1:1: expected @EXPLICIT before '@explicit' (not an explicit file)");
    EXPECT_EQ(parse_error("# only comments\n\n"),
              "env.txt: no @EXPLICIT line: not an explicit (CEP 23) file");
}

TEST(ExplicitLock, TheLaterOfTwoSameNamePackagesWins) {
    const auto env = parse(explicit_file(k_forge + "a-1-0.conda\n" + k_forge + "a-2-0.conda\n"));
    ASSERT_EQ(env.packages.size(), 1U);
    EXPECT_EQ(env.packages[0].version, "2");
    EXPECT_EQ(test::messages(env.warnings),
              "env.txt: package a is listed more than once; the last entry wins\n");
}

TEST(ExplicitLock, BinaryGarbageIsAnErrorNamingTheLine) {
    const std::string garbage("@EXPLICIT\n\x00\xff\xfe\x01garbage\n", 20);
    EXPECT_TRUE(parse_error(garbage).starts_with("env.txt:2:")) << parse_error(garbage);
}

}  // namespace
}  // namespace gpuenv
