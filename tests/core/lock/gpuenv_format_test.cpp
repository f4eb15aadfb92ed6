// Tests of gpuenv's own YAML lock: layout, round trips, quoting, errors.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>

#include <nlohmann/json.hpp>

#include <core/lock/lock_test_util.hpp>
#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/process.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

using core::lock::LockedEnv;
using core::lock::LockedPackage;
using core::lock::LockFormat;
using core::lock::parse_lock;
using core::lock::render_lock;
using test::conda_package;
using test::dump;
using test::pypi_package;

LockedEnv small_env() {
    LockedEnv env;
    env.platform = "linux-64";
    env.name = "demo";
    env.fingerprint = "f00d";
    env.channels = {"conda-forge"};
    env.env_vars = {{"CUDA_HOME", "/usr/local/cuda"}};
    auto numpy = conda_package("numpy", "1.26.4", "py311h64a7726_0", {"python >=3.11,<3.12.0a0"});
    numpy.md5 = "0123";
    numpy.sha256 = "abcd";
    numpy.size = 8065890;
    numpy.requested = true;
    numpy.python_name = "numpy";
    numpy.python_version = "1.26.4";
    numpy.record_sha256 = "beef";
    auto mylib = pypi_package("mylib", "0.1.dev0");
    mylib.requested = true;
    mylib.direct_url = test::direct_url(
        {.kind = core::env::DirectUrl::Kind::dir, .url = "file:///src/mylib", .editable = true});
    mylib.record_sha256 = "cafe";
    mylib.depends = {"requests>=2"};
    env.packages = {mylib, numpy};
    core::lock::sort_packages(env.packages);
    return env;
}

LockedEnv parse(const std::string& text, const char* path = "gpuenv.lock.yml") {
    return parse_lock(text, path, LockFormat::gpuenv);
}

