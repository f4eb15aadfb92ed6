// End-to-end tests of `gpuenv lock` and `gpuenv fingerprint`: the built binary, the files it
// writes, and round trips through `gpuenv diff` and `gpuenv verify --lock`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <gpuenv/util/file.hpp>
#include <support/run_gpuenv.hpp>
#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

namespace fs = std::filesystem;
using test::run_gpuenv;
using test::TempDir;

}  // namespace

TEST(CmdLock, EveryFormatDiffsEmptyAgainstTheEnvironmentItCameFrom) {
    TempDir dir;
    const auto env = dir / "env";
    test::write_sample_env(env);
    for (const std::string format : {"gpuenv", "explicit", "environment", "requirements"}) {
        SCOPED_TRACE(format);
        const auto lock = dir / ("lock." + format);
        const auto written =
            run_gpuenv({"lock", "-p", env.string(), "--format", format, "-o", lock.string()});
        ASSERT_EQ(written.exit_code, 0) << written.err;
        EXPECT_TRUE(written.out.empty());
        const auto d = run_gpuenv({"diff", lock.string(), env.string()});
        EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
        EXPECT_NE(d.out.find("no differences"), std::string::npos) << d.out;
        const auto v =
            run_gpuenv({"verify", "-p", env.string(), "--lock", lock.string(), "--files", "none"});
        EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    }
}

TEST(CmdLock, CondaLockHoldsOnlyPipPackagesWithAUrlAndHash) {
    TempDir dir;
    const auto env = dir / "env";
    test::write_sample_env(env);
    // A wheel installed from a URL with its hash can be locked; idna and requests cannot.
    test::write_dist_info(
        env / test::k_sample_site_packages,
        {.name = "tqdm",
         .version = "4.66.2",
         .installer = "pip",
         .direct_url_json =
             R"({"url": "https://files.pythonhosted.org/packages/tqdm-4.66.2-py3-none-any.whl", )"
             R"("archive_info": {"hashes": {"sha256": "1ee4f8a893eb9bef51c6e35730cebf234d5d0b6bd112b0271e10ed7c24a02bd9"}}})"});
    const auto lock = dir / "conda-lock.yml";
    const auto written =
        run_gpuenv({"lock", "-p", env.string(), "--format", "conda-lock", "-o", lock.string()});
    ASSERT_EQ(written.exit_code, 0) << written.err;
    EXPECT_NE(written.err.find("idna"), std::string::npos) << written.err;
    EXPECT_NE(written.err.find("requests"), std::string::npos) << written.err;
    EXPECT_EQ(written.err.find("tqdm"), std::string::npos) << written.err;

    const auto d = run_gpuenv({"diff", lock.string(), env.string(), "--json"});
    EXPECT_EQ(d.exit_code, 1) << d.err;
    const auto doc = nlohmann::json::parse(d.out);
    EXPECT_TRUE(doc["removed"].empty());
    EXPECT_TRUE(doc["changed"].empty()) << doc["changed"].dump();
    std::vector<std::string> added;
    for (const auto& a : doc["added"])
        added.push_back(a["b"]["name"]);
    EXPECT_EQ(added, (std::vector<std::string>{"idna", "requests"}));
}

