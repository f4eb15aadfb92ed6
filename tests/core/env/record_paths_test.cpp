#include <gpuenv/core/env/record_paths.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <support/conda_prefix_builder.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;

const fs::path k_real = GPUENV_REAL_FIXTURES;
const fs::path k_rattler_meta = k_real / "rattler-conda-meta";
const fs::path k_osx313_meta = k_real / "conda-tests/envpy313tosx_whl/conda-meta";
const fs::path k_file = "conda-meta/x-1-0.json";

std::string error_of(std::string_view json) {
    try {
        (void)parse_record_paths(json, k_file);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        return e.what();
    }
    return "no error";
}

TEST(RecordPaths, ReadsEveryFieldOfAnEntry) {
    const auto paths = parse_record_paths(R"({
  "name": "openssl", "version": "3.4.1", "build": "h81ee809_0",
  "files": ["bin/c_rehash", "lib/libssl.so", "lib/libssl.so.3", "share/x"],
  "link": {"source": "/pkgs/openssl", "type": 1},
  "paths_data": {
    "paths": [
      {"_path": "bin/c_rehash", "file_mode": "text", "path_type": "hardlink",
       "prefix_placeholder": "/opt/placeholder", "sha256": "aa", "sha256_in_prefix": "bb",
       "size_in_bytes": 7103, "inode_paths": ["x"], "original_path": "y"},
      {"_path": "lib/libssl.so", "path_type": "softlink", "sha256": "cc", "size_in_bytes": 10},
      {"_path": "lib/libssl.so.3", "no_link": true, "sha256": null},
      {"_path": "share/x", "path_type": "directory"}
    ],
    "paths_version": 1
  }
})",
                                          k_file);
    EXPECT_EQ(paths.name, "openssl");
    EXPECT_EQ(paths.version, "3.4.1");
    EXPECT_EQ(paths.build, "h81ee809_0");
    EXPECT_EQ(paths.noarch, "");
    EXPECT_EQ(paths.paths_version, 1);
    EXPECT_EQ(paths.files, (std::vector<std::string>{"bin/c_rehash", "lib/libssl.so",
                                                     "lib/libssl.so.3", "share/x"}));
    ASSERT_EQ(paths.paths.size(), 4U);
    const PathEntry& patched = paths.paths[0];
    EXPECT_EQ(patched.path, "bin/c_rehash");
    EXPECT_EQ(patched.type, PathType::hardlink);
    EXPECT_EQ(patched.sha256, "aa");
    EXPECT_EQ(patched.sha256_in_prefix, "bb");
    EXPECT_EQ(patched.size_in_bytes, 7103);
    EXPECT_EQ(patched.prefix_placeholder, "/opt/placeholder");
    EXPECT_EQ(patched.file_mode, "text");
    EXPECT_FALSE(patched.no_link);
    EXPECT_EQ(paths.paths[1].type, PathType::softlink);
    EXPECT_EQ(paths.paths[1].sha256_in_prefix, "");
    EXPECT_EQ(paths.paths[2].type, PathType::hardlink);  // the default
    EXPECT_TRUE(paths.paths[2].no_link);
    EXPECT_EQ(paths.paths[2].sha256, "");
    EXPECT_EQ(paths.paths[2].size_in_bytes, -1);
    EXPECT_EQ(paths.paths[3].type, PathType::directory);
}

TEST(RecordPaths, ReadsOldRecordsWithoutPathsData) {
    const auto paths = parse_record_paths(
        R"({"name": "x", "version": 1.10, "build_string": "py_0", "package_type": "noarch_python",
            "files": ["site-packages/x.py"], "paths_data": null})",
        k_file);
    EXPECT_EQ(paths.version, "1.10");  // a number by its literal text, as conda_record reads it
    EXPECT_EQ(paths.build, "py_0");
    EXPECT_EQ(paths.noarch, "python");
    EXPECT_EQ(paths.paths_version, 0);
    EXPECT_TRUE(paths.paths.empty());
    EXPECT_EQ(paths.files.size(), 1U);
    EXPECT_EQ(parse_record_paths(R"({"noarch": true})", k_file).noarch, "generic");
    EXPECT_TRUE(parse_record_paths("{}", k_file).files.empty());
}

TEST(RecordPaths, ParsesEveryPathType) {
    EXPECT_EQ(parse_path_type("hardlink"), PathType::hardlink);
    EXPECT_EQ(parse_path_type("softlink"), PathType::softlink);
    EXPECT_EQ(parse_path_type("directory"), PathType::directory);
    EXPECT_EQ(parse_path_type("pyc_file"), PathType::pyc_file);
    EXPECT_EQ(parse_path_type("unix_python_entry_point"), PathType::unix_python_entry_point);
    EXPECT_EQ(parse_path_type("windows_python_entry_point_script"),
              PathType::windows_python_entry_point_script);
    EXPECT_EQ(parse_path_type("windows_python_entry_point_exe"),
              PathType::windows_python_entry_point_exe);
    EXPECT_EQ(parse_path_type("linked_package_record"), PathType::linked_package_record);
    EXPECT_EQ(parse_path_type("something_new"), PathType::hardlink);
    EXPECT_EQ(parse_path_type(""), PathType::hardlink);
}

