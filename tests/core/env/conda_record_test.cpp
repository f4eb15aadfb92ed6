#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuenv/core/env/channel.hpp>
#include <gpuenv/core/env/conda_record.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <support/conda_prefix_builder.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::CondaPackageSpec;
using test::CondaPrefixBuilder;
using test::CondaWriter;
using test::TempDir;
using test::write_file;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const fs::path k_real = GPUENV_REAL_FIXTURES;
const fs::path k_rattler_meta = k_real / "rattler-conda-meta";
const fs::path k_osx313_meta = k_real / "conda-tests/envpy313tosx_whl/conda-meta";
const fs::path k_win37_meta = k_real / "conda-tests/envpy37win/conda-meta";

// The smallest valid record, to which tests add fields.
constexpr std::string_view k_minimal_fields = R"("name": "x", "version": "1", "build": "0")";

std::string with_fields(std::string_view fields) {
    return "{" + std::string(k_minimal_fields) + ", " + std::string(fields) + "}";
}

CondaRecord read_text(const TempDir& dir, std::string_view text) {
    const fs::path path = dir / "conda-meta/x-1-0.json";
    write_file(path, text);
    CondaRecordReader reader;
    return reader.read(path);
}

// Returns the message of the gpuenv::Error a read throws, or "" when it does not throw.
std::string read_error(const fs::path& path) {
    CondaRecordReader reader;
    try {
        (void)reader.read(path);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        return e.what();
    }
    return "";
}

std::string text_error(const TempDir& dir, std::string_view text) {
    const fs::path path = dir / "conda-meta/x-1-0.json";
    write_file(path, text);
    return read_error(path);
}

json load_json(const fs::path& path) {
    return json::parse(util::read_file(path));
}

// Returns every real record: rattler-conda-meta is a bare folder of records, the conda-tests
// folders are prefixes.
std::vector<fs::path> real_records() {
    std::vector<fs::path> records;
    for (const auto& entry : fs::directory_iterator(k_rattler_meta)) {
        if (entry.path().extension() == ".json")
            records.push_back(entry.path());
    }
    for (const auto& entry : fs::directory_iterator(k_real / "conda-tests")) {
        const auto listed = list_conda_records(entry.path());
        records.insert(records.end(), listed.begin(), listed.end());
    }
    std::sort(records.begin(), records.end());
    return records;
}

std::vector<std::string> strings_or_empty(const json& record, const char* key) {
    if (!record.contains(key) || !record[key].is_array())
        return {};
    return record[key].get<std::vector<std::string>>();
}

std::string string_or_empty(const json& record, const char* key) {
    return record.contains(key) && record[key].is_string() ? record[key].get<std::string>() : "";
}

// Finds the anchors of files[] the simple way, which suffices for the real records: none has
// a nested metadata directory or an .egg.
std::set<std::string> simple_anchors(const json& files) {
    std::set<std::string> anchors;
    for (const auto& file : files) {
        std::string path = file.get<std::string>();
        std::replace(path.begin(), path.end(), '\\', '/');
        if (path.ends_with(".egg-info"))
            anchors.insert(path);  // a single-file egg-info
        for (const std::string_view suffix : {".dist-info/", ".egg-info/"}) {
            if (const auto at = path.find(suffix); at != std::string::npos) {
                anchors.insert(path.substr(0, at + suffix.size() - 1));
            }
        }
    }
    return anchors;
}

