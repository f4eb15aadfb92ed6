// Times conda version parsing and comparison, version spec and match spec parsing, and
// matching, on deterministic pseudo-random realistic inputs. Prints one line per measurement:
//   <name> <count> <seconds> <operations per second>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <gpuenv/core/spec/conda_version.hpp>
#include <gpuenv/core/spec/match_spec.hpp>
#include <gpuenv/core/spec/package_info.hpp>
#include <gpuenv/core/spec/version_spec.hpp>

namespace {

using gpuenv::core::spec::CondaVersion;
using gpuenv::core::spec::MatchSpec;
using gpuenv::core::spec::PackageInfo;
using gpuenv::core::spec::VersionSpec;

constexpr std::size_t k_count = 1'000'000;
constexpr std::size_t k_specs = 1000;
constexpr std::size_t k_packages = 10'000;

// SplitMix64: the same sequence on every platform (std distributions are not specified).
class Rng {
  public:
    explicit Rng(std::uint64_t seed) : m_state(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }
    template <typename T>
    const T& pick(const std::vector<T>& items) {
        return items[below(static_cast<unsigned>(items.size()))];
    }

  private:
    std::uint64_t m_state;
};

std::string num(Rng& rng, unsigned n) {
    return std::to_string(rng.below(n));
}

std::string random_version(Rng& rng) {
    const std::string major = num(rng, 30);
    const std::string minor = num(rng, 40);
    const std::string patch = num(rng, 20);
    switch (rng.below(16)) {
        case 0:
            return major + "." + minor;
        case 1:
            return major + "." + minor + "." + patch + "a" + num(rng, 5);
        case 2:
            return major + "." + minor + "." + patch + "rc" + num(rng, 4);
        case 3:
            return num(rng, 3) + "!" + major + "." + minor;
        case 4:
            return "3." + num(rng, 14) + "." + patch + "_cpython";
        case 5:
            return "20" + std::to_string(10 + rng.below(16)) +
                   std::string(1, static_cast<char>('a' + rng.below(7)));
        case 6:
            return major + "." + minor + ".post" + num(rng, 9);
        case 7:
            return major + "." + minor + "." + patch + ".dev" + num(rng, 9);
        case 8:
            return major + "." + minor + "." + patch + "+cuda1" + num(rng, 30);
        case 9:
            return "1.1.1" + std::string(1, static_cast<char>('a' + rng.below(26)));
        case 10:
            return "20" + num(rng, 25) + "." + num(rng, 12) + "." + num(rng, 28);
        default:
            return major + "." + minor + "." + patch;
    }
}

std::string random_version_spec(Rng& rng) {
    const std::string a = num(rng, 30);
    const std::string b = num(rng, 40);
    const std::string c = num(rng, 20);
    switch (rng.below(10)) {
        case 0:
            return ">=" + a + "." + b + ",<" + std::to_string(std::stoi(a) + 1);
        case 1:
            return a + "." + b + ".*";
        case 2:
            return ">=" + a + "." + b + "|<" + num(rng, 5);
        case 3:
            return "~=" + a + "." + b + "." + c;
        case 4:
            return "!=" + a + "." + b + ".*";
        case 5:
            return ">=" + a + "." + b + "." + c + ",<" + a + "." + b + "." + "1000a0";
        case 6:
            return "==" + a + "." + b + "." + c;
        case 7:
            return ">=" + a + ",!=" + a + "." + b + ".*,<" + a + ".9999";
        case 8:
            return "<" + a + "." + b + "a0";
        default:
            return a + "." + b + "." + c;
    }
}

std::string random_match_spec(Rng& rng, const std::vector<std::string>& names) {
    const std::string& name = rng.pick(names);
    switch (rng.below(8)) {
        case 0:
            return name + " " + random_version_spec(rng);
        case 1:
            return "conda-forge::" + name + " " + num(rng, 30) + "." + num(rng, 40) + ".* *_0";
        case 2:
            return name + "[build_number='>=" + num(rng, 5) + "']";
        case 3:
            return name + "=" + num(rng, 30) + "." + num(rng, 40);
        case 4:
            return name.substr(0, 3) + "*";
        case 5:
            return "conda-forge/linux-64::" + name + ">=" + num(rng, 30) + " py3*";
        case 6:
            return name + "[version='" + random_version_spec(rng) + "', license=BSD*]";
        default:
            return name;
    }
}

void report(const char* name, std::size_t count, std::chrono::steady_clock::time_point start) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s %zu %.6f %.0f\n", name, count, seconds, static_cast<double>(count) / seconds);
}

}  // namespace