TEST(RecordPaths, SyntaxErrorsNameTheFileLineAndColumn) {
    EXPECT_EQ(error_of("{\n  \"files\": [\"a\",\n  ]\n}"),
              "cannot read conda record conda-meta/x-1-0.json: line 3, column 3: expected a "
              "value, found ']'");
    EXPECT_EQ(error_of("{\"files\": []} trailing"),
              "cannot read conda record conda-meta/x-1-0.json: line 1, column 15: extra data "
              "after the JSON value");
    EXPECT_NE(error_of("").find("cannot read conda record conda-meta/x-1-0.json: "),
              std::string::npos);
}

TEST(RecordPaths, WronglyTypedFieldsAreLocated) {
    EXPECT_EQ(error_of("{\n  \"files\": \"lib/x.so\"\n}"),
              "cannot read conda record conda-meta/x-1-0.json: line 2, column 12: \"files\" must "
              "be an array of strings, found a string");
    EXPECT_EQ(error_of("{\"files\": [\"a\", 3]}"),
              "cannot read conda record conda-meta/x-1-0.json: line 1, column 17: files[1] must "
              "be a string, found a number");
    EXPECT_EQ(error_of("{\"paths_data\": {\"paths\": [{\"_path\": \"a\"},\n"
                       "  {\"_path\": \"b\", \"size_in_bytes\": \"12\"}]}}"),
              "cannot read conda record conda-meta/x-1-0.json: line 2, column 35: "
              "paths_data.paths[1].size_in_bytes must be a non-negative integer, found a string");
    EXPECT_EQ(
        error_of("{\"paths_data\": {\"paths\": [{\"_path\": \"a\", \"size_in_bytes\": -4}]}}"),
        "cannot read conda record conda-meta/x-1-0.json: line 1, column 59: "
        "paths_data.paths[0].size_in_bytes must be a non-negative integer");
    EXPECT_EQ(error_of("{\"paths_data\": {\"paths\": [{\"sha256\": \"aa\"}]}}"),
              "cannot read conda record conda-meta/x-1-0.json: line 1, column 27: "
              "paths_data.paths[0] has no \"_path\"");
    EXPECT_EQ(error_of("{\"paths_data\": {\"paths\": [{\"_path\": 1}]}}"),
              "cannot read conda record conda-meta/x-1-0.json: line 1, column 37: "
              "paths_data.paths[0]._path must be a string, found a number");
    EXPECT_EQ(error_of("{\"paths_data\": {\"paths\": {}}}"),
              "cannot read conda record conda-meta/x-1-0.json: line 1, column 26: "
              "paths_data.paths must be an array, found an object");
    EXPECT_EQ(error_of("{\"paths_data\": []}"),
              "cannot read conda record conda-meta/x-1-0.json: line 1, column 16: "
              "\"paths_data\" must be an object, found an array");
    EXPECT_EQ(error_of("{\"paths_data\": {\"paths\": [{\"_path\": \"a\", \"no_link\": 1}]}}"),
              "cannot read conda record conda-meta/x-1-0.json: line 1, column 53: "
              "paths_data.paths[0].no_link must be a boolean, found a number");
    EXPECT_EQ(error_of("[1]"),
              "cannot read conda record conda-meta/x-1-0.json: expected a JSON object at the "
              "top level, found an array");
}

TEST(RecordPaths, ReadFileNamesAMissingFile) {
    const test::TempDir dir;
    try {
        (void)read_record_paths(dir / "absent.json");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "cannot read conda record " +
                                             (dir / "absent.json").string() +
                                             ": No such file or directory");
    }
}

TEST(RecordPaths, MapsNoarchPythonPaths) {
    const std::string_view sp = "lib/python3.13t/site-packages";
    EXPECT_EQ(map_noarch_path("site-packages/pip/__init__.py", "python", sp),
              "lib/python3.13t/site-packages/pip/__init__.py");
    EXPECT_EQ(map_noarch_path("python-scripts/pip", "python", sp), "bin/pip");
    EXPECT_EQ(map_noarch_path("site-packages/x.py", "python", "Lib/site-packages/"),
              "Lib/site-packages/x.py");
    // Final paths (micromamba, rattler) and other packages are left alone.
    EXPECT_EQ(map_noarch_path("lib/python3.13t/site-packages/pip/__init__.py", "python", sp),
              "lib/python3.13t/site-packages/pip/__init__.py");
    EXPECT_EQ(map_noarch_path("bin/pip", "python", sp), "bin/pip");
    EXPECT_EQ(map_noarch_path("site-packages/x.py", "generic", sp), "site-packages/x.py");
    EXPECT_EQ(map_noarch_path("site-packages/x.py", "", sp), "site-packages/x.py");
}

