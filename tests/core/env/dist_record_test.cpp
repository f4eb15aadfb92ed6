#include <gpuenv/core/env/dist_record.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <support/python_dist_builder.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;

const fs::path k_record = "site-packages/x-1.0.dist-info/RECORD";

std::string error_of(std::string_view text) {
    try {
        (void)parse_dist_record(text, k_record);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        return e.what();
    }
    return "no error";
}

TEST(DistRecord, ReadsPipRows) {
    const auto rows = parse_dist_record(
        "../../../bin/pip,sha256=D9jbEaThtpHTkiFEByhRhzFnDggLSZ2ThMrVgg3la2k,504\n"
        "pip/__init__.py,sha256=HqzpBVLfT1lBthqQfiDlVeFkg65hJ7ZQvvWhoq-BAsA,11018\n"
        "pip/__pycache__/__init__.cpython-311.pyc,,\n"
        "pip-25.0.1.dist-info/RECORD,,\n",
        k_record);
    ASSERT_EQ(rows.size(), 4U);
    EXPECT_EQ(rows[0].path, "../../../bin/pip");
    EXPECT_EQ(rows[0].hash_algorithm, "sha256");
    EXPECT_EQ(rows[0].hash, "D9jbEaThtpHTkiFEByhRhzFnDggLSZ2ThMrVgg3la2k");
    EXPECT_EQ(rows[0].size, 504);
    EXPECT_EQ(rows[0].line, 1);
    EXPECT_EQ(rows[1].hash, "HqzpBVLfT1lBthqQfiDlVeFkg65hJ7ZQvvWhoq-BAsA");
    EXPECT_EQ(rows[2].hash_algorithm, "");
    EXPECT_EQ(rows[2].hash, "");
    EXPECT_EQ(rows[2].size, -1);
    EXPECT_EQ(rows[3].path, "pip-25.0.1.dist-info/RECORD");
    EXPECT_EQ(rows[3].line, 4);
}

TEST(DistRecord, ReadsQuotedFieldsAsPythonCsvWritesThem) {
    // csv.writer quotes fields holding a comma, a quote or a newline and doubles the quotes.
    const auto rows = parse_dist_record(
        "\"a,b.py\",sha256=AAAA,1\r\n"
        "\"say \"\"hi\"\".txt\",,\r\n"
        "\"two\nlines.txt\",sha256=BBBB,2\r\n"
        "plain.py,sha256=CCCC,3",
        k_record);
    ASSERT_EQ(rows.size(), 4U);
    EXPECT_EQ(rows[0].path, "a,b.py");
    EXPECT_EQ(rows[0].size, 1);
    EXPECT_EQ(rows[1].path, "say \"hi\".txt");
    EXPECT_EQ(rows[1].line, 2);
    EXPECT_EQ(rows[2].path, "two\nlines.txt");
    EXPECT_EQ(rows[2].line, 3);
    EXPECT_EQ(rows[3].path, "plain.py");
    EXPECT_EQ(rows[3].line, 5);  // the quoted newline counts as a line
    EXPECT_EQ(rows[3].hash, "CCCC");
}

TEST(DistRecord, AcceptsShortRowsAndBlankLines) {
    // importlib.metadata takes rows of one or two fields; csv gives [] for a blank line.
    const auto rows = parse_dist_record("\nonly-path.py\npath.py,sha256=AAAA\n\n", k_record);
    ASSERT_EQ(rows.size(), 2U);
    EXPECT_EQ(rows[0].path, "only-path.py");
    EXPECT_EQ(rows[0].line, 2);
    EXPECT_EQ(rows[0].hash, "");
    EXPECT_EQ(rows[1].hash, "AAAA");
    EXPECT_EQ(rows[1].size, -1);
    EXPECT_TRUE(parse_dist_record("", k_record).empty());
}

TEST(DistRecord, KeepsOtherAlgorithmsAndPadding) {
    const auto rows = parse_dist_record("a.py,sha512=abc==,5\n", k_record);
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows[0].hash_algorithm, "sha512");
    EXPECT_EQ(rows[0].hash, "abc==");
}

