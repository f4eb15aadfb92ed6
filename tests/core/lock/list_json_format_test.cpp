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

TEST(ListJsonLock, WrongTypesNameTheFieldAndItsPlace) {
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "conda", "conda": {"size": "big"}}]})"),
              "list.json:2:44: packages[0].conda.size: expected an integer");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": {}})"),
              "list.json:1:41: packages: expected a list");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [null]})"),
              "list.json:1:42: packages[0]: expected an object");
    EXPECT_EQ(parse_error(R"({"schema": 1, "packages": []})"),
              "list.json:1:12: document.schema: expected a string");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": 5}]})"),
              "list.json:1:51: packages[0].name: expected a string");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "requested": "yes", "kind": "pypi"}]})"),
              "list.json:2:22: packages[0].requested: expected true or false");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "conda", "python": []}]})"),
              "list.json:2:36: packages[0].python: expected an object");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "warnings": [{"line": "3"}]})"),
              "list.json:1:51: warnings[0].line: expected an integer");
}

TEST(ListJsonLock, AListOfStringsNamesTheValueThatIsNotOne) {
    // The message names the list; the line and column, the element that is not a string.
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "conda", "conda": {"depends": ["python", 3]}}]})"),
              "list.json:2:58: packages[0].conda.depends: expected a list of strings");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "conda", "conda": {"depends": "python"}}]})"),
              "list.json:2:47: packages[0].conda.depends: expected a list of strings");
}

TEST(ListJsonLock, AWrongTypedValueIsLocatedByLineAndColumn) {
    const std::string text =
        "{\n"
        "  \"schema\": \"gpuenv.list/1\",\n"
        "  \"packages\": [\n"
        "    {\"name\": \"numpy\", \"kind\": \"conda\", \"installer\": \"conda\"},\n"
        "    {\"name\": \"scipy\", \"kind\": \"conda\",\n"
        "     \"conda\": {\"subdir\": \"linux-64\",\n"
        "               \"build_number\":   \"0\"}}\n"
        "  ]\n"
        "}\n";
    EXPECT_EQ(parse_error(text),
              "list.json:7:34: packages[1].conda.build_number: expected an integer");
}

TEST(ListJsonLock, PackageChecksNameTheirPlace) {
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "rpm"}]})"),
              "list.json:2:17: packages[0].kind: expected conda or pypi, not 'rpm'");
    // With no name at all, the package itself is pointed at.
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"kind": "pypi"}]})"),
              "list.json:1:42: packages[0].name: a package needs a name");
    EXPECT_EQ(
        parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "", "kind": "pypi"}]})"),
        "list.json:1:51: packages[0].name: a package needs a name");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a", "kind": "pypi",
        "python": {"direct_url": {"url": "u", "kind": "svn"}}}]})"),
              "list.json:2:55: packages[0].python.direct_url.kind: expected dir, vcs or archive, "
              "not 'svn'");
}

TEST(ListJsonLock, AbsentAndNullMembersReadAsEmpty) {
    const auto env = parse(R"({"schema": "gpuenv.list/1", "warnings": null, "packages": [
        {"name": "a", "version": null, "kind": "conda", "build": null, "channel": null,
         "installer": null, "requested": null, "python": null,
         "conda": {"build_number": null, "size": null, "depends": null, "url": null}},
        {"name": "b", "kind": "pypi", "python": {"direct_url": null}}]})");
    ASSERT_EQ(env.packages.size(), 2U);
    EXPECT_EQ(env.packages[0].version, "");
    EXPECT_EQ(env.packages[0].build, "");
    EXPECT_EQ(env.packages[0].size, 0);
    EXPECT_TRUE(env.packages[0].depends.empty());
    EXPECT_FALSE(env.packages[0].requested);
    EXPECT_EQ(env.packages[0].python_name, "");
    EXPECT_FALSE(env.packages[1].direct_url.has_value());
    EXPECT_TRUE(env.warnings.empty());
}

