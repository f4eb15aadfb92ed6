#include <gpuenv/core/verify/file_check.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/env/prefix.hpp>
#include <gpuenv/core/verify/early_file_check.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/process.hpp>
#include <gpuenv/util/sha256.hpp>
#include <support/conda_prefix_builder.hpp>
#include <support/python_dist_builder.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::verify {
namespace {

namespace fs = std::filesystem;
using test::CondaWriter;

const std::string k_sp = "lib/python3.11/site-packages";
const fs::path k_real = GPUENV_REAL_FIXTURES;

// One line per finding: "kind | package | path | expected | found | detail".
std::string describe(const Finding& f) {
    return std::string(to_string(f.kind)) + " | " + f.package + " | " + f.path + " | " +
           f.expected + " | " + f.found + " | " + f.detail;
}

std::vector<std::string> describe(const Findings& findings) {
    std::vector<std::string> lines;
    for (const auto& f : findings)
        lines.push_back(describe(f));
    return lines;
}

// Checks a prefix twice, with and without an EarlyFileCheck started before the inventory is
// read (as gpuenv verify does), and expects the same findings.
Findings check(const fs::path& prefix, FileCheck level, unsigned jobs = 3) {
    util::NullProgress progress;
    const auto opened = env::open_prefix(prefix);
    EarlyFileCheck early(opened, {level, jobs});
    const auto inventory = env::read_inventory(opened);
    auto findings = check_files(inventory, {level, jobs}, progress);
    EXPECT_EQ(describe(check_files(inventory, {level, jobs}, progress, &early)),
              describe(findings));
    return findings;
}

std::string sha(std::string_view text) {
    return util::sha256_hex(text);
}

void replace_file(const fs::path& path, std::string_view content) {
    fs::remove(path);
    test::write_file(path, content);
}

// A small environment with every kind of entry the writers record: plain files, a patched
// file, symlinks, a noarch:python package with .pyc and an entry point, a directory entry and
// an external pip distribution with a console script and RECORD rows for uncompiled .pyc.
class Env {
  public:
    explicit Env(CondaWriter writer) : m_builder(m_dir / "env", writer) {
        test::CondaPackageSpec python;
        python.name = "python";
        python.version = "3.11.9";
        python.files = {"bin/python3.11", "lib/libpython3.11.so.1.0", "lib/python3.11/os.py"};
        python.symlinks = {{"bin/python", "python3.11"}, {"bin/python3", "python3.11"}};
        m_builder.add_package(python);

        test::CondaPackageSpec zlib;
        zlib.name = "zlib";
        zlib.version = "1.3.1";
        zlib.files = {"include/zlib.h", "lib/libz.so.1.3.1", "lib/pkgconfig/zlib.pc"};
        // Prefix replacement made the installed .pc shorter than the shipped one.
        zlib.contents = {{"lib/pkgconfig/zlib.pc", "prefix=" + prefix().string() + "\n"}};
        zlib.shipped = {{"lib/pkgconfig/zlib.pc",
                         "prefix=/home/builder/conda-bld/demo_1700000000/_h_env_placehold"
                         "_placehold_placehold_placehold_placehold\n"}};
        zlib.symlinks = {{"lib/libz.so", "libz.so.1.3.1"}, {"lib/libz.so.1", "libz.so.1.3.1"}};
        m_builder.add_package(zlib);

        test::PythonDistSpec tqdm_dist;
        tqdm_dist.name = "tqdm";
        tqdm_dist.version = "4.66.1";
        test::CondaPackageSpec tqdm;
        tqdm.name = "tqdm";
        tqdm.version = "4.66.1";
        tqdm.noarch = "python";
        tqdm.subdir = "noarch";
        tqdm.files = {k_sp + "/tqdm/__init__.py", k_sp + "/tqdm/std.py",
                      k_sp + "/tqdm/__pycache__/std.cpython-311.pyc",
                      k_sp + "/tqdm-4.66.1.dist-info/INSTALLER",
                      k_sp + "/tqdm-4.66.1.dist-info/METADATA"};
        tqdm.contents = {{k_sp + "/tqdm-4.66.1.dist-info/METADATA", test::core_metadata(tqdm_dist)},
                         {k_sp + "/tqdm-4.66.1.dist-info/INSTALLER", "conda\n"}};
        tqdm.entry_points = {"bin/tqdm"};
        m_builder.add_package(tqdm);

        test::CondaPackageSpec data;
        data.name = "demo-data";
        data.version = "1.0";
        data.files = {"share/demo/readme.txt"};
        data.directories = {"share/demo/cache"};
        m_builder.add_package(data);

        test::PythonDistSpec tool;
        tool.name = "extra-tool";
        tool.version = "1.0";
        tool.files = {"extra_tool/__init__.py", "extra_tool/core.py"};
        tool.scripts = {"extra-tool"};
        tool.listed_pyc = true;
        test::write_dist_info(site_packages(), tool);
    }

