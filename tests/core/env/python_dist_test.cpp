#include <gpuenv/core/env/python_dist.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <gpuenv/util/error.hpp>
#include <support/python_dist_builder.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;
using gpuenv::test::PythonDistSpec;
using gpuenv::test::TempDir;
using gpuenv::test::write_file;
using testing::HasSubstr;

const fs::path k_real = GPUENV_REAL_FIXTURES;

// Writes site-packages/foo-1.0.dist-info/METADATA with the given text; returns the dist-info.
fs::path write_metadata(const TempDir& tmp, std::string_view text) {
    fs::path dist_info = tmp / "foo-1.0.dist-info";
    write_file(dist_info / "METADATA", text);
    return dist_info;
}

PythonDist read_dist_info(const fs::path& dist_info) {
    Diagnostics warnings;
    PythonDist dist = read_python_dist(dist_info, DistFormat::dist_info, warnings);
    EXPECT_TRUE(warnings.empty()) << warnings.front().to_string();
    return dist;
}

// Returns the message of the Error that reading a dist-info throws ("" when none).
std::string read_error(const fs::path& dist_info) {
    Diagnostics warnings;
    try {
        (void)read_python_dist(dist_info, DistFormat::dist_info, warnings);
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), ExitCode::not_found);
        return error.what();
    }
    return "";
}

std::vector<std::string> names_of(const std::vector<PythonDist>& dists) {
    std::vector<std::string> names;
    names.reserve(dists.size());
    for (const PythonDist& dist : dists)
        names.push_back(dist.normalized_name);
    return names;
}

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// --- METADATA parsing --------------------------------------------------------------------

TEST(PythonDist, ReadsWhatTheBuilderWrote) {
    const TempDir tmp;
    const fs::path dist_info = test::write_dist_info(tmp.path(), {"Foo.Bar", "1.2.3"});
    const PythonDist dist = read_dist_info(dist_info);
    EXPECT_EQ(dist.name, "Foo.Bar");
    EXPECT_EQ(dist.normalized_name, "foo-bar");
    EXPECT_EQ(dist.version, "1.2.3");
    EXPECT_EQ(dist.installer, "pip");
    EXPECT_FALSE(dist.requested);
    EXPECT_FALSE(dist.direct_url.has_value());
    EXPECT_EQ(dist.format, DistFormat::dist_info);
    EXPECT_EQ(dist.metadata_path, tmp / "Foo_Bar-1.2.3.dist-info");
    EXPECT_EQ(dist.site_packages, tmp.path());
}

TEST(PythonDist, HeaderNamesAreCaseInsensitive) {
    const TempDir tmp;
    const PythonDist dist = read_dist_info(write_metadata(tmp, "NAME: foo\nversion: 1.0\n"));
    EXPECT_EQ(dist.name, "foo");
    EXPECT_EQ(dist.version, "1.0");
}

TEST(PythonDist, ContinuationLinesBelongToThePreviousHeader) {
    const TempDir tmp;
    const PythonDist dist = read_dist_info(write_metadata(tmp,
                                                          "Metadata-Version: 1.0\n"
                                                          "Summary: first line\n"
                                                          "  Version: 9.9\n"
                                                          "\tName: not-a-name\n"
                                                          "Name:\n"
                                                          "  folded-name\n"
                                                          "Version: 2.0\n"));
    EXPECT_EQ(dist.name, "folded-name");
    EXPECT_EQ(dist.version, "2.0");
}

TEST(PythonDist, HandlesCrlf) {
    const TempDir tmp;
    const PythonDist dist =
        read_dist_info(write_metadata(tmp, "Name: foo\r\nVersion: 1.0\r\n\r\nbody\r\n"));
    EXPECT_EQ(dist.name, "foo");
    EXPECT_EQ(dist.version, "1.0");
}

TEST(PythonDist, IgnoresTheBodyAfterTheBlankLine) {
    const TempDir tmp;
    const fs::path dist_info = write_metadata(tmp, "Name: foo\n\nVersion: 1.0\n");
    EXPECT_EQ(read_error(dist_info), (dist_info / "METADATA").string() + ": missing Version");
}

TEST(PythonDist, BodyIsNeverParsed) {
    const TempDir tmp;
    const PythonDist dist =
        read_dist_info(write_metadata(tmp, "Name: foo\nVersion: 1.0\n\nnot a header\nName: bar\n"));
    EXPECT_EQ(dist.name, "foo");
}

TEST(PythonDist, FirstNameAndVersionWin) {
    const TempDir tmp;
    const PythonDist dist =
        read_dist_info(write_metadata(tmp, "Name: first\nName: second\nVersion: 1\nVersion: 2\n"));
    EXPECT_EQ(dist.name, "first");
    EXPECT_EQ(dist.version, "1");
}

