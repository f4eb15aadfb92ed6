// End-to-end tests of `gpuenv envs`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <support/conda_prefix_builder.hpp>
#include <support/run_gpuenv.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {

using Json = nlohmann::json;
using test::run_gpuenv;

TEST(CmdEnvs, ListsRootEnvsAndRegisteredWithCounts) {
    test::TempDir dir;
    test::CondaPrefixBuilder base(dir / "root");
    base.add_package({.name = "conda", .version = "24.1.0", .build = "py311_0"});
    test::CondaPrefixBuilder torch(dir / "root/envs/torch");
    torch.add_package({.name = "python", .version = "3.11.9", .build = "h0_0"});
    torch.add_package({.name = "pytorch", .version = "2.3.0", .build = "py3.11_cuda12.1_0"});
    test::CondaPrefixBuilder other(dir / "projects/exp");
    test::write_file(dir / "home/.conda/environments.txt", (dir / "projects/exp").string() + "\n");
    const test::RunEnv env{{{"MAMBA_ROOT_PREFIX", (dir / "root").string()},
                            {"HOME", (dir / "home").string()},
                            {"CONDA_PREFIX", (dir / "root/envs/torch").string()}}};

    const auto r = run_gpuenv({"envs"}, env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out,
              "# conda environments:\n"
              "#\n"
              "# Name  Active  Packages  Conda  PyPI  Prefix\n"
              "base            1         1      0     " +
                  (dir / "root").string() +
                  "\n"
                  "torch   *       2         2      0     " +
                  (dir / "root/envs/torch").string() +
                  "\n"
                  "-               0         0      0     " +
                  (dir / "projects/exp").string() + "\n");

    const auto j = run_gpuenv({"envs", "--json"}, env);
    ASSERT_EQ(j.exit_code, 0) << j.err;
    const auto doc = Json::parse(j.out);
    EXPECT_EQ(doc["schema"], "gpuenv.envs/1");
    ASSERT_EQ(doc["envs"].size(), 3U);
    EXPECT_EQ(doc["envs"][1]["name"], "torch");
    EXPECT_EQ(doc["envs"][1]["active"], true);
    EXPECT_EQ(doc["envs"][1]["counts"]["conda"], 2);
    EXPECT_EQ(doc["envs"][2]["name"], "");
}

TEST(CmdEnvs, NoEnvironmentsIsAnEmptyListNotAnError) {
    test::TempDir dir;
    const auto r = run_gpuenv(
        {"envs", "--json"},
        {{{"HOME", dir.path().string()}, {"MAMBA_ROOT_PREFIX", (dir / "none").string()}}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Json::parse(r.out)["envs"], Json::array());
}

}  // namespace gpuenv