// Returns the message of the gpuenv::Error that parsing throws ("" when it does not throw).
std::string parse_error(const std::string& text) {
    try {
        (void)parse(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        return e.what();
    }
    return "";
}

// Strings that YAML would read as something else, or that need escaping.
const std::vector<std::string> k_tricky = {"1.10",
                                           "1e5",
                                           "0x1F",
                                           "yes",
                                           "No",
                                           "null",
                                           "~",
                                           "true",
                                           "",
                                           "-1",
                                           "@x",
                                           "`x",
                                           "!tag",
                                           "&anchor",
                                           "*alias",
                                           "%x",
                                           "{a}",
                                           "[a]",
                                           "a: b",
                                           "a #b",
                                           "'q'",
                                           "\"dq\"",
                                           "back\\slash",
                                           "tab\tx",
                                           "new\nline",
                                           "cr\rx",
                                           "\xc3\xbc",
                                           "\xe6\x97\xa5\xe6\x9c\xac",
                                           "emoji \xf0\x9f\x98\x80",
                                           std::string("nul\0x", 5),
                                           "\x01"
                                           "ctrl",
                                           "del\x7f",
                                           "nel\xc2\x85",
                                           "ls\xe2\x80\xa8",
                                           "bom\xef\xbb\xbf",
                                           "  leading",
                                           "trailing  ",
                                           "<<",
                                           "=",
                                           "- item",
                                           "? key",
                                           "| block",
                                           "> fold",
                                           "#comment",
                                           "---",
                                           "...",
                                           "0o17",
                                           ".inf",
                                           "-.NaN",
                                           "2001-12-14",
                                           "y",
                                           "off"};

TEST(GpuenvLock, RendersTheDocumentedLayout) {
    const auto rendered = render_lock(small_env(), LockFormat::gpuenv);
    EXPECT_TRUE(rendered.warnings.empty());
    EXPECT_EQ(rendered.text,
              "# gpuenv lock: verify with `gpuenv verify --lock <file>`\n"
              "version: 1\n"
              "platform: \"linux-64\"\n"
              "name: \"demo\"\n"
              "fingerprint: \"f00d\"\n"
              "channels:\n"
              "  - \"conda-forge\"\n"
              "env_vars:\n"
              "  \"CUDA_HOME\": \"/usr/local/cuda\"\n"
              "conda:\n"
              "  - name: \"numpy\"\n"
              "    version: \"1.26.4\"\n"
              "    build: \"py311h64a7726_0\"\n"
              "    build_number: 0\n"
              "    channel: \"conda-forge\"\n"
              "    subdir: \"linux-64\"\n"
              "    url: \"https://conda.anaconda.org/conda-forge/linux-64/"
              "numpy-1.26.4-py311h64a7726_0.conda\"\n"
              "    md5: \"0123\"\n"
              "    sha256: \"abcd\"\n"
              "    size: 8065890\n"
              "    depends:\n"
              "      - \"python >=3.11,<3.12.0a0\"\n"
              "    requested: true\n"
              "    python:\n"
              "      name: \"numpy\"\n"
              "      version: \"1.26.4\"\n"
              "      record_sha256: \"beef\"\n"
              "pypi:\n"
              "  - name: \"mylib\"\n"
              "    version: \"0.1.dev0\"\n"
              "    installer: \"pip\"\n"
              "    requested: true\n"
              "    direct_url:\n"
              "      url: \"file:///src/mylib\"\n"
              "      kind: dir\n"
              "      editable: true\n"
              "    record_sha256: \"cafe\"\n"
              "    depends:\n"
              "      - \"requests>=2\"\n");
}

TEST(GpuenvLock, EmptyEnvironmentHasEmptyCollections) {
    LockedEnv env;
    const auto text = render_lock(env, LockFormat::gpuenv).text;
    EXPECT_EQ(text,
              "# gpuenv lock: verify with `gpuenv verify --lock <file>`\n"
              "version: 1\nplatform: \"\"\nfingerprint: \"\"\nchannels: []\nenv_vars: {}\n"
              "conda: []\npypi: []\n");
    EXPECT_EQ(dump(parse(text)), dump(env));
}

TEST(GpuenvLock, RoundTripKeepsEveryField) {
    LockedEnv env = small_env();
    env.channels = {"conda-forge", "pytorch", "https://example.com/channel"};
    env.env_vars["EMPTY"] = "";
    auto mutex = conda_package("_libgcc_mutex", "0.1", "conda_forge");
    mutex.build_number = 7;
    mutex.channel = "https://example.com/channel";
    mutex.url.clear();
    mutex.subdir = "noarch";
    auto archive = pypi_package("Some.Pkg", "2.0");
    archive.installer = "uv";
    archive.direct_url =
        test::direct_url({.kind = core::env::DirectUrl::Kind::archive,
                          .url = "https://files.example.com/some_pkg-2.0-py3-none-any.whl",
                          .archive_hash = "sha256=" + std::string(64, 'a'),
                          .subdirectory = "sub"});
    archive.pypi_sha256 = std::string(64, 'a');
    auto vcs = pypi_package("gitpkg", "0.3");
    vcs.direct_url = test::direct_url({.kind = core::env::DirectUrl::Kind::vcs,
                                       .url = "https://github.com/o/gitpkg.git",
                                       .vcs = "git",
                                       .commit_id = std::string(40, 'c'),
                                       .requested_revision = "main"});
    auto shadow = pypi_package("numpy", "2.0.0");  // a pip install over the conda numpy
    env.packages.insert(env.packages.end(), {mutex, archive, vcs, shadow});
    core::lock::sort_packages(env.packages);
    const auto text = render_lock(env, LockFormat::gpuenv).text;
    const LockedEnv back = parse(text);
    EXPECT_TRUE(back.warnings.empty()) << test::messages(back.warnings);
    EXPECT_EQ(dump(back), dump(env));
    EXPECT_EQ(back.source, "gpuenv.lock.yml (gpuenv)");
    EXPECT_EQ(render_lock(back, LockFormat::gpuenv).text, text);
}

TEST(GpuenvLock, RenderIsDeterministic) {
    EXPECT_EQ(render_lock(small_env(), LockFormat::gpuenv).text,
              render_lock(small_env(), LockFormat::gpuenv).text);
}

TEST(GpuenvLock, QuotesEveryStringYamlCouldReadAsSomethingElse) {
    LockedEnv env;
    env.platform = "1.10";
    env.name = "null";
    auto p = conda_package("yes", "1.10", "1e5", k_tricky);
    p.python_name = "no";
    p.python_version = "1.0";
    env.packages = {p};
    for (std::size_t i = 0; i < k_tricky.size(); ++i)
        env.env_vars["K" + std::to_string(i) + k_tricky[i]] = k_tricky[i];
    env.env_vars[std::string(2000, 'k')] = "a key longer than YAML's 1024 for simple keys";
    const auto text = render_lock(env, LockFormat::gpuenv).text;
    EXPECT_EQ(dump(parse(text)), dump(env)) << text;
}

TEST(GpuenvLock, PythonYamlReadsTheSameStrings) {
    const auto probe =
        util::run_capture({"python3", "-c", "import yaml"}, std::chrono::seconds(30));
    if (!probe || probe->exit_status != 0)
        GTEST_SKIP() << "python3 with the yaml module is not available";
    LockedEnv env = small_env();
    env.packages[0].depends = k_tricky;  // mylib (pypi) comes first
    for (std::size_t i = 0; i < k_tricky.size(); ++i)
        env.env_vars["K" + std::to_string(i) + k_tricky[i]] = k_tricky[i];
    env.env_vars[std::string(2000, 'k')] = "long key";
    env.packages[1].version = "1.10";
    test::TempDir dir;
    const auto path = dir / "gpuenv.lock.yml";
    test::write_file(path, render_lock(env, LockFormat::gpuenv).text);
    const auto out =
        util::run_capture({"python3", "-c",
                           "import json, sys, yaml\n"
                           "doc = yaml.safe_load(open(sys.argv[1], encoding='utf-8'))\n"
                           "sys.stdout.write(json.dumps(doc))\n",
                           path.string()},
                          std::chrono::seconds(60));
    ASSERT_TRUE(out.has_value());
    ASSERT_EQ(out->exit_status, 0);
    const auto doc = nlohmann::json::parse(out->out);
    EXPECT_EQ(doc["version"], 1);
    EXPECT_EQ(doc["platform"], "linux-64");
    EXPECT_EQ(doc["pypi"][0]["depends"].get<std::vector<std::string>>(), k_tricky);
    EXPECT_EQ(doc["pypi"][0]["requested"], true);
    EXPECT_EQ(doc["pypi"][0]["direct_url"]["editable"], true);
    EXPECT_EQ(doc["conda"][0]["version"], "1.10");
    EXPECT_EQ(doc["conda"][0]["size"], 8065890);
    EXPECT_EQ((doc["env_vars"].get<std::map<std::string, std::string>>()), env.env_vars);
}

TEST(GpuenvLock, ReadsHandWrittenPlainScalars) {
    const auto env = parse(
        "version: 1\nplatform: linux-64\nconda:\n"
        "  - {name: zlib, version: 1.3.1, build: h4ab18f5_1, build_number: 1}\n"
        "pypi:\n  - name: Foo_Bar\n    version: 1.10\n    requested: yes\n");
    ASSERT_EQ(env.packages.size(), 2U);
    EXPECT_EQ(env.packages[0].key, "foo-bar");
    EXPECT_EQ(env.packages[0].version, "1.10");
    EXPECT_TRUE(env.packages[0].requested);
    EXPECT_EQ(env.packages[1].name, "zlib");
    EXPECT_EQ(env.packages[1].installer, "conda");
    EXPECT_EQ(env.packages[1].build_number, 1);
}

TEST(GpuenvLock, MissingVersionIsAnError) {
    EXPECT_EQ(parse_error("platform: linux-64\nconda: []\n"),
              "gpuenv.lock.yml:1:1: not a gpuenv lock: no version key");
}

TEST(GpuenvLock, UnknownMajorVersionIsAnError) {
    EXPECT_EQ(parse_error("version: 2\nconda: []\n"),
              "gpuenv.lock.yml:1:10: unsupported gpuenv lock version '2' (this gpuenv reads "
              "version 1)");
    EXPECT_EQ(parse_error("version: 1.4\nconda: []\n"), "");  // a minor version still reads
}

TEST(GpuenvLock, UnknownKeysAreWarnings) {
    const auto env = parse(
        "version: 1\nfuture: x\nconda:\n  - name: a\n    flavour: mint\n    python:\n"
        "      name: a\n      shape: round\npypi:\n  - name: b\n    extra: 1\n"
        "    direct_url: {url: u, kind: vcs, colour: red}\n");
    EXPECT_EQ(test::messages(env.warnings),
              "gpuenv.lock.yml:2:1: unknown key 'future' is ignored\n"
              "gpuenv.lock.yml:5:5: unknown key 'flavour' is ignored\n"
              "gpuenv.lock.yml:8:7: unknown key 'shape' is ignored\n"
              "gpuenv.lock.yml:11:5: unknown key 'extra' is ignored\n"
              "gpuenv.lock.yml:12:37: unknown key 'colour' is ignored\n");
    EXPECT_EQ(env.packages.size(), 2U);
}

TEST(GpuenvLock, WrongTypeNamesLineAndColumn) {
    EXPECT_EQ(parse_error("version: 1\nconda:\n  - name: a\n    build_number: many\n"),
              "gpuenv.lock.yml:4:19: build_number must be an integer");
    EXPECT_EQ(parse_error("version: 1\nconda:\n  - name: a\n    requested: maybe\n"),
              "gpuenv.lock.yml:4:16: requested must be true or false");
    EXPECT_EQ(parse_error("version: 1\nconda: {a: 1}\n"),
              "gpuenv.lock.yml:2:8: conda must be a list");
    EXPECT_EQ(parse_error("version: 1\nchannels: [[x]]\n"),
              "gpuenv.lock.yml:2:12: an item of channels must be a string");
    EXPECT_EQ(parse_error("version: 1\npypi:\n  - version: 1\n"),
              "gpuenv.lock.yml:3:5: a pypi package has no name");
    EXPECT_EQ(parse_error("version: 1\npypi:\n  - name: a\n    direct_url: {kind: zip}\n"),
              "gpuenv.lock.yml:4:24: kind must be dir, vcs or archive, not 'zip'");
    EXPECT_EQ(parse_error("- version: 1\n"),
              "gpuenv.lock.yml:1:1: expected a gpuenv lock: a mapping starting with version: 1");
}

TEST(GpuenvLock, TruncatedYamlIsAnErrorWithItsPosition) {
    const auto text = render_lock(small_env(), LockFormat::gpuenv).text;
    const auto cut = text.substr(0, text.find("py311h64a7726_0") + 4);  // inside a quoted string
    const std::string message = parse_error(cut);
    EXPECT_TRUE(std::regex_search(message, std::regex("^gpuenv\\.lock\\.yml:[0-9]+:[0-9]+: ")))
        << message;
}

TEST(GpuenvLock, BinaryGarbageIsAnError) {
    const std::string garbage("\x00\xff\xfe{[\x01:\x02\n- ]]\"\x80", 14);
    const std::string message = parse_error(garbage);
    EXPECT_TRUE(message.starts_with("gpuenv.lock.yml:")) << message;
}

}  // namespace
}  // namespace gpuenv
