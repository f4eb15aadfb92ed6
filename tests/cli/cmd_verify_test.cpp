// End-to-end tests of `gpuenv verify`: exit codes, tables, JSON and bad input.
#include <gtest/gtest.h>

#include <algorithm>

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

std::vector<std::string> finding_kinds(const std::string& json) {
    std::vector<std::string> kinds;
    const auto doc = nlohmann::json::parse(json);  // kept alive: the loop reads into it
    for (const auto& f : doc["findings"])
        kinds.push_back(f["check"].get<std::string>() + "/" + f["kind"].get<std::string>());
    return kinds;
}

}  // namespace

TEST(CmdVerify, CleanEnvironmentsPassEveryFileLevel) {
    for (const auto writer :
         {test::CondaWriter::conda, test::CondaWriter::micromamba, test::CondaWriter::rattler}) {
        TempDir dir;
        test::write_sample_env(dir / "env", writer);
        for (const std::string level : {"none", "quick", "full"}) {
            const auto r = run_gpuenv({"verify", "-p", (dir / "env").string(), "--files", level});
            EXPECT_EQ(r.exit_code, 0) << level << "\n" << r.out << r.err;
            EXPECT_NE(r.out.find("ok: no drift in"), std::string::npos) << r.out;
        }
    }
}

TEST(CmdVerify, FileDriftIsFoundAtTheRightLevel) {
    TempDir dir;
    const auto env = dir / "env";
    test::write_sample_env(env);
    // Same size, other content: only a full check can see it.
    test::write_file(env / test::k_sample_site_packages / "numpy" / "core.py", [&] {
        const auto path = env / test::k_sample_site_packages / "numpy" / "core.py";
        std::string text(fs::file_size(path), 'x');
        return text;
    }());
    EXPECT_EQ(run_gpuenv({"verify", "-p", env.string(), "--files", "quick"}).exit_code, 0);
    const auto full = run_gpuenv({"verify", "-p", env.string(), "--files", "full", "--json"});
    EXPECT_EQ(full.exit_code, 1) << full.err;
    EXPECT_EQ(finding_kinds(full.out), std::vector<std::string>{"files/modified_file"});

    fs::remove(env / "lib" / "libz.so.1.3.1");
    const auto quick = run_gpuenv({"verify", "-p", env.string(), "--files", "quick", "--json"});
    EXPECT_EQ(quick.exit_code, 1);
    const auto kinds = finding_kinds(quick.out);
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), "files/record_files_gone"), kinds.end())
        << quick.out;
}

TEST(CmdVerify, TableGroupsFindingsAndCounts) {
    TempDir dir;
    const auto env = dir / "env";
    test::write_sample_env(env);
    fs::remove_all(env / test::k_sample_site_packages / "numpy-1.26.4.dist-info");
    test::write_dist_info(env / test::k_sample_site_packages, {"numpy", "2.0.0", "pip"});
    const auto r = run_gpuenv({"verify", "-p", env.string(), "--files", "none"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("# consistency\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("shadowed"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("record_files_gone"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("2 findings in " + env.string()), std::string::npos) << r.out;
}

TEST(CmdVerify, BadInputExitsWithTheDocumentedCodes) {
    TempDir dir;
    test::write_sample_env(dir / "env");
    const auto env = (dir / "env").string();
    EXPECT_EQ(run_gpuenv({"verify", "-p", env, "--files", "deep"}).exit_code, 2);
    test::write_file(dir / "environment.yml", "dependencies:\n  - numpy >=>1\n");
    const auto spec =
        run_gpuenv({"verify", "-p", env, "--spec", (dir / "environment.yml").string()});
    EXPECT_EQ(spec.exit_code, 3);
    EXPECT_NE(spec.err.find("environment.yml"), std::string::npos) << spec.err;
    EXPECT_NE(spec.err.find("environment.yml:2:"), std::string::npos) << spec.err;
    const auto lock = run_gpuenv({"verify", "-p", env, "--lock", (dir / "missing.lock").string()});
    EXPECT_EQ(lock.exit_code, 3);
    EXPECT_NE(lock.err.find("missing.lock"), std::string::npos) << lock.err;
}

TEST(CmdVerify, LockForAnotherPlatformIsSaidPlainly) {
    TempDir dir;
    test::write_sample_env(dir / "env");
    const auto lock = dir / "gpuenv.lock";
    ASSERT_EQ(run_gpuenv({"lock", "-p", (dir / "env").string(), "-o", lock.string()}).exit_code, 0);
    std::string text = util::read_file(lock);
    const auto at = text.find("platform: ");
    ASSERT_NE(at, std::string::npos) << text;
    text.replace(at, text.find('\n', at) - at, "platform: \"osx-arm64\"");
    test::write_file(lock, text);
    const auto r = run_gpuenv(
        {"verify", "-p", (dir / "env").string(), "--lock", lock.string(), "--files", "none"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("the lock is for osx-arm64, this environment is linux-64"),
              std::string::npos)
        << r.out;
}

}  // namespace gpuenv
