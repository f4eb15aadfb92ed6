// Fuzzes the probe's output parser: any bytes an interpreter prints give a ProbeResult.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <gpuenv/core/doctor/doctor.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    (void)gpuenv::core::doctor::parse_probe_output(text);
    return 0;
}
