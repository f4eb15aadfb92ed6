#include <gpuenv/core/spec/match_spec.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <gpuenv/util/error.hpp>

namespace gpuenv::core::spec {
namespace {

PackageInfo package(std::string name, std::string version, std::string build = "0") {
    PackageInfo p;
    p.name = std::move(name);
    p.version = std::move(version);
    p.build = std::move(build);
    return p;
}

std::optional<std::string> build_of(const MatchSpec& spec) {
    return spec.build();
}
std::optional<std::string> version_of(const MatchSpec& spec) {
    return spec.get(MatchField::version);
}

// One row of the reference's "Verified parse results" table (conda's _VERSION_BUILD_RE and
// _sanitize_version_str), with what the spec means for pkg 1.8.5 (fuzzy) and pkg 1.8 (both).
struct VerifiedRow {
    std::string spec;
    std::optional<std::string> version;
    std::optional<std::string> build;
    bool fuzzy;                // whether <base>.5 matches too
    std::string base = "1.8";  // the version the spec names
};

void PrintTo(const VerifiedRow& row, std::ostream* os) {
    *os << row.spec;
}

class MatchSpecVerifiedTable : public ::testing::TestWithParam<VerifiedRow> {};

TEST_P(MatchSpecVerifiedTable, ParsesAsConda) {
    const VerifiedRow& row = GetParam();
    const MatchSpec spec = MatchSpec::parse(row.spec);
    EXPECT_EQ(version_of(spec), row.version);
    EXPECT_EQ(build_of(spec), row.build);
    EXPECT_EQ(spec.str(), row.spec);
    if (!row.version || row.version->find_first_of("<>|,") != std::string::npos ||
        *row.version == "*")
        return;
    std::string build = row.build.value_or("0");
    std::replace(build.begin(), build.end(), '*', 'x');  // a build the pattern matches
    PackageInfo p = package(spec.name(), row.base, build);
    p.channel = spec.channel().value_or("");
    EXPECT_TRUE(spec.matches(p)) << row.spec;
    p.version = row.base + ".5";
    EXPECT_EQ(spec.matches(p), row.fuzzy) << row.spec;
}

INSTANTIATE_TEST_SUITE_P(
    MatchSpecReference, MatchSpecVerifiedTable,
    ::testing::Values(VerifiedRow{"pkg=1.8", "1.8*", std::nullopt, true},
                      VerifiedRow{"pkg =1.8", "1.8*", std::nullopt, true},
                      VerifiedRow{"pkg=1.8.*", "1.8.*", std::nullopt, true},
                      VerifiedRow{"pkg 1.8.*", "1.8.*", std::nullopt, true},
                      VerifiedRow{"pkg 1.8", "1.8", std::nullopt, false},
                      VerifiedRow{"pkg==1.8", "1.8", std::nullopt, false},
                      VerifiedRow{"pkg[version=1.8]", "1.8", std::nullopt, false},
                      VerifiedRow{"pkg=1.8=*", "1.8", "*", false},
                      VerifiedRow{"pkg==1.8=*", "1.8", "*", false},
                      VerifiedRow{"pkg ==1.8 *", "1.8", "*", false},
                      VerifiedRow{"pkg 1.8 *", "1.8", "*", false},
                      VerifiedRow{"pkg=1.8.*=*", "1.8.*", "*", true},
                      VerifiedRow{"pkg =1.8.* *", "1.8.*", "*", true},
                      VerifiedRow{"pkg ==1.8.* *", "1.8.*", "*", true},
                      VerifiedRow{"pkg =1.8 py27_0", "1.8", "py27_0", false},
                      VerifiedRow{"pkg=1.8=py27_0", "1.8", "py27_0", false},
                      VerifiedRow{"pkg 1.8 py27_0", "1.8", "py27_0", false},
                      VerifiedRow{"python=3.11=*_cpython", "3.11", "*_cpython", false, "3.11"},
                      VerifiedRow{"pkg >=1.8,<2 py3*", ">=1.8,<2", "py3*", false},
                      VerifiedRow{"pkg>=1.8,<2|3.*", ">=1.8,<2|3.*", std::nullopt, false},
                      VerifiedRow{"numpy >1.8,<2|==1.7,!=1.9,~=1.7.1 py34_0",
                                  ">1.8,<2|==1.7,!=1.9,~=1.7.1", "py34_0", false},
                      VerifiedRow{"blas * openblas_0", "*", "openblas_0", false},
                      VerifiedRow{"pkg=*=cuda*", "*", "cuda*", false},
                      VerifiedRow{"pytorch::pytorch=2.8", "2.8*", std::nullopt, true, "2.8"},
                      VerifiedRow{"pkg=", std::nullopt, std::nullopt, false}));

TEST(MatchSpec, VerifiedTableChannelAndErrors) {
    EXPECT_EQ(MatchSpec::parse("pytorch::pytorch=2.8").channel(), "pytorch");
    EXPECT_TRUE(MatchSpec::parse("pkg=").is_name_only());
    ParseFailure failure;
    EXPECT_FALSE(MatchSpec::try_parse("pkg==", &failure));
    EXPECT_EQ(failure.offset, 5u);
    EXPECT_EQ(failure.reason, "missing version after '=='");
}

// conda's _parse_version_plus_build docstring.
TEST(MatchSpec, SplitsVersionAndBuildAsConda) {
    EXPECT_EQ(MatchSpec::parse("x =1.2.3 0").build(), "0");
    EXPECT_EQ(version_of(MatchSpec::parse("x =1.2.3 0")), "1.2.3");
    EXPECT_EQ(MatchSpec::parse("x 1.2.3=0").build(), "0");
    const MatchSpec spaced = MatchSpec::parse("x >=1.0 , < 2.0 py34_0");
    EXPECT_EQ(version_of(spaced), ">=1.0,<2.0");
    EXPECT_EQ(spaced.build(), "py34_0");
    const MatchSpec spaced_eq = MatchSpec::parse("x >=1.0 , < 2.0 =py34_0");
    EXPECT_EQ(version_of(spaced_eq), ">=1.0,<2.0");
    EXPECT_EQ(spaced_eq.build(), "py34_0");
    EXPECT_EQ(version_of(MatchSpec::parse("x =1.2.3 ")), "1.2.3*");
    EXPECT_EQ(MatchSpec::parse("x >1.8,<2|==1.7").build(), std::nullopt);
    EXPECT_EQ(MatchSpec::parse("x * *").build(), "*");
}

// The two equivalence blocks of CEP 29 ("Version expression parsing").
TEST(MatchSpec, Cep29EquivalenceBlocks) {
    for (const char* s :
         {"pkg=1.8", "pkg =1.8", "pkg 1.8.*", "pkg 1.8.* *", "pkg=1.8.*", "pkg=1.8.*=*",
          "pkg =1.8.* *", "pkg ==1.8.* *", "pkg[version=1.8.*]", "pkg[version=\"1.8.*\"]"}) {
        const MatchSpec spec = MatchSpec::parse(s);
        EXPECT_TRUE(spec.matches(package("pkg", "1.8.5"))) << s;
        EXPECT_TRUE(spec.matches(package("pkg", "1.8"))) << s;
        EXPECT_FALSE(spec.matches(package("pkg", "1.9"))) << s;
    }
    for (const char* s : {"pkg 1.8", "pkg 1.8 *", "pkg==1.8", "pkg=1.8=*", "pkg==1.8=*",
                          "pkg ==1.8 *", "pkg[version=1.8]", "pkg[version=\"1.8\"]"}) {
        const MatchSpec spec = MatchSpec::parse(s);
        EXPECT_FALSE(spec.matches(package("pkg", "1.8.5"))) << s;
        EXPECT_TRUE(spec.matches(package("pkg", "1.8.0"))) << s;
    }
}

// The examples of CEP 29 and conda's MatchSpec docstring.
TEST(MatchSpec, CanonicalStringAsConda) {
    EXPECT_EQ(MatchSpec::parse("foo 1.0 py27_0").to_string(), "foo==1.0=py27_0");
    EXPECT_EQ(MatchSpec::parse("foo=1.0=py27_0").to_string(), "foo==1.0=py27_0");
    EXPECT_EQ(MatchSpec::parse("conda-forge::foo[version=1.0.*]").to_string(),
              "conda-forge::foo=1.0");
    EXPECT_EQ(MatchSpec::parse("conda-forge/linux-64::foo>=1.0").to_string(),
              "conda-forge/linux-64::foo[version='>=1.0']");
    EXPECT_EQ(MatchSpec::parse("*/linux-64::foo>=1.0").to_string(),
              "foo[subdir=linux-64,version='>=1.0']");
    EXPECT_EQ(MatchSpec::parse("numpy").to_string(), "numpy");
    EXPECT_EQ(MatchSpec::parse("numpy[build=py3*]").to_string(), "numpy[build=py3*]");
    EXPECT_EQ(MatchSpec::parse("*[md5=ABC]").to_string(), "*[md5=ABC]");
}

TEST(MatchSpec, CanonicalStringReadsBack) {
    PackageInfo p = package("numpy", "1.26.4", "py311h7125741_0");
    p.channel = "conda-forge";
    p.subdir = "linux-64";
    p.build_number = 3;
    p.fn = "numpy-1.26.4-py311h7125741_0.conda";
    p.url = "https://conda.anaconda.org/conda-forge/linux-64/" + p.fn;
    for (const char* text :
         {"numpy", "numpy 1.26.4 py311h7125741_0", "numpy >=1.21,<2 py3*", "numpy 1.*.4",
          "conda-forge/linux-64::numpy=1.26", "numpy[build_number='>=3', license='BSD 3']",
          "numpy !=1.9.*", "numpy ~=1.26.0", "numpy ~=1.26.0 py3*", "numpy *",
          "*/linux-64::numpy[build=\"it's\"]", "numpy[version='^1\\.26\\..*$']",
          "https://conda.anaconda.org/conda-forge/linux-64/numpy-1.26.4-py311h7125741_0.conda",
          "numpy 1.26.4@x", "mkl@"}) {
        const MatchSpec spec = MatchSpec::parse(text);
        const std::string canonical = spec.to_string();
        const MatchSpec again = MatchSpec::parse(canonical);
        EXPECT_EQ(again.to_string(), canonical) << text;
        EXPECT_EQ(again.matches(p), spec.matches(p)) << text << " -> " << canonical;
    }
    EXPECT_EQ(MatchSpec::parse("numpy 1.*.4").to_string(), "numpy[version='1.*.4']");
    EXPECT_EQ(MatchSpec::parse("numpy *").to_string(), "numpy");
    EXPECT_EQ(MatchSpec::parse("numpy ~=1.26.0").to_string(), "numpy~=1.26.0");
    // Found by fuzzing: forms that would read back differently.
    EXPECT_EQ(MatchSpec::parse("c::numpy==0,2=py_0").to_string(),
              "c::numpy[version='(==0,2)',build=py_0]");
    EXPECT_EQ(MatchSpec::parse("nth.tar.bz2=").to_string(), "nth.tar.bz2[]");
    EXPECT_EQ(MatchSpec::parse("o (==1.0*)").to_string(), "o[version='(==1.0*)']");
    EXPECT_EQ(MatchSpec::parse("chan /::numpy").to_string(), "chan::numpy");
    EXPECT_EQ(MatchSpec::parse("chan::numpy[subdir=custom]").to_string(),
              "chan::numpy[subdir=custom]");
    EXPECT_EQ(MatchSpec::parse("numpy[channel='a[b']").to_string(), "numpy[channel='a[b']");
    EXPECT_EQ(MatchSpec::parse("h://host/linux-64/x-1.0-0.conda").channel(), "h://host");
    EXPECT_EQ(MatchSpec::parse("chan/linux-64 /::numpy").to_string(), "chan/linux-64::numpy");
    EXPECT_EQ(MatchSpec::parse("x(://host/a::numpy").channel(), "x(://host/a");  // not a URL
    EXPECT_EQ(MatchSpec::parse("nth.tar.bz2[]").name(), "nth.tar.bz2");
    EXPECT_EQ(MatchSpec::parse("c/linux-64/x-1.0-h0.conda.conda").to_string(),
              "c/linux-64::x==1.0=h0.conda[]");
}

TEST(MatchSpec, ChannelSubdirAndNamespace) {
    const MatchSpec a = MatchSpec::parse("conda-forge::numpy");
    EXPECT_EQ(a.channel(), "conda-forge");
    EXPECT_EQ(a.subdir(), std::nullopt);
    const MatchSpec b = MatchSpec::parse("conda-forge/linux-64::numpy");
    EXPECT_EQ(b.channel(), "conda-forge");
    EXPECT_EQ(b.subdir(), "linux-64");
    const MatchSpec c = MatchSpec::parse("conda-forge/label/dev::numpy");
    EXPECT_EQ(c.channel(), "conda-forge/label/dev");
    const MatchSpec d = MatchSpec::parse("chan:ns:numpy>=1");
    EXPECT_EQ(d.channel(), "chan");
    EXPECT_EQ(d.name(), "numpy");
    const MatchSpec e = MatchSpec::parse("ns:numpy");
    EXPECT_EQ(e.channel(), std::nullopt);
    const MatchSpec f = MatchSpec::parse("https://conda.anaconda.org/conda-forge/noarch/::pip");
    EXPECT_EQ(f.channel(), "https://conda.anaconda.org/conda-forge");
    EXPECT_EQ(f.subdir(), "noarch");
    const MatchSpec g = MatchSpec::parse("conda-forge::numpy[channel=pytorch/linux-64]");
    EXPECT_EQ(g.channel(), "pytorch");
    EXPECT_EQ(g.subdir(), "linux-64");
    const MatchSpec h = MatchSpec::parse("conda-forge/linux-64::numpy[subdir=noarch]");
    EXPECT_EQ(h.subdir(), "noarch");
    ParseFailure failure;  // CEP 26: a channel ending in a subdir name is undefined
    EXPECT_FALSE(MatchSpec::try_parse("chan/linux-64/linux-64::numpy", &failure));
    EXPECT_EQ(failure.reason,
              "ambiguous channel 'chan/linux-64': its last component is a subdir name");
}

TEST(MatchSpec, ChannelMatchesCanonicalNameOrUrl) {
    PackageInfo p = package("numpy", "1.26.4", "py311h7125741_0");
    p.channel = "conda-forge";
    p.channel_url = "https://conda.anaconda.org/conda-forge/osx-arm64";
    p.subdir = "osx-arm64";
    EXPECT_TRUE(MatchSpec::parse("conda-forge::numpy").matches(p));
    EXPECT_TRUE(MatchSpec::parse("Conda-Forge::numpy").matches(p));
    EXPECT_FALSE(MatchSpec::parse("pytorch::numpy").matches(p));
    EXPECT_TRUE(MatchSpec::parse("conda-forge/osx-arm64::numpy").matches(p));
    EXPECT_FALSE(MatchSpec::parse("conda-forge/linux-64::numpy").matches(p));
    EXPECT_TRUE(MatchSpec::parse("https://conda.anaconda.org/conda-forge::numpy").matches(p));
    EXPECT_TRUE(MatchSpec::parse("https://conda.anaconda.org/conda-forge/::numpy").matches(p));
    EXPECT_TRUE(
        MatchSpec::parse("https://conda.anaconda.org/conda-forge/osx-arm64::numpy").matches(p));
    EXPECT_FALSE(MatchSpec::parse("https://example.com/conda-forge::numpy").matches(p));
    EXPECT_TRUE(MatchSpec::parse("conda-*::numpy").matches(p));
    EXPECT_TRUE(MatchSpec::parse("*::numpy").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[channel=conda-forge]").matches(p));

    PackageInfo local = p;
    local.channel = "file:///srv/chan";
    local.channel_url = "file:///srv/chan/osx-arm64";
    EXPECT_TRUE(MatchSpec::parse("file:///srv/chan::numpy").matches(local));
    EXPECT_TRUE(MatchSpec::parse("/srv/chan::numpy").matches(local));
    EXPECT_FALSE(MatchSpec::parse("conda-forge::numpy").matches(local));

    PackageInfo main = p;
    main.channel = "pkgs/main";
    main.channel_url = "https://repo.anaconda.com/pkgs/main/linux-64";
    EXPECT_TRUE(MatchSpec::parse("defaults::numpy").matches(main));
    EXPECT_TRUE(MatchSpec::parse("pkgs/main::numpy").matches(main));
    EXPECT_TRUE(MatchSpec::parse("https://repo.anaconda.com/pkgs/main::numpy").matches(main));

    PackageInfo unnamed = p;  // a producer that left the canonical name empty
    unnamed.channel.clear();
    EXPECT_TRUE(MatchSpec::parse("conda-forge::numpy").matches(unnamed));
}

TEST(MatchSpec, BracketsQuotesAndOverrides) {
    const MatchSpec a = MatchSpec::parse("numpy[version='>=1.21, <2', build=\"py3*\"]");
    EXPECT_EQ(version_of(a), ">=1.21,<2");
    EXPECT_EQ(a.build(), "py3*");
    const MatchSpec b = MatchSpec::parse("numpy 1.0 py_0 [version=2.0, build=py_1]");
    EXPECT_EQ(version_of(b), "2.0");
    EXPECT_EQ(b.build(), "py_1");
    const MatchSpec c = MatchSpec::parse("tensorflow[name=pytorch]");  // name is never overridden
    EXPECT_EQ(c.name(), "tensorflow");
    const MatchSpec d = MatchSpec::parse("numpy[version=>=1.21 build_number=3]");
    EXPECT_EQ(version_of(d), ">=1.21");
    EXPECT_EQ(d.get(MatchField::build_number), "3");
    EXPECT_EQ(version_of(MatchSpec::parse("numpy[version='=1.8']")), "1.8*");
    EXPECT_EQ(version_of(MatchSpec::parse("numpy[version='==1.8']")), "1.8");
    const MatchSpec e = MatchSpec::parse("numpy[version=1.0](optional)");
    EXPECT_EQ(version_of(e), "1.0");
    const MatchSpec f = MatchSpec::parse("numpy[when=\"python>=3.10\", optional]");
    EXPECT_EQ(f.get(MatchField::when), "python>=3.10");
    EXPECT_TRUE(f.matches(package("numpy", "1.0")));
}

TEST(MatchSpec, CommentsConditionsAndFeatures) {
    const MatchSpec a = MatchSpec::parse("numpy >=1.21 # pinned for abi");
    EXPECT_EQ(version_of(a), ">=1.21");
    const MatchSpec b = MatchSpec::parse("numpy >=1.21 if python >=3.10");
    EXPECT_EQ(version_of(b), ">=1.21");
    const MatchSpec c = MatchSpec::parse("mkl@");
    EXPECT_EQ(c.name(), "*");
    EXPECT_EQ(c.get(MatchField::track_features), "mkl");
    PackageInfo p = package("blas", "1.0", "mkl");
    EXPECT_FALSE(c.matches(p));
    p.track_features = {"mkl"};
    EXPECT_TRUE(c.matches(p));
    const MatchSpec legacy = MatchSpec::parse("numpy 1.0 (target=x, optional)");
    EXPECT_EQ(version_of(legacy), "1.0");
    // conda strips any '(...)' and so drops this constraint; it is kept here.
    EXPECT_FALSE(MatchSpec::parse("numpy (>=2.0|<1.0)").matches(package("numpy", "1.5")));
}

// CEP 29 appendix C and conda's package-file branch.
TEST(MatchSpec, PackageUrlsAndPaths) {
    const MatchSpec a = MatchSpec::parse(
        "https://conda.anaconda.org/conda-forge/linux-64/python-3.11.10-h123456_0.conda");
    EXPECT_EQ(a.channel(), "conda-forge");
    EXPECT_EQ(a.subdir(), "linux-64");
    EXPECT_EQ(a.name(), "python");
    EXPECT_EQ(version_of(a), "3.11.10");
    EXPECT_EQ(a.build(), "h123456_0");
    EXPECT_EQ(a.get(MatchField::fn), "python-3.11.10-h123456_0.conda");
    EXPECT_EQ(a.to_string(), "conda-forge/linux-64::python==3.11.10=h123456_0");
    PackageInfo p = package("python", "3.11.10", "h123456_0");
    p.channel = "conda-forge";
    p.subdir = "linux-64";
    p.fn = "python-3.11.10-h123456_0.conda";
    p.url = "https://conda.anaconda.org/conda-forge/linux-64/python-3.11.10-h123456_0.conda";
    EXPECT_TRUE(a.matches(p));
    p.version = "3.11.1";
    EXPECT_FALSE(a.matches(p));

    const MatchSpec b = MatchSpec::parse("/opt/chan/noarch/_license-1.1-py27_1.tar.bz2");
    EXPECT_EQ(b.channel(), "file:///opt/chan");
    EXPECT_EQ(b.name(), "_license");
    EXPECT_EQ(b.get(MatchField::url), "file:///opt/chan/noarch/_license-1.1-py27_1.tar.bz2");

    const MatchSpec c = MatchSpec::parse("https://example.com/dl/foo-1.0-0.conda");
    EXPECT_EQ(c.name(), "*");
    EXPECT_EQ(c.channel(), std::nullopt);
    EXPECT_EQ(c.get(MatchField::fn), "foo-1.0-0.conda");
    const MatchSpec d = MatchSpec::parse("file:///tmp/my%20pkg-1.0-0.conda");
    EXPECT_EQ(d.get(MatchField::fn), "my pkg-1.0-0.conda");

    ParseFailure failure;
    EXPECT_FALSE(MatchSpec::try_parse("https://x.org/c/linux-64/nodashes.conda", &failure));
    EXPECT_EQ(failure.reason, "package file name is not <name>-<version>-<build>");
    EXPECT_EQ(failure.offset, 25u);
    // Found by fuzzing: conda reads a file's version as a spec; a file name holds a literal.
    EXPECT_FALSE(MatchSpec::try_parse("https://x.org/c/linux-64/python-=c-0.conda", &failure));
    EXPECT_EQ(failure.offset, 32u);
    EXPECT_EQ(failure.reason, "invalid character '='");
    EXPECT_FALSE(MatchSpec::try_parse("https://x.org/c/linux-64/python-1.*-0.conda", &failure));
    EXPECT_EQ(failure.reason, "invalid character '*' in a package version");
}

TEST(MatchSpec, NamesFollowCep26) {
    EXPECT_EQ(MatchSpec::parse("NumPy").name(), "numpy");
    EXPECT_TRUE(MatchSpec::parse("NumPy").matches(package("numpy", "1.0")));
    for (const char* ok : {"__cuda", "_openmp_mutex", "python_abi", "ca-certificates", "x",
                           "zope.interface", "r-base", "a-", "libblas", "_"}) {
        EXPECT_NO_THROW(MatchSpec::parse(ok)) << ok;
    }
    const std::vector<std::pair<std::string, std::size_t>> bad = {
        {"a__b", 2}, {"-bad", 0},        {"__", 2}, {"__-x", 2},
        {"a..b", 2}, {"caf\xc3\xa9", 3}, {"a+b", 1}};
    for (const auto& [name, offset] : bad) {
        ParseFailure failure;
        EXPECT_FALSE(MatchSpec::try_parse(name, &failure)) << name;
        EXPECT_EQ(failure.offset, offset) << name;
    }
    ParseFailure failure;
    EXPECT_FALSE(MatchSpec::try_parse(std::string(65, 'a'), &failure));
    EXPECT_EQ(failure.reason, "package name longer than 64 characters");
    EXPECT_NO_THROW(MatchSpec::parse(std::string(64, 'a')));
}

TEST(MatchSpec, NameGlobsAndRegexes) {
    ParseFailure failure;
    EXPECT_FALSE(MatchSpec::try_parse("*km5@=", &failure));  // found by fuzzing
    EXPECT_EQ(failure.offset, 4u);
    EXPECT_EQ(failure.reason, "invalid package name: unexpected '@'");
    EXPECT_FALSE(MatchSpec::try_parse("lib*.tar.bz2 #- p_y@", &failure));
    EXPECT_EQ(failure.reason, "invalid feature name: unexpected '*'");
    const MatchSpec glob = MatchSpec::parse("lib*");
    EXPECT_TRUE(glob.matches(package("libblas", "3.9.0")));
    EXPECT_FALSE(glob.matches(package("numpy", "1.0")));
    EXPECT_TRUE(MatchSpec::parse("*").matches(package("numpy", "1.0")));
    EXPECT_TRUE(MatchSpec::parse("*[md5=abc]").name() == "*");
    EXPECT_TRUE(MatchSpec::parse("^lib.*$").matches(package("libcxx", "17")));
}

TEST(MatchSpec, BuildStringMatching) {
    PackageInfo p = package("python", "3.11.9", "h932a869_0_cpython");
    EXPECT_TRUE(MatchSpec::parse("python 3.11.* *_cpython").matches(p));
    EXPECT_FALSE(MatchSpec::parse("python 3.11.* *_pypy").matches(p));
    EXPECT_TRUE(MatchSpec::parse("python 3.11.9 H932A869_0_CPYTHON").matches(p));  // CEP 29
    EXPECT_TRUE(MatchSpec::parse("python[build='^h[0-9a-f]+_0_cpython$']").matches(p));
    EXPECT_FALSE(MatchSpec::parse("python[build='^h[0-9a-f]+_1_cpython$']").matches(p));
}

TEST(MatchSpec, BuildNumberOperators) {
    PackageInfo p = package("numpy", "1.26.4", "py311_3");
    p.build_number = 3;
    EXPECT_TRUE(MatchSpec::parse("numpy[build_number=3]").matches(p));
    EXPECT_FALSE(MatchSpec::parse("numpy[build_number=4]").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[build_number='>=3']").matches(p));
    EXPECT_FALSE(MatchSpec::parse("numpy[build_number='>3']").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[build_number='<4']").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[build_number='<=3']").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[build_number='!=2']").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[build_number='==3']").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[build_number='*']").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[build_number='^[0-3]$']").matches(p));
    ParseFailure failure;
    EXPECT_FALSE(MatchSpec::try_parse("numpy[build_number=abc]", &failure));
    EXPECT_EQ(failure.offset, 19u);
    EXPECT_EQ(failure.reason, "invalid build number 'abc'");
}

TEST(MatchSpec, OtherFields) {
    PackageInfo p = package("numpy", "1.26.4", "py311h7125741_0");
    p.md5 = "0123456789abcdef0123456789abcdef";
    p.sha256 = "f453db4ffe2271ec492a2913af4e61d4a6c118201f07de757df0eff769b65d2e";
    p.fn = "numpy-1.26.4-py311h7125741_0.conda";
    p.url = "https://conda.anaconda.org/conda-forge/osx-arm64/" + p.fn;
    p.license = "BSD-3-Clause";
    p.license_family = "BSD";
    p.subdir = "osx-arm64";
    EXPECT_TRUE(MatchSpec::parse("*[md5=0123456789ABCDEF0123456789abcdef]").matches(p));
    EXPECT_FALSE(MatchSpec::parse("*[md5=0123456789abcdef0123456789abcdee]").matches(p));
    EXPECT_TRUE(MatchSpec::parse("*[sha256=" + p.sha256 + "]").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[fn=" + p.fn + "]").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[url='" + p.url + "']").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[license=bsd-3-clause]").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[license_family=BSD]").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[license='BSD*']").matches(p));
    EXPECT_FALSE(MatchSpec::parse("numpy[license=MIT]").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[subdir=osx-arm64]").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy[subdir='osx-*']").matches(p));
    EXPECT_FALSE(MatchSpec::parse("numpy[subdir=linux-64]").matches(p));
    p.subdir.clear();
    p.channel_url = "https://conda.anaconda.org/conda-forge/osx-arm64";
    EXPECT_TRUE(MatchSpec::parse("numpy[subdir=osx-arm64]").matches(p));  // from channel_url
    EXPECT_FALSE(MatchSpec::parse("numpy[track_features=mkl]").matches(p));
    EXPECT_FALSE(MatchSpec::parse("numpy >=2").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy >=1.26,<2.0a0").matches(p));
    EXPECT_FALSE(MatchSpec::parse("scipy").matches(p));
    p.version = "not a version!";
    EXPECT_FALSE(MatchSpec::parse("numpy >=1").matches(p));
    EXPECT_TRUE(MatchSpec::parse("numpy *").matches(p));
}