TEST(ListJsonLock, KindDecidesWhichMembersAreUsed) {
    // Every member gpuenv reads is checked wherever it is; `kind` decides only what is used:
    // a pypi entry takes no build, channel or conda fields, a conda entry no direct_url.
    const auto env = parse(R"({"schema": "gpuenv.list/1", "packages": [
        {"name": "A_b", "kind": "pypi", "build": "x", "channel": "c",
         "conda": {"size": 5, "subdir": "linux-64"},
         "python": {"name": "A_b", "version": "1", "direct_url": {"url": "file:///a"}}},
        {"name": "c", "kind": "conda",
         "python": {"name": "C.d", "version": "2", "direct_url": {"url": "file:///c"}}}]})");
    ASSERT_EQ(env.packages.size(), 2U);
    const auto& pypi = env.packages[0];
    EXPECT_EQ(pypi.manager, Manager::pypi);
    EXPECT_EQ(pypi.key, "a-b");
    EXPECT_EQ(pypi.build, "");
    EXPECT_EQ(pypi.channel, "");
    EXPECT_EQ(pypi.size, 0);
    EXPECT_EQ(pypi.subdir, "");
    EXPECT_EQ(pypi.python_name, "");
    ASSERT_TRUE(pypi.direct_url.has_value());
    EXPECT_EQ(pypi.direct_url->kind, core::env::DirectUrl::Kind::archive);
    const auto& conda = env.packages[1];
    EXPECT_EQ(conda.manager, Manager::conda);
    EXPECT_EQ(conda.python_name, "c-d");  // normalized from `name` when there is no normalized_name
    EXPECT_EQ(conda.python_version, "2");
    EXPECT_FALSE(conda.direct_url.has_value());
    EXPECT_EQ(env.platform, "");
    // A wrong type is an error even where the kind leaves the member unused.
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "pypi", "conda": {"size": "big"}}]})"),
              "list.json:2:43: packages[0].conda.size: expected an integer");
}

TEST(ListJsonLock, MembersMayComeInAnyOrder) {
    const auto env = parse(R"({
  "warnings": [{"message": "bad", "column": 5, "line": 3, "path": "p"}],
  "packages": [
    {"conda": {"size": 7, "depends": ["python"], "subdir": "linux-64"},
     "python": {"version": "1.26.4", "normalized_name": "numpy"},
     "requested": true, "channel": "conda-forge", "build": "py311_0", "kind": "conda",
     "version": "1.26.4", "name": "numpy"},
    {"python": {"direct_url": {"archive_hash": "sha256=abc", "kind": "archive", "url": "u"}},
     "kind": "pypi", "name": "Torch"}
  ],
  "schema": "gpuenv.list/1"
})");
    ASSERT_EQ(env.packages.size(), 2U);
    const auto& numpy = env.packages[0];
    EXPECT_EQ(numpy.manager, Manager::conda);
    EXPECT_EQ(numpy.build, "py311_0");
    EXPECT_EQ(numpy.channel, "conda-forge");
    EXPECT_EQ(numpy.size, 7);
    EXPECT_EQ(numpy.depends, std::vector<std::string>{"python"});
    EXPECT_EQ(numpy.python_name, "numpy");
    EXPECT_EQ(numpy.python_version, "1.26.4");
    EXPECT_TRUE(numpy.requested);
    EXPECT_EQ(env.packages[1].manager, Manager::pypi);
    EXPECT_EQ(env.packages[1].key, "torch");
    EXPECT_EQ(env.packages[1].pypi_sha256, "abc");
    EXPECT_EQ(env.platform, "linux-64");
    EXPECT_EQ(test::messages(env.warnings), "p:3:5: bad\n");
    // The schema is checked once the whole document has been read, wherever it is.
    EXPECT_EQ(parse_error(R"({"packages": [], "schema": "gpuenv.list/2"})"),
              "list.json: unsupported schema 'gpuenv.list/2' (this gpuenv reads gpuenv.list/1)");
    EXPECT_EQ(parse_error(R"({"packages": []})"),
              "list.json: not a `gpuenv list --json` document: schema '' is not gpuenv.list/1");
}

TEST(ListJsonLock, TheLastOfDuplicateKeysWins) {
    const auto env = parse(R"({"schema": "gpuenv.envs/1", "schema": "gpuenv.list/1",
        "packages": [{"name": "old", "kind": "pypi"}],
        "packages": [{"name": "a", "version": "1", "version": "2", "kind": "rpm", "kind": "conda",
                      "conda": {"size": 1, "depends": ["x"]}, "conda": {"size": 2}}]})");
    ASSERT_EQ(env.packages.size(), 1U);
    EXPECT_EQ(env.packages[0].name, "a");
    EXPECT_EQ(env.packages[0].version, "2");
    EXPECT_EQ(env.packages[0].manager, Manager::conda);
    EXPECT_EQ(env.packages[0].size, 2);
    EXPECT_TRUE(env.packages[0].depends.empty());  // the later `conda` replaces it whole
}

TEST(ListJsonLock, InvalidJsonNamesLineAndColumn) {
    EXPECT_EQ(parse_error("{\"schema\": \"gpuenv.list/1\",\n  \"packages\": [,]}"),
              "list.json:2:16: invalid JSON: expected a value, found ','");
    EXPECT_EQ(parse_error(std::string("{\x01\xff\xfe", 4)),
              "list.json:1:2: invalid JSON: expected a key in double quotes, found byte 0x01");
    EXPECT_EQ(parse_error(
                  "{\"schema\": \"gpuenv.list/1\",\n \"packages\": [{\"name\": \"a\" \"kind\"}]}"),
              "list.json:2:28: invalid JSON: expected ',' or '}' after an object member, found "
              "'\"'");
    EXPECT_EQ(parse_error(""),
              "list.json:1:1: invalid JSON: expected a value, found the end of "
              "the text");
}

