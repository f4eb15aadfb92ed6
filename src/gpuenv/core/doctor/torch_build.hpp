#pragma once

// Internal to doctor/: what torch_build.cpp shares with torch_rules.cpp. Finding the package
// torch belongs to, the driver a build must run on, and the commands that install a build for
// another CUDA the way torch was installed (the fixes of rules 1, 2 and 3). The public reading
// of the build, read_torch_build and parse_torch_version_py, is declared in doctor.hpp.

#include <optional>
#include <string>

#include <gpuenv/core/doctor/doctor.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/gpu/nvml.hpp>

namespace gpuenv::core::doctor::detail {

/// Finds the package torch's files belong to: a pip torch (it wins over a conda one it was
/// installed over), else the conda record owning the `torch` distribution, else a conda
/// pytorch package by name; null when there is none.
[[nodiscard]] const env::Package* find_torch_package(const env::Inventory& inventory);

/// Holds what is known of the driver: its version and the newest CUDA it supports.
struct DriverFacts {
    std::string version;  ///< "" when NVML could not read it
    gpu::CudaVersion max_cuda;
    bool inferred = false;  ///< max_cuda comes from the branch table, not from NVML

    /// Returns the evidence line naming the driver, its CUDA and where that was read.
    [[nodiscard]] std::string evidence() const;
};

/// Reads the driver from NVML's snapshot, inferring its CUDA from the branch table when NVML
/// did not report it; nothing without NVML or when neither says.
[[nodiscard]] std::optional<DriverFacts> read_driver(const MachineFacts& machine);

/// Names how torch was installed, which decides the command that replaces it.
enum class Installer { pip, uv, conda_forge, conda_pytorch_channel };

/// Returns how `torch` was installed: pip, uv, conda from the pytorch channel or conda-forge.
[[nodiscard]] Installer installer_of(const TorchBuild& torch, const env::Inventory& inventory);

/// Returns the highest wheel CUDA the driver runs: fully supported first, else through minor
/// compatibility; nothing when it runs none.
[[nodiscard]] std::optional<gpu::CudaVersion> wheel_cuda_for(const DriverFacts& driver);

/// Says when a suggested build runs on the driver only through minor-version compatibility;
/// "" otherwise.
[[nodiscard]] std::string compat_note(gpu::CudaVersion cuda,
                                      const std::optional<DriverFacts>& driver);

/// Returns the command that installs a CUDA `cuda` build the way torch was installed.
[[nodiscard]] std::string install_command(Installer installer, gpu::CudaVersion cuda,
                                          const DoctorInput& input);

}  // namespace gpuenv::core::doctor::detail