TEST(PythonDist, TrimsValues) {
    const TempDir tmp;
    const PythonDist dist =
        read_dist_info(write_metadata(tmp, "Name:   foo \t\nVersion:\t1.0  \n"));
    EXPECT_EQ(dist.name, "foo");
    EXPECT_EQ(dist.version, "1.0");
}

TEST(PythonDist, SkipsAUtf8ByteOrderMark) {
    const TempDir tmp;
    const PythonDist dist =
        read_dist_info(write_metadata(tmp, "\xEF\xBB\xBFName: foo\nVersion: 1\n"));
    EXPECT_EQ(dist.name, "foo");
}

TEST(PythonDist, MissingVersionNamesTheFile) {
    const TempDir tmp;
    const fs::path dist_info = write_metadata(tmp, "Metadata-Version: 2.1\nName: foo\n");
    EXPECT_EQ(read_error(dist_info), (dist_info / "METADATA").string() + ": missing Version");
}

TEST(PythonDist, MissingNameNamesTheFile) {
    const TempDir tmp;
    const fs::path dist_info = write_metadata(tmp, "Version: 1.0\nName:\n");
    EXPECT_EQ(read_error(dist_info), (dist_info / "METADATA").string() + ": missing Name");
}

TEST(PythonDist, HeaderLineWithoutColonReportsItsLine) {
    const TempDir tmp;
    const fs::path dist_info =
        write_metadata(tmp, "Metadata-Version: 2.1\nName: foo\nthis is not a header\nVersion: 1\n");
    EXPECT_EQ(read_error(dist_info),
              (dist_info / "METADATA").string() + ": line 3: expected ':' in header line");
}

TEST(PythonDist, LeadingContinuationLineIsAnError) {
    const TempDir tmp;
    const fs::path dist_info = write_metadata(tmp, "  Name: foo\nVersion: 1\n");
    EXPECT_THAT(read_error(dist_info), HasSubstr("METADATA: line 1: continuation line"));
}

// Python's email parser ends the headers at such a line, so pip still lists the dist.
TEST(PythonDist, LineWithoutColonAfterNameAndVersionEndsTheHeaders) {
    const TempDir tmp;
    const PythonDist dist =
        read_dist_info(write_metadata(tmp, "Name: foo\nVersion: 1\nno colon here\n"));
    EXPECT_EQ(dist.version, "1");
}

TEST(PythonDist, FindsNameAndVersionPastTheFirstRead) {
    const TempDir tmp;
    std::string text = "Metadata-Version: 1.0\nDescription: start\n";
    while (text.size() < 20000)
        text += "        a folded description line\n";
    text += "Name: late\nVersion: 3.0\n";
    EXPECT_EQ(read_dist_info(write_metadata(tmp, text)).version, "3.0");
}

TEST(PythonDist, ReadsOnlyTheFirst64KiBOfHeaders) {
    const TempDir tmp;
    std::string text = "Name: foo\nDescription: start\n";
    while (text.size() < 70000)
        text += "        a folded description line\n";
    text += "Version: 1.0\n";
    const fs::path dist_info = write_metadata(tmp, text);
    EXPECT_THAT(read_error(dist_info), HasSubstr("missing Version"));
}

// Reading all of /dev/zero would never end; only the head is read.
TEST(PythonDist, NeverReadsAWholeFile) {
    const TempDir tmp;
    fs::create_directories(tmp / "foo-1.0.dist-info");
    fs::create_symlink("/dev/zero", tmp / "foo-1.0.dist-info" / "METADATA");
    EXPECT_THAT(read_error(tmp / "foo-1.0.dist-info"), HasSubstr("missing Name"));
}

TEST(PythonDist, MissingMetadataNamesTheFileAndTheReason) {
    const TempDir tmp;
    fs::create_directories(tmp / "foo-1.0.dist-info");
    EXPECT_EQ(read_error(tmp / "foo-1.0.dist-info"),
              (tmp / "foo-1.0.dist-info" / "METADATA").string() + ": " + std::strerror(ENOENT));
}

TEST(PythonDist, MetadataThatIsADirectoryIsAnError) {
    const TempDir tmp;
    fs::create_directories(tmp / "foo-1.0.dist-info" / "METADATA");
    EXPECT_THAT(read_error(tmp / "foo-1.0.dist-info"), HasSubstr(std::strerror(EISDIR)));
}

