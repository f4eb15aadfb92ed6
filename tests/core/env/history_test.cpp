#include <gtest/gtest.h>

#include <random>

#include <gpuenv/core/env/history.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

using Specs = std::vector<std::string>;

const fs::path k_real = GPUENV_REAL_FIXTURES "/conda-tests";

History parse(std::string_view text) {
    return parse_history(text, "conda-meta/history");
}

// Returns the update specs of a history's only block.
Specs update_specs_of(std::string_view spec_line) {
    const auto history = parse("==> 2024-01-01 00:00:00 <==\n# cmd: conda install x\n" +
                               std::string(spec_line) + "\n");
    EXPECT_TRUE(history.warnings.empty()) << history.warnings.front().to_string();
    return history.revisions.empty() ? Specs{} : history.revisions.front().update_specs;
}

}  // namespace

TEST(History, ParsesACondaBlock) {
    const auto history = parse(
        "==> 2025-03-14 13:51:04 <==\n"
        "# cmd: /opt/conda/bin/conda create -n demo python=3.13 pip\n"
        "# conda version: 25.1.2\n"
        "-conda-forge/linux-64::openssl-3.4.0-h0_0\n"
        "+conda-forge/noarch::pip-25.0.1-pyh145f28c_0\n"
        "+conda-forge/linux-64::python-3.13.2-h0_0\n"
        "# update specs: ['python=3.13', 'pip']\n");
    ASSERT_EQ(history.revisions.size(), 1U);
    const auto& r = history.revisions[0];
    EXPECT_EQ(r.date, "2025-03-14 13:51:04");
    EXPECT_EQ(r.line, 1);
    EXPECT_EQ(r.command, "/opt/conda/bin/conda create -n demo python=3.13 pip");
    EXPECT_EQ(r.tool, "conda 25.1.2");
    EXPECT_EQ(r.linked, (Specs{"conda-forge/noarch::pip-25.0.1-pyh145f28c_0",
                               "conda-forge/linux-64::python-3.13.2-h0_0"}));
    EXPECT_EQ(r.unlinked, Specs{"conda-forge/linux-64::openssl-3.4.0-h0_0"});
    EXPECT_EQ(r.update_specs, (Specs{"python=3.13", "pip"}));
    EXPECT_TRUE(r.remove_specs.empty());
    EXPECT_TRUE(history.warnings.empty());
}

TEST(History, MapsEachActionToItsList) {
    const auto history = parse(
        "==> 1 <==\n# cmd: c\n# install specs: ['a']\n"
        "==> 2 <==\n# cmd: c\n# create specs: ['b']\n"
        "==> 3 <==\n# cmd: c\n# uninstall specs: ['c']\n# neutered specs: ['d<2']\n"
        "==> 4 <==\n# cmd: c\n# remove specs: ['e']\n# frobnicate specs: ['f']\n");
    ASSERT_EQ(history.revisions.size(), 4U);
    EXPECT_EQ(history.revisions[0].update_specs, Specs{"a"});
    EXPECT_EQ(history.revisions[1].update_specs, Specs{"b"});
    EXPECT_EQ(history.revisions[2].remove_specs, Specs{"c"});
    EXPECT_EQ(history.revisions[2].neutered_specs, Specs{"d<2"});
    EXPECT_EQ(history.revisions[3].remove_specs, Specs{"e"});
    EXPECT_TRUE(history.revisions[3].update_specs.empty());
}

TEST(History, ReadsMicromambaDoubleQuotedLists) {
    // micromamba writes std::quoted strings: only \" and \\ are escaped.
    EXPECT_EQ(
        update_specs_of(R"(# update specs: ["numpy>=1.26", "a \"quoted\" b", "back\\slash"])"),
        (Specs{"numpy>=1.26", "a \"quoted\" b", "back\\slash"}));
    // A trailing comma is valid in a Python list too.
    EXPECT_EQ(update_specs_of(R"(# update specs: ["numpy", ])"), Specs{"numpy"});
}