TEST(CmdLock, ExplicitNamesThePipPackagesItCannotHold) {
    TempDir dir;
    test::write_sample_env(dir / "env");
    const auto r = run_gpuenv({"lock", "-p", (dir / "env").string(), "--format", "explicit"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("@EXPLICIT\n"), std::string::npos);
    EXPECT_NE(r.out.find("#sha256:"), std::string::npos);
    EXPECT_NE(r.err.find("requests"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("idna"), std::string::npos) << r.err;
    // Dependency order: libzlib before python before numpy.
    const auto zlib = r.out.find("/libzlib-");
    const auto python = r.out.find("/python-3.11.8");
    const auto numpy = r.out.find("/numpy-1.26.4");
    ASSERT_NE(numpy, std::string::npos);
    EXPECT_LT(zlib, python);
    EXPECT_LT(python, numpy);
}

TEST(CmdLock, GpuenvLockDetectsEveryKindOfDrift) {
    TempDir dir;
    const auto env = dir / "env";
    auto builder = test::write_sample_env(env);
    const auto lock = dir / "gpuenv.lock";
    ASSERT_EQ(run_gpuenv({"lock", "-p", env.string(), "-o", lock.string()}).exit_code, 0);

    // pip upgrades numpy over conda's, idna is removed, a new package and a variable appear.
    const auto sp = env / test::k_sample_site_packages;
    fs::remove_all(sp / "numpy-1.26.4.dist-info");
    test::write_dist_info(sp, {"numpy", "2.0.0", "pip"});
    fs::remove_all(sp / "idna-3.6.dist-info");
    builder.add_package({.name = "zstd", .version = "1.5.6", .build = "ha6fb4c9_0"});
    test::write_file(env / "conda-meta" / "state", R"({"env_vars": {"MY_VAR": "off"}})");

    const auto r = run_gpuenv(
        {"verify", "-p", env.string(), "--lock", lock.string(), "--files", "none", "--json"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto doc = nlohmann::json::parse(r.out);
    EXPECT_EQ(doc["schema"], "gpuenv.verify/1");
    EXPECT_TRUE(doc["drift"].get<bool>());
    std::multiset<std::string> lock_kinds;
    for (const auto& f : doc["findings"]) {
        if (f["check"] == "lock")
            lock_kinds.insert(f["kind"].get<std::string>() + ":" + f["package"].get<std::string>());
    }
    EXPECT_EQ(lock_kinds, (std::multiset<std::string>{"missing:idna (pypi)", "extra:numpy (pypi)",
                                                      "extra:zstd", "env_var:MY_VAR"}));
}

TEST(CmdLock, WritesNothingWhenTheEnvironmentCannotBeRead) {
    TempDir dir;
    const auto lock = dir / "gpuenv.lock";
    const auto r = run_gpuenv({"lock", "-p", (dir / "missing").string(), "-o", lock.string()});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_FALSE(fs::exists(lock));
    const auto bad = run_gpuenv({"lock", "-p", (dir / "missing").string(), "--format", "yaml"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("unknown lock format 'yaml'"), std::string::npos) << bad.err;
}

TEST(CmdLock, LockIsByteIdenticalAcrossRuns) {
    TempDir dir;
    test::write_sample_env(dir / "env");
    const auto a = run_gpuenv({"lock", "-p", (dir / "env").string()});
    const auto b = run_gpuenv({"lock", "-p", (dir / "env").string()});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_NE(a.out.find("version: 1"), std::string::npos);
}

TEST(CmdFingerprint, PrintsOneHashThatFollowsTheEnvironment) {
    TempDir dir;
    test::write_sample_env(dir / "a", test::CondaWriter::conda);
    test::write_sample_env(dir / "b", test::CondaWriter::rattler);
    const auto a = run_gpuenv({"fingerprint", "-p", (dir / "a").string()});
    const auto b = run_gpuenv({"fingerprint", "-p", (dir / "b").string()});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(a.out.size(), 65U) << a.out;
    EXPECT_EQ(a.out, b.out);
    fs::remove_all(dir / "b" / test::k_sample_site_packages / "numpy-1.26.4.dist-info");
    test::write_dist_info(dir / "b" / test::k_sample_site_packages, {"numpy", "2.0.0", "pip"});
    EXPECT_NE(run_gpuenv({"fingerprint", "-p", (dir / "b").string()}).out, a.out);

    const auto json = run_gpuenv({"fingerprint", "-p", (dir / "a").string(), "--json"});
    const auto doc = nlohmann::json::parse(json.out);
    EXPECT_EQ(doc["fingerprint"].get<std::string>() + "\n", a.out);
    EXPECT_EQ(doc["counts"]["total"], 5);
    const auto canonical = run_gpuenv({"fingerprint", "-p", (dir / "a").string(), "--canonical"});
    EXPECT_NE(canonical.out.find("pypi\trequests\t2.31.0\t\t\t\tpip\n"), std::string::npos)
        << canonical.out;
}

}  // namespace gpuenv