TEST(PythonDist, DanglingMetadataSymlinkIsAnError) {
    const TempDir tmp;
    fs::create_directories(tmp / "foo-1.0.dist-info");
    fs::create_symlink(tmp / "nowhere", tmp / "foo-1.0.dist-info" / "METADATA");
    EXPECT_THAT(read_error(tmp / "foo-1.0.dist-info"), HasSubstr(std::strerror(ENOENT)));
}

TEST(PythonDist, UnreadableMetadataIsAnError) {
    if (::geteuid() == 0)
        GTEST_SKIP() << "root reads files whatever their mode";
    const TempDir tmp;
    const fs::path dist_info = write_metadata(tmp, "Name: foo\nVersion: 1\n");
    ::chmod((dist_info / "METADATA").c_str(), 0);
    EXPECT_THAT(read_error(dist_info), HasSubstr(std::strerror(EACCES)));
}

// --- INSTALLER and REQUESTED ---------------------------------------------------------------

struct InstallerCase {
    const char* content;
    const char* expected;
};

class PythonDistInstaller : public testing::TestWithParam<InstallerCase> {};

TEST_P(PythonDistInstaller, ReadsTheFirstLineTrimmed) {
    const TempDir tmp;
    PythonDistSpec spec{"foo", "1.0"};
    spec.installer = "";
    const fs::path dist_info = test::write_dist_info(tmp.path(), spec);
    write_file(dist_info / "INSTALLER", GetParam().content);
    EXPECT_EQ(read_dist_info(dist_info).installer, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    PythonDist, PythonDistInstaller,
    testing::Values(InstallerCase{"pip\n", "pip"}, InstallerCase{"uv\n", "uv"},
                    InstallerCase{"uv-pixi\n", "uv-pixi"}, InstallerCase{"conda", "conda"},
                    InstallerCase{"conda\r\n", "conda"}, InstallerCase{"  pip \n\n", "pip"},
                    InstallerCase{"pip\nsecond line\n", "pip"}, InstallerCase{"", ""}));

TEST(PythonDist, AbsentInstallerIsEmpty) {
    const TempDir tmp;
    PythonDistSpec spec{"foo", "1.0"};
    spec.installer = "";
    const fs::path dist_info = test::write_dist_info(tmp.path(), spec);
    ASSERT_FALSE(fs::exists(dist_info / "INSTALLER"));
    EXPECT_EQ(read_dist_info(dist_info).installer, "");
}

TEST(PythonDist, UnreadableInstallerIsAWarning) {
    const TempDir tmp;
    const fs::path dist_info = test::write_dist_info(tmp.path(), {"foo", "1.0"});
    fs::remove(dist_info / "INSTALLER");
    fs::create_directories(dist_info / "INSTALLER");
    Diagnostics warnings;
    const PythonDist dist = read_python_dist(dist_info, DistFormat::dist_info, warnings);
    EXPECT_EQ(dist.installer, "");
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_EQ(warnings[0].to_string(),
              (dist_info / "INSTALLER").string() + ": " + std::strerror(EISDIR));
}

TEST(PythonDist, RequestedFileSetsRequested) {
    const TempDir tmp;
    PythonDistSpec spec{"foo", "1.0"};
    spec.requested = true;
    EXPECT_TRUE(read_dist_info(test::write_dist_info(tmp.path(), spec)).requested);
}

// --- direct_url.json -----------------------------------------------------------------------

// Reads a dist-info whose direct_url.json holds `json`; the warnings go to `warnings`.
PythonDist read_with_direct_url(const TempDir& tmp, const std::string& json,
                                Diagnostics& warnings) {
    PythonDistSpec spec{"foo", "1.0"};
    spec.direct_url_json = json;
    return read_python_dist(test::write_dist_info(tmp.path(), spec), DistFormat::dist_info,
                            warnings);
}

TEST(DirectUrl, ReadsAnEditableDirectory) {
    const TempDir tmp;
    Diagnostics warnings;
    const PythonDist dist = read_with_direct_url(
        tmp, R"({"url": "file:///home/me/proj", "dir_info": {"editable": true}})", warnings);
    EXPECT_TRUE(warnings.empty());
    ASSERT_TRUE(dist.direct_url.has_value());
    EXPECT_EQ(dist.direct_url->kind, DirectUrl::Kind::dir);
    EXPECT_EQ(dist.direct_url->url, "file:///home/me/proj");
    EXPECT_TRUE(dist.direct_url->editable);
}

TEST(DirectUrl, DirectoryIsNotEditableByDefault) {
    const TempDir tmp;
    Diagnostics warnings;
    const PythonDist dist =
        read_with_direct_url(tmp, R"({"url": "file:///src", "dir_info": {}})", warnings);
    ASSERT_TRUE(dist.direct_url.has_value());
    EXPECT_EQ(dist.direct_url->kind, DirectUrl::Kind::dir);
    EXPECT_FALSE(dist.direct_url->editable);
}

TEST(DirectUrl, ReadsVcsInfoAndSubdirectory) {
    const TempDir tmp;
    Diagnostics warnings;
    const PythonDist dist = read_with_direct_url(tmp, R"({
        "url": "https://github.com/pypa/pip.git",
        "vcs_info": {"vcs": "git", "requested_revision": "main",
                     "commit_id": "7921be1537eac1e97bc40179a57f0349c2aee67d"},
        "subdirectory": "src/sub"})",
                                                 warnings);
    EXPECT_TRUE(warnings.empty());
    ASSERT_TRUE(dist.direct_url.has_value());
    EXPECT_EQ(dist.direct_url->kind, DirectUrl::Kind::vcs);
    EXPECT_EQ(dist.direct_url->url, "https://github.com/pypa/pip.git");
    EXPECT_EQ(dist.direct_url->vcs, "git");
    EXPECT_EQ(dist.direct_url->requested_revision, "main");
    EXPECT_EQ(dist.direct_url->commit_id, "7921be1537eac1e97bc40179a57f0349c2aee67d");
    EXPECT_EQ(dist.direct_url->subdirectory, "src/sub");
    EXPECT_FALSE(dist.direct_url->editable);
}

TEST(DirectUrl, ReadsArchiveHashes) {
    const TempDir tmp;
    Diagnostics warnings;
    const PythonDist dist = read_with_direct_url(tmp,
                                                 R"({"url": "https://example.org/foo-1.0.tar.gz",
            "archive_info": {"hashes": {"sha256": "2dc6b5a470a1bde68946f263f1af1515a2574a150a30d6ce02c6ff742fcc0db9"},
                             "hash": "md5=ignored"}})",
                                                 warnings);
    ASSERT_TRUE(dist.direct_url.has_value());
    EXPECT_EQ(dist.direct_url->kind, DirectUrl::Kind::archive);
    EXPECT_EQ(dist.direct_url->archive_hash,
              "sha256=2dc6b5a470a1bde68946f263f1af1515a2574a150a30d6ce02c6ff742fcc0db9");
}