TEST(History, ReadsPythonStringLiterals) {
    // repr() picks double quotes for a string holding a single quote.
    EXPECT_EQ(update_specs_of(R"(# update specs: ["it's", 'say "hi"', 'esc\'aped'])"),
              (Specs{"it's", "say \"hi\"", "esc'aped"}));
    // Python 2 conda wrote u'' strings; r'' keeps backslashes; adjacent literals concatenate.
    EXPECT_EQ(update_specs_of(R"(# update specs: [u'numpy', r'raw\q', 'a' "b", U'c'])"),
              (Specs{"numpy", "raw\\q", "ab", "c"}));
    EXPECT_EQ(update_specs_of(R"(# update specs: ['\x41\101\u00e9\U0001F600\q'])"),
              (Specs{"AA\xC3\xA9\xF0\x9F\x98\x80\\q"}));
    EXPECT_EQ(update_specs_of("# update specs: []"), Specs{});
    EXPECT_EQ(update_specs_of("# update specs: ['x']  # a comment"), Specs{"x"});
}

TEST(History, ReadsTheOldCommaSeparatedForm) {
    // conda < 4.5: a piece that starts with a version relation belongs to the spec before it.
    EXPECT_EQ(update_specs_of(
                  "# install specs: python>=3.5.1,jupyter >=1.0.0,<2.0,matplotlib >=1.5.1,<2.0"),
              (Specs{"python>=3.5.1", "jupyter >=1.0.0,<2.0", "matplotlib >=1.5.1,<2.0"}));
    EXPECT_EQ(update_specs_of("# install specs: <2,numpy"), (Specs{"<2", "numpy"}));
    // Empty pieces and features (`name@`) are dropped, as conda drops them.
    EXPECT_EQ(update_specs_of("# install specs: numpy,,mkl@"), Specs{"numpy"});
}

TEST(History, UnparseableListIsAWarningWithFileAndLine) {
    const auto history = parse(
        "==> 2024-01-01 00:00:00 <==\n"
        "# cmd: conda install x\n"
        "  # update specs: ['numpy', 3]\n"
        "# remove specs: ['unterminated\n"
        "# update specs: numpy[build=py_0],scipy\n"
        "# neutered specs: [b'bytes']\n"
        "# update specs: ['\\N{BULLET}']\n"
        "# update specs: ['\\x4']\n");
    ASSERT_EQ(history.warnings.size(), 6U);
    const auto& first = history.warnings[0];
    EXPECT_EQ(first.path, "conda-meta/history");
    EXPECT_EQ(first.line, 3);
    EXPECT_EQ(first.column, 29);  // the 3
    EXPECT_NE(first.message.find("update spec list"), std::string::npos) << first.message;
    EXPECT_EQ(history.warnings[1].line, 4);
    EXPECT_NE(history.warnings[1].message.find("unterminated"), std::string::npos);
    EXPECT_EQ(history.warnings[2].line, 5);
    EXPECT_EQ(history.warnings[3].line, 6);
    EXPECT_EQ(history.warnings[4].line, 7);
    EXPECT_EQ(history.warnings[5].line, 8);
    ASSERT_EQ(history.revisions.size(), 1U);
    EXPECT_TRUE(history.revisions[0].update_specs.empty());
    EXPECT_TRUE(history.revisions[0].remove_specs.empty());
}

TEST(History, IgnoresWhatComesBeforeTheFirstHeader) {
    const auto history = parse(
        "+defaults::stray-1.0-0\n# update specs: ['stray']\n\n"
        "==> 2024-01-01 00:00:00 <==\n# cmd: conda install numpy\n# update specs: ['numpy']\n");
    ASSERT_EQ(history.revisions.size(), 1U);
    EXPECT_EQ(history.revisions[0].line, 4);
    EXPECT_TRUE(history.revisions[0].linked.empty());
    EXPECT_EQ(history.revisions[0].update_specs, Specs{"numpy"});
}

TEST(History, HeadersFollowCondasPattern) {
    const auto history = parse(
        "  ==>   2024-01-01 00:00:00   <==  \n"
        "==>a<== trailing text\n"
        "==><==\n"
        "==> x <== y <==\n");
    ASSERT_EQ(history.revisions.size(), 3U);
    EXPECT_EQ(history.revisions[0].date, "2024-01-01 00:00:00");
    EXPECT_EQ(history.revisions[1].date, "a");
    EXPECT_EQ(history.revisions[2].date, "x");
}

