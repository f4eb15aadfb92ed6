#include <gtest/gtest.h>

#include <map>

#include <gpuenv/core/spec/environment_yml.hpp>
#include <gpuenv/util/error.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::spec {
namespace {

EnvLookup lookup_from(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        const auto it = vars.find(std::string(name));
        if (it == vars.end())
            return std::nullopt;
        return it->second;
    };
}

EnvironmentFile parse(std::string_view text, const SelectorPlatform& platform = {}) {
    return parse_environment_yml(text, "environment.yml", lookup_from({}), platform);
}

std::string error_of(std::string_view text) {
    try {
        (void)parse(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        return e.what();
    }
    return "";
}

}  // namespace

TEST(EnvironmentYml, ReadsTheCep24Example) {
    const auto env = parse(
        "name: test\n"
        "channels: [conda-forge]\n"
        "dependencies:\n"
        "  - numpy\n"
        "  - pip\n"
        "  - pip:\n"
        "      - scipy\n"
        "variables:\n"
        "  MY_ENV_VAR: \"My Value\"\n");
    EXPECT_EQ(env.name, "test");
    EXPECT_EQ(env.channels, std::vector<std::string>{"conda-forge"});
    EXPECT_FALSE(env.nodefaults);
    ASSERT_EQ(env.conda.size(), 2U);
    EXPECT_EQ(env.conda[0].spec.str(), "numpy");
    EXPECT_EQ(env.conda[0].line, 4);
    ASSERT_EQ(env.pip.size(), 1U);
    ASSERT_TRUE(env.pip[0].requirement.has_value());
    EXPECT_EQ(env.pip[0].requirement->normalized_name, "scipy");
    EXPECT_EQ(env.pip[0].line, 7);
    ASSERT_EQ(env.variables.size(), 1U);
    EXPECT_EQ(env.variables[0], std::make_pair(std::string("MY_ENV_VAR"), std::string("My Value")));
    EXPECT_TRUE(env.warnings.empty()) << env.warnings[0].to_string();
}

TEST(EnvironmentYml, NodefaultsIsAFlagNotAChannel) {
    const auto env = parse("channels:\n  - pytorch\n  - nodefaults\ndependencies: [python=3.11]\n");
    EXPECT_TRUE(env.nodefaults);
    EXPECT_EQ(env.channels, std::vector<std::string>{"pytorch"});
}

TEST(EnvironmentYml, ChannelsExpandEnvironmentVariablesLikeExpandvars) {
    const auto env = parse_environment_yml(
        "channels: [\"https://${HOST}/$CHAN\", \"$UNSET/x\"]\ndependencies: []\n", "e.yml",
        lookup_from({{"HOST", "repo.example"}, {"CHAN", "main"}}));
    EXPECT_EQ(env.channels, (std::vector<std::string>{"https://repo.example/main", "$UNSET/x"}));
}

TEST(EnvironmentYml, PipOptionsAndUrlsAreKeptButNotCheckable) {
    const auto env = parse(
        "dependencies:\n"
        "  - pip\n"
        "  - pip:\n"
        "    - --index-url https://download.pytorch.org/whl/cu121\n"
        "    - -r requirements.txt\n"
        "    - -e ./mypkg\n"
        "    - torch==2.3.0\n"
        "    - requests[socks] >=2.31 ; python_version >= '3.8'\n"
        "    - git+https://github.com/org/repo.git\n");
    ASSERT_EQ(env.pip.size(), 6U);
    EXPECT_FALSE(env.pip[0].requirement.has_value());
    EXPECT_FALSE(env.pip[1].requirement.has_value());
    EXPECT_FALSE(env.pip[2].requirement.has_value());
    ASSERT_TRUE(env.pip[3].requirement.has_value());
    EXPECT_EQ(env.pip[3].requirement->normalized_name, "torch");
    ASSERT_TRUE(env.pip[4].requirement.has_value());
    EXPECT_TRUE(env.pip[4].requirement->marker.has_value());
    EXPECT_FALSE(env.pip[5].requirement.has_value());
    EXPECT_EQ(env.warnings.size(), 4U);
    EXPECT_EQ(env.warnings[0].line, 4);
    EXPECT_NE(env.warnings[0].message.find("--index-url"), std::string::npos);
}

