// Times PEP 440 version parsing, comparison, sorting and specifier containment on generated
// realistic inputs; prints `<name> <count> <seconds> <ops/s>` lines, the same inputs and lines
// as bench/pep440_packaging.py prints for Debian's python3-packaging.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <gpuenv/core/spec/pep440.hpp>
#include <gpuenv/core/spec/specifier.hpp>

namespace {

using gpuenv::core::spec::Pep440Version;
using gpuenv::core::spec::SpecifierSet;

// splitmix64, mirrored in pep440_packaging.py so both time the same inputs.
class Rng {
  public:
    explicit Rng(std::uint64_t seed) : m_state(seed) {}
    std::uint64_t below(std::uint64_t n) {
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return (z ^ (z >> 31)) % n;
    }

  private:
    std::uint64_t m_state;
};

std::string version(Rng& rng) {
    const std::string major = std::to_string(rng.below(40));
    const std::string minor = std::to_string(rng.below(30));
    const std::string micro = std::to_string(rng.below(20));
    const std::uint64_t shape = rng.below(100);
    std::string v = major + "." + minor;
    if (shape < 70) {
        v += "." + micro;
    } else if (shape >= 90) {
        v += "." + micro + "." + std::to_string(rng.below(10));
    }
    const std::uint64_t suffix = rng.below(100);
    if (suffix < 8) {
        v += "rc" + std::to_string(rng.below(3) + 1);
    } else if (suffix < 12) {
        v += "a" + std::to_string(rng.below(5));
    } else if (suffix < 15) {
        v += "b" + std::to_string(rng.below(5));
    } else if (suffix < 20) {
        v += ".post" + std::to_string(rng.below(3) + 1);
    } else if (suffix < 24) {
        v += ".dev" + std::to_string(rng.below(20240000));
    } else if (suffix < 30) {
        v += "+cu" + std::to_string(110 + rng.below(15));
    }
    if (rng.below(100) == 0)
        v = "1!" + v;
    return v;
}

std::string specifier(Rng& rng) {
    const std::uint64_t a = rng.below(40);
    const std::uint64_t b = rng.below(30);
    const std::uint64_t c = rng.below(20);
    const std::string ab = std::to_string(a) + "." + std::to_string(b);
    const std::string abc = ab + "." + std::to_string(c);
    switch (rng.below(7)) {
        case 0:
            return ">=" + ab;
        case 1:
            return ">=" + ab + ",<" + std::to_string(a + 1);
        case 2:
            return "~=" + abc;
        case 3:
            return "==" + ab + ".*";
        case 4:
            return "!=" + abc;
        case 5:
            return ">=" + ab + ",!=" + abc + ",<" + std::to_string(a + 2);
        default:
            return "==" + abc;
    }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void report(const char* name, std::size_t count, double seconds) {
    std::printf("%s %zu %.6f %.0f\n", name, count, seconds, static_cast<double>(count) / seconds);
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
    const std::size_t n_specs = 1000;
    Rng rng(42);
    std::vector<std::string> texts;
    texts.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        texts.push_back(version(rng));
    std::vector<std::string> spec_texts;
    for (std::size_t i = 0; i < n_specs; ++i)
        spec_texts.push_back(specifier(rng));

    auto start = std::chrono::steady_clock::now();
    std::vector<Pep440Version> versions;
    versions.reserve(n);
    for (const std::string& t : texts)
        versions.push_back(Pep440Version::parse(t));
    report("pep440_parse", n, seconds_since(start));

    std::size_t sink = 0;
    start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i)
        sink += versions[i] < versions[(i * 7919 + 1) % n] ? 1 : 0;
    report("pep440_compare", n, seconds_since(start));

    std::vector<Pep440Version> sorted = versions;
    start = std::chrono::steady_clock::now();
    std::sort(sorted.begin(), sorted.end());
    report("pep440_sort", n, seconds_since(start));

    std::vector<SpecifierSet> sets;
    for (const std::string& s : spec_texts)
        sets.push_back(SpecifierSet::parse(s));
    start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i)
        sink += sets[i % n_specs].contains(versions[i]) ? 1 : 0;
    report("pep440_contains", n, seconds_since(start));

    std::fprintf(stderr, "checksum %zu\n", sink);
    return 0;
}
