// Tests of reading a saved `gpuenv list --json` as a lock.
#include <gtest/gtest.h>

#include <core/lock/lock_test_util.hpp>
#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/util/error.hpp>
#include <support/conda_prefix_builder.hpp>
#include <support/python_dist_builder.hpp>
#include <support/run_gpuenv.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

namespace fs = std::filesystem;
using core::lock::LockedEnv;
using core::lock::LockFormat;
using core::lock::Manager;
using core::lock::parse_lock;

const std::string k_sp = "lib/python3.11/site-packages";

LockedEnv parse(const std::string& text) {
    return parse_lock(text, "list.json", LockFormat::list_json);
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

// Writes python, a conda numpy with its dist-info, a pip install and an editable install.
void make_env(const fs::path& prefix) {
    test::CondaPrefixBuilder builder(prefix);
    builder.add_package({.name = "python",
                         .version = "3.11.9",
                         .build = "hab00c5b_0_cpython",
                         .requested = true,
                         .python_site_packages_path = k_sp});
    const test::PythonDistSpec conda_numpy{"numpy", "1.26.4", "conda"};
    std::vector<std::string> files;
    for (const auto& f : test::dist_info_files(conda_numpy))
        files.push_back(k_sp + "/" + f);
    builder.add_package({.name = "numpy",
                         .version = "1.26.4",
                         .build = "py311h64a7726_0",
                         .depends = {"python >=3.11,<3.12.0a0"},
                         .files = files,
                         .create_files = test::CreateFiles::no});
    test::write_dist_info(prefix / k_sp, conda_numpy);
    test::write_dist_info(prefix / k_sp, {"requests", "2.32.3", "pip"});
    test::write_dist_info(
        prefix / k_sp,
        {.name = "mylib",
         .version = "0.1.dev0",
         .installer = "pip",
         .requested = true,
         .direct_url_json = R"({"url": "file:///src/mylib", "dir_info": {"editable": true}})"});
}

TEST(ListJsonLock, ReadsTheOutputOfGpuenvList) {
    test::TempDir dir;
    make_env(dir / "env");
    const auto r = test::run_gpuenv({"list", "--json", "-p", (dir / "env").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(core::lock::detect_lock_format(r.out, "saved"), LockFormat::list_json);
    const auto env = parse(r.out);
    EXPECT_EQ(env.platform, "linux-64");
    EXPECT_EQ(env.channels, std::vector<std::string>{"conda-forge"});
    EXPECT_FALSE(env.fields.env_vars);
    EXPECT_TRUE(env.fields.pypi);
    ASSERT_EQ(env.packages.size(), 4U) << test::dump(env);
    const auto& mylib = env.packages[0];
    EXPECT_EQ(mylib.manager, Manager::pypi);
    EXPECT_EQ(mylib.installer, "pip");
    EXPECT_TRUE(mylib.requested);
    ASSERT_TRUE(mylib.direct_url.has_value());
    EXPECT_EQ(mylib.direct_url->kind, core::env::DirectUrl::Kind::dir);
    EXPECT_TRUE(mylib.direct_url->editable);
    EXPECT_EQ(mylib.direct_url->url, "file:///src/mylib");
    const auto& conda_numpy = env.packages[1];
    EXPECT_EQ(conda_numpy.manager, Manager::conda);
    EXPECT_EQ(conda_numpy.build, "py311h64a7726_0");
    EXPECT_EQ(conda_numpy.channel, "conda-forge");
    EXPECT_EQ(conda_numpy.subdir, "linux-64");
    EXPECT_EQ(conda_numpy.installer, "conda");
    EXPECT_EQ(conda_numpy.python_name, "numpy");
    EXPECT_EQ(conda_numpy.python_version, "1.26.4");
    EXPECT_EQ(conda_numpy.depends, std::vector<std::string>{"python >=3.11,<3.12.0a0"});
    EXPECT_EQ(conda_numpy.url,
              "https://conda.anaconda.org/conda-forge/linux-64/numpy-1.26.4-py311h64a7726_0.conda");
    EXPECT_EQ(env.packages[2].name, "python");
    EXPECT_TRUE(env.packages[2].requested);
    const auto& requests = env.packages[3];
    EXPECT_EQ(requests.manager, Manager::pypi);
    EXPECT_EQ(requests.version, "2.32.3");
    EXPECT_EQ(requests.installer, "pip");
    EXPECT_FALSE(requests.requested);
    EXPECT_FALSE(requests.direct_url.has_value());
}

TEST(ListJsonLock, ReadsTheDocumentedExample) {
    const auto env = parse(R"({
  "schema": "gpuenv.list/1", "prefix": "/opt/conda/envs/torch", "kind": "conda",
  "packages": [
    {"name": "numpy", "version": "1.26.4", "build": "py311h64a7726_0", "channel": "conda-forge",
     "kind": "conda", "installer": "conda", "requested": true,
     "conda": {"build_number": 3, "subdir": "linux-64", "url": "u", "md5": "m", "sha256": "s",
               "size": 8065890, "depends": ["python >=3.11"], "future_field": {"x": 1}},
     "python": {"name": "numpy", "normalized_name": "numpy", "version": "1.26.4"}},
    {"name": "numpy", "version": "2.0.0", "build": "", "channel": "", "kind": "pypi",
     "installer": "pip", "requested": true,
     "python": {"direct_url": {"url": "https://x/numpy-2.0.0.whl", "kind": "archive",
                               "editable": false, "archive_hash": "sha256=abc"}}}
  ],
  "warnings": [{"path": "/opt/conda/envs/torch/conda-meta/broken-1.0-0.json", "line": 3,
                "column": 5, "message": "bad"}]
})");
    ASSERT_EQ(env.packages.size(), 2U);
    EXPECT_EQ(env.packages[0].build_number, 3);
    EXPECT_EQ(env.packages[0].size, 8065890);
    EXPECT_EQ(env.packages[0].md5, "m");
    EXPECT_EQ(env.packages[1].pypi_sha256, "abc");
    EXPECT_EQ(env.packages[1].direct_url->archive_hash, "sha256=abc");
    EXPECT_EQ(test::messages(env.warnings),
              "/opt/conda/envs/torch/conda-meta/broken-1.0-0.json:3:5: bad\n");
    EXPECT_EQ(env.source, "list.json (list-json)");
}

TEST(ListJsonLock, AnotherSchemaIsAnError) {
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/2", "packages": []})"),
              "list.json: unsupported schema 'gpuenv.list/2' (this gpuenv reads gpuenv.list/1)");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.envs/1"})"),
              "list.json: not a `gpuenv list --json` document: schema 'gpuenv.envs/1' is not "
              "gpuenv.list/1");
    EXPECT_EQ(parse_error(R"([1, 2])"),
              "list.json: expected a `gpuenv list --json` document (a JSON object)");
}

