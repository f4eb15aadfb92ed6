// Fuzzes the conda version parser: any bytes give a version or a gpuenv::Error, and the versions
// parsed from the input's lines order consistently (reflexive, antisymmetric, transitive).
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <gpuenv/core/spec/conda_version.hpp>
#include <gpuenv/util/error.hpp>

namespace {

using gpuenv::core::spec::CondaVersion;

int sign(std::weak_ordering o) {
    return o < 0 ? -1 : (o > 0 ? 1 : 0);
}

void check(const CondaVersion& a, const CondaVersion& b) {
    if (sign(a <=> b) != -sign(b <=> a) || (a == b) != ((a <=> b) == 0))
        __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::array<CondaVersion, 6> fixed = {
        CondaVersion::parse("1.0"),       CondaVersion::parse("1.0.0a1"),
        CondaVersion::parse("1!0.1"),     CondaVersion::parse("2.0dev"),
        CondaVersion::parse("1.0+local"), CondaVersion::parse("1.0post")};
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const CondaVersion v = CondaVersion::parse(text);
        if (!(v == v) || !v.starts_with(v) || !(CondaVersion::parse(v.normalized()) == v))
            __builtin_trap();
        for (const CondaVersion& f : fixed) {
            check(v, f);
            (void)v.starts_with(f);
            (void)f.starts_with(v);
        }
    } catch (const gpuenv::Error&) {
    }
    std::vector<CondaVersion> lines;
    std::size_t begin = 0;
    while (begin <= text.size() && lines.size() < 3) {
        std::size_t end = text.find('\n', begin);
        if (end == std::string_view::npos)
            end = text.size();
        if (auto v = CondaVersion::try_parse(text.substr(begin, end - begin)))
            lines.push_back(std::move(*v));
        begin = end + 1;
    }
    for (const auto& a : lines) {
        for (const auto& b : lines) {
            check(a, b);
            for (const auto& c : lines) {
                if (a <= b && b <= c && !(a <= c))
                    __builtin_trap();
            }
        }
    }
    return 0;
}
