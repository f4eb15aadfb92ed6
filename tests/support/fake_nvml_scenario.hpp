#pragma once

// Scenarios for the fake NVML (tests/support/fake_nvml/fake_nvml.cpp documents the format).

#include <stdlib.h>

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include <support/temp_dir.hpp>

namespace gpuenv::test {

/// Writes a scenario and points GPUENV_FAKE_NVML_SCENARIO at it while in scope (for tests
/// that load NVML in the test process itself).
class FakeNvmlScenario {
  public:
    explicit FakeNvmlScenario(const nlohmann::json& scenario) {
        const auto path = m_dir / "scenario.json";
        write_file(path, scenario.dump(2));
        ::setenv("GPUENV_FAKE_NVML_SCENARIO", path.c_str(), 1);
    }
    ~FakeNvmlScenario() { ::unsetenv("GPUENV_FAKE_NVML_SCENARIO"); }
    FakeNvmlScenario(const FakeNvmlScenario&) = delete;
    FakeNvmlScenario& operator=(const FakeNvmlScenario&) = delete;

  private:
    TempDir m_dir;
};

/// Returns a GPU of a scenario with `used` bytes in use, the given utilisation, and each pid
/// holding `per_process` bytes.
inline nlohmann::json fake_gpu(const std::vector<unsigned>& pids, unsigned utilisation,
                               std::uint64_t used, std::uint64_t per_process) {
    nlohmann::json processes = nlohmann::json::array();
    for (const unsigned pid : pids)
        processes.push_back({{"pid", pid}, {"used_memory", per_process}});
    return {{"memory_used", used}, {"utilisation_gpu", utilisation}, {"processes", processes}};
}

}  // namespace gpuenv::test
