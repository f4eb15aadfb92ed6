// Fuzzes the version spec parser: any bytes give a spec or a gpuenv::Error; a parsed spec is
// tested against fixed versions, and its normalized form parses back to the same answers.
#include <array>
#include <cstdint>
#include <string_view>

#include <gpuenv/core/spec/version_spec.hpp>
#include <gpuenv/util/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using gpuenv::core::spec::CondaVersion;
    using gpuenv::core::spec::VersionSpec;
    static const std::array<CondaVersion, 8> versions = {
        CondaVersion::parse("1.0"),    CondaVersion::parse("1.7.1"),
        CondaVersion::parse("2.0a1"),  CondaVersion::parse("1!0.1"),
        CondaVersion::parse("3.11.9"), CondaVersion::parse("1.0+x.1"),
        CondaVersion::parse("2024a"),  CondaVersion::parse("0.0.0.post1")};
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const VersionSpec spec = VersionSpec::parse(text);
        gpuenv::core::spec::ParseFailure failure;
        const auto again = VersionSpec::try_parse(spec.normalized(), &failure);
        if (!again && failure.reason != "parentheses nested deeper than 64")
            __builtin_trap();
        (void)spec.is_exact();
        for (const CondaVersion& v : versions) {
            const bool inside = spec.contains(v);
            if (again && again->contains(v) != inside)
                __builtin_trap();
        }
    } catch (const gpuenv::Error&) {
    }
    return 0;
}
