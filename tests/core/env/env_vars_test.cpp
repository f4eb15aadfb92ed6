#include <gtest/gtest.h>

#include <gpuenv/core/env/env_vars.hpp>
#include <gpuenv/util/error.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

using Pairs = std::vector<std::pair<std::string, std::string>>;
using Vars = std::map<std::string, std::string>;

// Returns the message parse_env_vars_json throws for a text, or "" when it parses.
std::string parse_error(std::string_view text, bool state_file) {
    try {
        (void)parse_env_vars_json(text, "state", state_file);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        return e.what();
    }
    return "";
}

}  // namespace

TEST(EnvVars, ReadsCondasCompactState) {
    TempDir dir;
    // conda writes json.dumps(state, ensure_ascii=False).
    write_file(dir / "conda-meta/state",
               R"({"env_vars": {"MY_VAR": "value", "CUDA_HOME": "/usr/local/cuda", "T": "é"}})");
    const auto vars = read_env_vars(dir.path());
    EXPECT_EQ(vars.vars, (Vars{{"CUDA_HOME", "/usr/local/cuda"}, {"MY_VAR", "value"}, {"T", "é"}}));
    EXPECT_EQ(vars.state_vars,
              (Pairs{{"MY_VAR", "value"}, {"CUDA_HOME", "/usr/local/cuda"}, {"T", "é"}}));
    EXPECT_TRUE(vars.warnings.empty());
}

TEST(EnvVars, ReadsMicromambasIndentedStateWithOtherKeys) {
    TempDir dir;
    write_file(dir / "conda-meta/state",
               "{\n"
               "    \"env_vars\": {\n"
               "        \"ZED\": \"1\",\n"
               "        \"ALPHA\": \"2\"\n"
               "    },\n"
               "    \"version\": 1,\n"
               "    \"extra\": {\"env_vars\": {\"IGNORED\": \"x\"}, \"list\": [1, \"a\"]}\n"
               "}\n");
    const auto vars = read_env_vars(dir.path());
    EXPECT_EQ(vars.vars, (Vars{{"ALPHA", "2"}, {"ZED", "1"}}));
    // File order, not sorted: bind rewrites the file keeping it.
    EXPECT_EQ(vars.state_vars, (Pairs{{"ZED", "1"}, {"ALPHA", "2"}}));
    EXPECT_TRUE(vars.warnings.empty());
}

TEST(EnvVars, StateWithoutEnvVarsHasNone) {
    EXPECT_TRUE(parse_env_vars_json(R"({"version": 1})", "state", true).empty());
    EXPECT_TRUE(parse_env_vars_json("{}", "state", true).empty());
}

TEST(EnvVars, PackageFilesApplyInSortedOrderAndStateWins) {
    TempDir dir;
    write_file(dir / "etc/conda/env_vars.d/b.json", R"({"SHARED": "b", "FROM_B": "b"})");
    write_file(dir / "etc/conda/env_vars.d/a.json", R"({"SHARED": "a", "FROM_A": "a", "S": "a"})");
    write_file(dir / "etc/conda/env_vars.d/c.txt", R"({"SHARED": "not json, not read"})");
    write_file(dir / "conda-meta/state", R"({"env_vars": {"S": "state"}})");
    const auto vars = read_env_vars(dir.path());
    EXPECT_EQ(vars.vars, (Vars{{"FROM_A", "a"}, {"FROM_B", "b"}, {"S", "state"}, {"SHARED", "b"}}));
    EXPECT_EQ(vars.state_vars, (Pairs{{"S", "state"}}));
    EXPECT_TRUE(vars.warnings.empty());
}

TEST(EnvVars, UnsetSentinelIsSkipped) {
    TempDir dir;
    write_file(dir / "etc/conda/env_vars.d/pkg.json", R"({"FROM_PKG": "x"})");
    // `conda env config vars unset` writes the sentinel rather than removing the key.
    write_file(dir / "conda-meta/state",
               R"({"env_vars": {"FROM_PKG": "***unset***", "GONE": "***unset***", "KEPT": "1"}})");
    const auto vars = read_env_vars(dir.path());
    EXPECT_EQ(vars.vars, (Vars{{"KEPT", "1"}}));
    // The raw state keeps them, as written.
    EXPECT_EQ(vars.state_vars.size(), 3U);
}

