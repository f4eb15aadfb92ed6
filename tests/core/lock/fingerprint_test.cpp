#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/lock/fingerprint.hpp>
#include <gpuenv/util/sha256.hpp>
#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::lock {
namespace {

LockedPackage conda(std::string name, std::string version, std::string build, std::string sha) {
    LockedPackage p;
    p.manager = Manager::conda;
    p.name = std::move(name);
    p.version = std::move(version);
    p.build = std::move(build);
    p.channel = "conda-forge";
    p.sha256 = std::move(sha);
    p.installer = "conda";
    return p;
}

LockedPackage pypi(std::string name, std::string version, std::string installer) {
    LockedPackage p;
    p.manager = Manager::pypi;
    p.name = std::move(name);
    p.version = std::move(version);
    p.installer = std::move(installer);
    return p;
}

std::vector<LockedPackage> sample() {
    return {conda("numpy", "1.26.4", "py311_0", "aa"), conda("python", "3.11.8", "h_0", ""),
            pypi("Requests", "2.31.0", "pip")};
}

std::string fingerprint_of_env(const std::filesystem::path& prefix) {
    return lock_from_inventory(env::read_inventory(env::open_prefix(prefix))).fingerprint;
}

}  // namespace

TEST(Fingerprint, HashesTheDocumentedCanonicalText) {
    auto packages = sample();
    packages[1].md5 = "0123";
    const std::string text =
        "conda\tnumpy\t1.26.4\tpy311_0\tconda-forge\taa\tconda\n"
        "conda\tpython\t3.11.8\th_0\tconda-forge\tmd5:0123\tconda\n"
        "pypi\trequests\t2.31.0\t\t\t\tpip\n";
    EXPECT_EQ(fingerprint_text(packages), text);
    EXPECT_EQ(fingerprint(packages), util::sha256_hex(text));
}

TEST(Fingerprint, DoesNotDependOnOrder) {
    auto packages = sample();
    const auto expected = fingerprint(packages);
    std::mt19937 rng(7);
    for (int i = 0; i < 5; ++i) {
        std::shuffle(packages.begin(), packages.end(), rng);
        EXPECT_EQ(fingerprint(packages), expected);
    }
}

TEST(Fingerprint, ChangesWithEveryIdentityField) {
    const auto base = fingerprint(sample());
    auto changed = [&](auto&& mutate) {
        auto packages = sample();
        mutate(packages);
        return fingerprint(packages);
    };
    EXPECT_NE(changed([](auto& p) { p[0].version = "1.26.5"; }), base);
    EXPECT_NE(changed([](auto& p) { p[0].build = "py311_1"; }), base);
    EXPECT_NE(changed([](auto& p) { p[0].channel = "pkgs/main"; }), base);
    EXPECT_NE(changed([](auto& p) { p[0].sha256 = "bb"; }), base);
    EXPECT_NE(changed([](auto& p) { p[2].installer = "uv"; }), base);
    EXPECT_NE(changed([](auto& p) { p[2].manager = Manager::conda; }), base);
    EXPECT_NE(changed([](auto& p) { p.pop_back(); }), base);
    // What is not identity does not count: the spelling of a PyPI name, the record's url.
    EXPECT_EQ(changed([](auto& p) { p[2].name = "requests"; }), base);
    EXPECT_EQ(changed([](auto& p) { p[0].url = "https://mirror/numpy.conda"; }), base);
}

TEST(Fingerprint, IsTheSameForEveryRecordWriter) {
    test::TempDir dir;
    test::write_sample_env(dir / "conda", test::CondaWriter::conda);
    test::write_sample_env(dir / "mamba", test::CondaWriter::micromamba);
    test::write_sample_env(dir / "rattler", test::CondaWriter::rattler);
    const auto expected = fingerprint_of_env(dir / "conda");
    EXPECT_EQ(fingerprint_of_env(dir / "mamba"), expected);
    EXPECT_EQ(fingerprint_of_env(dir / "rattler"), expected);
    EXPECT_EQ(fingerprint_of_env(dir / "conda"), expected);  // and across runs
}

}  // namespace gpuenv::core::lock