TEST(DirectUrl, FallsBackToTheLegacyArchiveHash) {
    const TempDir tmp;
    Diagnostics warnings;
    const PythonDist dist = read_with_direct_url(
        tmp, R"({"url": "https://example.org/foo.whl", "archive_info": {"hash": "sha256=ab01"}})",
        warnings);
    ASSERT_TRUE(dist.direct_url.has_value());
    EXPECT_EQ(dist.direct_url->archive_hash, "sha256=ab01");
}

TEST(DirectUrl, InvalidJsonIsAWarningWithLineAndColumn) {
    const TempDir tmp;
    Diagnostics warnings;
    // Python's json module reports: line 3 column 3 (char 18).
    const PythonDist dist = read_with_direct_url(tmp, "{\n  \"url\": \"x\",\n  oops\n}", warnings);
    EXPECT_EQ(dist.name, "foo");
    EXPECT_FALSE(dist.direct_url.has_value());
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_THAT(warnings[0].path, HasSubstr("direct_url.json"));
    EXPECT_EQ(warnings[0].line, 3);
    EXPECT_EQ(warnings[0].column, 3);
    EXPECT_EQ(warnings[0].message, "invalid JSON: expected a key in double quotes, found 'o'");
    EXPECT_THAT(warnings[0].to_string(), HasSubstr("direct_url.json:3:3: invalid JSON"));
}

TEST(DirectUrl, TruncatedJsonPointsAtTheEnd) {
    const TempDir tmp;
    Diagnostics warnings;
    // Python's json module reports: line 1 column 12 (char 11).
    (void)read_with_direct_url(tmp, R"({"url": "x")", warnings);
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_EQ(warnings[0].line, 1);
    EXPECT_EQ(warnings[0].column, 12);
}

TEST(DirectUrl, EmptyFileIsAWarningAtTheStart) {
    const TempDir tmp;
    Diagnostics warnings;
    (void)read_with_direct_url(tmp, "", warnings);
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_EQ(warnings[0].line, 1);
    EXPECT_EQ(warnings[0].column, 1);
}