TEST(DistRecord, ErrorsNameTheFileAndLine) {
    EXPECT_EQ(error_of("ok.py,,\n\"open.py,sha256=AAAA,1\n"),
              "cannot read RECORD site-packages/x-1.0.dist-info/RECORD: line 2: unterminated "
              "quoted field");
    EXPECT_EQ(error_of("a.py,sha256=AAAA,12x\n"),
              "cannot read RECORD site-packages/x-1.0.dist-info/RECORD: line 1: invalid size "
              "'12x'");
    EXPECT_EQ(error_of("a.py,,\nb.py,AAAA,1\n"),
              "cannot read RECORD site-packages/x-1.0.dist-info/RECORD: line 2: hash 'AAAA' is "
              "not <algorithm>=<digest>");
    EXPECT_EQ(error_of("a.py,sha256=A,1,extra\n"),
              "cannot read RECORD site-packages/x-1.0.dist-info/RECORD: line 1: expected "
              "path,hash,size, found 4 fields");
    EXPECT_NE(error_of("a.py,sha256=A,-1\n").find("invalid size '-1'"), std::string::npos);
    EXPECT_NE(error_of("a.py,sha256=A,99999999999999999999\n").find("invalid size"),
              std::string::npos);
    EXPECT_NE(error_of(",sha256=A,1\n").find("line 1: empty path"), std::string::npos);
    EXPECT_NE(error_of("a.py,=A,1\n").find("is not <algorithm>=<digest>"), std::string::npos);
}

TEST(DistRecord, ReadsWhatTheBuilderWrites) {
    const test::TempDir dir;
    test::PythonDistSpec spec;
    spec.name = "demo-pkg";
    spec.version = "1.0";
    spec.files = {"demo_pkg/__init__.py", "demo_pkg/a,b.py"};
    const fs::path dist = test::write_dist_info(dir.path(), spec);
    const auto rows = parse_dist_record(util::read_file(dist / "RECORD"), dist / "RECORD");
    const auto files = test::dist_info_files(spec);
    ASSERT_EQ(rows.size(), files.size());
    for (const auto& row : rows) {
        SCOPED_TRACE(row.path);
        EXPECT_NE(std::find(files.begin(), files.end(), row.path), files.end());
        if (row.path.ends_with("/RECORD")) {
            EXPECT_EQ(row.hash, "");
            continue;
        }
        const std::string content = util::read_file(dir.path() / row.path);
        EXPECT_EQ(row.hash_algorithm + "=" + row.hash, test::record_hash(content));
        EXPECT_EQ(row.size, static_cast<std::int64_t>(content.size()));
    }
}

TEST(DistRecord, ReadsTheRealRecords) {
    const fs::path site = fs::path(GPUENV_REAL_FIXTURES) /
                          "conda-tests/envpy313tosx_whl/lib/python3.13t/site-packages";
    const auto pip = parse_dist_record(util::read_file(site / "pip-25.0.1.dist-info/RECORD"),
                                       site / "pip-25.0.1.dist-info/RECORD");
    ASSERT_GT(pip.size(), 800U);
    EXPECT_EQ(pip[0].path, "../../../bin/pip");
    EXPECT_EQ(pip[0].size, 504);
    const auto imagesize =
        parse_dist_record(util::read_file(site / "imagesize-1.4.1.dist-info/RECORD"),
                          site / "imagesize-1.4.1.dist-info/RECORD");
    ASSERT_EQ(imagesize.size(), 13U);
    EXPECT_EQ(imagesize[0].path, "__pycache__/imagesize.cpython-313.pyc");
    EXPECT_EQ(imagesize[3].path, "imagesize-1.4.1.dist-info/METADATA");
    EXPECT_EQ(imagesize[3].hash, "GTf-GJtF5XNIOvekRQa1IlYuBUm8R2T549QjiHAr4oM");
    EXPECT_EQ(imagesize[3].size, 1454);
}

}  // namespace
}  // namespace gpuenv::core::env