struct InvalidMatchSpec {
    std::string text;
    std::size_t offset;
    std::string reason;
};

TEST(MatchSpec, RejectsInvalidWithOffsetAndReason) {
    const std::vector<InvalidMatchSpec> cases = {
        {"", 0, "empty match spec"},
        {"# only a comment", 0, "empty match spec"},
        {">=1.0", 0, "missing package name"},
        {"numpy >=1.21,<<2", 13, "invalid operator"},
        {"numpy[version=1.0][build=0]", 18, "multiple bracket sections not allowed"},
        {"numpy[version=1.0", 5, "unterminated '['"},
        {"numpy[foo=1]", 6, "cannot match on field 'foo'"},
        {"numpy[version=]", 14, "empty value for 'version'"},
        {"numpy[version='1.0]", 14, "unterminated quote"},
        {"numpy[version]", 13, "expected '=' after 'version'"},
        {"numpy[version=1.0] extra", 19, "unexpected text after ']'"},
        {"numpy[version=a[b]]", 15, "quote a value that contains '['"},
        {"numpy<", 6, "missing version after '<'"},
        {"numpy 1.0 py_0 extra", 14, "too many fields: a spec is name, version and build"},
        {"numpy 1.0$", 6, "a regex must start with '^' and end with '$'"},
        {"numpy[version='>=1.0,,2']", 21, "expected a version before ','"},
        {"numpy ===", 9, "empty version spec"},
        {"@", 0, "missing feature name before '@'"},
        {"numpy\n>=1", 5, "control character in match spec"},
        {"numpy[build='^(?!x)$']", 14,
         "unsupported group syntax '(?' (lookaround, named groups "
         "and inline flags are not supported)"},
        {"a[version=)|(", 1, "unterminated '['"},
        {"a=)(=b", 2, "expected a version before ')'"},
    };
    for (const auto& c : cases) {
        ParseFailure failure;
        EXPECT_FALSE(MatchSpec::try_parse(c.text, &failure).has_value()) << c.text;
        EXPECT_EQ(failure.offset, c.offset) << c.text;
        EXPECT_EQ(failure.reason, c.reason) << c.text;
    }
}