TEST(EnvironmentYml, UnknownKeysWarnAsCondaDoes) {
    const auto env = parse("name: x\nplatforms: [linux-64]\ndependencies: [numpy]\n");
    ASSERT_EQ(env.warnings.size(), 1U);
    EXPECT_EQ(env.warnings[0].line, 2);
    EXPECT_NE(env.warnings[0].message.find("platforms"), std::string::npos);
}

TEST(EnvironmentYml, PipSectionWithoutPipWarns) {
    const auto env = parse("dependencies:\n  - python\n  - pip:\n    - rich\n");
    ASSERT_EQ(env.warnings.size(), 1U);
    EXPECT_NE(env.warnings[0].message.find("conda adds pip"), std::string::npos);
}

TEST(EnvironmentYml, PipxIsNotPip) {
    const auto env = parse("dependencies:\n  - pipx\n  - pip:\n    - rich\n");
    ASSERT_EQ(env.warnings.size(), 1U);
}

TEST(EnvironmentYml, SelectorsFollowTheTargetPlatform) {
    const std::string text =
        "dependencies:\n  - python\n  - sel(win): pywin32\n  - sel(unix): readline\n";
    const auto linux_env = parse(text, {"linux-64"});
    ASSERT_EQ(linux_env.conda.size(), 2U);
    EXPECT_EQ(linux_env.conda[1].spec.str(), "readline");
    const auto win_env = parse(text, {"win-64"});
    ASSERT_EQ(win_env.conda.size(), 2U);
    EXPECT_EQ(win_env.conda[1].spec.str(), "pywin32");
}

TEST(EnvironmentYml, UnknownDependencySectionIsAnError) {
    const auto message = error_of("dependencies:\n  - numpy\n  - npm:\n    - left-pad\n");
    EXPECT_NE(message.find("environment.yml:3:5: unknown dependency section 'npm'"),
              std::string::npos)
        << message;
}

TEST(EnvironmentYml, InvalidMatchSpecNamesFileLineAndCharacter) {
    const auto message = error_of("dependencies:\n  - numpy >=1.21,<<2\n");
    EXPECT_NE(message.find("environment.yml:2:5:"), std::string::npos) << message;
    EXPECT_NE(message.find("^"), std::string::npos) << message;
}

TEST(EnvironmentYml, InvalidYamlNamesLineAndColumn) {
    const auto message = error_of("name: x\ndependencies:\n  - [unclosed\n");
    EXPECT_NE(message.find("environment.yml:"), std::string::npos) << message;
}

TEST(EnvironmentYml, WrongShapesAreErrors) {
    EXPECT_NE(error_of("- just\n- a list\n").find("expected a mapping"), std::string::npos);
    EXPECT_NE(error_of("dependencies: numpy\n").find("dependencies must be a list"),
              std::string::npos);
    EXPECT_NE(error_of("channels: conda-forge\ndependencies: []\n").find("channels must be a list"),
              std::string::npos);
    EXPECT_NE(error_of("variables: [a]\ndependencies: []\n").find("variables must be a mapping"),
              std::string::npos);
    EXPECT_NE(error_of("").find("expected a mapping"), std::string::npos);
}

TEST(EnvironmentYml, DeepNestingIsAnErrorNotACrash) {
    const std::string deep = "dependencies: " + std::string(100000, '[') + "\n";
    EXPECT_FALSE(error_of(deep).empty());
}

TEST(EnvironmentYml, MissingFileIsNotFound) {
    test::TempDir dir;
    try {
        (void)read_environment_yml(dir / "environment.yml");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
    }
}

}  // namespace gpuenv::core::spec
