// Tests of the lock format dispatch: names, detection, read_lock, topological order, and the
// environment.yml route.
#include <gtest/gtest.h>

#include <core/lock/lock_test_util.hpp>
#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/util/error.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

using core::lock::detect_lock_format;
using core::lock::LockedEnv;
using core::lock::LockedPackage;
using core::lock::LockFormat;
using core::lock::render_lock;
using core::lock::topological_order;
using test::conda_package;
using test::pypi_package;

constexpr LockFormat k_all[] = {LockFormat::gpuenv,       LockFormat::explicit_,
                                LockFormat::conda_lock,   LockFormat::environment,
                                LockFormat::requirements, LockFormat::list_json};

LockedEnv sample() {
    LockedEnv env;
    env.platform = "linux-64";
    env.channels = {"conda-forge"};
    auto zlib = conda_package("zlib", "1.3.1", "h4ab18f5_1");
    zlib.sha256 = std::string(64, 'a');
    env.packages = {zlib, pypi_package("requests", "2.32.3")};
    core::lock::sort_packages(env.packages);
    return env;
}

// Returns the names of the packages in topological order.
std::string order_of(const std::vector<LockedPackage>& packages) {
    std::string out;
    for (const auto i : topological_order(packages))
        out += (out.empty() ? "" : " ") + packages[i].name;
    return out;
}

TEST(LockFormat, NamesRoundTrip) {
    for (const auto format : k_all) {
        SCOPED_TRACE(to_string(format));
        EXPECT_EQ(core::lock::parse_lock_format(to_string(format)), format);
    }
    EXPECT_STREQ(to_string(LockFormat::conda_lock), "conda-lock");
    EXPECT_STREQ(to_string(LockFormat::list_json), "list-json");
    EXPECT_EQ(core::lock::parse_lock_format("conda_lock"), LockFormat::conda_lock);
    EXPECT_EQ(core::lock::parse_lock_format("list_json"), LockFormat::list_json);
    EXPECT_EQ(core::lock::parse_lock_format("pixi"), std::nullopt);
}

TEST(LockFormat, DetectsEveryWrittenFormatFromItsContent) {
    for (const auto format : {LockFormat::gpuenv, LockFormat::explicit_, LockFormat::conda_lock,
                              LockFormat::requirements}) {
        SCOPED_TRACE(to_string(format));
        const auto text = render_lock(sample(), format).text;
        EXPECT_EQ(detect_lock_format(text, "lockfile"), format);
    }
    EXPECT_EQ(detect_lock_format("  {\"schema\": \"gpuenv.list/1\"}", "x"), LockFormat::list_json);
    EXPECT_EQ(
        detect_lock_format("name: x\nchannels: [conda-forge]\ndependencies:\n  - zlib=1.3\n", "x"),
        LockFormat::environment);
    EXPECT_EQ(detect_lock_format("version: 1\nconda: []\n", "x"), LockFormat::gpuenv);
    EXPECT_EQ(detect_lock_format("version: 1\nmetadata: {}\npackage: []\n", "x"),
              LockFormat::conda_lock);
    EXPECT_EQ(detect_lock_format("# platform: linux-64\n  @EXPLICIT\n", "x.yml"),
              LockFormat::explicit_);
    EXPECT_EQ(detect_lock_format("numpy==1.26.4\n", "x"), LockFormat::requirements);
}

TEST(LockFormat, FileNameDecidesWhenTheContentDoesNot) {
    EXPECT_EQ(detect_lock_format("", "list.json"), LockFormat::list_json);
    EXPECT_EQ(detect_lock_format("", "conda-lock.yml"), LockFormat::conda_lock);
    EXPECT_EQ(detect_lock_format("", "environment.yaml"), LockFormat::environment);
    EXPECT_EQ(detect_lock_format("", "gpuenv.lock.yml"), LockFormat::gpuenv);
    EXPECT_EQ(detect_lock_format("", "requirements.txt"), LockFormat::requirements);
}