TEST(ListJsonLock, TrailingContentIsInvalidJson) {
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": []} x)"),
              "list.json:1:45: invalid JSON: extra data after the JSON value");
    EXPECT_EQ(parse_error("{\"schema\": \"gpuenv.list/1\"}\n{\"schema\": \"gpuenv.list/1\"}\n"),
              "list.json:2:1: invalid JSON: extra data after the JSON value");
    EXPECT_EQ(parse(R"({"schema": "gpuenv.list/1", "packages": []}  )"
                    "\n\n")
                  .packages.size(),
              0U);
}

TEST(ListJsonLock, ASyntaxErrorAnywhereOutranksOtherErrors) {
    // As when the whole text was parsed first: a syntax error after a wrong-typed member, or
    // after a top level that is no object, is what is reported.
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": {}, "x": [1 2]})"),
              "list.json:1:53: invalid JSON: expected ',' or ']' after an array element, found "
              "'2'");
    EXPECT_EQ(parse_error(R"([1, 2)"),
              "list.json:1:6: invalid JSON: expected ',' or ']' after an array element, found the "
              "end of the text");
    EXPECT_EQ(parse_error(R"("gpuenv.list/1" x)"),
              "list.json:1:17: invalid JSON: extra data after the JSON value");
    // Then the schema, even when it comes after the member in error.
    EXPECT_EQ(parse_error(R"({"packages": {}, "schema": "gpuenv.gpus/1"})"),
              "list.json: not a `gpuenv list --json` document: schema 'gpuenv.gpus/1' is not "
              "gpuenv.list/1");
    EXPECT_EQ(parse_error(R"({"packages": [{"kind": "rpm"}], "schema": 1})"),
              "list.json:1:43: document.schema: expected a string");
}

TEST(ListJsonLock, NumbersThatAreNoInt64AreNamed) {
    // An integer past int64 is not a size: it is named, not wrapped to a negative number.
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "conda", "conda": {"size": 18446744073709551615}}]})"),
              "list.json:2:44: packages[0].conda.size: integer out of range: 18446744073709551615");
    EXPECT_EQ(
        parse_error(R"({"schema": "gpuenv.list/1", "warnings": [{"line": -9223372036854775809}]})"),
        "list.json:1:51: warnings[0].line: integer out of range: -9223372036854775809");
    // Past double's range, or with a fraction or an exponent, it is no integer.
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "conda", "conda": {"size": 1e999}}]})"),
              "list.json:2:44: packages[0].conda.size: expected an integer");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "conda", "conda": {"build_number": 3.0}}]})"),
              "list.json:2:52: packages[0].conda.build_number: expected an integer");
    EXPECT_EQ(parse_error(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a",
        "kind": "conda", "conda": {"build_number": 3E2}}]})"),
              "list.json:2:52: packages[0].conda.build_number: expected an integer");
    // In a member gpuenv does not read, 1e999 is JSON like any other number.
    EXPECT_TRUE(
        parse(R"({"schema": "gpuenv.list/1", "packages": [], "x": 1e999})").packages.empty());
    EXPECT_EQ(parse(R"({"schema": "gpuenv.list/1", "packages": [{"name": "a", "kind": "conda",
        "conda": {"size": 9223372036854775807, "build_number": -0}}]})")
                  .packages[0]
                  .size,
              9223372036854775807);
}

TEST(ListJsonLock, DeepNestingIsReadWithoutALimit) {
    // A member gpuenv does not read is skipped without recursion, however deep.
    const std::string prefix = R"({"schema": "gpuenv.list/1", "x": )";
    const std::string deep = prefix + std::string(100000, '[') + std::string(100000, ']') + "}";
    EXPECT_TRUE(parse(deep).packages.empty());
    // One bracket short, the text ends inside the outermost array; the error points at the '}'.
    const std::string unbalanced =
        prefix + std::string(100000, '[') + std::string(99999, ']') + "}";
    EXPECT_EQ(parse_error(unbalanced),
              "list.json:1:" + std::to_string(prefix.size() + 200000) +
                  ": invalid JSON: expected ',' or ']' after an array element, found '}'");
}

TEST(ListJsonLock, AByteOrderMarkIsSkipped) {
    const auto env = parse(
        "\xEF\xBB\xBF{\"schema\": \"gpuenv.list/1\", \"packages\": "
        "[{\"name\": \"a\", \"version\": \"1\", \"kind\": \"pypi\"}]}");
    ASSERT_EQ(env.packages.size(), 1U);
    EXPECT_EQ(env.packages[0].key, "a");
    // Columns count from the character after the mark, as an editor shows them.
    EXPECT_EQ(parse_error("\xEF\xBB\xBF{\"schema\": 1}"),
              "list.json:1:12: document.schema: expected a string");
}

}  // namespace
}  // namespace gpuenv