TEST(History, SpecPatternBacktracksAsCondasRegexDoes) {
    // `#\s*(\w+)\s*specs:` matches "updatespecs:" with the word "update".
    EXPECT_EQ(update_specs_of("#updatespecs: ['numpy']"), Specs{"numpy"});
    EXPECT_EQ(update_specs_of("#   update    specs:['scipy']"), Specs{"scipy"});
}

TEST(History, LaterSpecLineOfTheSameKindReplacesTheEarlier) {
    EXPECT_EQ(update_specs_of("# install specs: ['a']\n# update specs: ['b']"), Specs{"b"});
}

TEST(History, ReadsCrLfAndCrLineEnds) {
    const auto history =
        parse("==> d <==\r\n# cmd: c\r\n# update specs: ['a']\r==> e <==\r# cmd: c\r\n");
    ASSERT_EQ(history.revisions.size(), 2U);
    EXPECT_EQ(history.revisions[0].update_specs, Specs{"a"});
    EXPECT_EQ(history.revisions[1].line, 4);
}

TEST(History, ToolLineNamesTheWriter) {
    const auto history = parse(
        "==> d <==\n# cmd: mamba install x\n# conda version: 23.1.0\n# mamba version: 1.4.2\n"
        "==> e <==\n# cmd: micromamba install x\n# conda version: 3.8.0\n");
    ASSERT_EQ(history.revisions.size(), 2U);
    EXPECT_EQ(history.revisions[0].tool, "mamba 1.4.2");
    EXPECT_EQ(history.revisions[1].tool, "conda 3.8.0");
}

TEST(History, WarningsAreCapped) {
    std::string text = "==> d <==\n# cmd: c\n";
    for (int i = 0; i < 1000; ++i)
        text += "# update specs: [x]\n";
    const auto history = parse(text);
    ASSERT_EQ(history.warnings.size(), 101U);
    EXPECT_NE(history.warnings.back().message.find("900 more"), std::string::npos);
}

TEST(History, HostileInputStaysLinear) {
    // Long lists, deep brackets and long unterminated strings are read in one pass each.
    std::string list = "# update specs: [";
    for (int i = 0; i < 200000; ++i)
        list += "'p" + std::to_string(i) + "', ";
    list += "]";
    EXPECT_EQ(update_specs_of(list).size(), 200000U);

    std::string text = "==> d <==\n# cmd: c\n# update specs: " + std::string(500000, '[') + "\n" +
                       "# remove specs: ['" + std::string(500000, '\\') + "\n" +
                       "# install specs: " + std::string(500000, ',') + "\n";
    const auto history = parse(text);
    EXPECT_EQ(history.warnings.size(), 2U);
    EXPECT_TRUE(requested_specs_map(history).empty());
}

TEST(History, GarbageNeverThrows) {
    std::mt19937 rng(42);
    const std::string alphabet = "==><# :[]'\"\\,+-\nabcupdatespecs\r\x01\xff";
    for (int round = 0; round < 200; ++round) {
        std::string text = "==> d <==\n# cmd: c\n";
        const auto length = rng() % 400;
        for (unsigned i = 0; i < length; ++i)
            text += alphabet[rng() % alphabet.size()];
        const auto history = parse(text);
        (void)requested_specs_map(history);
    }
}

TEST(RequestedSpecs, ReplaysUpdatesRemovesAndNeuteredSpecs) {
    const auto history = parse(
        "==> 1 <==\n# cmd: conda create\n# update specs: ['python=3.11', 'numpy', 'scipy>=1']\n"
        "==> 2 <==\n# cmd: conda remove scipy\n# remove specs: ['scipy']\n"
        "==> 3 <==\n# cmd: conda install\n# update specs: ['conda-forge::numpy>=1.26']\n"
        "==> 4 <==\n# cmd: conda update python\n"
        "# update specs: ['python']\n# neutered specs: ['python=3.12']\n");
    const auto specs = requested_specs_map(history);
    const std::map<std::string, std::string> expected{{"numpy", "conda-forge::numpy>=1.26"},
                                                      {"python", "python=3.12"}};
    EXPECT_EQ(specs, expected);
}

