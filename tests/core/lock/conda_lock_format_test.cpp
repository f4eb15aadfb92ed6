// Tests of conda-lock files (CEP 37, version 1): layout, round trips, conda-lock's own files.
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

LockedEnv parse(const std::string& text) {
    return parse_lock(text, "conda-lock.yml", LockFormat::conda_lock);
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

core::lock::LockedPackage wheel(std::string name, std::string version) {
    auto p = pypi_package(name, version);
    p.direct_url = test::direct_url({.kind = core::env::DirectUrl::Kind::archive,
                                     .url = "https://files.pythonhosted.org/packages/" + name +
                                            "-" + version + "-py3-none-any.whl",
                                     .archive_hash = "sha256=" + k_sha});
    p.pypi_sha256 = k_sha;
    return p;
}

LockedEnv sample() {
    LockedEnv env;
    env.platform = "linux-64";
    env.fingerprint = std::string(64, 'f');
    env.channels = {"conda-forge"};
    auto mutex = conda_package("_openmp_mutex", "4.5", "1_gnu",
                               {"_libgcc_mutex 0.1 conda_forge", "libgomp >=7.5.0"});
    mutex.url = "https://conda.anaconda.org/conda-forge/linux-64/_openmp_mutex-4.5-1_gnu.tar.bz2";
    mutex.md5 = k_md5;
    auto ca = conda_package("ca-certificates", "2024.2.2", "hbcca054_0");
    ca.subdir = "noarch";
    ca.url =
        "https://conda.anaconda.org/conda-forge/noarch/ca-certificates-2024.2.2-hbcca054_0.conda";
    ca.md5 = k_md5;
    ca.sha256 = k_sha;
    auto pydantic = wheel("pydantic", "2.5.1");
    pydantic.depends = {"annotated-types>=0.4.0", "typing-extensions"};
    env.packages = {mutex, ca, pydantic};
    core::lock::sort_packages(env.packages);
    return env;
}

TEST(CondaLock, RendersTheCep37Layout) {
    LockedEnv env;
    env.platform = "linux-64";
    env.fingerprint = "f00d";
    env.channels = {"conda-forge"};
    auto zlib =
        conda_package("zlib", "1.3.1", "h4ab18f5_1", {"libzlib 1.3.1 h4ab18f5_1", "tzdata"});
    zlib.md5 = k_md5;
    env.packages = {zlib};
    const auto rendered = render_lock(env, LockFormat::conda_lock);
    EXPECT_TRUE(rendered.warnings.empty());
    EXPECT_EQ(rendered.text,
              "# This lock file was written by gpuenv in the conda-lock format (version 1, CEP "
              "37).\n"
              "# Install it with `conda-lock install --name <env> <this file>`\n"
              "# or `micromamba create --name <env> --file <this file>`.\n"
              "version: 1\n"
              "metadata:\n"
              "  content_hash:\n"
              "    \"linux-64\": \"f00d\"\n"
              "  channels:\n"
              "    - url: \"conda-forge\"\n"
              "      used_env_vars: []\n"
              "  platforms:\n"
              "    - \"linux-64\"\n"
              "  sources: []\n"
              "package:\n"
              "  - name: \"zlib\"\n"
              "    version: \"1.3.1\"\n"
              "    manager: conda\n"
              "    platform: \"linux-64\"\n"
              "    dependencies:\n"
              "      \"libzlib\": \"1.3.1 h4ab18f5_1\"\n"
              "      \"tzdata\": \"\"\n"
              "    url: \"https://conda.anaconda.org/conda-forge/linux-64/"
              "zlib-1.3.1-h4ab18f5_1.conda\"\n"
              "    hash:\n"
              "      \"md5\": \"" +
                  k_md5 +
                  "\"\n"
                  "    category: main\n"
                  "    optional: false\n"
                  "    build: \"h4ab18f5_1\"\n");
}

TEST(CondaLock, RoundTripKeepsWhatTheFormatHolds) {
    const LockedEnv env = sample();
    const auto rendered = render_lock(env, LockFormat::conda_lock);
    EXPECT_TRUE(rendered.warnings.empty());
    LockedEnv expected = env;
    expected.fields.installer = false;
    expected.fields.env_vars = false;
    const auto back = parse(rendered.text);
    EXPECT_EQ(dump(back), dump(expected));
    EXPECT_TRUE(back.warnings.empty()) << test::messages(back.warnings);
    EXPECT_EQ(render_lock(back, LockFormat::conda_lock).text, rendered.text);
}

TEST(CondaLock, KeysLongerThanYamlSimpleKeysRoundTrip) {
    LockedEnv env = sample();
    env.platform = std::string(1500, 'p');
    env.packages[0].depends.push_back(std::string(1500, 'd') + " >=1");
    const auto back = parse(render_lock(env, LockFormat::conda_lock).text);
    EXPECT_EQ(back.platform, env.platform);
    ASSERT_EQ(back.packages.size(), 3U);
    EXPECT_EQ(back.packages[0].depends, env.packages[0].depends);
}

TEST(CondaLock, PipDistributionsWithoutArchiveHashAreNamedInAWarning) {
    LockedEnv env = sample();
    env.packages.push_back(pypi_package("plain", "1.0"));
    auto editable = pypi_package("mylib", "0.1");
    editable.direct_url = test::direct_url(
        {.kind = core::env::DirectUrl::Kind::dir, .url = "file:///src", .editable = true});
    env.packages.push_back(editable);
    env.packages[0].url.clear();
    const auto rendered = render_lock(env, LockFormat::conda_lock);
    ASSERT_EQ(rendered.warnings.size(), 2U);
    EXPECT_EQ(rendered.warnings[0].message,
              "conda packages without a download URL are left out: _openmp_mutex 4.5");
    EXPECT_EQ(rendered.warnings[1].message,
              "conda-lock holds pip distributions only with an archive URL and its sha256; left "
              "out: plain 1.0, mylib 0.1");
}

TEST(CondaLock, ReadsCondaLocksOwnFile) {
    // The flow style and sorted keys conda-lock writes (tests/test-lockfile/conda-lock.yml).
    const auto env = parse(
        "# This lock file was generated by conda-lock.\n"
        "version: 1\n"
        "metadata:\n"
        "  content_hash:\n"
        "    linux-64: 0123abcd\n"
        "    osx-64: 4567ef00\n"
        "  channels:\n"
        "  - url: conda-forge\n"
        "    used_env_vars: []\n"
        "  platforms:\n"
        "  - linux-64\n"
        "  - osx-64\n"
        "  sources:\n"
        "  - environment.yml\n"
        "package:\n"
        "- category: main\n"
        "  dependencies: {_libgcc_mutex: 0.1 conda_forge, libgomp: '>=7.5.0'}\n"
        "  hash: {md5: 561e277319a41d4f24f5c05a9ef63c04}\n"
        "  manager: conda\n"
        "  name: _openmp_mutex\n"
        "  optional: false\n"
        "  platform: linux-64\n"
        "  url: https://conda.anaconda.org/conda-forge/linux-64/_openmp_mutex-4.5-1_gnu.tar.bz2\n"
        "  version: '4.5'\n"
        "- category: main\n"
        "  dependencies: {}\n"
        "  hash: {md5: 561e277319a41d4f24f5c05a9ef63c04}\n"
        "  manager: conda\n"
        "  name: _openmp_mutex\n"
        "  optional: false\n"
        "  platform: osx-64\n"
        "  url: https://conda.anaconda.org/conda-forge/osx-64/_openmp_mutex-4.5-2_gnu.tar.bz2\n"
        "  version: '4.5'\n"
        "- category: main\n"
        "  dependencies: {annotated-types: '>=0.4.0', pydantic-core: 2.14.3}\n"
        "  hash: {sha256: dc5244a8939e0d9a68f1f1b5f550b2e1c879912033b1becbedb315accc75441b}\n"
        "  manager: pip\n"
        "  name: pydantic\n"
        "  optional: false\n"
        "  platform: linux-64\n"
        "  source: null\n"
        "  url: https://files.pythonhosted.org/packages/pydantic-2.5.1-py3-none-any.whl\n"
        "  version: 2.5.1\n");
    EXPECT_EQ(env.platform, "linux-64");
    EXPECT_EQ(env.fingerprint, "0123abcd");
    EXPECT_EQ(env.channels, std::vector<std::string>{"conda-forge"});
    ASSERT_EQ(env.packages.size(), 2U);
    const auto& mutex = env.packages[0];
    EXPECT_EQ(mutex.name, "_openmp_mutex");
    EXPECT_EQ(mutex.build, "1_gnu");  // from the URL: the entry has no build key
    EXPECT_EQ(mutex.channel, "conda-forge");
    EXPECT_EQ(mutex.subdir, "linux-64");
    EXPECT_EQ(mutex.depends,
              (std::vector<std::string>{"_libgcc_mutex 0.1 conda_forge", "libgomp >=7.5.0"}));
    const auto& pydantic = env.packages[1];
    EXPECT_EQ(pydantic.manager, core::lock::Manager::pypi);
    EXPECT_EQ(pydantic.depends,
              (std::vector<std::string>{"annotated-types>=0.4.0", "pydantic-core==2.14.3"}));
    ASSERT_TRUE(pydantic.direct_url.has_value());
    EXPECT_EQ(pydantic.direct_url->archive_hash,
              "sha256=dc5244a8939e0d9a68f1f1b5f550b2e1c879912033b1becbedb315accc75441b");
    EXPECT_EQ(test::messages(env.warnings),
              "conda-lock.yml: the lock holds the platforms linux-64, osx-64; only linux-64 is "
              "read\n");
}

TEST(CondaLock, OptionalPackagesAreLeftOutWithAWarning) {
    const auto env = parse(
        "version: 1\nmetadata: {platforms: [linux-64]}\npackage:\n"
        "- {name: a, version: '1', manager: conda, platform: linux-64, optional: true,\n"
        "   url: 'https://x/linux-64/a-1-0.conda'}\n"
        "- {name: b, version: '1', manager: cargo, platform: linux-64}\n");
    EXPECT_TRUE(env.packages.empty());
    EXPECT_EQ(test::messages(env.warnings),
              "conda-lock.yml: package b has an unknown manager 'cargo' and is left out\n"
              "conda-lock.yml: optional packages (installed only on request) are left out: a\n");
}

TEST(CondaLock, MissingVersionIsAnError) {
    EXPECT_EQ(parse_error("metadata: {}\npackage: []\n"),
              "conda-lock.yml:1:1: no version key (conda-lock's MissingLockfileVersion)");
    EXPECT_EQ(parse_error("version: 2\npackage: []\n"),
              "conda-lock.yml:1:10: unsupported conda-lock version '2' (gpuenv reads version 1)");
}

TEST(CondaLock, WrongTypesNameLineAndColumn) {
    EXPECT_EQ(parse_error("version: 1\npackage:\n- name: a\n  dependencies: [x]\n"),
              "conda-lock.yml:4:17: dependencies must be a mapping");
    EXPECT_EQ(parse_error("version: 1\npackage: {a: 1}\n"),
              "conda-lock.yml:2:10: package must be a list");
    EXPECT_EQ(parse_error("version: 1\npackage:\n- version: '1'\n"),
              "conda-lock.yml:3:3: a package has no name");
    EXPECT_EQ(parse_error("version: 1\npackage:\n- name: a\n  optional: perhaps\n"),
              "conda-lock.yml:4:13: optional must be true or false");
}

TEST(CondaLock, TruncatedAndBinaryInputAreErrors) {
    const auto text = render_lock(sample(), LockFormat::conda_lock).text;
    const std::string cut = text.substr(0, text.find("_openmp_mutex") + 3);
    EXPECT_TRUE(parse_error(cut).starts_with("conda-lock.yml:")) << parse_error(cut);
    const std::string garbage("version: 1\npackage:\n- \x01\xff: [\"\x80\n", 27);
    EXPECT_TRUE(parse_error(garbage).starts_with("conda-lock.yml:")) << parse_error(garbage);
}

}  // namespace
}  // namespace gpuenv
