#include <gtest/gtest.h>

#include <algorithm>

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/lock/locked_env.hpp>
#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::lock {
namespace {

const LockedPackage& find(const LockedEnv& env, const std::string& name, Manager manager) {
    const auto it = std::find_if(
        env.packages.begin(), env.packages.end(),
        [&](const LockedPackage& p) { return p.name == name && p.manager == manager; });
    if (it == env.packages.end())
        throw std::runtime_error("no package " + name);
    return *it;
}

}  // namespace

TEST(LockedEnv, HoldsEveryRecordDistributionAndVariable) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    const auto inventory = env::read_inventory(env::open_prefix(dir / "env"));
    const auto locked = lock_from_inventory(inventory);
    EXPECT_TRUE(locked.warnings.empty());
    EXPECT_EQ(locked.platform, "linux-64");
    EXPECT_EQ(locked.channels, std::vector<std::string>{"conda-forge"});
    ASSERT_EQ(locked.packages.size(), 5U);
    std::vector<std::string> order;
    for (const auto& p : locked.packages)
        order.push_back(p.key);
    EXPECT_EQ(order, (std::vector<std::string>{"idna", "libzlib", "numpy", "python", "requests"}));

    const auto& numpy = find(locked, "numpy", Manager::conda);
    EXPECT_EQ(numpy.build, "py311h64a7726_0");
    EXPECT_EQ(numpy.channel, "conda-forge");
    EXPECT_EQ(numpy.subdir, "linux-64");
    EXPECT_FALSE(numpy.url.empty());
    EXPECT_EQ(numpy.sha256.size(), 64U);
    EXPECT_EQ(numpy.python_name, "numpy");
    EXPECT_EQ(numpy.python_version, "1.26.4");
    EXPECT_EQ(numpy.record_sha256.size(), 64U);
    EXPECT_TRUE(numpy.requested);
    EXPECT_EQ(numpy.installer, "conda");

    const auto& requests = find(locked, "requests", Manager::pypi);
    EXPECT_EQ(requests.installer, "pip");
    EXPECT_TRUE(requests.requested);
    EXPECT_EQ(requests.record_sha256.size(), 64U);
    EXPECT_EQ(requests.depends, (std::vector<std::string>{
                                    "idna<4,>=2.5", "PySocks!=1.5.7,>=1.5.6; extra == \"socks\""}));
    EXPECT_FALSE(find(locked, "idna", Manager::pypi).requested);

    EXPECT_EQ(locked.env_vars, (std::map<std::string, std::string>{{"MY_VAR", "on"}}));
    EXPECT_EQ(locked.fingerprint.size(), 64U);
}

TEST(LockedEnv, RecordHashesAreLeftOutWhenNotAsked) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    const auto inventory = env::read_inventory(env::open_prefix(dir / "env"));
    const auto locked = lock_from_inventory(inventory, HashRecords::no);
    for (const auto& p : locked.packages)
        EXPECT_TRUE(p.record_sha256.empty()) << p.name;
    EXPECT_FALSE(locked.fields.hashes);
    // The fingerprint does not depend on RECORD hashes.
    EXPECT_EQ(locked.fingerprint, lock_from_inventory(inventory).fingerprint);
}

TEST(LockedEnv, RecordHashChangesWhenPipRewritesADistribution) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    const auto before = lock_from_inventory(env::read_inventory(env::open_prefix(dir / "env")));
    test::write_file(
        dir / "env" / test::k_sample_site_packages / "requests-2.31.0.dist-info" / "RECORD",
        "requests/__init__.py,sha256=AAAA,1\n");
    const auto after = lock_from_inventory(env::read_inventory(env::open_prefix(dir / "env")));
    EXPECT_NE(find(before, "requests", Manager::pypi).record_sha256,
              find(after, "requests", Manager::pypi).record_sha256);
}

TEST(LockedEnv, SortPutsCondaBeforePypiOfTheSameKey) {
    std::vector<LockedPackage> packages(3);
    packages[0].manager = Manager::pypi;
    packages[0].name = "NumPy";
    packages[1].manager = Manager::conda;
    packages[1].name = "numpy";
    packages[2].manager = Manager::conda;
    packages[2].name = "attrs";
    sort_packages(packages);
    EXPECT_EQ(packages[0].name, "attrs");
    EXPECT_EQ(packages[1].manager, Manager::conda);
    EXPECT_EQ(packages[2].key, "numpy");
}

}  // namespace gpuenv::core::lock