CondaRecord read_real(const fs::path& dir, const char* file) {
    CondaRecordReader reader;
    return reader.read(dir / file);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Real records, written by conda, micromamba and rattler.

TEST(CondaRecord, ReadsEveryRealRecordAsItsJsonSays) {
    CondaRecordReader reader;  // one reader for all: the buffer is reused
    std::size_t count = 0;
    for (const auto& path : real_records()) {
        SCOPED_TRACE(path.string());
        const json expected = load_json(path);
        const CondaRecord record = reader.read(path);
        ++count;
        EXPECT_EQ(record.record_path, path);
        EXPECT_EQ(record.name, expected["name"]);
        EXPECT_EQ(record.version, expected["version"]);
        EXPECT_EQ(record.build, expected["build"]);
        EXPECT_EQ(record.build_number, expected["build_number"]);
        EXPECT_EQ(record.channel, expected["channel"]);
        EXPECT_EQ(record.subdir, expected["subdir"]);
        EXPECT_EQ(record.fn, expected["fn"]);
        EXPECT_EQ(record.url, expected["url"]);
        EXPECT_EQ(record.md5, expected["md5"]);
        EXPECT_EQ(record.sha256, string_or_empty(expected, "sha256"));
        EXPECT_EQ(record.size, expected["size"]);
        EXPECT_EQ(record.timestamp, expected["timestamp"]);  // all real ones are in ms
        EXPECT_EQ(record.depends, strings_or_empty(expected, "depends"));
        EXPECT_EQ(record.constrains, strings_or_empty(expected, "constrains"));
        EXPECT_EQ(record.file_count, expected["files"].size());
        EXPECT_EQ(record.python_site_packages_path,
                  string_or_empty(expected, "python_site_packages_path"));
        const std::string spec = string_or_empty(expected, "requested_spec");
        if (spec.empty() || spec == "None") {
            EXPECT_THAT(record.requested_specs, IsEmpty());
        } else {
            EXPECT_THAT(record.requested_specs, ElementsAre(spec));
        }
        EXPECT_EQ(record.noarch, string_or_empty(expected, "noarch"));
        EXPECT_TRUE(std::is_sorted(record.python_anchors.begin(), record.python_anchors.end()));
        EXPECT_EQ(std::set<std::string>(record.python_anchors.begin(), record.python_anchors.end()),
                  simple_anchors(expected["files"]));
    }
    EXPECT_EQ(count, 96U);  // 41 in rattler-conda-meta, 55 in conda-tests
}

TEST(CondaRecord, RealCondaNoarchPipHasItsDistInfoAnchor) {
    const auto record = read_real(k_osx313_meta, "pip-25.0.1-pyh145f28c_0.json");
    EXPECT_EQ(record.noarch, "python");
    EXPECT_EQ(record.file_count, 854U);
    EXPECT_THAT(record.python_anchors,
                ElementsAre("lib/python3.13t/site-packages/pip-25.0.1.dist-info"));
    EXPECT_THAT(record.requested_specs, ElementsAre("pip"));
    EXPECT_EQ(record.timestamp, 1739142856473);
    EXPECT_EQ(channel_display_name(record), "conda-forge");
}

TEST(CondaRecord, RealRequestedSpecNoneMeansNotRequested) {
    const auto record = read_real(k_osx313_meta, "libzlib-1.3.1-h8359307_2.json");
    EXPECT_THAT(record.requested_specs, IsEmpty());
    EXPECT_EQ(record.channel, "https://conda.anaconda.org/conda-forge/osx-arm64");
    EXPECT_THAT(record.constrains, ElementsAre("zlib 1.3.1 *_2"));
    EXPECT_EQ(record.file_count, 2U);
    EXPECT_THAT(record.python_anchors, IsEmpty());
}

TEST(CondaRecord, RealPythonRecordsHaveSitePackagesPath) {
    const auto conda = read_real(k_osx313_meta, "python-3.13.2-hfd29fff_1_cp313t.json");
    EXPECT_EQ(conda.python_site_packages_path, "lib/python3.13t/site-packages");
    EXPECT_THAT(conda.requested_specs, ElementsAre("python=3.13"));
    const auto rattler = read_real(k_rattler_meta, "python-3.11.9-h932a869_0_cpython.json");
    EXPECT_EQ(rattler.python_site_packages_path, "lib/python3.11/site-packages");
    const auto old = read_real(k_win37_meta, "python-3.7.0-hea74fb7_0.json");
    EXPECT_EQ(old.python_site_packages_path, "");
}

TEST(CondaRecord, RealRattlerRecordKeepsTrailingSlashChannel) {
    const auto record = read_real(k_rattler_meta, "numpy-1.26.4-py311h7125741_0.json");
    EXPECT_EQ(record.channel, "https://conda.anaconda.org/conda-forge/");
    EXPECT_THAT(record.requested_specs, IsEmpty());  // rattler writes no requested_spec
    EXPECT_THAT(record.python_anchors,
                ElementsAre("lib/python3.11/site-packages/numpy-1.26.4.dist-info"));
    EXPECT_EQ(channel_display_name(record), "conda-forge");
}

TEST(CondaRecord, RealMicromambaWindowsRecordHasBackslashesAndNullSpec) {
    // Written by micromamba on Windows: "\" in files[], requested_spec null, build_string too.
    const auto record = read_real(k_rattler_meta, "requests-2.28.2-pyhd8ed1ab_0.json");
    EXPECT_EQ(record.build, "pyhd8ed1ab_0");
    EXPECT_EQ(record.noarch, "python");
    EXPECT_THAT(record.requested_specs, IsEmpty());
    EXPECT_THAT(record.python_anchors, ElementsAre("Lib/site-packages/requests-2.28.2.dist-info"));
    const auto pysocks = read_real(k_rattler_meta, "pysocks-1.7.1-pyh0701188_6.json");
    EXPECT_THAT(pysocks.python_anchors, ElementsAre("Lib/site-packages/PySocks-1.7.1.dist-info"));
    EXPECT_THAT(pysocks.requested_specs, IsEmpty());  // requested_spec ""
}

TEST(CondaRecord, RealRecordsWithFullMatchSpecOrPlainChannel) {
    const auto sqlite = read_real(k_rattler_meta, "libsqlite-3.40.0-hcfcfb64_0.json");
    EXPECT_THAT(sqlite.requested_specs,
                ElementsAre("conda-forge/win-64::libsqlite==3.40.0=hcfcfb64_0"
                            "[md5=5e5a97795de72f8cc3baf3d9ea6327a2]"));
    EXPECT_EQ(channel_display_name(sqlite), "conda-forge");
    const auto urllib3 = read_real(k_rattler_meta, "urllib3-1.26.14-pyhd8ed1ab_0.json");
    EXPECT_EQ(urllib3.channel, "conda-forge");
    EXPECT_EQ(channel_display_name(urllib3), "conda-forge");
}

TEST(CondaRecord, RealEggInfoAnchorsAndNoarchGeneric) {
    const auto certifi = read_real(k_win37_meta, "certifi-2018.8.13-py37_0.json");
    EXPECT_THAT(certifi.python_anchors,
                ElementsAre("Lib/site-packages/certifi-2018.08.13-py3.7.egg-info"));
    EXPECT_EQ(channel_display_name(certifi), "pkgs/main");
    // distutils wrote certifi's and wincertstore's egg-info as a single file.
    const auto wincertstore = read_real(k_win37_meta, "wincertstore-0.2-py37_0.json");
    EXPECT_THAT(wincertstore.python_anchors,
                ElementsAre("Lib/site-packages/wincertstore-0.2-py3.7.egg-info"));
    const auto wheel = read_real(k_rattler_meta, "wheel-0.38.4-pyhd8ed1ab_0.json");
    EXPECT_THAT(wheel.python_anchors,
                ElementsAre("Lib/site-packages/wheel-0.38.4-py3.11.egg-info"));
    const auto tzdata = read_real(k_osx313_meta, "tzdata-2025a-h78e105d_0.json");
    EXPECT_EQ(tzdata.noarch, "generic");
    const auto nomkl =
        read_real(k_real / "conda-tests/py36-osx-whl/conda-meta", "nomkl-3.0-0.json");
    EXPECT_EQ(nomkl.file_count, 0U);
    EXPECT_EQ(channel_display_name(nomkl), "pkgs/free");
}

TEST(CondaRecord, RealChannelsDisplayAsCondaListShowsThem) {
    CondaRecordReader reader;
    std::set<std::string> names;
    for (const auto& path : real_records()) {
        names.insert(channel_display_name(reader.read(path)));
    }
    EXPECT_EQ(names, (std::set<std::string>{"conda-forge", "pkgs/free", "pkgs/main"}));
}

// ---------------------------------------------------------------------------------------------
// Records from the builder, in each writer's style.

TEST(CondaRecord, ReadsEachBuilderWriterStyle) {
    for (const auto writer : {CondaWriter::conda, CondaWriter::micromamba, CondaWriter::rattler}) {
        SCOPED_TRACE(static_cast<int>(writer));
        TempDir dir;
        CondaPrefixBuilder builder(dir.path(), writer);
        CondaPackageSpec numpy{.name = "numpy", .version = "1.26.4", .build = "py311h0_0"};
        numpy.depends = {"python >=3.11,<3.12.0a0", "libblas >=3.9.0"};
        numpy.files = {"lib/python3.11/site-packages/numpy/__init__.py",
                       "lib/python3.11/site-packages/numpy-1.26.4.dist-info/METADATA",
                       "lib/python3.11/site-packages/numpy-1.26.4.dist-info/RECORD"};
        numpy.requested = true;
        CondaPackageSpec zlib{.name = "libzlib", .version = "1.3.1", .build = "h4ab18f5_1"};
        zlib.build_number = 1;
        zlib.files = {"lib/libz.so.1"};
        CondaRecordReader reader;
        const auto numpy_record = reader.read(builder.add_package(numpy));
        const auto zlib_record = reader.read(builder.add_package(zlib));

        EXPECT_EQ(numpy_record.name, "numpy");
        EXPECT_EQ(numpy_record.build, "py311h0_0");
        EXPECT_EQ(numpy_record.depends, numpy.depends);
        EXPECT_THAT(numpy_record.requested_specs, ElementsAre("numpy"));
        EXPECT_THAT(numpy_record.python_anchors,
                    ElementsAre("lib/python3.11/site-packages/numpy-1.26.4.dist-info"));
        EXPECT_EQ(numpy_record.file_count, 3U);
        EXPECT_EQ(numpy_record.url,
                  "https://conda.anaconda.org/conda-forge/linux-64/numpy-1.26.4-py311h0_0.conda");
        EXPECT_EQ(channel_display_name(numpy_record), "conda-forge");
        EXPECT_EQ(zlib_record.build_number, 1);
        EXPECT_EQ(zlib_record.timestamp, 1700000000000);
        EXPECT_THAT(zlib_record.requested_specs, IsEmpty());
        EXPECT_EQ(channel_display_name(zlib_record), "conda-forge");
        EXPECT_EQ(list_conda_records(dir.path()),
                  (std::vector<fs::path>{dir / "conda-meta/libzlib-1.3.1-h4ab18f5_1.json",
                                         dir / "conda-meta/numpy-1.26.4-py311h0_0.json"}));
    }
}

// ---------------------------------------------------------------------------------------------
// Field rules.

TEST(CondaRecord, BuildStringIsAnAliasOfBuild) {
    TempDir dir;
    const auto alias = read_text(dir, R"({"name": "x", "version": "1", "build_string": "py_0"})");
    EXPECT_EQ(alias.build, "py_0");
    const auto both =
        read_text(dir, R"({"build_string": "alias", "name": "x", "version": "1", "build": "b"})");
    EXPECT_EQ(both.build, "b");
}

TEST(CondaRecord, SecondsTimestampsBecomeMilliseconds) {
    TempDir dir;
    EXPECT_EQ(read_text(dir, with_fields(R"("timestamp": 1700000000)")).timestamp, 1700000000000);
    EXPECT_EQ(read_text(dir, with_fields(R"("timestamp": 1700000000123)")).timestamp,
              1700000000123);
    EXPECT_EQ(read_text(dir, with_fields(R"("timestamp": 253402300799)")).timestamp,
              253402300799000);
    EXPECT_EQ(read_text(dir, with_fields(R"("timestamp": 253402300800)")).timestamp, 253402300800);
    EXPECT_EQ(read_text(dir, with_fields(R"("timestamp": 1700000000.25)")).timestamp,
              1700000000250);
    EXPECT_EQ(read_text(dir, with_fields(R"("timestamp": "1700000000")")).timestamp, 1700000000000);
    EXPECT_EQ(read_text(dir, std::string("{") + std::string(k_minimal_fields) + "}").timestamp, 0);
}

TEST(CondaRecord, NoarchComesFromNoarchOrPackageType) {
    TempDir dir;
    EXPECT_EQ(read_text(dir, with_fields(R"("package_type": "noarch_python")")).noarch, "python");
    EXPECT_EQ(read_text(dir, with_fields(R"("package_type": "noarch_generic")")).noarch, "generic");
    EXPECT_EQ(read_text(dir, with_fields(R"("noarch": "python")")).noarch, "python");
    EXPECT_EQ(read_text(dir, with_fields(R"("noarch": true)")).noarch, "generic");
    EXPECT_EQ(read_text(dir, with_fields(R"("noarch": false)")).noarch, "");
    EXPECT_EQ(
        read_text(dir, with_fields(R"("noarch": null, "package_type": "noarch_python")")).noarch,
        "python");
    EXPECT_EQ(read_text(dir, with_fields(R"("package_type": "conda")")).noarch, "");
}

TEST(CondaRecord, RequestedSpecsTakePrecedenceOverRequestedSpec) {
    TempDir dir;
    EXPECT_THAT(
        read_text(dir, with_fields(R"("requested_spec": "a", "requested_specs": ["b", "c>1"])"))
            .requested_specs,
        ElementsAre("b", "c>1"));
    EXPECT_THAT(read_text(dir, with_fields(R"("requested_specs": ["b"], "requested_spec": "a")"))
                    .requested_specs,
                ElementsAre("b"));
    EXPECT_THAT(read_text(dir, with_fields(R"("requested_spec": "numpy >=1.26")")).requested_specs,
                ElementsAre("numpy >=1.26"));
    EXPECT_THAT(read_text(dir, with_fields(R"("requested_spec": "None")")).requested_specs,
                IsEmpty());
    EXPECT_THAT(read_text(dir, with_fields(R"("requested_spec": "")")).requested_specs, IsEmpty());
    EXPECT_THAT(read_text(dir, with_fields(R"("requested_specs": null, "requested_spec": "a")"))
                    .requested_specs,
                ElementsAre("a"));
}

TEST(CondaRecord, ToleratesWrongTypedFields) {
    TempDir dir;
    const auto record = read_text(dir, with_fields(R"(
        "build_number": "3", "depends": null, "size": null, "constrains": "not a list",
        "md5": false, "subdir": {"a": 1}, "channel": ["x"], "fn": null,
        "files": {"a": "b.dist-info/RECORD"}, "noarch": 7, "python_site_packages_path": null,
        "requested_specs": "numpy", "timestamp": "soon", "url": 12, "sha256": [1, 2])"));
    EXPECT_EQ(record.build_number, 3);
    EXPECT_THAT(record.depends, IsEmpty());
    EXPECT_EQ(record.size, 0);
    EXPECT_THAT(record.constrains, IsEmpty());
    EXPECT_EQ(record.md5, "");
    EXPECT_EQ(record.subdir, "");
    EXPECT_EQ(record.channel, "");
    EXPECT_EQ(record.fn, "");
    EXPECT_EQ(record.file_count, 0U);
    EXPECT_EQ(record.noarch, "");
    EXPECT_THAT(record.requested_specs, IsEmpty());
    EXPECT_EQ(record.timestamp, 0);
    EXPECT_EQ(record.url, "12");  // a number is taken by its literal
    EXPECT_EQ(record.sha256, "");

    const auto mixed = read_text(dir, with_fields(R"(
        "depends": [1, "python", null, ["x"], {"y": 2}, "zlib"], "build_number": 2.0,
        "size": " 1024 ", "files": [1, null, "a-1.dist-info/RECORD", {"b": []}])"));
    EXPECT_THAT(mixed.depends, ElementsAre("python", "zlib"));
    EXPECT_EQ(mixed.build_number, 2);
    EXPECT_EQ(mixed.size, 1024);
    EXPECT_EQ(mixed.file_count, 4U);
    EXPECT_THAT(mixed.python_anchors, ElementsAre("a-1.dist-info"));

    const auto numeric = read_text(dir, R"({"name": "x", "version": 2.10, "build": 0})");
    EXPECT_EQ(numeric.version, "2.10");
    EXPECT_EQ(numeric.build, "0");
}

TEST(CondaRecord, IgnoresUnknownKeysAndBigValues) {
    TempDir dir;
    const auto record = read_text(dir, R"({
        "paths_data": {"paths": [{"_path": "a.dist-info/RECORD", "sha256": "00"}],
                       "paths_version": 1},
        "link": {"source": "/pkgs/x-1-0", "type": 1},
        "name": "x",
        "future_field": [[{"deep": [1, 2, {"files": ["z.dist-info/RECORD"]}]}]],
        "version": "1", "build": "0", "license": "MIT", "track_features": "", "arch": null,
        "files": ["bin/x"], "extra": {"name": "not-x", "version": "9"}
    })");
    EXPECT_EQ(record.name, "x");
    EXPECT_EQ(record.version, "1");
    EXPECT_EQ(record.file_count, 1U);
    EXPECT_THAT(record.python_anchors, IsEmpty());
}

TEST(CondaRecord, CollectsSortedUniquePythonAnchors) {
    TempDir dir;
    const auto record = read_text(dir, with_fields(R"("files": [
        "lib/python3.11/site-packages/zz-1.0.dist-info/RECORD",
        "lib/python3.11/site-packages/zz-1.0.dist-info/METADATA",
        "lib/python3.11/site-packages/zz/__init__.py",
        "lib/python3.11/site-packages/aa-2.0-py3.11.egg-info/PKG-INFO",
        "lib/python3.11/site-packages/single-1.0-py3.11.egg-info",
        "lib/python3.11/site-packages/old-0.1-py3.11.egg/EGG-INFO/PKG-INFO",
        "lib/python3.11/site-packages/old-0.1-py3.11.egg/old/__init__.py",
        "lib/python3.11/site-packages/zz-1.0.dist-info/WHEEL",
        "Lib\\site-packages\\win-3.0.dist-info\\METADATA",
        "lib/python3.11/site-packages/EGG-INFO/PKG-INFO",
        "share/doc/readme.dist-info.txt",
        ".dist-info/x",
        "bin/python3.11"
    ])"));
    EXPECT_EQ(record.file_count, 13U);
    EXPECT_THAT(record.python_anchors,
                ElementsAre("Lib/site-packages/win-3.0.dist-info",
                            "lib/python3.11/site-packages/aa-2.0-py3.11.egg-info",
                            "lib/python3.11/site-packages/old-0.1-py3.11.egg",
                            "lib/python3.11/site-packages/single-1.0-py3.11.egg-info",
                            "lib/python3.11/site-packages/zz-1.0.dist-info"));
}

TEST(CondaRecord, CountsAHundredThousandFiles) {
    TempDir dir;
    std::string text = with_fields(R"("files": [)");
    text.pop_back();  // the closing brace
    for (int i = 0; i < 100000; ++i) {
        if (i > 0)
            text += ",\n";
        text += i % 1000 == 0
                    ? "\"lib/python3.11/site-packages/p" + std::to_string(i / 1000) +
                          "-1.0.dist-info/RECORD\""
                    : "\"lib/python3.11/site-packages/p/mod" + std::to_string(i) + ".py\"";
    }
    text += "], \"depends\": [\"python\"]}";
    const auto record = read_text(dir, text);
    EXPECT_EQ(record.file_count, 100000U);
    EXPECT_EQ(record.python_anchors.size(), 100U);
    EXPECT_THAT(record.depends, ElementsAre("python"));
}

TEST(CondaRecord, ReusedReaderForgetsEarlierRecords) {
    TempDir dir;
    CondaRecordReader reader;
    const std::string big = with_fields(
        R"("depends": ["a", "b"], "files": ["x-1.dist-info/RECORD"], "requested_spec": "x")");
    write_file(dir / "big.json", big);
    // A prefix of the big record: stale bytes left in the buffer must not complete it.
    write_file(dir / "cut.json", big.substr(0, big.size() / 2));
    write_file(dir / "small.json", std::string("{") + std::string(k_minimal_fields) + "}");
    EXPECT_THAT(reader.read(dir / "big.json").depends, ElementsAre("a", "b"));
    EXPECT_THROW((void)reader.read(dir / "cut.json"), Error);
    const auto small = reader.read(dir / "small.json");
    EXPECT_THAT(small.depends, IsEmpty());
    EXPECT_THAT(small.python_anchors, IsEmpty());
    EXPECT_THAT(small.requested_specs, IsEmpty());
    EXPECT_EQ(small.file_count, 0U);
    EXPECT_THAT(reader.read(dir / "big.json").requested_specs, ElementsAre("x"));
}

// ---------------------------------------------------------------------------------------------
// Errors.

TEST(CondaRecord, TruncatedJsonNamesLineAndColumn) {
    TempDir dir;
    const fs::path path = dir / "conda-meta/x-1-0.json";
    // Line 5 is `  "depends": ["a"` (17 characters): the input ends at column 18.
    const std::string error = text_error(
        dir,
        "{\n  \"name\": \"x\",\n  \"version\": \"1\",\n  \"build\": \"0\",\n  \"depends\": [\"a\"");
    EXPECT_THAT(error,
                HasSubstr("cannot read conda record " + path.string() + ": line 5, column 18: "));
    EXPECT_THAT(error, HasSubstr("expected ',' or ']' after an array element, found the end of "
                                 "the text"));
}

TEST(CondaRecord, MissingCommaNamesLineAndColumn) {
    TempDir dir;
    const fs::path path = dir / "conda-meta/x-1-0.json";
    // The error points at the token where the comma should be: the opening quote of "version"
    // on line 3, as Python's json module does ("Expecting ',' delimiter: line 3 column 3").
    const std::string error =
        text_error(dir, "{\n  \"name\": \"x\"\n  \"version\": \"1\",\n  \"build\": \"0\"\n}\n");
    EXPECT_THAT(error, HasSubstr(path.string() +
                                 ": line 3, column 3: expected ',' or '}' after an object member, "
                                 "found '\"'"));
}

TEST(CondaRecord, MalformedScalarsOfReadFieldsAreErrors) {
    TempDir dir;
    // Line 2 is `  "size": tru,`: the bad literal starts at column 11.
    EXPECT_THAT(text_error(dir, with_fields("\n  \"size\": tru,\n  \"z\": 1")),
                HasSubstr(": line 2, column 11: invalid literal 'tru'"));
    EXPECT_THAT(text_error(dir, with_fields(R"("noarch": nul)")),
                HasSubstr("invalid literal 'nul'"));
    EXPECT_THAT(text_error(dir, with_fields(R"("depends": ["a", "\q"])")),
                HasSubstr("invalid escape '\\q' in a string"));
    EXPECT_THAT(text_error(dir, with_fields(R"("files": ["a", 3x])")),
                HasSubstr("invalid number '3x'"));
    EXPECT_THAT(text_error(dir, with_fields(R"("license": @)")),
                HasSubstr("expected a value, found '@'"));
}

TEST(CondaRecord, NumbersOutOfRangeAreIgnored) {
    TempDir dir;
    const auto record = read_text(dir, R"({"name": "x", "version": 1e999, "build": "0",
        "size": 1e999, "build_number": 99999999999999999999, "timestamp": -1e300})");
    EXPECT_EQ(record.version, "1e999");
    EXPECT_EQ(record.size, 0);
    EXPECT_EQ(record.build_number, 0);
    EXPECT_EQ(record.timestamp, 0);
}

TEST(CondaRecord, ANumberPastDoublesRangeIsJsonAndErrorsAfterItAreLocated) {
    // 1e999 is a number by JSON's grammar (the reader ignores its value): the bad literal
    // after it is still found, with its place.
    TempDir dir;
    const fs::path path = dir / "conda-meta/x-1-0.json";
    const std::string text = with_fields(R"("x": 1e999, "size": tru)");
    const std::string error = text_error(dir, text);
    EXPECT_EQ(error, "cannot read conda record " + path.string() + ": line 1, column " +
                         std::to_string(text.find("tru") + 1) + ": invalid literal 'tru'");
}

TEST(CondaRecord, GarbageAndBinaryAreErrors) {
    TempDir dir;
    EXPECT_THAT(text_error(dir, "garbage"), HasSubstr(": line 1, column 1: "));
    EXPECT_THAT(text_error(dir, std::string("\x00\xff\xfe\x01PK\x03\x04", 8)),
                HasSubstr(": line 1, column 1: "));
    EXPECT_THAT(text_error(dir, "{\"name\": \"x\xff\"}"), HasSubstr(": line 1, column "));
}

TEST(CondaRecord, EmptyFileIsAnError) {
    TempDir dir;
    EXPECT_THAT(text_error(dir, ""), HasSubstr("x-1-0.json: line 1, column 1: "));
    EXPECT_THAT(text_error(dir, "  \n "), HasSubstr("x-1-0.json: line 2, column 2: "));
}

TEST(CondaRecord, TrailingContentIsAnError) {
    TempDir dir;
    const std::string record = std::string("{") + std::string(k_minimal_fields) + "}";
    EXPECT_THAT(text_error(dir, record + "\n{}"), HasSubstr(": line 2, column 1: "));
    EXPECT_THAT(text_error(dir, record + " x"), HasSubstr(": line 1, column "));
    EXPECT_EQ(text_error(dir, record + " \n\t\n"), "");
}

TEST(CondaRecord, TopLevelMustBeAnObject) {
    TempDir dir;
    EXPECT_THAT(text_error(dir, "[{\"name\": \"x\"}]"),
                HasSubstr("x-1-0.json: expected a JSON object at the top level, found an array"));
    EXPECT_THAT(text_error(dir, "\"x\""), HasSubstr("found a string"));
    EXPECT_THAT(text_error(dir, "null"), HasSubstr("found null"));
    EXPECT_THAT(text_error(dir, "[1, 2"), HasSubstr(": line 1, column 6: "));
    EXPECT_THAT(text_error(dir, "tru"), HasSubstr(": line 1, column 1: invalid literal 'tru'"));
}

TEST(CondaRecord, MissingNameVersionOrBuildIsAnError) {
    TempDir dir;
    EXPECT_THAT(text_error(dir, R"({"name": "x", "build": "0"})"),
                HasSubstr("x-1-0.json: missing \"version\""));
    EXPECT_THAT(text_error(dir, R"({"name": "", "version": "1", "build": "0"})"),
                HasSubstr("missing \"name\""));
    EXPECT_THAT(text_error(dir, R"({"name": "x", "version": "1", "build": null})"),
                HasSubstr("missing \"build\""));
    EXPECT_THAT(text_error(dir, "{}"), HasSubstr("missing \"name\""));
}

TEST(CondaRecord, UnreadableFileIsAnError) {
    if (::geteuid() == 0) {
        GTEST_SKIP() << "running as root, which reads a mode-000 file anyway";
    }
    TempDir dir;
    const fs::path path = dir / "conda-meta/x-1-0.json";
    write_file(path, with_fields(R"("depends": [])"));
    fs::permissions(path, fs::perms::none);
    EXPECT_EQ(read_error(path),
              "cannot read conda record " + path.string() + ": Permission denied");
}

TEST(CondaRecord, DanglingSymlinkIsAnError) {
    TempDir dir;
    const fs::path path = dir / "x-1-0.json";
    fs::create_symlink(dir / "gone.json", path);
    EXPECT_EQ(read_error(path),
              "cannot read conda record " + path.string() + ": No such file or directory");
}

TEST(CondaRecord, DirectoryIsAnError) {
    TempDir dir;
    const fs::path path = dir / "x-1-0.json";
    fs::create_directories(path);
    EXPECT_EQ(read_error(path), "cannot read conda record " + path.string() + ": Is a directory");
}

// ---------------------------------------------------------------------------------------------
// list_conda_records

TEST(CondaRecordList, ListsJsonFilesAndSymlinksSorted) {
    TempDir dir;
    write_file(dir / "conda-meta/zlib-1-0.json", "{}");
    write_file(dir / "conda-meta/abc-1-0.json", "{}");
    write_file(dir / "conda-meta/history", "");
    write_file(dir / "conda-meta/pinned", "");
    write_file(dir / "conda-meta/notes.json.bak", "");
    write_file(dir / "conda-meta/sub/inner-1-0.json", "{}");
    fs::create_directories(dir / "conda-meta/dir.json");
    fs::create_symlink(dir / "conda-meta/abc-1-0.json", dir / "conda-meta/link-1-0.json");
    fs::create_symlink(dir / "nowhere.json", dir / "conda-meta/dangling-1-0.json");
    EXPECT_EQ(list_conda_records(dir.path()),
              (std::vector<fs::path>{
                  dir / "conda-meta/abc-1-0.json", dir / "conda-meta/dangling-1-0.json",
                  dir / "conda-meta/link-1-0.json", dir / "conda-meta/zlib-1-0.json"}));
}

TEST(CondaRecordList, NoCondaMetaMeansNoRecords) {
    TempDir dir;
    EXPECT_THAT(list_conda_records(dir.path()), IsEmpty());
    EXPECT_THAT(list_conda_records(dir / "missing"), IsEmpty());
    write_file(dir / "file", "");
    EXPECT_THAT(list_conda_records(dir / "file"), IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// CondaPrefixBuilder (tests/support), checked here because its records feed the tests above.

namespace {

json builder_record(CondaWriter writer, const CondaPackageSpec& spec, fs::path& prefix,
                    const TempDir& dir) {
    prefix = dir / "env";
    CondaPrefixBuilder builder(prefix, writer);
    return load_json(builder.add_package(spec));
}

CondaPackageSpec sample_spec() {
    CondaPackageSpec spec{.name = "attrs", .version = "23.2.0", .build = "pyh71513ae_0"};
    spec.subdir = "noarch";
    spec.noarch = "python";
    spec.files = {"lib/python3.11/site-packages/attrs/__init__.py",
                  "lib/python3.11/site-packages/attrs/__pycache__/__init__.cpython-311.pyc",
                  "lib/python3.11/site-packages/attrs-23.2.0.dist-info/METADATA"};
    return spec;
}

}  // namespace

TEST(CondaPrefixBuilder, Sha256HexMatchesKnownDigests) {
    EXPECT_EQ(test::sha256_hex(""),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(test::sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CondaPrefixBuilder, CondaStyleRecord) {
    TempDir dir;
    fs::path prefix;
    const json record = builder_record(CondaWriter::conda, sample_spec(), prefix, dir);
    EXPECT_TRUE(fs::is_regular_file(prefix / "conda-meta/history"));
    EXPECT_EQ(record["channel"], "https://conda.anaconda.org/conda-forge/noarch");
    EXPECT_EQ(record["requested_spec"], "None");
    EXPECT_EQ(record["package_type"], "noarch_python");
    EXPECT_EQ(record["noarch"], "python");
    EXPECT_EQ(record["fn"], "attrs-23.2.0-pyh71513ae_0.conda");
    EXPECT_EQ(record["files"].size(), 3U);
    const json& paths = record["paths_data"]["paths"];
    ASSERT_EQ(paths.size(), 3U);
    // noarch: python keeps the package-relative source path; the pyc has no hashes.
    EXPECT_EQ(paths[0]["_path"], "site-packages/attrs/__init__.py");
    const std::string content = test::sha256_hex(
        util::read_file(prefix / "lib/python3.11/site-packages/attrs/__init__.py"));
    EXPECT_EQ(paths[0]["sha256"], content);
    EXPECT_EQ(paths[0]["sha256_in_prefix"], content);
    EXPECT_EQ(paths[1]["path_type"], "pyc_file");
    EXPECT_FALSE(paths[1].contains("sha256"));
    EXPECT_EQ(paths[1]["_path"],
              "lib/python3.11/site-packages/attrs/__pycache__/__init__.cpython-311.pyc");
    EXPECT_TRUE(fs::is_regular_file(prefix / "lib/python3.11/site-packages/attrs/__init__.py"));
}

TEST(CondaPrefixBuilder, MicromambaStyleRecord) {
    TempDir dir;
    fs::path prefix;
    const json record = builder_record(CondaWriter::micromamba, sample_spec(), prefix, dir);
    EXPECT_EQ(record["channel"], "https://conda.anaconda.org/conda-forge/noarch");
    EXPECT_EQ(record["requested_spec"], "");
    EXPECT_EQ(record["build_string"], "pyh71513ae_0");
    for (const auto& entry : record["paths_data"]["paths"]) {
        EXPECT_TRUE(entry["_path"].get<std::string>().starts_with("lib/python3.11/"));
        EXPECT_EQ(entry["sha256_in_prefix"], entry["sha256"]);
    }
}

TEST(CondaPrefixBuilder, RattlerStyleRecord) {
    TempDir dir;
    fs::path prefix;
    auto spec = sample_spec();
    spec.requested = true;
    const json record = builder_record(CondaWriter::rattler, spec, prefix, dir);
    EXPECT_EQ(record["channel"], "https://conda.anaconda.org/conda-forge/");
    EXPECT_FALSE(record.contains("requested_spec"));
    EXPECT_EQ(record["requested_specs"], json::array({"attrs"}));
    for (const auto& entry : record["paths_data"]["paths"]) {
        EXPECT_FALSE(entry.contains("sha256_in_prefix"));
        EXPECT_TRUE(entry.contains("sha256"));
    }
}

TEST(CondaPrefixBuilder, KeepsFilesAnotherBuilderWrote) {
    TempDir dir;
    const fs::path prefix = dir / "env";
    const std::string metadata = "Metadata-Version: 2.1\nName: attrs\nVersion: 23.2.0\n";
    write_file(prefix / "lib/python3.11/site-packages/attrs-23.2.0.dist-info/METADATA", metadata);
    CondaPrefixBuilder builder(prefix);
    auto spec = sample_spec();
    spec.contents["lib/python3.11/site-packages/attrs/__init__.py"] = "__version__ = '23.2.0'\n";
    const json record = load_json(builder.add_package(spec));
    EXPECT_EQ(
        util::read_file(prefix / "lib/python3.11/site-packages/attrs-23.2.0.dist-info/METADATA"),
        metadata);
    EXPECT_EQ(record["paths_data"]["paths"][2]["sha256"], test::sha256_hex(metadata));
    EXPECT_EQ(record["paths_data"]["paths"][0]["sha256"],
              test::sha256_hex("__version__ = '23.2.0'\n"));
}

TEST(CondaPrefixBuilder, CreateFilesNoWritesOnlyTheRecord) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env", CondaWriter::rattler);
    auto spec = sample_spec();
    spec.create_files = test::CreateFiles::no;
    const auto record_path = builder.add_package(spec);
    EXPECT_TRUE(fs::is_regular_file(record_path));
    EXPECT_FALSE(fs::exists(dir / "env/lib"));
}

TEST(CondaPrefixBuilder, ExtraIsAMergePatch) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    auto spec = sample_spec();
    spec.extra = {{"build", nullptr}, {"build_string", "pyh71513ae_0"}, {"license", "MIT"}};
    const auto path = builder.add_package(spec);
    const json record = load_json(path);
    EXPECT_FALSE(record.contains("build"));
    EXPECT_EQ(record["license"], "MIT");
    CondaRecordReader reader;
    EXPECT_EQ(reader.read(path).build, "pyh71513ae_0");
    builder.add_history_line("==> 2024-01-01 00:00:00 <==");
    EXPECT_EQ(util::read_file(dir / "env/conda-meta/history"), "==> 2024-01-01 00:00:00 <==\n");
}

}  // namespace gpuenv::core::env