TEST(EnvVars, PathIsDroppedWithAWarning) {
    TempDir dir;
    write_file(dir / "etc/conda/env_vars.d/pkg.json", R"({"path": "/pkg/bin"})");
    write_file(dir / "conda-meta/state", R"({"env_vars": {"PATH": "/x", "OTHER": "y"}})");
    const auto vars = read_env_vars(dir.path());
    EXPECT_EQ(vars.vars, (Vars{{"OTHER", "y"}}));
    ASSERT_EQ(vars.warnings.size(), 2U);
    EXPECT_EQ(vars.warnings[0].path, (dir / "etc/conda/env_vars.d/pkg.json").string());
    EXPECT_EQ(vars.warnings[1].path, (dir / "conda-meta/state").string());
    EXPECT_NE(vars.warnings[1].message.find("PATH"), std::string::npos);
}

TEST(EnvVars, UnsetPathIsNoWarning) {
    Diagnostics warnings;
    const auto vars = effective_env_vars({}, {{"PATH", "***unset***"}}, warnings);
    EXPECT_TRUE(vars.empty());
    EXPECT_TRUE(warnings.empty());
}

TEST(EnvVars, NamesAreUppercasedFromBothSources) {
    // conda and micromamba uppercase both sources (rattler only the state's).
    Diagnostics warnings;
    const auto vars = effective_env_vars({{{"cuda_home", "/pkg"}, {"Mixed_Case", "m"}}},
                                         {{"my_var", "v"}}, warnings);
    EXPECT_EQ(vars, (Vars{{"CUDA_HOME", "/pkg"}, {"MIXED_CASE", "m"}, {"MY_VAR", "v"}}));
    EXPECT_TRUE(warnings.empty());
}

TEST(EnvVars, CaseVariantsResolveAsCondasActivationDoes) {
    // conda merges the dicts as written, drops unset values, then uppercases in dict order.
    Diagnostics warnings;
    EXPECT_EQ(effective_env_vars({{{"foo", "pkg"}}}, {{"FOO", "state"}}, warnings),
              (Vars{{"FOO", "state"}}));
    EXPECT_EQ(effective_env_vars({{{"FOO", "pkg"}, {"foo", "pkg2"}}}, {{"FOO", "state"}}, warnings),
              (Vars{{"FOO", "pkg2"}}));
    EXPECT_EQ(effective_env_vars({{{"foo", "pkg"}}}, {{"FOO", "***unset***"}}, warnings),
              (Vars{{"FOO", "pkg"}}));
}

TEST(EnvVars, NonStringValuesAreWarnedAndSkipped) {
    TempDir dir;
    write_file(dir / "conda-meta/state",
               "{\"env_vars\": {\"A\": \"1\",\n  \"N\": 3, \"B\": true, \"O\": {\"x\": \"y\"},\n"
               "  \"L\": [\"a\"], \"Z\": null, \"C\": \"ok\"}}");
    const auto vars = read_env_vars(dir.path());
    EXPECT_EQ(vars.vars, (Vars{{"A", "1"}, {"C", "ok"}}));
    EXPECT_EQ(vars.state_vars, (Pairs{{"A", "1"}, {"C", "ok"}}));
    ASSERT_EQ(vars.warnings.size(), 5U);
    EXPECT_EQ(vars.warnings[0].line, 2);
    EXPECT_EQ(vars.warnings[0].column, 8);  // the 3
    EXPECT_NE(vars.warnings[0].message.find("value of N "), std::string::npos);
    EXPECT_NE(vars.warnings[0].message.find("a number"), std::string::npos);
    EXPECT_EQ(vars.warnings[4].line, 3);
}