TEST(DirectUrl, SchemaProblemsAreWarnings) {
    for (const char* json : {R"([])", R"({"dir_info": {}})", R"({"url": "x"})",
                             R"({"url": "x", "dir_info": {}, "archive_info": {}})"}) {
        const TempDir tmp;
        Diagnostics warnings;
        const PythonDist dist = read_with_direct_url(tmp, json, warnings);
        EXPECT_FALSE(dist.direct_url.has_value()) << json;
        ASSERT_EQ(warnings.size(), 1U) << json;
        EXPECT_EQ(warnings[0].line, 0) << json;
    }
}

// --- egg forms -----------------------------------------------------------------------------

TEST(PythonDist, ReadsAnEggInfoDirectoryWithItsInstaller) {
    const TempDir tmp;
    const fs::path egg_info = test::write_egg_info_dir(tmp.path(), {"PyJWT", "2.6.0"});
    Diagnostics warnings;
    const PythonDist dist = read_python_dist(egg_info, DistFormat::egg_info_dir, warnings);
    EXPECT_EQ(dist.name, "PyJWT");
    EXPECT_EQ(dist.normalized_name, "pyjwt");
    EXPECT_EQ(dist.version, "2.6.0");
    EXPECT_EQ(dist.installer, "pip");
    EXPECT_EQ(dist.format, DistFormat::egg_info_dir);
    EXPECT_STREQ(to_string(dist.format), "egg-info");
}

TEST(PythonDist, ReadsAnEggInfoFile) {
    const TempDir tmp;
    const fs::path egg_info = test::write_egg_info_file(tmp.path(), {"crcmod", "1.7"});
    Diagnostics warnings;
    const PythonDist dist = read_python_dist(egg_info, DistFormat::egg_info_file, warnings);
    EXPECT_EQ(dist.version, "1.7");
    EXPECT_EQ(dist.installer, "");
    EXPECT_EQ(dist.metadata_path, egg_info);
    EXPECT_STREQ(to_string(dist.format), "egg-info");
}

TEST(PythonDist, ReadsAnEggDirectory) {
    const TempDir tmp;
    const fs::path egg = test::write_egg(tmp.path(), {"pytz", "2018.5"});
    Diagnostics warnings;
    const PythonDist dist = read_python_dist(egg, DistFormat::egg, warnings);
    EXPECT_EQ(dist.version, "2018.5");
    EXPECT_EQ(dist.installer, "");
    EXPECT_STREQ(to_string(dist.format), "egg");
    EXPECT_STREQ(to_string(DistFormat::dist_info), "dist-info");
}

// --- scan_site_packages --------------------------------------------------------------------

TEST(SitePackages, FindsEveryFormSortedByNormalizedName) {
    const TempDir tmp;
    const fs::path& sp = tmp.path();
    (void)test::write_dist_info(sp, {"Zope.Interface", "4.5.0"});
    (void)test::write_dist_info(sp, {"attrs", "18.1.0"});
    (void)test::write_dist_info(sp, {"Django", "2.1"});
    (void)test::write_egg_info_dir(sp, {"six", "1.16.0"});
    (void)test::write_egg_info_file(sp, {"crcmod", "1.7"});
    (void)test::write_egg(sp, {"pytz", "2018.5"});
    write_file(sp / "README.txt", "not a distribution\n");
    write_file(sp / "zope.interface-4.5.0-py3.6-nspkg.pth", "import sys\n");
    write_file(sp / "django" / "__init__.py", "");
    write_file(sp / "zipped-1.0-py3.egg", "PK\x03\x04");
    fs::create_directories(sp / "empty-1.0-py3.egg");
    write_file(sp / "notes.dist-info", "a file, not a dist-info directory\n");
    Diagnostics warnings;
    const std::vector<PythonDist> dists = scan_site_packages(sp, warnings);
    EXPECT_TRUE(warnings.empty()) << warnings.front().to_string();
    EXPECT_THAT(names_of(dists),
                testing::ElementsAre("attrs", "crcmod", "django", "pytz", "six", "zope-interface"));
    for (const PythonDist& dist : dists)
        EXPECT_EQ(dist.site_packages, sp);
    EXPECT_EQ(dists[1].format, DistFormat::egg_info_file);
    EXPECT_EQ(dists[3].format, DistFormat::egg);
    EXPECT_EQ(dists[4].format, DistFormat::egg_info_dir);
}

TEST(SitePackages, DanglingMetadataSymlinkIsAWarningAndTheDistIsSkipped) {
    const TempDir tmp;
    (void)test::write_dist_info(tmp.path(), {"good", "1.0"});
    fs::create_directories(tmp / "bad-1.0.dist-info");
    fs::create_symlink(tmp / "nowhere", tmp / "bad-1.0.dist-info" / "METADATA");
    Diagnostics warnings;
    const std::vector<PythonDist> dists = scan_site_packages(tmp.path(), warnings);
    EXPECT_THAT(names_of(dists), testing::ElementsAre("good"));
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_EQ(warnings[0].to_string(),
              (tmp / "bad-1.0.dist-info" / "METADATA").string() + ": " + std::strerror(ENOENT));
}

