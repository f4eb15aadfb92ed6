// End-to-end tests of `gpuenv diff`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <support/run_gpuenv.hpp>
#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

namespace fs = std::filesystem;
using test::run_gpuenv;
using test::TempDir;

}  // namespace

TEST(CmdDiff, TwoPrefixesAndASavedListJson) {
    TempDir dir;
    test::write_sample_env(dir / "a", test::CondaWriter::conda);
    auto b = test::write_sample_env(dir / "b", test::CondaWriter::micromamba);
    EXPECT_EQ(run_gpuenv({"diff", (dir / "a").string(), (dir / "b").string()}).exit_code, 0);

    b.add_package({.name = "zstd", .version = "1.5.6", .build = "ha6fb4c9_0"});
    test::write_dist_info(dir / "b" / test::k_sample_site_packages, {"idna", "3.7", "uv"});
    fs::remove_all(dir / "b" / test::k_sample_site_packages / "idna-3.6.dist-info");

    const auto saved = run_gpuenv({"list", "--json", "-p", (dir / "a").string()});
    ASSERT_EQ(saved.exit_code, 0);
    test::write_file(dir / "a.json", saved.out);

    for (const auto& side_a : {(dir / "a").string(), (dir / "a.json").string()}) {
        SCOPED_TRACE(side_a);
        const auto r = run_gpuenv({"diff", side_a, (dir / "b").string(), "--json"});
        EXPECT_EQ(r.exit_code, 1) << r.err;
        const auto doc = nlohmann::json::parse(r.out);
        EXPECT_EQ(doc["schema"], "gpuenv.diff/1");
        EXPECT_FALSE(doc["same"].get<bool>());
        ASSERT_EQ(doc["added"].size(), 1U);
        EXPECT_EQ(doc["added"][0]["b"]["name"], "zstd");
        ASSERT_EQ(doc["changed"].size(), 1U);
        EXPECT_EQ(doc["changed"][0]["key"], "idna");
        EXPECT_EQ(doc["changed"][0]["changes"], nlohmann::json::array({"version", "installer"}));
    }
    const auto table = run_gpuenv({"diff", (dir / "a").string(), (dir / "b").string()});
    EXPECT_NE(table.out.find("changed  idna (pypi)  3.6 (pip)"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("1 added, 0 removed, 1 changed, 0 variables"), std::string::npos)
        << table.out;
}

TEST(CmdDiff, BadInputNamesTheFile) {
    TempDir dir;
    test::write_sample_env(dir / "env");
    test::write_file(dir / "broken.lock", "version: 1\nconda: [\n");
    const auto r = run_gpuenv({"diff", (dir / "broken.lock").string(), (dir / "env").string()});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("broken.lock"), std::string::npos) << r.err;
    const auto missing = run_gpuenv({"diff", (dir / "nope").string(), (dir / "env").string()});
    EXPECT_EQ(missing.exit_code, 3) << missing.err;
    EXPECT_EQ(run_gpuenv({"diff", (dir / "env").string()}).exit_code, 2);
}

}  // namespace gpuenv