    [[nodiscard]] fs::path prefix() const { return m_dir / "env"; }
    [[nodiscard]] fs::path site_packages() const { return prefix() / k_sp; }
    [[nodiscard]] fs::path operator/(std::string_view relative) const {
        return prefix() / relative;
    }
    test::CondaPrefixBuilder& builder() { return m_builder; }

  private:
    test::TempDir m_dir;
    test::CondaPrefixBuilder m_builder;
};

class FileCheckWriters : public testing::TestWithParam<CondaWriter> {};

TEST_P(FileCheckWriters, CleanEnvironmentReportsNothing) {
    Env env(GetParam());
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), std::vector<std::string>{});
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), std::vector<std::string>{});
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full, 1)), std::vector<std::string>{});
}

TEST_P(FileCheckWriters, ModifiedContentOfTheSameSizeNeedsFull) {
    Env env(GetParam());
    const fs::path file = env / (k_sp + "/tqdm/std.py");
    const std::string before = util::read_file(file);
    std::string after = before;
    after[0] = after[0] == 'x' ? 'y' : 'x';
    replace_file(file, after);
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), std::vector<std::string>{});
    // The noarch path is reported where it lives, whichever way the writer recorded it.
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)),
              std::vector<std::string>{"modified_file | tqdm | " + k_sp + "/tqdm/std.py | " +
                                       sha(before) + " | " + sha(after) + " | "});
}

TEST_P(FileCheckWriters, RetargetedSymlinkIsModifiedInFull) {
    Env env(GetParam());
    fs::remove(env / "lib/libz.so");
    fs::create_symlink("../include/zlib.h", env / "lib/libz.so");
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), std::vector<std::string>{});
    const auto findings = check(env.prefix(), FileCheck::full);
    ASSERT_EQ(findings.size(), 1U) << testing::PrintToString(describe(findings));
    EXPECT_EQ(findings[0].kind, FindingKind::modified_file);
    EXPECT_EQ(findings[0].path, "lib/libz.so");
    EXPECT_EQ(findings[0].found, sha(util::read_file(env / "include/zlib.h")));
    EXPECT_EQ(findings[0].detail, "the symlink -> ../include/zlib.h points at other content");
}

INSTANTIATE_TEST_SUITE_P(AllWriters, FileCheckWriters,
                         testing::Values(CondaWriter::conda, CondaWriter::micromamba,
                                         CondaWriter::rattler),
                         [](const testing::TestParamInfo<CondaWriter>& param) {
                             switch (param.param) {
                                 case CondaWriter::conda:
                                     return "conda";
                                 case CondaWriter::micromamba:
                                     return "micromamba";
                                 case CondaWriter::rattler:
                                     return "rattler";
                             }
                             return "unknown";
                         });

TEST(FileCheck, MissingFileIsReported) {
    Env env(CondaWriter::conda);
    fs::remove(env / "lib/python3.11/os.py");
    const std::vector<std::string> expected{
        "missing_file | python | lib/python3.11/os.py | file | missing | "};
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), expected);
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), expected);
}

// Paths are looked up from their directory's descriptor; a directory that is gone, or is now
// a file, must still make its files missing, and leave the next directory's files alone.
TEST(FileCheck, FilesOfAVanishedDirectoryAreMissing) {
    Env env(CondaWriter::conda);
    fs::remove_all(env / (k_sp + "/tqdm"));
    test::write_file(env / (k_sp + "/tqdm"), "not a directory\n");
    fs::remove_all(env / "lib/pkgconfig");
    const std::vector<std::string> expected{
        "missing_file | tqdm | " + k_sp + "/tqdm/__init__.py | file | missing | ",
        "missing_file | tqdm | " + k_sp + "/tqdm/std.py | file | missing | ",
        "missing_file | zlib | lib/pkgconfig/zlib.pc | file | missing | "};
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), expected);
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), expected);
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick, 1)), expected);
}