TEST(RequestedSpecs, SkipsBlocksWithoutACommand) {
    // conda's get_user_requests keeps only blocks with a `# cmd:` line.
    const auto history = parse("==> 1 <==\n# update specs: ['numpy']\n");
    EXPECT_TRUE(requested_specs_map(history).empty());
}

TEST(RequestedSpecs, SpecThatDoesNotParseKeepsItsLeadingName) {
    const auto history = parse(
        "==> 1 <==\n# cmd: c\n# update specs: ['Numpy >=1.21,<<2', 'scipy', 'pandas']\n"
        "==> 2 <==\n# cmd: c\n# remove specs: ['scipy<<<', '']\n");
    const auto specs = requested_specs_map(history);
    const std::map<std::string, std::string> expected{{"numpy", "Numpy >=1.21,<<2"},
                                                      {"pandas", "pandas"}};
    EXPECT_EQ(specs, expected);
}

TEST(History, ReadsTheRealCondaHistory) {
    const auto history = read_history(k_real / "envpy313tosx_whl");
    EXPECT_TRUE(history.warnings.empty());
    ASSERT_EQ(history.revisions.size(), 1U);
    const auto& r = history.revisions[0];
    EXPECT_EQ(r.date, "2025-03-14 13:51:04");
    EXPECT_EQ(r.tool, "conda 25.1.2");
    EXPECT_EQ(r.command.rfind("/Users/jhelmus/", 0), 0U);
    EXPECT_EQ(r.linked.size(), 16U);
    EXPECT_EQ(r.linked.front(), "conda-forge/noarch::pip-25.0.1-pyh145f28c_0");
    EXPECT_EQ(r.update_specs, (Specs{"python_abi[build=*_cp313t]", "python=3.13", "pip"}));
    const std::map<std::string, std::string> expected{
        {"pip", "pip"}, {"python", "python=3.13"}, {"python_abi", "python_abi[build=*_cp313t]"}};
    EXPECT_EQ(requested_specs_map(history), expected);
}

TEST(History, ReadsEveryRealHistory) {
    int count = 0;
    for (const auto& entry : fs::recursive_directory_iterator(k_real)) {
        if (entry.path().filename() != "history")
            continue;
        ++count;
        const auto history = read_history(entry.path().parent_path().parent_path());
        EXPECT_TRUE(history.warnings.empty()) << entry.path();
        ASSERT_FALSE(history.revisions.empty()) << entry.path();
        EXPECT_FALSE(history.revisions[0].command.empty()) << entry.path();
        EXPECT_FALSE(history.revisions[0].update_specs.empty()) << entry.path();
        EXPECT_FALSE(requested_specs_map(history).empty()) << entry.path();
    }
    EXPECT_GE(count, 3);
    const auto old = read_history(k_real / "py36-osx-whl");
    const std::map<std::string, std::string> expected{{"h5py", "h5py"},
                                                      {"lxml", "lxml"},
                                                      {"nomkl", "nomkl"},
                                                      {"numpy", "numpy"},
                                                      {"python", "python=3.6"}};
    EXPECT_EQ(requested_specs_map(old), expected);
}

TEST(History, MissingFileIsAnEmptyHistory) {
    TempDir dir;
    fs::create_directories(dir / "conda-meta");
    const auto history = read_history(dir.path());
    EXPECT_TRUE(history.revisions.empty());
    EXPECT_TRUE(history.warnings.empty());
}

TEST(History, ReadsTheFileOfAPrefix) {
    TempDir dir;
    write_file(dir / "conda-meta/history",
               "==> 2024-01-01 00:00:00 <==\n# cmd: conda install x\n# update specs: ['x']\n"
               "# remove specs: [oops\n");
    const auto history = read_history(dir.path());
    ASSERT_EQ(history.revisions.size(), 1U);
    ASSERT_EQ(history.warnings.size(), 1U);
    EXPECT_EQ(history.warnings[0].path, (dir / "conda-meta/history").string());
    EXPECT_EQ(history.warnings[0].line, 4);
}

}  // namespace gpuenv::core::env