TEST(SitePackages, MalformedMetadataWarningCarriesTheLine) {
    const TempDir tmp;
    write_file(tmp / "bad-1.0.dist-info" / "METADATA", "Name: bad\noops\nVersion: 1\n");
    Diagnostics warnings;
    EXPECT_TRUE(scan_site_packages(tmp.path(), warnings).empty());
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_EQ(warnings[0].line, 2);
    EXPECT_EQ(warnings[0].to_string(), (tmp / "bad-1.0.dist-info" / "METADATA").string() +
                                           ":2: expected ':' in header line");
}

TEST(SitePackages, BadDirectUrlStillListsTheDist) {
    const TempDir tmp;
    PythonDistSpec spec{"foo", "1.0"};
    spec.direct_url_json = "{";
    (void)test::write_dist_info(tmp.path(), spec);
    Diagnostics warnings;
    const std::vector<PythonDist> dists = scan_site_packages(tmp.path(), warnings);
    EXPECT_THAT(names_of(dists), testing::ElementsAre("foo"));
    EXPECT_EQ(warnings.size(), 1U);
}

// Debian's dist-packages holds cryptography-38.0.4.dist-info and cryptography.egg-info.
TEST(SitePackages, DistInfoBeatsEggInfoSilentlyWhenVersionsAgree) {
    const TempDir tmp;
    (void)test::write_dist_info(tmp.path(), {"cryptography", "38.0.4"});
    write_file(tmp / "cryptography.egg-info" / "PKG-INFO", "Name: cryptography\nVersion: 38.0.4\n");
    Diagnostics warnings;
    const std::vector<PythonDist> dists = scan_site_packages(tmp.path(), warnings);
    EXPECT_TRUE(warnings.empty());
    ASSERT_EQ(dists.size(), 1U);
    EXPECT_EQ(dists[0].format, DistFormat::dist_info);
}

TEST(SitePackages, DuplicateWithAnotherVersionWarns) {
    const TempDir tmp;
    (void)test::write_egg_info_dir(tmp.path(), {"Foo", "1.0"});
    (void)test::write_dist_info(tmp.path(), {"foo", "2.0"});
    Diagnostics warnings;
    const std::vector<PythonDist> dists = scan_site_packages(tmp.path(), warnings);
    ASSERT_EQ(dists.size(), 1U);
    EXPECT_EQ(dists[0].version, "2.0");
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_EQ(warnings[0].message,
              "duplicate distribution foo: foo-2.0.dist-info (2.0) and Foo-1.0.egg-info (1.0)");
}

TEST(SitePackages, SameFormatKeepsTheFirstDirectoryName) {
    const TempDir tmp;
    (void)test::write_dist_info(tmp.path(), {"foo", "2.0"});
    (void)test::write_dist_info(tmp.path(), {"Foo", "1.0"});
    (void)test::write_egg(tmp.path(), {"bar", "1.0"});
    (void)test::write_egg_info_file(tmp.path(), {"bar", "1.0"});
    Diagnostics warnings;
    const std::vector<PythonDist> dists = scan_site_packages(tmp.path(), warnings);
    ASSERT_EQ(dists.size(), 2U);
    EXPECT_EQ(dists[0].format, DistFormat::egg);  // "bar-1.0-py3.egg" < "bar-1.0.egg-info"
    EXPECT_EQ(dists[1].version, "1.0");           // "Foo-1.0..." < "foo-2.0..."
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_EQ(warnings[0].message,
              "duplicate distribution foo: Foo-1.0.dist-info (1.0) and foo-2.0.dist-info (2.0)");
}

TEST(SitePackages, FollowsASymlinkedDistInfo) {
    const TempDir tmp;
    const fs::path real = test::write_dist_info(tmp / "elsewhere", {"foo", "1.0"});
    fs::create_directories(tmp / "sp");
    fs::create_directory_symlink(real, tmp / "sp" / "foo-1.0.dist-info");
    fs::create_symlink(tmp / "nowhere", tmp / "sp" / "gone-1.0.dist-info");
    Diagnostics warnings;
    const std::vector<PythonDist> dists = scan_site_packages(tmp / "sp", warnings);
    EXPECT_THAT(names_of(dists), testing::ElementsAre("foo"));
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_EQ(warnings[0].path, (tmp / "sp" / "gone-1.0.dist-info").string());
}

