#include <gtest/gtest.h>

#include <filesystem>

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/verify/verify.hpp>
#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::verify {
namespace {

namespace fs = std::filesystem;

Findings consistency_of(const fs::path& prefix) {
    Diagnostics warnings;
    auto findings = check_consistency(env::read_inventory(env::open_prefix(prefix)), warnings);
    EXPECT_TRUE(warnings.empty()) << warnings.front().to_string();
    return findings;
}

std::string kinds(const Findings& findings) {
    std::string out;
    for (const auto& f : findings)
        out += std::string(to_string(f.kind)) + ":" + f.package + " ";
    return out;
}

fs::path site_packages(const test::TempDir& dir) {
    return dir / "env" / test::k_sample_site_packages;
}

}  // namespace

TEST(Consistency, SampleEnvironmentIsConsistentForEveryWriter) {
    for (const auto writer :
         {test::CondaWriter::conda, test::CondaWriter::micromamba, test::CondaWriter::rattler}) {
        test::TempDir dir;
        test::write_sample_env(dir / "env", writer);
        const auto findings = consistency_of(dir / "env");
        EXPECT_TRUE(findings.empty()) << kinds(findings);
    }
}

TEST(Consistency, MissingAndUnsatisfiedCondaDependencies) {
    test::TempDir dir;
    auto builder = test::write_sample_env(dir / "env");
    fs::remove(dir / "env" / "conda-meta" / "libzlib-1.3.1-h4ab18f5_1.json");
    test::CondaPackageSpec old_python_dep;
    old_python_dep.name = "cython-blis";
    old_python_dep.version = "0.7.0";
    old_python_dep.depends = {"python >=3.12,<3.13.0a0", "__glibc >=2.17"};
    old_python_dep.constrains = {"numpy <1.20"};
    builder.add_package(old_python_dep);
    const auto findings = consistency_of(dir / "env");
    ASSERT_EQ(findings.size(), 4U) << kinds(findings);
    EXPECT_EQ(findings[0].kind, FindingKind::dependency_unsatisfied);
    EXPECT_EQ(findings[0].package, "cython-blis");
    EXPECT_EQ(findings[0].found, "python 3.11.8 hab00c5b_0_cpython");
    EXPECT_EQ(findings[1].kind, FindingKind::constraint_violated);
    EXPECT_EQ(findings[1].expected, "numpy <1.20");
    EXPECT_EQ(findings[2].kind, FindingKind::dependency_missing);
    EXPECT_EQ(findings[2].package, "numpy");
    EXPECT_EQ(findings[2].expected, "libzlib >=1.2.13,<2.0a0");
    EXPECT_EQ(findings[3].kind, FindingKind::dependency_missing);
    EXPECT_EQ(findings[3].package, "python");
}

TEST(Consistency, PythonRequirementsLikePipCheck) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    fs::remove_all(site_packages(dir) / "idna-3.6.dist-info");
    auto findings = consistency_of(dir / "env");
    ASSERT_EQ(findings.size(), 1U) << kinds(findings);
    EXPECT_EQ(findings[0].kind, FindingKind::dependency_missing);
    EXPECT_EQ(findings[0].package, "requests (pypi)");
    EXPECT_EQ(findings[0].detail, "requests 2.31.0 requires idna<4,>=2.5, which is not installed");

    test::PythonDistSpec idna{"idna", "4.0", "pip"};
    test::write_dist_info(site_packages(dir), idna);
    findings = consistency_of(dir / "env");
    ASSERT_EQ(findings.size(), 1U) << kinds(findings);
    EXPECT_EQ(findings[0].kind, FindingKind::dependency_unsatisfied);
    EXPECT_EQ(findings[0].found, "idna 4.0");
    EXPECT_EQ(findings[0].detail,
              "requests 2.31.0 has requirement idna<4,>=2.5, but you have idna 4.0");
}

TEST(Consistency, PipOverCondaIsShadowing) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    // pip install -U numpy: pip removes the dist-info conda wrote (it has a RECORD) and writes
    // its own; conda's record stays behind.
    fs::remove_all(site_packages(dir) / "numpy-1.26.4.dist-info");
    test::write_dist_info(site_packages(dir), {"numpy", "2.0.0", "pip"});
    const auto findings = consistency_of(dir / "env");
    ASSERT_EQ(findings.size(), 2U) << kinds(findings);
    EXPECT_EQ(findings[0].kind, FindingKind::shadowed);
    EXPECT_EQ(findings[0].package, "numpy");
    EXPECT_EQ(findings[0].expected, "1.26.4 py311h64a7726_0 (conda)");
    EXPECT_EQ(findings[0].found, "2.0.0 (pip)");
    EXPECT_EQ(findings[1].kind, FindingKind::record_files_gone);
    EXPECT_EQ(findings[1].package, "numpy");
}

TEST(Consistency, TwoMetadataDirectoriesOfOneName) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    // A pip crash between writing the new dist-info and removing the old one.
    test::write_dist_info(site_packages(dir), {"idna", "3.7", "pip"});
    const auto findings = consistency_of(dir / "env");
    ASSERT_EQ(findings.size(), 1U) << kinds(findings);
    EXPECT_EQ(findings[0].kind, FindingKind::duplicate);
    EXPECT_EQ(findings[0].package, "idna");
    EXPECT_EQ(findings[0].found, "idna-3.6.dist-info, idna-3.7.dist-info");
    EXPECT_EQ(findings[0].path, test::k_sample_site_packages);
}

TEST(Consistency, RecordWhosePythonMetadataIsGone) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    fs::remove_all(site_packages(dir) / "numpy-1.26.4.dist-info");
    const auto findings = consistency_of(dir / "env");
    ASSERT_EQ(findings.size(), 1U) << kinds(findings);
    EXPECT_EQ(findings[0].kind, FindingKind::record_files_gone);
    EXPECT_EQ(findings[0].package, "numpy");
    EXPECT_EQ(findings[0].path, test::k_sample_site_packages + "/numpy-1.26.4.dist-info");
}

}  // namespace gpuenv::core::verify
