// Fuzzes the PEP 440 version parser: any bytes give a version or a gpuenv::Error; a parsed
// version must survive its normalized form and compare consistently.
#include <cstdint>
#include <string_view>

#include <gpuenv/core/spec/pep440.hpp>
#include <gpuenv/util/error.hpp>

namespace {

using gpuenv::core::spec::Pep440Version;

const Pep440Version& reference(std::size_t i) {
    static const Pep440Version versions[] = {
        Pep440Version::parse("0"),           Pep440Version::parse("1.0.dev0"),
        Pep440Version::parse("1.0a1"),       Pep440Version::parse("1.0"),
        Pep440Version::parse("1.0+local.7"), Pep440Version::parse("1.0.post1"),
        Pep440Version::parse("1!0.1"),       Pep440Version::parse("1.99999999999999999999999"),
    };
    return versions[i % (sizeof(versions) / sizeof(versions[0]))];
}

void check(const Pep440Version& v) {
    const std::string normalized = v.normalized();
    const Pep440Version again = Pep440Version::parse(normalized);
    if (again != v || again.normalized() != normalized)
        __builtin_trap();
    if (v.public_version() > v || v.base_version().has_local() || !v.has_same_base(v))
        __builtin_trap();
    for (std::size_t i = 0; i < 8; ++i) {
        const auto forward = v <=> reference(i);
        const auto backward = reference(i) <=> v;
        if ((forward < 0) != (backward > 0) || (forward == 0) != (backward == 0))
            __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const bool valid = Pep440Version::try_parse(text).has_value();
    try {
        check(Pep440Version::parse(text));
        if (!valid)
            __builtin_trap();
    } catch (const gpuenv::Error&) {
        if (valid)
            __builtin_trap();
    }
    if (const auto extent = gpuenv::core::spec::scan_pep440(text); extent && extent->end > size)
        __builtin_trap();
    return 0;
}
