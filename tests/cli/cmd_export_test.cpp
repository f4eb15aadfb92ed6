// End-to-end tests of `gpuenv export`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <support/run_gpuenv.hpp>
#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

using test::run_gpuenv;
using test::TempDir;

}  // namespace

TEST(CmdExport, PinnedExportSatisfiesVerifySpecOnTheSameEnvironment) {
    for (const auto writer :
         {test::CondaWriter::conda, test::CondaWriter::micromamba, test::CondaWriter::rattler}) {
        TempDir dir;
        const auto env = dir / "env";
        test::write_sample_env(env, writer);
        const auto yml = dir / "environment.yml";
        const auto e = run_gpuenv({"export", "-p", env.string(), "-o", yml.string()});
        ASSERT_EQ(e.exit_code, 0) << e.err;
        const auto v =
            run_gpuenv({"verify", "-p", env.string(), "--spec", yml.string(), "--files", "none"});
        EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    }
}

TEST(CmdExport, FromHistoryKeepsRequestedSpecsAndRequestedPipPackages) {
    TempDir dir;
    test::write_sample_env(dir / "env");
    const auto r = run_gpuenv({"export", "-p", (dir / "env").string(), "--from-history", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    EXPECT_EQ(doc["name"], "env");
    EXPECT_EQ(doc["channels"], nlohmann::json::array({"conda-forge"}));
    const auto& deps = doc["dependencies"];
    ASSERT_EQ(deps.size(), 3U) << deps.dump();
    EXPECT_EQ(deps[0], "numpy=1.26");
    EXPECT_EQ(deps[1], "python=3.11");
    // requests was asked for (REQUESTED); idna came as its dependency and is left out.
    EXPECT_EQ(deps[2]["pip"], nlohmann::json::array({"requests==2.31.0"}));
    EXPECT_EQ(doc["variables"]["MY_VAR"], "on");
}

TEST(CmdExport, FromHistoryExportSatisfiesVerifySpec) {
    TempDir dir;
    test::write_sample_env(dir / "env");
    const auto yml = dir / "environment.yml";
    ASSERT_EQ(
        run_gpuenv({"export", "-p", (dir / "env").string(), "--from-history", "-o", yml.string()})
            .exit_code,
        0);
    const auto v = run_gpuenv(
        {"verify", "-p", (dir / "env").string(), "--spec", yml.string(), "--files", "none"});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace gpuenv
