#include <gtest/gtest.h>

#include <gpuenv/core/verify/diff.hpp>

namespace gpuenv::core::verify {
namespace {

using lock::LockedEnv;
using lock::LockedPackage;
using lock::Manager;

LockedPackage conda(std::string name, std::string version, std::string build = "0") {
    LockedPackage p;
    p.manager = Manager::conda;
    p.name = std::move(name);
    p.key = p.name;
    p.version = std::move(version);
    p.build = std::move(build);
    p.channel = "conda-forge";
    p.installer = "conda";
    return p;
}

LockedPackage pypi(std::string name, std::string version, std::string installer = "pip") {
    LockedPackage p;
    p.manager = Manager::pypi;
    p.name = std::move(name);
    p.key = p.name;
    p.version = std::move(version);
    p.installer = std::move(installer);
    return p;
}

LockedEnv env_of(std::vector<LockedPackage> packages, std::string source = "env") {
    LockedEnv env;
    env.platform = "linux-64";
    env.packages = std::move(packages);
    env.source = std::move(source);
    return env;
}

}  // namespace

TEST(Diff, EqualEnvironmentsHaveNoDifferences) {
    const auto a = env_of({conda("numpy", "1.26.4"), pypi("requests", "2.31.0")});
    const auto d = diff(a, a);
    EXPECT_TRUE(d.empty());
    EXPECT_TRUE(findings_from_diff(d).empty());
}

TEST(Diff, ReportsAddedRemovedAndEachChangedField) {
    auto a = env_of({conda("numpy", "1.26.4", "py311_0"), conda("scipy", "1.12.0"),
                     conda("zlib", "1.3", "h_0"), pypi("requests", "2.31.0")});
    auto b = env_of({conda("numpy", "2.0.0", "py311_0"), conda("zlib", "1.3", "h_1"),
                     conda("pandas", "2.2.0"), pypi("requests", "2.31.0", "uv")});
    b.packages[1].channel = "pkgs/main";
    const auto d = diff(a, b);
    ASSERT_EQ(d.removed.size(), 1U);
    EXPECT_EQ(d.removed[0].a->name, "scipy");
    ASSERT_EQ(d.added.size(), 1U);
    EXPECT_EQ(d.added[0].b->name, "pandas");
    ASSERT_EQ(d.changed.size(), 3U);
    EXPECT_EQ(d.changed[0].key, "numpy");
    EXPECT_EQ(d.changed[0].changes, std::vector<FindingKind>{FindingKind::version});
    EXPECT_EQ(d.changed[1].key, "requests");
    EXPECT_EQ(d.changed[1].changes, std::vector<FindingKind>{FindingKind::installer});
    EXPECT_EQ(d.changed[2].key, "zlib");
    EXPECT_EQ(d.changed[2].changes,
              (std::vector<FindingKind>{FindingKind::build, FindingKind::channel}));

    const auto findings = findings_from_diff(d);
    ASSERT_EQ(findings.size(), 6U);
    EXPECT_EQ(findings[0].kind, FindingKind::missing);
    EXPECT_EQ(findings[0].package, "scipy");
    EXPECT_EQ(findings[1].kind, FindingKind::version);
    EXPECT_EQ(findings[1].expected, "1.26.4");
    EXPECT_EQ(findings[1].found, "2.0.0");
    EXPECT_EQ(findings[2].kind, FindingKind::installer);
    EXPECT_EQ(findings[2].package, "requests (pypi)");
    EXPECT_EQ(findings[2].found, "uv");
    EXPECT_EQ(findings[5].kind, FindingKind::extra);
}

TEST(Diff, PipOverCondaIsAChangeOfInstallerNotAnAddition) {
    const auto a = env_of({conda("numpy", "1.26.4")});
    const auto b = env_of({pypi("numpy", "2.0.0")});
    const auto d = diff(a, b);
    EXPECT_TRUE(d.added.empty());
    EXPECT_TRUE(d.removed.empty());
    ASSERT_EQ(d.changed.size(), 1U);
    EXPECT_EQ(d.changed[0].changes,
              (std::vector<FindingKind>{FindingKind::installer, FindingKind::version}));
}

TEST(Diff, ShadowingDistributionPairsWithItsTwin) {
    // B has conda numpy and a pip numpy over it: the conda side pairs, the pip one is added.
    const auto a = env_of({conda("numpy", "1.26.4")});
    const auto b = env_of({conda("numpy", "1.26.4"), pypi("numpy", "2.0.0")});
    const auto d = diff(a, b);
    EXPECT_TRUE(d.changed.empty());
    ASSERT_EQ(d.added.size(), 1U);
    EXPECT_EQ(d.added[0].b->manager, Manager::pypi);
}

TEST(Diff, NamesAreComparedInPep503Form) {
    const auto a = env_of({pypi("PyYAML", "6.0.1")});
    const auto b = env_of({pypi("pyyaml", "6.0.1")});
    EXPECT_TRUE(diff(a, b).empty());
}

TEST(Diff, ContentHashesCompareOnlyWhenBothSidesHaveThem) {
    auto a = env_of({conda("numpy", "1.26.4"), pypi("requests", "2.31.0")});
    auto b = a;
    a.packages[0].sha256 = "aa";
    EXPECT_TRUE(diff(a, b).empty());
    b.packages[0].sha256 = "bb";
    b.packages[1].record_sha256 = "r2";
    a.packages[1].record_sha256 = "r1";
    const auto d = diff(a, b);
    ASSERT_EQ(d.changed.size(), 2U);
    EXPECT_EQ(d.changed[0].changes, std::vector<FindingKind>{FindingKind::content});
    EXPECT_EQ(d.changed[1].changes, std::vector<FindingKind>{FindingKind::content});
}

TEST(Diff, VariablesAndPlatform) {
    auto a = env_of({});
    auto b = env_of({});
    a.env_vars = {{"A", "1"}, {"B", "2"}};
    b.env_vars = {{"B", "3"}, {"C", "4"}};
    b.platform = "osx-arm64";
    const auto d = diff(a, b);
    ASSERT_EQ(d.variables.size(), 3U);
    EXPECT_EQ(d.variables[0].name, "A");
    EXPECT_FALSE(d.variables[0].b.has_value());
    EXPECT_EQ(*d.variables[1].a, "2");
    EXPECT_EQ(*d.variables[1].b, "3");
    ASSERT_TRUE(d.platform.has_value());
    const auto findings = findings_from_diff(d);
    EXPECT_EQ(findings[0].kind, FindingKind::platform);
    EXPECT_NE(findings[0].detail.find("osx-arm64"), std::string::npos);
}

TEST(Diff, RequirementsSideComparesThePythonView) {
    auto installed = env_of(
        {conda("pytorch", "2.3.0", "cuda_0"), conda("libzlib", "1.3"), pypi("requests", "2.31.0")});
    installed.packages[0].python_name = "torch";
    installed.packages[0].python_version = "2.3.0";
    auto requirements =
        env_of({pypi("torch", "2.3.0", ""), pypi("requests", "2.32.0", "")}, "req.txt");
    requirements.fields = {false, true, true, false, false, false, false, false};
    requirements.platform.clear();
    const auto d = diff(requirements, installed);
    EXPECT_TRUE(d.added.empty()) << "libzlib carries no Python distribution";
    EXPECT_TRUE(d.removed.empty());
    ASSERT_EQ(d.changed.size(), 1U);
    EXPECT_EQ(d.changed[0].key, "requests");
    EXPECT_EQ(d.changed[0].changes, std::vector<FindingKind>{FindingKind::version});
    ASSERT_EQ(d.notes.size(), 1U);
    EXPECT_NE(d.notes[0].find("req.txt"), std::string::npos);
}

TEST(Diff, ExplicitSideLeavesPipOut) {
    auto installed = env_of({conda("numpy", "1.26.4"), pypi("requests", "2.31.0")});
    auto explicit_env = env_of({conda("numpy", "1.26.4")}, "explicit.txt");
    explicit_env.fields.pypi = false;
    explicit_env.fields.env_vars = false;
    installed.env_vars = {{"X", "1"}};
    const auto d = diff(explicit_env, installed);
    EXPECT_TRUE(d.empty());
    EXPECT_EQ(d.notes.size(), 2U);
}

}  // namespace gpuenv::core::verify