TEST(SitePackages, MissingDirectoryIsEmptyWithoutWarning) {
    const TempDir tmp;
    Diagnostics warnings;
    EXPECT_TRUE(scan_site_packages(tmp / "absent", warnings).empty());
    write_file(tmp / "file", "");
    EXPECT_TRUE(scan_site_packages(tmp / "file", warnings).empty());
    EXPECT_TRUE(warnings.empty());
}

TEST(SitePackages, UnreadableDirectoryWarns) {
    if (::geteuid() == 0)
        GTEST_SKIP() << "root reads directories whatever their mode";
    const TempDir tmp;
    fs::create_directories(tmp / "sp");
    ::chmod((tmp / "sp").c_str(), 0);
    Diagnostics warnings;
    EXPECT_TRUE(scan_site_packages(tmp / "sp", warnings).empty());
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_EQ(warnings[0].message, std::strerror(EACCES));
}

TEST(SitePackages, ReadsAHundredDistsWithLongDescriptionHeaders) {
    // Speed is measured by `make bench`; this checks the result on a realistic directory.
    const TempDir tmp;
    for (int i = 0; i < 100; ++i) {
        PythonDistSpec spec{"package-" + std::to_string(i), "1." + std::to_string(i)};
        spec.requested = i % 2 == 0;
        spec.metadata_extra = std::string(20000, 'x').insert(0, "Description: ") + "\n";
        (void)test::write_dist_info(tmp.path(), spec);
    }
    Diagnostics warnings;
    const std::vector<PythonDist> dists = scan_site_packages(tmp.path(), warnings);
    EXPECT_EQ(dists.size(), 100U);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(
        std::count_if(dists.begin(), dists.end(), [](const PythonDist& d) { return d.requested; }),
        50);
}

// --- real environments written by real tools -------------------------------------------------

TEST(SitePackages, ReadsRealCondaEnvironmentOnOsxArm64) {
    Diagnostics warnings;
    const std::vector<PythonDist> dists = scan_site_packages(
        k_real / "conda-tests/envpy313tosx_whl/lib/python3.13t/site-packages", warnings);
    EXPECT_TRUE(warnings.empty());
    ASSERT_EQ(dists.size(), 2U);
    EXPECT_EQ(dists[0].name, "imagesize");
    EXPECT_EQ(dists[0].version, "1.4.1");
    EXPECT_EQ(dists[1].name, "pip");
    EXPECT_EQ(dists[1].version, "25.0.1");
    // The fixture kept only METADATA and RECORD, although pip's conda record lists INSTALLER.
    EXPECT_EQ(dists[1].installer, "");
    EXPECT_FALSE(dists[1].requested);
}

TEST(SitePackages, ReadsRealPipWheelsOnOsx) {
    Diagnostics warnings;
    const std::vector<PythonDist> dists = scan_site_packages(
        k_real / "conda-tests/py36-osx-whl/lib/python3.6/site-packages", warnings);
    EXPECT_TRUE(warnings.empty());
    ASSERT_EQ(dists.size(), 50U);  // 53 entries less README.txt and two -nspkg.pth files
    EXPECT_EQ(dists.front().name, "asn1crypto");
    EXPECT_EQ(dists.back().name, "zope.interface");
    EXPECT_EQ(dists.back().normalized_name, "zope-interface");
    EXPECT_EQ(dists.back().version, "4.5.0");
    for (const PythonDist& dist : dists) {
        EXPECT_EQ(dist.installer, "pip") << dist.name;
        EXPECT_EQ(dist.format, DistFormat::dist_info) << dist.name;
    }
    const auto backports = std::find_if(dists.begin(), dists.end(), [](const PythonDist& d) {
        return d.normalized_name == "backports-functools-lru-cache";
    });
    ASSERT_NE(backports, dists.end());
    EXPECT_EQ(backports->name, "backports.functools-lru-cache");
    EXPECT_EQ(backports->version, "1.5");
    EXPECT_EQ(backports->metadata_path.filename(), "backports.functools_lru_cache-1.5.dist-info");
}