TEST(MatchSpec, ParseThrowsUsageErrorWithColumn) {
    try {
        (void)MatchSpec::parse("numpy >=1.21,<<2");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::usage);
        EXPECT_NE(std::string(e.what()).find(
                      "invalid match spec 'numpy >=1.21,<<2': column 14: invalid operator"),
                  std::string::npos)
            << e.what();
    }
}

TEST(MatchSpec, BadInputIsBoundedAndFast) {
    const auto start = std::chrono::steady_clock::now();
    ParseFailure failure;
    EXPECT_FALSE(MatchSpec::try_parse(std::string(1 << 20, 'a'), &failure));
    EXPECT_EQ(failure.reason, "match spec longer than 16384 characters");
    EXPECT_FALSE(MatchSpec::try_parse("numpy " + std::string(10000, '('), &failure));
    EXPECT_EQ(failure.reason, "parentheses nested deeper than 64");
    EXPECT_FALSE(
        MatchSpec::try_parse("numpy[version='" + std::string(16000, '(') + "']", &failure));
    EXPECT_EQ(failure.reason, "parentheses nested deeper than 64");
    const MatchSpec spec = MatchSpec::parse("numpy[build='^(a|a)*(a*)*b$']");
    EXPECT_FALSE(spec.matches(package("numpy", "1.0", std::string(4000, 'a'))));
    std::string many = "numpy ";
    for (int i = 0; i < 1500; ++i)
        many += (i > 0 ? "|" : "") + std::to_string(i) + ".*";
    EXPECT_TRUE(MatchSpec::parse(many).matches(package("numpy", "1499.2")));
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 5.0);
}