TEST(ListJsonLock, WrongTypesNameTheField) {
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "conda", "conda": {"size": "big"}}]})"),
              "list.json: packages[0].conda.size: expected an integer");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "rpm"}]})"),
              "list.json: packages[0].kind: expected conda or pypi, not 'rpm'");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": {}})"),
              "list.json: packages: expected a list");
}

TEST(ListJsonLock, InvalidJsonNamesLineAndColumn) {
    const std::string message =
        parse_error("{\"schema\": \"gpuenv.list/1\",\n  \"packages\": [,]}");
    EXPECT_TRUE(message.starts_with("list.json:2:16: invalid JSON: ")) << message;
    const std::string garbage("{\x01\xff\xfe", 4);
    EXPECT_TRUE(parse_error(garbage).starts_with("list.json:1:")) << parse_error(garbage);
}

TEST(ListJsonLock, NumbersPastTheirRangeAreErrors) {
    // simdjson refuses 1e999 and nlohmann has no position for it: the reason still says why.
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [], "x": 1e999})"),
              "list.json: invalid JSON: number overflow parsing '1e999'");
    // An integer past int64 is not a size: it is named, not wrapped to a negative number.
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "conda", "conda": {"size": 18446744073709551615}}]})"),
              "list.json: packages[0].conda.size: integer out of range: 18446744073709551615");
}

TEST(ListJsonLock, NestingPastTheParsersDepthIsAnError) {
    const std::string deep = R"({"schema": "gpuenv.list/1", "x": )" + std::string(5000, '[') +
                             std::string(5000, ']') + "}";
    EXPECT_TRUE(parse_error(deep).starts_with("list.json: invalid JSON: ")) << parse_error(deep);
}

TEST(ListJsonLock, AByteOrderMarkIsSkipped) {
    const auto env = parse(
        "\xEF\xBB\xBF{\"schema\": \"gpuenv.list/1\", \"packages\": "
        "[{\"name\": \"a\", \"version\": \"1\", \"kind\": \"pypi\"}]}");
    ASSERT_EQ(env.packages.size(), 1U);
    EXPECT_EQ(env.packages[0].key, "a");
}

}  // namespace
}  // namespace gpuenv