TEST(FileCheck, SizeChangeIsReportedInBothModes) {
    Env env(CondaWriter::rattler);
    const fs::path file = env / "include/zlib.h";
    const std::string before = util::read_file(file);
    replace_file(file, before + "// appended\n");
    const std::string line = "size_mismatch | zlib | include/zlib.h | " +
                             std::to_string(before.size()) + " | " +
                             std::to_string(before.size() + 12) + " | ";
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), std::vector<std::string>{line});
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), std::vector<std::string>{line});
}

TEST(FileCheck, FileReplacedByDirectoryIsWrongType) {
    Env env(CondaWriter::micromamba);
    fs::remove(env / "lib/libpython3.11.so.1.0");
    fs::create_directories(env / "lib/libpython3.11.so.1.0");
    const std::vector<std::string> expected{
        "wrong_type | python | lib/libpython3.11.so.1.0 | file | directory | "};
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), expected);
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), expected);
}

TEST(FileCheck, SymlinkReplacedByFileIsWrongType) {
    Env env(CondaWriter::conda);
    // Copying the target over the link keeps the content: only the type tells.
    const std::string content = util::read_file(env / "bin/python3.11");
    fs::remove(env / "bin/python3");
    test::write_file(env / "bin/python3", content);
    const std::vector<std::string> expected{
        "wrong_type | python | bin/python3 | symlink | file | "};
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), expected);
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), expected);
}

TEST(FileCheck, RegularFileReplacedBySymlinkIsWrongType) {
    Env env(CondaWriter::conda);
    fs::remove(env / "lib/python3.11/os.py");
    fs::create_symlink("../../include/zlib.h", env / "lib/python3.11/os.py");
    EXPECT_EQ(
        describe(check(env.prefix(), FileCheck::full)),
        std::vector<std::string>{"wrong_type | python | lib/python3.11/os.py | file | symlink | "});
}

TEST(FileCheck, DanglingSymlinkIsAMissingTarget) {
    for (const auto writer : {CondaWriter::conda, CondaWriter::micromamba, CondaWriter::rattler}) {
        Env env(writer);
        fs::remove(env / "lib/libz.so.1");
        fs::create_symlink("libz.so.0.9", env / "lib/libz.so.1");
        const std::vector<std::string> expected{
            "missing_file | zlib | lib/libz.so.1 | symlink target | dangling symlink | the "
            "symlink's target is missing"};
        EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), expected);
        EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), expected);
    }
}

TEST(FileCheck, SymlinkRecordedDanglingByMicromambaIsFine) {
    Env env(CondaWriter::micromamba);
    test::CondaPackageSpec spec;
    spec.name = "dangle";
    spec.version = "1.0";
    spec.symlinks = {{"lib/libdangle.so", "libdangle.so.1"}};  // its target is in no package
    const auto record = env.builder().add_package(spec);
    EXPECT_NE(util::read_file(record).find(sha("")), std::string::npos);
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), std::vector<std::string>{});
}

TEST(FileCheck, RemovedSymlinkIsMissing) {
    Env env(CondaWriter::rattler);
    fs::remove(env / "bin/python");
    EXPECT_EQ(
        describe(check(env.prefix(), FileCheck::quick)),
        std::vector<std::string>{"missing_file | python | bin/python | symlink | missing | "});
}

TEST(FileCheck, RecordWhoseFilesAreAllGoneIsOneFinding) {
    Env env(CondaWriter::conda);
    for (const char* file : {"include/zlib.h", "lib/libz.so.1.3.1", "lib/pkgconfig/zlib.pc",
                             "lib/libz.so", "lib/libz.so.1"}) {
        fs::remove(env / file);
    }
    const std::vector<std::string> expected{
        "record_files_gone | zlib | conda-meta/zlib-1.3.1-h0000000_0.json | 5 files | none | "
        "every file of the record is gone"};
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), expected);
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), expected);
}

TEST(FileCheck, PycFilesDoNotCountForGoneRecords) {
    Env env(CondaWriter::conda);
    // Only the .pyc is left: the package is still gone.
    for (const std::string& file :
         {k_sp + "/tqdm/__init__.py", k_sp + "/tqdm/std.py",
          k_sp + "/tqdm-4.66.1.dist-info/INSTALLER", k_sp + "/tqdm-4.66.1.dist-info/METADATA",
          std::string("bin/tqdm")}) {
        fs::remove(env / file);
    }
    ASSERT_TRUE(fs::exists(env / (k_sp + "/tqdm/__pycache__/std.cpython-311.pyc")));
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)),
              std::vector<std::string>{
                  "record_files_gone | tqdm | conda-meta/tqdm-4.66.1-h0000000_0.json | 5 files | "
                  "none | every file of the record is gone"});
}