TEST(SitePackages, ReadsRealWindowsEggs) {
    Diagnostics warnings;
    const std::vector<PythonDist> dists =
        scan_site_packages(k_real / "conda-tests/envpy37win/Lib/site-packages", warnings);
    EXPECT_TRUE(warnings.empty());
    ASSERT_EQ(dists.size(), 37U);  // 42 entries less five zipped .egg files
    std::set<std::string> names;
    for (const PythonDist& dist : dists) {
        EXPECT_EQ(dist.format, DistFormat::egg) << dist.name;
        names.insert(dist.normalized_name);
    }
    for (const char* zipped : {"keyring", "twilio", "pysocks", "pydispatcher", "hdf5storage"}) {
        EXPECT_EQ(names.count(zipped), 0U) << zipped;
    }
    const auto find = [&](const char* name) {
        const auto it = std::find_if(dists.begin(), dists.end(), [&](const PythonDist& d) {
            return d.normalized_name == name;
        });
        return it == dists.end() ? PythonDist{} : *it;
    };
    EXPECT_EQ(find("dask").version, "0.18.2+33.g0fca28e4");
    EXPECT_EQ(find("cherrypy").name, "CherryPy");
    EXPECT_EQ(find("cherrypy").version, "17.2.1.dev1+gb6d8061f");
    // tox's PKG-INFO is 68 KB of headers with no blank line (an old folded Description).
    EXPECT_EQ(find("tox").version, "3.2.2.dev2+g37e2b53");
    EXPECT_EQ(find("pywin32-ctypes").name, "pywin32-ctypes");
    EXPECT_EQ(find("pywin32").version, "223");
}

class RealCoreMetadata : public testing::TestWithParam<const char*> {};

// The PKG-INFO examples of metadata 1.0 (PEP 241) to 2.1 (PEP 566), read as an egg-info file.
TEST_P(RealCoreMetadata, ReadsNameAndVersionOfEachMetadataVersion) {
    const fs::path file = k_real / "conda-tests" / GetParam() / "PKG-INFO";
    Diagnostics warnings;
    const PythonDist dist = read_python_dist(file, DistFormat::egg_info_file, warnings);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(dist.name, "BeagleVote");
    EXPECT_EQ(dist.normalized_name, "beaglevote");
    EXPECT_EQ(dist.version, "1.0a2");
    EXPECT_EQ(dist.installer, "");
}

INSTANTIATE_TEST_SUITE_P(PythonDist, RealCoreMetadata,
                         testing::Values("pep241", "pep314", "pep345", "pep566"));

// --- the test builder ----------------------------------------------------------------------

TEST(PythonDistBuilder, RecordHashMatchesPip) {
    // Values from Python: urlsafe_b64encode(sha256(data).digest()).rstrip(b"=").
    EXPECT_EQ(test::record_hash(""), "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    EXPECT_EQ(test::record_hash("hello\n"), "sha256=WJG1tSLV3whtD_CxEPvZ0hu0_HFjrzTQgoai6Eb2vgM");
}

TEST(PythonDistBuilder, EscapesNamesAsWheelsDo) {
    EXPECT_EQ(test::wheel_escape("Foo.Bar-baz__qux"), "Foo_Bar_baz_qux");
    EXPECT_EQ(test::wheel_escape("a-_-b"), "a_b");
    EXPECT_EQ(test::dist_info_name({"zope.interface", "4.5.0"}), "zope_interface-4.5.0.dist-info");
}

TEST(PythonDistBuilder, RecordListsEveryWrittenFileWithHashAndSize) {
    const TempDir tmp;
    PythonDistSpec spec{"foo", "1.0"};
    spec.requested = true;
    spec.direct_url_json = R"({"url": "file:///src", "dir_info": {}})";
    spec.files = {"foo/__init__.py", "foo/a,b.py", "bin/foo"};
    const fs::path dist_info = test::write_dist_info(tmp.path(), spec);

    std::set<std::string> on_disk;
    for (const auto& entry : fs::recursive_directory_iterator(tmp.path())) {
        if (entry.is_regular_file())
            on_disk.insert(fs::relative(entry.path(), tmp.path()).string());
    }
    const std::vector<std::string> files = test::dist_info_files(spec);
    EXPECT_EQ(std::set<std::string>(files.begin(), files.end()), on_disk);
    EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));

    const std::string record = slurp(dist_info / "RECORD");
    const std::string init = slurp(tmp / "foo/__init__.py");
    EXPECT_THAT(record,
                HasSubstr("foo/__init__.py,sha256=TdAB6nfp88AwXqjHqc_wE5hOYAFfvOaXinvjx5ElzrY," +
                          std::to_string(init.size()) + "\n"));
    EXPECT_THAT(record, HasSubstr("\"foo/a,b.py\",sha256="));
    EXPECT_THAT(record, HasSubstr("foo-1.0.dist-info/REQUESTED," + test::record_hash("") + ",0\n"));
    EXPECT_THAT(record, HasSubstr("foo-1.0.dist-info/RECORD,,\n"));
    EXPECT_EQ(std::count(record.begin(), record.end(), '\n'),
              static_cast<std::ptrdiff_t>(files.size()));
}

}  // namespace
}  // namespace gpuenv::core::env
