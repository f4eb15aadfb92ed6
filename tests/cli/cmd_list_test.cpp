// End-to-end tests of `gpuenv list`: the built binary, its output, JSON and exit codes.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include <support/conda_prefix_builder.hpp>
#include <support/python_dist_builder.hpp>
#include <support/run_gpuenv.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using test::run_gpuenv;
using test::TempDir;

const std::string k_sp = "lib/python3.11/site-packages";

// Writes a small conda env: python, numpy shadowed by a pip upgrade, and an editable install.
fs::path make_env(const fs::path& prefix) {
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
                         .files = files,
                         .create_files = test::CreateFiles::no});
    test::write_dist_info(prefix / k_sp, {"numpy", "2.0.0", "pip"});
    test::write_dist_info(
        prefix / k_sp,
        {.name = "mylib",
         .version = "0.1.dev0",
         .installer = "pip",
         .requested = true,
         .direct_url_json = R"({"url": "file:///src/mylib", "dir_info": {"editable": true}})"});
    return prefix;
}

}  // namespace

TEST(CmdList, TableShowsCondaAndPipLikeCondaList) {
    TempDir dir;
    const auto env = make_env(dir / "env");
    const auto r = run_gpuenv({"list", "-p", env.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out,
              "# packages in environment at " + env.string() +
                  " (conda, python 3.11):\n"
                  "#\n"
                  "# Name  Version   Build               Channel      Note\n"
                  "mylib   0.1.dev0  -                   pip          editable file:///src/mylib\n"
                  "numpy   1.26.4    py311h64a7726_0     conda-forge  shadowed by pip numpy 2.0.0\n"
                  "numpy   2.0.0     -                   pip          shadows conda numpy 1.26.4 "
                  "py311h64a7726_0\n"
                  "python  3.11.9    hab00c5b_0_cpython  conda-forge\n");
}

TEST(CmdList, JsonFollowsTheDocumentedSchema) {
    TempDir dir;
    const auto env = make_env(dir / "env");
    const auto r = run_gpuenv({"list", "--json", "-p", env.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = Json::parse(r.out);
    EXPECT_EQ(j["schema"], "gpuenv.list/1");
    EXPECT_EQ(j["prefix"], env.string());
    EXPECT_EQ(j["kind"], "conda");
    EXPECT_EQ(j["python_version"], "3.11");
    EXPECT_EQ(j["counts"], Json({{"total", 4}, {"conda", 2}, {"pypi", 2}}));
    ASSERT_EQ(j["packages"].size(), 4U);
    const auto& conda_numpy = j["packages"][1];
    EXPECT_EQ(conda_numpy["kind"], "conda");
    EXPECT_EQ(conda_numpy["shadowed_by"]["version"], "2.0.0");
    const auto& pip_numpy = j["packages"][2];
    EXPECT_EQ(pip_numpy["kind"], "pypi");
    EXPECT_EQ(pip_numpy["installer"], "pip");
    EXPECT_EQ(pip_numpy["shadows"]["version"], "1.26.4");
    EXPECT_TRUE(j["packages"][3]["requested"].get<bool>());
    EXPECT_EQ(j["warnings"], Json::array());
}

TEST(CmdList, DefaultIsCondaPrefixThenVirtualEnv) {
    TempDir dir;
    const auto env = make_env(dir / "env");
    fs::create_directories(dir / "venv" / k_sp);
    test::write_file(dir / "venv/pyvenv.cfg", "home = /usr/bin\n");
    auto r =
        run_gpuenv({"list", "--json"},
                   {{{"CONDA_PREFIX", env.string()}, {"VIRTUAL_ENV", (dir / "venv").string()}}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Json::parse(r.out)["prefix"], env.string());
    r = run_gpuenv({"list", "--json"}, {{{"VIRTUAL_ENV", (dir / "venv").string()}}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Json::parse(r.out)["kind"], "venv");
}

TEST(CmdList, NameIsFoundInTheRootsEnvsDir) {
    TempDir dir;
    make_env(dir / "root/envs/torch");
    const auto r = run_gpuenv({"list", "-n", "torch", "--json"},
                              {{{"MAMBA_ROOT_PREFIX", (dir / "root").string()}}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Json::parse(r.out)["prefix"], (dir / "root/envs/torch").string());
}

TEST(CmdList, BadRecordIsAWarningWithPlaceAndTheRestIsListed) {
    TempDir dir;
    const auto env = make_env(dir / "env");
    test::write_file(env / "conda-meta/trunc-1.0-0.json",
                     "{\"name\": \"trunc\", \"version\": \"1.0\", \"bu");
    const auto r = run_gpuenv({"list", "-p", env.string()});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(
        r.err.find("gpuenv: warning: " + (env / "conda-meta/trunc-1.0-0.json").string() + ":1:"),
        std::string::npos)
        << r.err;
    EXPECT_NE(r.out.find("python  3.11.9"), std::string::npos);
}

TEST(CmdList, MatchSpecKeepsMatchingCondaPackages) {
    TempDir dir;
    const auto env = make_env(dir / "env");
    auto r = run_gpuenv({"list", "-p", env.string(), "--match", "numpy >=1.21,<2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("numpy   1.26.4"), std::string::npos) << r.out;
    // Only the conda numpy: the pip one is not a conda record, python does not match.
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4) << r.out;

    r = run_gpuenv({"list", "--json", "-p", env.string(), "--match",
                    "conda-forge::python=3.11.*=*_cpython", "--match",
                    "conda-forge/linux-64::numpy[build=py311*]"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = Json::parse(r.out);
    ASSERT_EQ(j["packages"].size(), 2U);
    EXPECT_EQ(j["packages"][0]["name"], "numpy");
    EXPECT_EQ(j["packages"][1]["name"], "python");
    EXPECT_EQ(j["match"].size(), 2U);

    // conda's rule: `python=3.11=build` is an exact version, so 3.11.9 does not match.
    r = run_gpuenv({"list", "--json", "-p", env.string(), "--match", "python=3.11=*_cpython"});
    EXPECT_EQ(Json::parse(r.out)["packages"].size(), 0U);
    r = run_gpuenv({"list", "--json", "-p", env.string(), "--match", "pkgs/main::python"});
    EXPECT_EQ(Json::parse(r.out)["packages"].size(), 0U);
}

TEST(CmdList, PipRequirementKeepsMatchingDistributions) {
    TempDir dir;
    const auto env = make_env(dir / "env");
    auto r = run_gpuenv({"list", "--json", "-p", env.string(), "--match", "pip:NumPy>=1.20"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = Json::parse(r.out);
    ASSERT_EQ(j["packages"].size(), 1U);
    EXPECT_EQ(j["packages"][0]["version"], "2.0.0");
    // Pre-releases of installed distributions match, as pip check treats them.
    r = run_gpuenv({"list", "--json", "-p", env.string(), "--match", "pip:mylib>=0.1.dev0"});
    EXPECT_EQ(Json::parse(r.out)["packages"].size(), 1U);
    // Markers are evaluated for the environment's python (3.11), not the machine's.
    r = run_gpuenv(
        {"list", "--json", "-p", env.string(), "--match", "pip:mylib; python_version < '3.10'"});
    EXPECT_EQ(Json::parse(r.out)["packages"].size(), 0U);
    r = run_gpuenv(
        {"list", "--json", "-p", env.string(), "--match", "pip:mylib; python_version == '3.11'"});
    EXPECT_EQ(Json::parse(r.out)["packages"].size(), 1U);
}

TEST(CmdList, InvalidSpecExitsTwoPointingAtTheCharacter) {
    TempDir dir;
    const auto env = make_env(dir / "env");
    auto r = run_gpuenv({"list", "-p", env.string(), "--match", "numpy >=1.21,<<2"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("gpuenv: error: invalid match spec 'numpy >=1.21,<<2': column 14"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("\n  numpy >=1.21,<<2\n               ^"), std::string::npos) << r.err;
    r = run_gpuenv({"list", "-p", env.string(), "--match", "pip:requests>=2.31;;"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("invalid PEP 508 requirement"), std::string::npos) << r.err;
    // A bad spec is reported even when the environment does not exist: specs are checked first.
    r = run_gpuenv({"list", "-p", (dir / "missing").string(), "--match", "==="});
    EXPECT_EQ(r.exit_code, 2);
}

TEST(CmdList, MissingPrefixExitsThreeNamingIt) {
    TempDir dir;
    const auto r = run_gpuenv({"list", "-p", (dir / "missing").string()});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("gpuenv: error: environment " + (dir / "missing").string()),
              std::string::npos)
        << r.err;
}

TEST(CmdList, DirectoryThatIsNotAnEnvironmentExitsThree) {
    TempDir dir;
    const auto r = run_gpuenv({"list", "-p", dir.path().string()});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("not an environment"), std::string::npos) << r.err;
}

TEST(CmdList, UnknownNameExitsThree) {
    TempDir dir;
    const auto r =
        run_gpuenv({"list", "-n", "nope"},
                   {{{"MAMBA_ROOT_PREFIX", dir.path().string()}, {"HOME", dir.path().string()}}});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("environment not found: nope"), std::string::npos) << r.err;
}

TEST(CmdList, BadCondaPrefixSaysWhereThePrefixCameFrom) {
    TempDir dir;
    const auto r = run_gpuenv({"list"}, {{{"CONDA_PREFIX", (dir / "gone").string()}}});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("$CONDA_PREFIX"), std::string::npos) << r.err;
}

TEST(CmdList, UsageErrorsExitTwo) {
    EXPECT_EQ(run_gpuenv({"list", "-n", "a", "-p", "/b"}).exit_code, 2);
    EXPECT_EQ(run_gpuenv({"list", "--bogus"}).exit_code, 2);
    EXPECT_EQ(run_gpuenv({"nosuchcommand"}).exit_code, 2);
    EXPECT_EQ(run_gpuenv({}).exit_code, 2);
}

TEST(CmdList, HelpAndVersionExitZero) {
    const auto help = run_gpuenv({"--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("list"), std::string::npos);
    EXPECT_NE(help.out.find("envs"), std::string::npos);
    const auto version = run_gpuenv({"--version"});
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_NE(version.out.find("gpuenv "), std::string::npos);
}

}  // namespace gpuenv