TEST(FileCheck, MissingPycIsNotReported) {
    Env env(CondaWriter::conda);
    fs::remove(env / (k_sp + "/tqdm/__pycache__/std.cpython-311.pyc"));
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), std::vector<std::string>{});
}

TEST(FileCheck, EntryPointsAreCheckedForExistenceOnly) {
    Env env(CondaWriter::conda);
    replace_file(env / "bin/tqdm", "#!/other/python\nimport tqdm\n");
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), std::vector<std::string>{});
    fs::remove(env / "bin/tqdm");
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)),
              std::vector<std::string>{"missing_file | tqdm | bin/tqdm | file | missing | "});
}

TEST(FileCheck, DirectoryEntryMustBeADirectory) {
    Env env(CondaWriter::conda);
    fs::remove(env / "share/demo/cache");
    test::write_file(env / "share/demo/cache", "");
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)),
              std::vector<std::string>{
                  "wrong_type | demo-data | share/demo/cache | directory | file | "});
}

TEST(FileCheck, PatchedFilesAreComparedWithTheirInstalledHash) {
    for (const auto writer : {CondaWriter::conda, CondaWriter::micromamba, CondaWriter::rattler}) {
        Env env(writer);
        const fs::path pc = env / "lib/pkgconfig/zlib.pc";
        const std::string before = util::read_file(pc);
        replace_file(pc, "prefix=/elsewhere\n");
        // The recorded size is the size before replacement, so only the hash can tell.
        EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), std::vector<std::string>{});
        EXPECT_EQ(
            describe(check(env.prefix(), FileCheck::full)),
            std::vector<std::string>{"modified_file | zlib | lib/pkgconfig/zlib.pc | " +
                                     sha(before) + " | " + sha("prefix=/elsewhere\n") + " | "});
    }
}

TEST(FileCheck, RecordWithoutPathsDataChecksExistenceOnly) {
    Env env(CondaWriter::conda);
    test::CondaPackageSpec old;
    old.name = "oldpkg";
    old.version = "0.1";
    old.files = {"lib/libold.so", "lib/libold.a"};
    old.extra = {{"paths_data", nullptr}};
    env.builder().add_package(old);
    replace_file(env / "lib/libold.so", "changed, and longer than before\n");
    fs::remove(env / "lib/libold.a");
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)),
              std::vector<std::string>{"missing_file | oldpkg | lib/libold.a | file | missing | "});
}

TEST(FileCheck, UnreadableRecordIsAFinding) {
    Env env(CondaWriter::conda);
    test::CondaPackageSpec bad;
    bad.name = "bad";
    bad.version = "1.0";
    bad.files = {"lib/libbad.so"};
    bad.extra = {{"paths_data", {{"paths", "oops"}}}};
    env.builder().add_package(bad);
    const auto findings = check(env.prefix(), FileCheck::quick);
    ASSERT_EQ(findings.size(), 1U);
    EXPECT_EQ(findings[0].kind, FindingKind::unreadable_file);
    EXPECT_EQ(findings[0].package, "bad");
    EXPECT_EQ(findings[0].path, "conda-meta/bad-1.0-h0000000_0.json");
    EXPECT_NE(findings[0].detail.find("paths_data.paths must be an array, found a string"),
              std::string::npos)
        << findings[0].detail;
}

TEST(FileCheck, ExternalDistributionRecordMismatches) {
    Env env(CondaWriter::conda);
    const fs::path core = env.site_packages() / "extra_tool/core.py";
    const std::string before = util::read_file(core);
    std::string after = before;
    after[0] = '!';
    replace_file(core, after);
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)), std::vector<std::string>{});
    const std::string hash = test::record_hash(before);
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)),
              std::vector<std::string>{"modified_file | extra-tool (pypi) | " + k_sp +
                                       "/extra_tool/core.py | " + hash + " | " +
                                       test::record_hash(after) + " | "});
    // The console script is listed as ../../../bin/extra-tool and checked where it lands.
    replace_file(env / "bin/extra-tool", "#!/bin/sh\n");
    fs::remove(env.site_packages() / "extra_tool/__init__.py");
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)),
              (std::vector<std::string>{
                  "size_mismatch | extra-tool (pypi) | bin/extra-tool | " +
                      std::to_string(std::string("#!/usr/bin/python3\n# console script "
                                                 "extra-tool\n")
                                         .size()) +
                      " | 10 | ",
                  "missing_file | extra-tool (pypi) | " + k_sp +
                      "/extra_tool/__init__.py | file | missing | "}));
}

