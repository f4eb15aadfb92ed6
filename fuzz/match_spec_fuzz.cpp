// Fuzzes the match spec parser: any bytes give a spec or a gpuenv::Error; a parsed spec is
// matched against a few packages and written back in its canonical form.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <gpuenv/core/spec/match_spec.hpp>
#include <gpuenv/util/error.hpp>

namespace {

gpuenv::core::spec::PackageInfo make(const char* name, const char* version, const char* build,
                                     const char* channel, const char* channel_url) {
    gpuenv::core::spec::PackageInfo p;
    p.name = name;
    p.version = version;
    p.build = build;
    p.build_number = 3;
    p.channel = channel;
    p.channel_url = channel_url;
    p.subdir = "linux-64";
    p.fn = std::string(name) + "-" + version + "-" + build + ".conda";
    p.url = std::string(channel_url) + "/" + p.fn;
    p.md5 = "0123456789abcdef0123456789abcdef";
    p.license = "BSD-3-Clause";
    p.track_features = {"mkl"};
    return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using gpuenv::core::spec::MatchSpec;
    static const std::array<gpuenv::core::spec::PackageInfo, 3> packages = {
        make("numpy", "1.26.4", "py311h64a7726_0", "conda-forge",
             "https://conda.anaconda.org/conda-forge/linux-64"),
        make("python", "3.11.9", "hb806964_0_cpython", "pkgs/main",
             "https://repo.anaconda.com/pkgs/main/linux-64"),
        make("__cuda", "12.4", "0", "", "")};
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const MatchSpec spec = MatchSpec::parse(text);
        for (const auto& p : packages)
            (void)spec.matches(p);
        // The canonical form, once it reads back, is a fixed point (a value holding both quote
        // characters cannot be written back in brackets, so those are left out).
        const std::string canonical = spec.to_string();
        const bool both_quotes =
            canonical.find('\'') != std::string::npos && canonical.find('"') != std::string::npos;
        if (const auto again = both_quotes ? std::nullopt : MatchSpec::try_parse(canonical)) {
            if (again->to_string() != canonical)
                __builtin_trap();
        }
        (void)spec.is_name_only();
    } catch (const gpuenv::Error&) {
    }
    return 0;
}
