#pragma once

// NVML, loaded at run time with dlopen (../shared/reference/gpu.md §1). Every NVML failure
// is a value: a library that cannot be loaded or initialised is a NvmlLoadFailure, a call
// that fails for one GPU marks that field unavailable and the rest is still read.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/gpu/nvml_abi.hpp>

namespace gpuenv::core::gpu {

/// Names the library loaded when GPUENV_NVML_LIBRARY is not set (the driver's SONAME).
inline constexpr std::string_view k_default_nvml_library = "libnvidia-ml.so.1";

/// Holds a value read from NVML, or the NVML error that made it unavailable.
template <typename T>
struct NvmlField {
    std::optional<T> value;
    int error_code = 0;  ///< the nvmlReturn_t when value is empty (13: function not found)
    std::string error;   ///< NVML's text for error_code, empty when value is set

    /// Returns whether the value was read.
    [[nodiscard]] bool ok() const { return value.has_value(); }
};

/// Holds a CUDA version as major.minor (12040 -> 12.4).
struct CudaVersion {
    int major = 0;
    int minor = 0;
};

/// Holds a device's memory in bytes.
struct GpuMemory {
    std::uint64_t used = 0;
    std::uint64_t total = 0;
};

/// Holds a device's utilisation in percent over NVML's last sample period.
struct GpuUtilisation {
    unsigned gpu = 0;
    unsigned memory = 0;
};

/// Holds a device's compute capability (8.0 for an A100).
struct ComputeCapability {
    int major = 0;
    int minor = 0;
};

/// Holds a GPU's current and pending MIG mode.
struct MigMode {
    bool current = false;
    bool pending = false;
};

/// Describes a compute process NVML lists on a device.
struct GpuProcess {
    unsigned pid = 0;
    std::optional<std::uint64_t> used_memory;  ///< bytes; empty when NVML says not available
};

/// Describes one MIG device of a MIG-enabled GPU.
struct MigDevice {
    unsigned index = 0;  ///< the slot passed to nvmlDeviceGetMigDeviceHandleByIndex
    NvmlField<std::string> uuid;
    NvmlField<unsigned> gpu_instance_id;
    NvmlField<unsigned> compute_instance_id;
    NvmlField<GpuMemory> memory;
};

/// Describes one GPU as NVML reports it; fields NVML could not read carry the error.
struct GpuInfo {
    unsigned index = 0;  ///< NVML's index (not necessarily CUDA's)
    /// Why no handle could be had for this index (lost, no permission); then nothing else is set.
    NvmlField<bool> handle;
    NvmlField<std::string> uuid;
    NvmlField<std::string> name;
    NvmlField<std::string> pci_bus_id;  ///< NVML's form, 8-digit domain: "00000000:07:00.0"
    NvmlField<GpuMemory> memory;
    NvmlField<GpuUtilisation> utilisation;
    NvmlField<unsigned> temperature_c;
    NvmlField<unsigned> power_mw;
    NvmlField<ComputeCapability> compute_capability;
    NvmlField<MigMode> mig_mode;
    NvmlField<std::vector<MigDevice>> mig_devices;  ///< empty when MIG is disabled
    NvmlField<std::vector<GpuProcess>> processes;
    /// What gpuenv had to work around while reading this GPU (a process-entry layout that
    /// disagreed with the symbol); shown as warnings.
    std::vector<std::string> notes;
};

/// Holds everything one NVML scan read, as plain data.
struct NvmlSnapshot {
    NvmlField<std::string> driver_version;  ///< "535.309.01"
    NvmlField<CudaVersion> cuda_driver_version;
    NvmlField<unsigned> gpu_count;
    std::vector<GpuInfo> gpus;
};

/// Says why NVML could not be used at all.
enum class NvmlLoadFailureKind {
    library_not_found,  ///< dlopen failed: no driver installed
    missing_symbol,     ///< a required function is absent
    version_mismatch,   ///< init returned 18: the kernel module and the library differ
    driver_not_loaded,  ///< init returned 9
    init_failed,        ///< init returned another error
};

/// Describes why Nvml::load failed.
struct NvmlLoadFailure {
    NvmlLoadFailureKind kind = NvmlLoadFailureKind::library_not_found;
    int error_code = 0;   ///< the nvmlReturn_t of init, 0 for dlopen/dlsym failures
    std::string message;  ///< a sentence for the user
};

/// Chooses how running processes are read; the entry size follows the symbol (§1.7).
struct ProcessCall {
    nvml_abi::DeviceGetRunningProcessesFn function = nullptr;
    std::size_t entry_size = 0;  ///< 16, 24 or 32 bytes
    std::string_view symbol;     ///< the symbol used, for diagnostics
};

/// Holds a loaded and initialised NVML; shuts it down and unloads it on destruction.
class Nvml {
  public:
    /// Loads `library` (k_default_nvml_library when empty, else the value of GPUENV_NVML_LIBRARY)
    /// and initialises NVML; returns nothing and fills `failure` when either fails.
    [[nodiscard]] static std::optional<Nvml> load(std::string_view library,
                                                  NvmlLoadFailure& failure);

