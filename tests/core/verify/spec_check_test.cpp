#include <gtest/gtest.h>

#include <filesystem>

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/verify/verify.hpp>
#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::verify {
namespace {

namespace fs = std::filesystem;

spec::EnvironmentFile yml(const std::string& text) {
    return spec::parse_environment_yml(text, "environment.yml",
                                       [](std::string_view) { return std::nullopt; });
}

Findings check(const fs::path& prefix, const std::string& text) {
    return check_spec(env::read_inventory(env::open_prefix(prefix)), yml(text));
}

std::string kinds(const Findings& findings) {
    std::string out;
    for (const auto& f : findings)
        out += std::string(to_string(f.kind)) + ":" + f.package + " ";
    return out;
}

}  // namespace

TEST(SpecCheck, SatisfiedEnvironmentHasNoFindings) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    const auto findings = check(dir / "env",
                                "dependencies:\n"
                                "  - python=3.11\n"
                                "  - conda-forge::numpy >=1.26,<2\n"
                                "  - libzlib\n"
                                "  - pip:\n"
                                "    - requests>=2.31\n"
                                "    - idna\n"
                                "    - numpy==1.26.4\n"
                                "    - colorama; sys_platform == 'win32'\n");
    EXPECT_TRUE(findings.empty()) << kinds(findings);
}

TEST(SpecCheck, ReportsMissingUnsatisfiedAndWrongInstaller) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    const auto findings = check(dir / "env",
                                "dependencies:\n"
                                "  - numpy=2\n"
                                "  - scipy\n"
                                "  - requests\n"
                                "  - pkgs/main::libzlib\n"
                                "  - pip:\n"
                                "    - requests>=3\n"
                                "    - flask\n"
                                "    - -e ./src\n");
    ASSERT_EQ(findings.size(), 7U) << kinds(findings);
    EXPECT_EQ(findings[0].kind, FindingKind::spec_unsatisfied);
    EXPECT_EQ(findings[0].package, "numpy");
    EXPECT_EQ(findings[0].found, "1.26.4 py311h64a7726_0 (conda-forge)");
    EXPECT_NE(findings[0].detail.find("line 2"), std::string::npos);
    EXPECT_EQ(findings[1].kind, FindingKind::spec_missing);
    EXPECT_EQ(findings[1].package, "scipy");
    EXPECT_EQ(findings[2].kind, FindingKind::wrong_installer);
    EXPECT_EQ(findings[2].package, "requests");
    EXPECT_EQ(findings[2].found, "2.31.0 (pip)");
    EXPECT_EQ(findings[3].kind, FindingKind::spec_unsatisfied);  // channel
    EXPECT_EQ(findings[4].kind, FindingKind::spec_unsatisfied);
    EXPECT_EQ(findings[4].package, "requests (pypi)");
    EXPECT_EQ(findings[5].kind, FindingKind::spec_missing);
    EXPECT_EQ(findings[5].package, "flask (pypi)");
    EXPECT_EQ(findings[6].kind, FindingKind::spec_unchecked);
}

TEST(SpecCheck, CondaSpecMetByARecordThatPipShadowsIsTheWrongInstaller) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    // pip install -U numpy over the conda package: a second dist-info, INSTALLER=pip.
    test::PythonDistSpec numpy{"numpy", "2.0.0", "pip"};
    numpy.files = {"numpy/__init__.py"};
    fs::remove_all(dir / "env" / test::k_sample_site_packages / "numpy-1.26.4.dist-info");
    test::write_dist_info(dir / "env" / test::k_sample_site_packages, numpy);
    const auto findings = check(dir / "env", "dependencies:\n  - numpy=1.26\n");
    ASSERT_EQ(findings.size(), 1U) << kinds(findings);
    EXPECT_EQ(findings[0].kind, FindingKind::wrong_installer);
    EXPECT_EQ(findings[0].found, "2.0.0 (pip)");
}

}  // namespace gpuenv::core::verify
