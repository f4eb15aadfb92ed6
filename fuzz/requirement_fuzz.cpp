// Fuzzes the PEP 508 requirement and marker parsers: any bytes give a requirement (or marker)
// or a gpuenv::Error; a parsed marker evaluates, or reports an undefined comparison.
#include <cstdint>
#include <string_view>

#include <gpuenv/core/spec/marker.hpp>
#include <gpuenv/core/spec/requirement.hpp>
#include <gpuenv/util/error.hpp>

namespace {

using gpuenv::core::spec::Marker;
using gpuenv::core::spec::MarkerEnvironment;
using gpuenv::core::spec::Requirement;

const MarkerEnvironment& environment() {
    static const MarkerEnvironment env = [] {
        MarkerEnvironment e;
        e.implementation_version = e.python_full_version = "3.11.2";
        e.python_version = "3.11";
        e.platform_machine = "x86_64";
        e.platform_release = "5.10.0-28-amd64";
        e.platform_system = "Linux";
        e.sys_platform = "linux";
        return e;
    }();
    return env;
}

void evaluate(const Marker& marker) {
    for (const std::string_view extra : {"", "test", "Foo_Bar"}) {
        try {
            (void)marker.evaluate(environment(), extra);
        } catch (const gpuenv::Error&) {
        }
    }
    (void)marker.str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const Requirement req = Requirement::parse(text);
        if (req.name.empty() || req.normalized_name.empty())
            __builtin_trap();
        (void)req.str();
        if (req.marker)
            evaluate(*req.marker);
        try {
            (void)req.matches(req.name, "1.0", environment());
        } catch (const gpuenv::Error&) {
        }
    } catch (const gpuenv::Error&) {
    }
    try {
        evaluate(Marker::parse(text));
    } catch (const gpuenv::Error&) {
    }
    return 0;
}
