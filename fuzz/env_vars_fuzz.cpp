// Fuzzes env_vars.d / conda-meta/state parsing: any bytes give variables or a gpuenv::Error,
// in both modes, and the variables go through conda's activation rules.
#include <cstdint>
#include <string_view>

#include <gpuenv/core/env/env_vars.hpp>
#include <gpuenv/util/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<std::vector<std::pair<std::string, std::string>>> packages;
    std::vector<std::pair<std::string, std::string>> state;
    gpuenv::Diagnostics warnings;
    try {
        packages.push_back(
            gpuenv::core::env::parse_env_vars_json(text, "env_vars.d/x.json", false, warnings));
    } catch (const gpuenv::Error&) {
    }
    try {
        state = gpuenv::core::env::parse_env_vars_json(text, "conda-meta/state", true);
    } catch (const gpuenv::Error&) {
    }
    (void)gpuenv::core::env::effective_env_vars(packages, state, warnings);
    return 0;
}