    Nvml(Nvml&& other) noexcept;
    Nvml& operator=(Nvml&& other) noexcept;
    Nvml(const Nvml&) = delete;
    Nvml& operator=(const Nvml&) = delete;
    ~Nvml();

    /// Reads the driver, the CUDA driver version and every GPU; never throws for NVML errors.
    [[nodiscard]] NvmlSnapshot snapshot() const;

    /// Returns the process-info symbol and entry size chosen for this library.
    [[nodiscard]] const ProcessCall& process_call() const { return m_symbols.processes; }

    /// Returns NVML's text for an error code (nvmlErrorString when present).
    [[nodiscard]] std::string error_string(int code) const;

    /// Holds the resolved entry points; optional ones may be null.
    struct Symbols {
        nvml_abi::InitFn init = nullptr;
        nvml_abi::ShutdownFn shutdown = nullptr;
        nvml_abi::ErrorStringFn error_string = nullptr;
        nvml_abi::SystemGetDriverVersionFn driver_version = nullptr;
        nvml_abi::SystemGetCudaDriverVersionFn cuda_driver_version = nullptr;
        nvml_abi::DeviceGetCountFn count = nullptr;
        nvml_abi::DeviceGetHandleByIndexFn handle_by_index = nullptr;
        nvml_abi::DeviceGetStringFn uuid = nullptr;
        nvml_abi::DeviceGetStringFn name = nullptr;
        nvml_abi::DeviceGetPciInfoFn pci_info = nullptr;
        nvml_abi::DeviceGetMemoryInfoFn memory = nullptr;
        nvml_abi::DeviceGetMemoryInfoV2Fn memory_v2 = nullptr;
        nvml_abi::DeviceGetUtilizationRatesFn utilisation = nullptr;
        nvml_abi::DeviceGetTemperatureFn temperature = nullptr;
        nvml_abi::DeviceGetUnsignedFn power = nullptr;
        nvml_abi::DeviceGetCudaComputeCapabilityFn compute_capability = nullptr;
        nvml_abi::DeviceGetMigModeFn mig_mode = nullptr;
        nvml_abi::DeviceGetUnsignedFn max_mig_devices = nullptr;
        nvml_abi::DeviceGetMigDeviceHandleByIndexFn mig_handle = nullptr;
        nvml_abi::DeviceGetUnsignedFn gpu_instance_id = nullptr;
        nvml_abi::DeviceGetUnsignedFn compute_instance_id = nullptr;
        ProcessCall processes;
    };

  private:
    Nvml(void* library, const Symbols& symbols) : m_library(library), m_symbols(symbols) {}

    void* m_library = nullptr;  ///< the dlopen handle; null once moved from
    Symbols m_symbols;
};

}  // namespace gpuenv::core::gpu
