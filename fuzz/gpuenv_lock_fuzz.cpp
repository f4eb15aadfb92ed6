// Fuzzes gpuenv lock parsing: any bytes give a LockedEnv or a gpuenv::Error, and what parses
// renders to a gpuenv lock that parses again.
#include <cstdint>
#include <string_view>

#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/util/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using gpuenv::core::lock::LockFormat;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    gpuenv::core::lock::LockedEnv env;
    try {
        env = gpuenv::core::lock::parse_lock(text, "gpuenv.lock.yml", LockFormat::gpuenv);
    } catch (const gpuenv::Error&) {
        return 0;
    }
    const auto rendered = gpuenv::core::lock::render_lock(env, LockFormat::gpuenv);
    try {
        (void)gpuenv::core::lock::parse_lock(rendered.text, "gpuenv.lock.yml", LockFormat::gpuenv);
    } catch (const gpuenv::Error&) {
        __builtin_trap();  // gpuenv wrote a lock it cannot read back
    }
    return 0;
}
