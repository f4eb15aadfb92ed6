#include <gpuenv/core/spec/package_name.hpp>

#include <gtest/gtest.h>

namespace gpuenv::core::spec {
namespace {

// The examples of PEP 503 ("Normalized Names") and the packaging user guide's name spec.
TEST(PackageName, LowercasesAndJoinsSeparatorRuns) {
    EXPECT_EQ(normalize_pypi_name("Foo.Bar"), "foo-bar");
    EXPECT_EQ(normalize_pypi_name("foo__bar"), "foo-bar");
    EXPECT_EQ(normalize_pypi_name("FOO-BAR"), "foo-bar");
    EXPECT_EQ(normalize_pypi_name("a-_-b"), "a-b");
}

TEST(PackageName, SpecExamplesAllNormalizeToOneName) {
    for (const char* name : {"friendly-bard", "Friendly-Bard", "FRIENDLY-BARD", "friendly.bard",
                             "friendly_bard", "friendly--bard", "FrIeNdLy-._.-bArD"}) {
        EXPECT_EQ(normalize_pypi_name(name), "friendly-bard") << name;
    }
}

TEST(PackageName, LeavesNormalizedNamesAlone) {
    for (const char* name : {"numpy", "scikit-learn", "zope-interface", "a-b-c", "py2-3"}) {
        EXPECT_EQ(normalize_pypi_name(name), name);
    }
}

TEST(PackageName, KeepsDigitsAndNonSeparators) {
    EXPECT_EQ(normalize_pypi_name("PyYAML"), "pyyaml");
    EXPECT_EQ(normalize_pypi_name("backports.functools_lru_cache"),
              "backports-functools-lru-cache");
    EXPECT_EQ(normalize_pypi_name("Py3-2.0"), "py3-2-0");
}

TEST(PackageName, EmptyStaysEmpty) {
    EXPECT_EQ(normalize_pypi_name(""), "");
}

}  // namespace
}  // namespace gpuenv::core::spec