TEST(RecordPaths, ReadsWhatEachWriterWrites) {
    for (const auto writer :
         {test::CondaWriter::conda, test::CondaWriter::micromamba, test::CondaWriter::rattler}) {
        const test::TempDir dir;
        test::CondaPrefixBuilder builder(dir / "env", writer);
        test::CondaPackageSpec spec;
        spec.name = "demo";
        spec.version = "1.0";
        spec.noarch = "python";
        spec.subdir = "noarch";
        spec.files = {"lib/python3.11/site-packages/demo/__init__.py", "bin/demo"};
        const auto record = builder.add_package(spec);
        const auto paths = read_record_paths(record);
        const auto json = nlohmann::json::parse(util::read_file(record));
        EXPECT_EQ(paths.name, "demo");
        EXPECT_EQ(paths.noarch, "python");
        EXPECT_EQ(paths.files, json["files"].get<std::vector<std::string>>());
        ASSERT_EQ(paths.paths.size(), 2U);
        for (std::size_t i = 0; i < 2; ++i) {
            EXPECT_EQ(
                map_noarch_path(paths.paths[i].path, paths.noarch, "lib/python3.11/site-packages"),
                spec.files[i]);
        }
    }
}

// Compares the parse of a real record with nlohmann::json's reading of the same file.
void expect_same_as_json(const fs::path& file) {
    SCOPED_TRACE(file.filename().string());
    const auto paths = read_record_paths(file);
    const auto json = nlohmann::json::parse(util::read_file(file));
    EXPECT_EQ(paths.name, json.at("name").get<std::string>());
    EXPECT_EQ(paths.files, json.value("files", std::vector<std::string>{}));
    const auto& data = json.value("paths_data", nlohmann::json::object());
    EXPECT_EQ(paths.paths_version, data.value("paths_version", 0));
    const auto entries = data.value("paths", nlohmann::json::array());
    ASSERT_EQ(paths.paths.size(), entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        const PathEntry& p = paths.paths[i];
        EXPECT_EQ(p.path, e.at("_path").get<std::string>());
        EXPECT_EQ(p.type, parse_path_type(e.value("path_type", "hardlink")));
        EXPECT_EQ(p.sha256, e.value("sha256", ""));
        EXPECT_EQ(p.sha256_in_prefix, e.value("sha256_in_prefix", ""));
        EXPECT_EQ(p.size_in_bytes, e.value("size_in_bytes", std::int64_t{-1}));
        EXPECT_EQ(p.prefix_placeholder, e.value("prefix_placeholder", ""));
        EXPECT_EQ(p.file_mode, e.value("file_mode", ""));
        EXPECT_EQ(p.no_link, e.value("no_link", false));
    }
}

TEST(RecordPaths, ReadsEveryRealRecord) {
    std::size_t records = 0;
    for (const auto& dir : {k_rattler_meta, k_osx313_meta}) {
        for (const auto& entry : fs::directory_iterator(dir)) {
            if (entry.path().extension() != ".json")
                continue;
            expect_same_as_json(entry.path());
            ++records;
        }
    }
    EXPECT_GE(records, 57U);
}

TEST(RecordPaths, RealCondaNoarchRecordMapsOntoItsFiles) {
    // conda 25.1 kept the package-relative `site-packages/...` in paths_data; files[] has the
    // final paths under lib/python3.13t (reference/conda.md 1.3).
    const auto paths = read_record_paths(k_osx313_meta / "pip-25.0.1-pyh145f28c_0.json");
    EXPECT_EQ(paths.noarch, "python");
    const std::set<std::string> files(paths.files.begin(), paths.files.end());
    std::size_t relative = 0;
    for (const auto& entry : paths.paths) {
        if (entry.path.starts_with("site-packages/"))
            ++relative;
        const auto mapped =
            map_noarch_path(entry.path, paths.noarch, "lib/python3.13t/site-packages");
        EXPECT_EQ(files.count(mapped), 1U) << entry.path;
    }
    EXPECT_EQ(relative, 441U);
    EXPECT_EQ(paths.paths.size(), 854U);
}

TEST(RecordPaths, RealRattlerSoftlinkHashesTheLinkText) {
    const auto paths = read_record_paths(k_rattler_meta / "libsqlite-3.45.3-h091b4b1_0.json");
    ASSERT_EQ(paths.paths.size(), 5U);
    const PathEntry& link = paths.paths[3];
    EXPECT_EQ(link.path, "lib/libsqlite3.dylib");
    EXPECT_EQ(link.type, PathType::softlink);
    EXPECT_EQ(link.sha256_in_prefix, test::sha256_hex("libsqlite3.0.dylib"));
    EXPECT_EQ(paths.paths[4].file_mode, "text");
    EXPECT_EQ(paths.paths[4].prefix_placeholder.size(), 255U);
}

}  // namespace
}  // namespace gpuenv::core::env
