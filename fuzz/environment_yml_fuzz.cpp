// Fuzzes environment.yml parsing: any bytes give a parsed file or a gpuenv::Error.
#include <cstdint>
#include <string_view>

#include <gpuenv/core/spec/environment_yml.hpp>
#include <gpuenv/util/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const auto env = gpuenv::core::spec::parse_environment_yml(
            text, "environment.yml",
            [](std::string_view) { return std::optional<std::string>("x"); });
        for (const auto& dep : env.conda)
            (void)dep.spec.str();
    } catch (const gpuenv::Error&) {
    }
    return 0;
}
