// Fuzzes the PEP 440 specifier parser: any bytes give a specifier set or a gpuenv::Error; a
// parsed set must re-parse from its printed form and answer containment for any version.
#include <cstdint>
#include <string_view>

#include <gpuenv/core/spec/specifier.hpp>
#include <gpuenv/util/error.hpp>

namespace {

using gpuenv::core::spec::Pep440Version;
using gpuenv::core::spec::PreReleases;
using gpuenv::core::spec::SpecifierSet;

constexpr std::string_view k_versions[] = {
    "0", "1.0.dev0", "1.0a1", "1.0", "1.0+local.7", "1.0.post1", "1!0.1", "2.0rc1.post1.dev1+x"};
constexpr std::string_view k_sets[] = {"",       ">=1.0,<2",   "~=1.4.5", "==1.*",     "!=1.0+l",
                                       "===foo", ">1.0.post1", "<1.0a1",  "~=1!1.0a1", "==0.*"};

void exercise(const SpecifierSet& set, const Pep440Version& v) {
    const bool by_rule = set.contains(v);
    const bool allow = set.contains(v, PreReleases::allow);
    const bool deny = set.contains(v, PreReleases::deny);
    if ((by_rule && !allow) || (deny && !by_rule))
        __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (gpuenv::core::spec::Specifier::match_length(text) > size)
        __builtin_trap();
    try {
        const SpecifierSet set = SpecifierSet::parse(text);
        const std::string printed = set.str();
        if (SpecifierSet::parse(printed).str() != printed)
            __builtin_trap();
        for (const std::string_view v : k_versions)
            exercise(set, Pep440Version::parse(v));
        (void)set.contains(text);
    } catch (const gpuenv::Error&) {
    }
    if (const auto v = Pep440Version::try_parse(text)) {
        for (const std::string_view s : k_sets)
            exercise(SpecifierSet::parse(s), *v);
    }
    return 0;
}