TEST(LockFormat, ReadLockDetectsParsesAndNamesTheSource) {
    test::TempDir dir;
    for (const auto format : {LockFormat::gpuenv, LockFormat::explicit_, LockFormat::conda_lock,
                              LockFormat::requirements}) {
        SCOPED_TRACE(to_string(format));
        const auto path = dir / (std::string("lock-") + to_string(format));
        test::write_file(path, render_lock(sample(), format).text);
        const auto env = core::lock::read_lock(path);
        EXPECT_EQ(env.source, path.string() + " (" + to_string(format) + ")");
        EXPECT_FALSE(env.packages.empty());
    }
}

TEST(LockFormat, ReadLockOfAMissingFileIsNotFound) {
    test::TempDir dir;
    try {
        (void)core::lock::read_lock(dir / "absent.lock");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        EXPECT_NE(std::string(e.what()).find("absent.lock"), std::string::npos) << e.what();
    }
}

TEST(LockFormat, ListJsonCannotBeWritten) {
    try {
        (void)render_lock(sample(), LockFormat::list_json);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
    }
}

TEST(LockFormat, TopologicalOrderPutsDependenciesFirstLevelByLevel) {
    const std::vector<LockedPackage> packages = {
        conda_package("numpy", "1", "0", {"python >=3.11", "libblas >=3.9", "__glibc >=2.17"}),
        conda_package("python", "3.11", "0", {"libzlib", "pip"}),
        conda_package("libzlib", "1", "0"),
        conda_package("libblas", "3.9", "0", {"libgfortran"}),
        conda_package("pip", "24", "0", {"python >=3.8"}),
        conda_package("libgfortran", "13", "0"),
        pypi_package("requests", "2"),
        conda_package("zz-standalone", "1", "0", {"not-installed >=1"}),
    };
    // Level 1 in name order, then whatever they unlock; python's dependency on pip is dropped.
    EXPECT_EQ(order_of(packages), "libgfortran libzlib zz-standalone libblas python numpy pip");
}

TEST(LockFormat, TopologicalOrderBreaksCyclesDeterministically) {
    const std::vector<LockedPackage> packages = {
        conda_package("c", "1", "0", {"a", "base"}),   conda_package("a", "1", "0", {"b"}),
        conda_package("b", "1", "0", {"c"}),           conda_package("base", "1", "0"),
        conda_package("self", "1", "0", {"self >=1"}),
    };
    // base and self (its own dependency is ignored) first; then the cycle a -> b -> c -> a is
    // broken at the package with the fewest dependencies left, by name: a.
    EXPECT_EQ(order_of(packages), "base self a c b");
    std::vector<LockedPackage> reversed(packages.rbegin(), packages.rend());
    EXPECT_EQ(order_of(reversed), "base self a c b");
}

TEST(LockFormat, TopologicalOrderReadsMatchSpecNames) {
    const std::vector<LockedPackage> packages = {
        conda_package("app", "1", "0", {"conda-forge::lib-a>=1", "lib_b[version='>=2']"}),
        conda_package("lib-a", "1", "0"),
        conda_package("lib_b", "1", "0"),
    };
    EXPECT_EQ(order_of(packages), "lib-a lib_b app");
}

TEST(LockFormat, EnvironmentRouteRoundTripsPins) {
    LockedEnv env = sample();
    env.env_vars["CUDA_HOME"] = "/usr/local/cuda";
    const auto rendered = render_lock(env, LockFormat::environment);
    EXPECT_EQ(detect_lock_format(rendered.text, "x"), LockFormat::environment);
    const auto back =
        core::lock::parse_lock(rendered.text, "environment.yml", LockFormat::environment);
    EXPECT_EQ(back.source, "environment.yml (environment)");
    ASSERT_EQ(back.packages.size(), 2U) << rendered.text;
    EXPECT_EQ(back.packages[0].name, "requests");
    EXPECT_EQ(back.packages[0].version, "2.32.3");
    EXPECT_EQ(back.packages[1].name, "zlib");
    EXPECT_EQ(back.packages[1].version, "1.3.1");
    EXPECT_EQ(back.packages[1].build, "h4ab18f5_1");
    EXPECT_EQ(back.env_vars, env.env_vars);
}

}  // namespace
}  // namespace gpuenv