// The depends of real conda-meta records written by rattler and conda all parse, and every
// record satisfies `name==version=build` built from its own fields.
TEST(MatchSpec, RealRecordsDependsParseAndRecordsMatchThemselves) {
    const std::filesystem::path dir =
        std::filesystem::path(GPUENV_REAL_FIXTURES) / "rattler-conda-meta";
    std::size_t records = 0;
    std::size_t depends = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".json")
            continue;
        std::ifstream in(entry.path());
        const nlohmann::json record = nlohmann::json::parse(in);
        for (const auto& dep : record.value("depends", nlohmann::json::array())) {
            EXPECT_NO_THROW(MatchSpec::parse(dep.get<std::string>()))
                << entry.path() << ": " << dep;
            ++depends;
        }
        for (const auto& dep : record.value("constrains", nlohmann::json::array()))
            EXPECT_NO_THROW(MatchSpec::parse(dep.get<std::string>())) << dep;
        PackageInfo p;
        p.name = record.at("name").get<std::string>();
        p.version = record.at("version").get<std::string>();
        p.build = record.at("build").get<std::string>();
        p.build_number = record.value("build_number", 0);
        const std::string pin = p.name + "==" + p.version + "=" + p.build;
        EXPECT_TRUE(MatchSpec::parse(pin).matches(p)) << pin;
        EXPECT_TRUE(MatchSpec::parse(p.name + " " + p.version + " " + p.build).matches(p)) << pin;
        EXPECT_TRUE(MatchSpec::parse(p.name + "=" + p.version).matches(p)) << pin;
        PackageInfo other = p;
        other.build += "x";
        EXPECT_FALSE(MatchSpec::parse(pin).matches(other)) << pin;
        ++records;
    }
    EXPECT_GE(records, 40u);
    EXPECT_GE(depends, 60u);
}

}  // namespace
}  // namespace gpuenv::core::spec