int main() {
    Rng rng(20260822);
    std::vector<std::string> version_texts;
    version_texts.reserve(k_count);
    for (std::size_t i = 0; i < k_count; ++i)
        version_texts.push_back(random_version(rng));

    auto start = std::chrono::steady_clock::now();
    std::vector<CondaVersion> versions;
    versions.reserve(k_count);
    for (const auto& text : version_texts)
        versions.push_back(CondaVersion::parse(text));
    report("conda_version_parse", k_count, start);

    std::size_t sink = 0;
    start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < k_count; ++i)
        sink += versions[i] < versions[(i * 7919 + 13) % k_count] ? 1 : 0;
    report("conda_version_compare", k_count, start);

    std::vector<CondaVersion> sorted = versions;
    start = std::chrono::steady_clock::now();
    std::sort(sorted.begin(), sorted.end());
    report("conda_version_sort", k_count, start);

    std::vector<std::string> spec_texts;
    for (std::size_t i = 0; i < k_specs; ++i)
        spec_texts.push_back(random_version_spec(rng));
    start = std::chrono::steady_clock::now();
    std::vector<VersionSpec> specs;
    for (std::size_t i = 0; i < k_count; ++i) {
        VersionSpec spec = VersionSpec::parse(spec_texts[i % k_specs]);
        if (i < k_specs)
            specs.push_back(std::move(spec));
    }
    report("version_spec_parse", k_count, start);

    start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < k_count; ++i)
        sink += specs[i % k_specs].contains(versions[i]) ? 1 : 0;
    report("version_spec_contains", k_count, start);

    const std::vector<std::string> names = {
        "numpy",   "python",      "scipy",  "pandas",          "libblas", "openssl", "libzlib",
        "pytorch", "cudatoolkit", "libcxx", "ca-certificates", "xz",      "tk",      "requests"};
    std::vector<PackageInfo> packages(k_packages);
    for (std::size_t i = 0; i < k_packages; ++i) {
        PackageInfo& p = packages[i];
        p.name = rng.pick(names);
        p.version = version_texts[i];
        p.build = (rng.below(2) != 0 ? "py311h" : "h") + std::to_string(rng.next() % 100000) + "_" +
                  num(rng, 5);
        p.build_number = rng.below(6);
        p.channel = rng.below(4) != 0 ? "conda-forge" : "pkgs/main";
        p.channel_url = p.channel == "conda-forge"
                            ? "https://conda.anaconda.org/conda-forge/linux-64"
                            : "https://repo.anaconda.com/pkgs/main/linux-64";
        p.subdir = "linux-64";
        p.license = "BSD-3-Clause";
    }
    std::vector<std::string> match_texts;
    for (std::size_t i = 0; i < k_specs; ++i)
        match_texts.push_back(random_match_spec(rng, names));
    start = std::chrono::steady_clock::now();
    std::vector<MatchSpec> match_specs;
    for (std::size_t i = 0; i < k_count; ++i) {
        MatchSpec spec = MatchSpec::parse(match_texts[i % k_specs]);
        if (i < k_specs)
            match_specs.push_back(std::move(spec));
    }
    report("match_spec_parse", k_count, start);

    start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < k_count; ++i)
        sink += match_specs[i % k_specs].matches(packages[(i * 7919) % k_packages]) ? 1 : 0;
    report("match_spec_matches", k_count, start);

    std::fflush(stdout);
    std::fprintf(stderr, "checksum %zu\n", sink);
    return 0;
}
