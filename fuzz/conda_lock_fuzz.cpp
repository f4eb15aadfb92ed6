// Fuzzes conda-lock file parsing: any bytes give a LockedEnv or a gpuenv::Error, and what parses
// renders to a conda-lock file that parses again.
#include <cstdint>
#include <string_view>

#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/util/error.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using gpuenv::core::lock::LockFormat;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    gpuenv::core::lock::LockedEnv env;
    try {
        env = gpuenv::core::lock::parse_lock(text, "conda-lock.yml", LockFormat::conda_lock);
    } catch (const gpuenv::Error&) {
        return 0;
    }
    const auto rendered = gpuenv::core::lock::render_lock(env, LockFormat::conda_lock);
    try {
        (void)gpuenv::core::lock::parse_lock(rendered.text, "conda-lock.yml",
                                             LockFormat::conda_lock);
    } catch (const gpuenv::Error&) {
        __builtin_trap();  // gpuenv wrote a lock it cannot read back
    }
    return 0;
}