TEST(FileCheck, ExternalDistributionWithoutRecord) {
    Env env(CondaWriter::conda);
    fs::remove(env.site_packages() / "extra_tool-1.0.dist-info/RECORD");
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)),
              std::vector<std::string>{
                  "missing_file | extra-tool (pypi) | " + k_sp +
                  "/extra_tool-1.0.dist-info/RECORD | file | missing | the distribution's RECORD "
                  "cannot be read, so its files cannot be checked"});
}

TEST(FileCheck, HexDigestsInRecordAreAccepted) {
    // Some Debian builds write RECORD hashes in hex (python3-blinker 1.5 in bookworm).
    Env env(CondaWriter::conda);
    const fs::path record = env.site_packages() / "extra_tool-1.0.dist-info/RECORD";
    const std::string content = util::read_file(env.site_packages() / "extra_tool/core.py");
    test::write_file(record, "extra_tool/core.py,sha256=" + sha(content) + "," +
                                 std::to_string(content.size()) + "\n");
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)), std::vector<std::string>{});
    test::write_file(record, "extra_tool/core.py,sha256=" + sha("other") + ",\n");
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)),
              std::vector<std::string>{"modified_file | extra-tool (pypi) | " + k_sp +
                                       "/extra_tool/core.py | sha256=" + sha("other") +
                                       " | sha256=" + sha(content) + " | "});
}

TEST(FileCheck, PipOverwritingACondaFileIsAttributed) {
    Env env(CondaWriter::conda);
    test::CondaPackageSpec numpy;
    numpy.name = "numpy";
    numpy.version = "1.26.4";
    numpy.build = "py311h64a7726_0";
    numpy.files = {k_sp + "/numpy/__init__.py", k_sp + "/numpy/version.py"};
    env.builder().add_package(numpy);
    const std::string conda_init = util::read_file(env.site_packages() / "numpy/__init__.py");
    // pip install numpy==2.0.0 over it rewrites the shared files.
    test::PythonDistSpec pip_numpy;
    pip_numpy.name = "numpy";
    pip_numpy.version = "2.0.0";
    pip_numpy.files = {"numpy/__init__.py"};
    test::write_dist_info(env.site_packages(), pip_numpy);
    const std::string pip_init = util::read_file(env.site_packages() / "numpy/__init__.py");
    ASSERT_NE(pip_init.size(), conda_init.size());

    const std::string path = k_sp + "/numpy/__init__.py";
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::full)),
              std::vector<std::string>{
                  "size_mismatch | numpy | " + path + " | " + std::to_string(conda_init.size()) +
                  " | " + std::to_string(pip_init.size()) + " | overwritten by pip numpy 2.0.0"});
    EXPECT_EQ(describe(check(env.prefix(), FileCheck::quick)),
              std::vector<std::string>{
                  "size_mismatch | numpy | " + path + " | " + std::to_string(conda_init.size()) +
                  " | " + std::to_string(pip_init.size()) +
                  " | probably overwritten by pip numpy 2.0.0 (its RECORD lists this size)"});

    // Same size, other content: only full mode sees it, and names pip.
    std::string same_size = conda_init;
    same_size[0] = '#';
    same_size[1] = '!';
    fs::remove(env.site_packages() / "numpy-2.0.0.dist-info/RECORD");
    replace_file(env.site_packages() / "numpy/__init__.py", same_size);
    test::write_file(env.site_packages() / "numpy-2.0.0.dist-info/RECORD",
                     "numpy/__init__.py," + test::record_hash(same_size) + "," +
                         std::to_string(same_size.size()) + "\n");
    EXPECT_EQ(
        describe(check(env.prefix(), FileCheck::full)),
        std::vector<std::string>{"modified_file | numpy | " + path + " | " + sha(conda_init) +
                                 " | " + sha(same_size) + " | overwritten by pip numpy 2.0.0"});
}