TEST(EnvVars, RepeatedKeyTakesTheLastValueInTheFirstPlace) {
    Diagnostics warnings;
    EXPECT_EQ(parse_env_vars_json(R"({"A": "1", "B": "2", "A": "3"})", "x.json", false, warnings),
              (Pairs{{"A", "3"}, {"B", "2"}}));
    EXPECT_EQ(parse_env_vars_json(R"({"A": "1", "B": "2", "A": 3})", "x.json", false, warnings),
              (Pairs{{"B", "2"}}));
    EXPECT_EQ(warnings.size(), 1U);
    EXPECT_EQ(
        parse_env_vars_json(R"({"env_vars": {"A": "1"}, "env_vars": {"B": "2"}})", "state", true),
        (Pairs{{"B", "2"}}));
}

TEST(EnvVars, BrokenJsonIsAnErrorWithLineAndColumn) {
    const std::string message = parse_error("{\"env_vars\": {\"A\": \"1\",\n  \"B\": tru}}", true);
    EXPECT_NE(message.find("cannot read state: line 2, column 8: invalid literal 'tru'"),
              std::string::npos)
        << message;
    EXPECT_NE(parse_error("", false).find("line 1, column 1"), std::string::npos);
    EXPECT_NE(parse_error("{\"A\": \"1\"} trailing", false).find("line 1, column 12"),
              std::string::npos);
}

TEST(EnvVars, WrongShapeIsAnErrorWithLineAndColumn) {
    EXPECT_NE(parse_error("\n  [\"A\"]", false).find("line 2, column 3: expected an object"),
              std::string::npos);
    EXPECT_NE(parse_error("\"text\"", true).find("expected an object, found a string"),
              std::string::npos);
    const std::string message = parse_error("{\"version\": 1,\n \"env_vars\" :  [1]}", true);
    EXPECT_NE(message.find("line 2, column 16: env_vars must be an object"), std::string::npos)
        << message;
    EXPECT_NE(parse_error(R"({"env_vars": null})", true).find("env_vars must be an object"),
              std::string::npos);
    // An env_vars.d file is the flat object: env_vars there is just a variable.
    EXPECT_EQ(parse_error(R"({"env_vars": "x"})", false), "");
}

TEST(EnvVars, UnreadableFilesAreWarningsAndTheRestApplies) {
    TempDir dir;
    write_file(dir / "etc/conda/env_vars.d/a.json", "{\"A\": \"1\",\n\"B\": }");
    write_file(dir / "etc/conda/env_vars.d/b.json", R"({"B": "2"})");
    fs::create_directories(dir / "etc/conda/env_vars.d/c.json");
    write_file(dir / "conda-meta/state", "not json");
    const auto vars = read_env_vars(dir.path());
    EXPECT_EQ(vars.vars, (Vars{{"B", "2"}}));
    EXPECT_TRUE(vars.state_vars.empty());
    ASSERT_EQ(vars.warnings.size(), 3U);
    EXPECT_EQ(vars.warnings[0].path, (dir / "etc/conda/env_vars.d/a.json").string());
    EXPECT_EQ(vars.warnings[0].line, 2);
    EXPECT_EQ(vars.warnings[0].column, 6);
    EXPECT_EQ(vars.warnings[1].path, (dir / "etc/conda/env_vars.d/c.json").string());
    EXPECT_EQ(vars.warnings[2].path, (dir / "conda-meta/state").string());
    EXPECT_EQ(vars.warnings[2].line, 1);
}

TEST(EnvVars, PrefixWithoutFilesHasNoVariables) {
    TempDir dir;
    const auto vars = read_env_vars(dir.path());
    EXPECT_TRUE(vars.vars.empty());
    EXPECT_TRUE(vars.state_vars.empty());
    EXPECT_TRUE(vars.warnings.empty());
}

TEST(EnvVars, DeepNestingIsSkippedWithoutRecursion) {
    const std::string deep =
        "{\"A\": " + std::string(100000, '[') + std::string(100000, ']') + ", \"B\": \"b\"}";
    Diagnostics warnings;
    EXPECT_EQ(parse_env_vars_json(deep, "x.json", false, warnings), (Pairs{{"B", "b"}}));
    EXPECT_EQ(warnings.size(), 1U);
}

}  // namespace gpuenv::core::env
