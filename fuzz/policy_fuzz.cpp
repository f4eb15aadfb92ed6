// Fuzzes the policy file: any bytes give a policy or a gpuenv::Error, as system and user file.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <gpuenv/core/gpu/policy.hpp>
#include <gpuenv/util/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    namespace gpu = gpuenv::core::gpu;
    try {
        const gpu::Policy policy = gpu::parse_policy(text, "config.yaml");
        const gpu::UserIdentity user{"alice", {"ml-team", "students"}};
        const gpu::GpuRule& rule = gpu::rule_for(policy, user);
        (void)gpu::rule_allows(rule, 1, "GPU-8932f937", "");
        (void)gpu::rule_allows(rule, 0, "MIG-aa11", "GPU-1234");
        (void)gpu::over_limit(rule, user, 2, 1);
        (void)gpu::busy_reason(policy.free, {2, 300ULL << 20, 50});
        for (const auto& warning : policy.warnings)
            (void)warning.to_string();
    } catch (const gpuenv::Error&) {
    }
    try {
        gpu::Policy policy;
        gpu::apply_user_settings(policy, text, "user.yaml");
    } catch (const gpuenv::Error&) {
    }
    return 0;
}