TEST(FileCheck, ModifiedSharedFileNotFromPipIsNotAttributed) {
    Env env(CondaWriter::conda);
    test::CondaPackageSpec numpy;
    numpy.name = "numpy";
    numpy.version = "1.26.4";
    numpy.files = {k_sp + "/numpy/__init__.py"};
    env.builder().add_package(numpy);
    test::PythonDistSpec pip_numpy;
    pip_numpy.name = "numpy";
    pip_numpy.version = "2.0.0";
    pip_numpy.files = {"numpy/__init__.py"};
    test::write_dist_info(env.site_packages(), pip_numpy);
    replace_file(env.site_packages() / "numpy/__init__.py", "edited by hand\n");
    const auto findings = check(env.prefix(), FileCheck::full);
    ASSERT_EQ(findings.size(), 2U) << testing::PrintToString(describe(findings));
    EXPECT_EQ(findings[0].package, "numpy");
    EXPECT_EQ(findings[0].detail, "");
    EXPECT_EQ(findings[1].package, "numpy (pypi)");
}

TEST(FileCheck, FindingsAreSortedWhateverTheThreads) {
    Env env(CondaWriter::micromamba);
    fs::remove(env / "lib/python3.11/os.py");
    replace_file(env / "include/zlib.h", "x");
    replace_file(env / (k_sp + "/tqdm/__init__.py"), "y");
    fs::remove(env / "bin/python");
    replace_file(env.site_packages() / "extra_tool/core.py", "z");
    const auto one = describe(check(env.prefix(), FileCheck::full, 1));
    ASSERT_EQ(one.size(), 5U);
    for (const unsigned jobs : {2U, 8U, 0U})
        EXPECT_EQ(describe(check(env.prefix(), FileCheck::full, jobs)), one) << jobs;
    EXPECT_EQ(one[0].substr(0, one[0].find(" | ", 20)), "size_mismatch | extra-tool (pypi)");
    EXPECT_NE(one[1].find("| python | bin/python |"), std::string::npos);
    EXPECT_NE(one[2].find("| python | lib/python3.11/os.py |"), std::string::npos);
    EXPECT_NE(one[3].find("| tqdm |"), std::string::npos);
    EXPECT_NE(one[4].find("| zlib |"), std::string::npos);
}

// Records what it is told, from any thread.
class RecordingProgress final : public util::Progress {
  public:
    void start(std::string_view what, std::uint64_t total) override {
        const std::lock_guard lock(m_mutex);
        phases.emplace_back(what);
        totals.push_back(total);
    }
    void advance(std::uint64_t units) override { done += units; }
    void finish() override { ++finished; }

    std::vector<std::string> phases;
    std::vector<std::uint64_t> totals;
    std::atomic<std::uint64_t> done{0};
    std::atomic<int> finished{0};

  private:
    std::mutex m_mutex;
};

TEST(FileCheck, ProgressCountsFilesInQuickAndBytesInFull) {
    Env env(CondaWriter::conda);
    const auto inventory = env::read_inventory(env::open_prefix(env.prefix()));
    RecordingProgress quick;
    (void)check_files(inventory, {FileCheck::quick, 2}, quick);
    ASSERT_EQ(quick.phases, std::vector<std::string>{"checking"});
    EXPECT_GT(quick.totals[0], 10U);
    EXPECT_EQ(quick.done, quick.totals[0]);
    EXPECT_EQ(quick.finished, 1);

    RecordingProgress full;
    (void)check_files(inventory, {FileCheck::full, 2}, full);
    ASSERT_EQ(full.phases, std::vector<std::string>{"hashing"});
    std::uint64_t bytes = 0;
    for (const char* file : {"bin/python3.11", "lib/libpython3.11.so.1.0", "lib/libz.so.1.3.1"})
        bytes += fs::file_size(env / file);
    EXPECT_GT(full.totals[0], bytes);
    EXPECT_EQ(full.done, full.totals[0]);
    EXPECT_EQ(full.finished, 1);

    RecordingProgress none;
    EXPECT_TRUE(check_files(inventory, {FileCheck::none, 2}, none).empty());
    EXPECT_TRUE(none.phases.empty());
}

