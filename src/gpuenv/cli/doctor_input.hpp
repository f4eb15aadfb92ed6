#pragma once

// Reads the facts `gpuenv doctor` and `gpuenv check` give the rules: the machine (NVML,
// leases, zombies, CPUs, /dev/shm, the caller's environment) and the environment (its
// activation variables, torch's version.py, kernelspecs, and with --probe its Python's word).

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gpuenv/core/doctor/doctor.hpp>
#include <gpuenv/core/env/inventory.hpp>

namespace CLI {
class App;
}

namespace gpuenv::cli {

/// Holds the doctor options `doctor` and `check` share.
struct DoctorOptions {
    bool probe = false;
    std::string probe_timeout = "60s";
    std::vector<std::string> scan;
    std::string shm_path = "/dev/shm";
};

/// Adds --probe, --probe-timeout, --scan and --shm-path to a command.
void add_doctor_options(CLI::App& command, DoctorOptions& options);

/// Gathers the rules' input for an environment already read. Never throws for a machine
/// without NVIDIA driver or GPU: then machine.nvml is empty and nvml_failure says why.
[[nodiscard]] core::doctor::DoctorInput gather_doctor_input(const core::env::Inventory& inventory,
                                                            const DoctorOptions& options,
                                                            gpuenv::Diagnostics& warnings);

}  // namespace gpuenv::cli