// The real conda 25.1 environment holds only its records and two dist-infos: pip's METADATA
// and RECORD (owned by the noarch pip record, recorded as site-packages/...) and imagesize's
// (pip-installed). Read in place.
TEST(FileCheck, RealCondaEnvironmentReportsWhatIsAbsent) {
    const fs::path prefix = k_real / "conda-tests/envpy313tosx_whl";
    const auto findings = check(prefix, FileCheck::full);
    std::size_t gone = 0;
    std::size_t pip_missing = 0;
    std::size_t imagesize_missing = 0;
    for (const auto& f : findings) {
        SCOPED_TRACE(describe(f));
        if (f.kind == FindingKind::record_files_gone) {
            EXPECT_TRUE(f.path.starts_with("conda-meta/"));
            ++gone;
        } else if (f.package == "pip") {
            // Everything but METADATA and RECORD, which match their recorded hashes once
            // site-packages/ is mapped to lib/python3.13t/site-packages.
            EXPECT_EQ(f.kind, FindingKind::missing_file);
            EXPECT_TRUE(f.path.starts_with("lib/python3.13t/site-packages/") ||
                        f.path == "bin/pip" || f.path == "bin/pip3");
            ++pip_missing;
        } else {
            EXPECT_EQ(f.package, "imagesize (pypi)");
            EXPECT_EQ(f.kind, FindingKind::missing_file);
            ++imagesize_missing;
        }
    }
    // 16 records, of which python_abi lists no file and pip still has two.
    EXPECT_EQ(gone, 14U);
    EXPECT_EQ(pip_missing, 441U - 2U + 2U);
    // 13 RECORD rows: 3 .pyc skipped, METADATA (hash matches) and RECORD present.
    EXPECT_EQ(imagesize_missing, 8U);
}

// ---------------------------------------------------------------------------------------------
// The machine's own Pythons: everything their RECORDs list must be intact, except what is
// explained below.

// Returns why a finding on a real Python installation is expected, or "" when it is not.
std::string explain(const Finding& f) {
    const bool content =
        f.kind == FindingKind::size_mismatch || f.kind == FindingKind::modified_file;
    // The sandbox these tests run in appends its egress proxy's CA certificate to every CA
    // bundle it finds (see _sandboxing_egress_ca.pth); certifi/pip/botocore's cacert.pem then
    // no longer match their RECORD.
    if (content && f.path.ends_with("/cacert.pem"))
        return "CA bundle extended by the machine";
    return {};
}

void expect_only_explained(const fs::path& prefix) {
    const auto inventory = env::read_inventory(env::open_prefix(prefix));
    util::NullProgress progress;
    const auto findings = check_files(inventory, {FileCheck::full, 0}, progress);
    for (const auto& f : findings)
        EXPECT_NE(explain(f), "") << "unexplained: " << describe(f);
}

// Debian post-processes a wheel's files after its RECORD was written (dh_strip shrinks .so
// files, dh_python3 moves scripts-3.x/ to /usr/bin), so check_files leaves Debian's
// distributions to `dpkg --verify`: none of their files may be reported.
TEST(FileCheck, DebianPythonIsLeftToDpkgAndTheRestIsIntact) {
    if (!util::is_regular_file("/usr/bin/python3") ||
        !util::is_directory("/usr/lib/python3/dist-packages")) {
        GTEST_SKIP() << "no Debian python3 on this machine";
    }
    const auto inventory = env::read_inventory(env::open_prefix("/usr"));
    std::set<std::string> debian;
    for (const auto& p : inventory.packages) {
        if (p.kind == env::PackageKind::pypi && p.installer == "debian")
            debian.insert(p.name + " (pypi)");
    }
    util::NullProgress progress;
    const auto findings = check_files(inventory, {FileCheck::full, 0}, progress);
    for (const auto& f : findings) {
        EXPECT_EQ(debian.count(f.package), 0U) << "from a Debian package: " << describe(f);
        EXPECT_NE(explain(f), "") << "unexplained: " << describe(f);
    }
}

TEST(FileCheck, PythonOnPathIsIntact) {
    const std::string python =
        util::find_on_path("python3", std::getenv("PATH") != nullptr ? std::getenv("PATH") : "");
    if (python.empty())
        GTEST_SKIP() << "no python3 on PATH";
    const auto info = util::run_capture({python, "-c", "import sys; print(sys.prefix)"},
                                        std::chrono::seconds(30));
    ASSERT_TRUE(info && info->exit_status == 0);
    std::istringstream lines(info->out);
    std::string prefix;
    std::getline(lines, prefix);
    if (prefix == "/usr")
        GTEST_SKIP() << "python3 on PATH is Debian's, checked above";
    expect_only_explained(prefix);
}

}  // namespace
}  // namespace gpuenv::core::verify
