#pragma once

// The subset of NVML's C ABI that gpuenv uses, written from ../shared/reference/gpu.md §1
// (not copied from NVIDIA's header). Shared by the run-time loader (nvml.cpp) and the fake
// library the tests load instead of libnvidia-ml.so.1. Layouts are x86_64/LP64.

#include <cstddef>
#include <cstdint>

namespace gpuenv::core::gpu::nvml_abi {

/// Holds an nvmlReturn_t (a C enum, 4 bytes).
using Return = int;
static_assert(sizeof(Return) == 4);

/// Stands for NVML's opaque struct nvmlDevice_st.
struct DeviceSt;
/// Holds an nvmlDevice_t handle (an opaque pointer).
using Device = DeviceSt*;

// nvmlReturn_t values (§1.3).
inline constexpr Return k_success = 0;
inline constexpr Return k_error_uninitialized = 1;
inline constexpr Return k_error_invalid_argument = 2;
inline constexpr Return k_error_not_supported = 3;
inline constexpr Return k_error_no_permission = 4;
inline constexpr Return k_error_not_found = 6;
inline constexpr Return k_error_insufficient_size = 7;
inline constexpr Return k_error_driver_not_loaded = 9;
inline constexpr Return k_error_timeout = 10;
inline constexpr Return k_error_library_not_found = 12;
inline constexpr Return k_error_function_not_found = 13;
inline constexpr Return k_error_gpu_is_lost = 15;
inline constexpr Return k_error_reset_required = 16;
inline constexpr Return k_error_operating_system = 17;
inline constexpr Return k_error_lib_rm_version_mismatch = 18;
inline constexpr Return k_error_memory = 20;
inline constexpr Return k_error_no_data = 21;
inline constexpr Return k_error_argument_version_mismatch = 25;
inline constexpr Return k_error_unknown = 999;

// Buffer sizes and other constants (§1.2).
inline constexpr unsigned k_pci_bus_id_buffer_size = 32;
inline constexpr unsigned k_pci_bus_id_legacy_buffer_size = 16;
inline constexpr unsigned k_uuid_buffer_size = 96;
inline constexpr unsigned k_name_buffer_size = 96;
inline constexpr unsigned k_driver_version_buffer_size = 80;
inline constexpr int k_temperature_gpu = 0;
inline constexpr unsigned k_mig_disable = 0;
inline constexpr unsigned k_mig_enable = 1;
inline constexpr std::uint64_t k_value_not_available = ~std::uint64_t{0};
inline constexpr unsigned k_instance_id_none = 0xFFFFFFFFu;

/// Mirrors nvmlPciInfo_t (filled by nvmlDeviceGetPciInfo_v3).
struct PciInfo {
    char bus_id_legacy[k_pci_bus_id_legacy_buffer_size];  ///< "%04X:%02X:%02X.0"
    unsigned domain;
    unsigned bus;
    unsigned device;
    unsigned pci_device_id;
    unsigned pci_sub_system_id;
    char bus_id[k_pci_bus_id_buffer_size];  ///< "%08X:%02X:%02X.0"
};
static_assert(sizeof(PciInfo) == 68 && alignof(PciInfo) == 4);
static_assert(offsetof(PciInfo, domain) == 16 && offsetof(PciInfo, bus_id) == 36);

/// Mirrors nvmlMemory_t (nvmlDeviceGetMemoryInfo); bytes.
struct Memory {
    std::uint64_t total;
    std::uint64_t free;
    std::uint64_t used;
};
static_assert(sizeof(Memory) == 24 && offsetof(Memory, used) == 16);

/// Mirrors nvmlMemory_v2_t (nvmlDeviceGetMemoryInfo_v2); bytes.
struct MemoryV2 {
    unsigned version;  ///< must be k_memory_v2_version
    std::uint64_t total;
    std::uint64_t reserved;
    std::uint64_t free;
    std::uint64_t used;
};
static_assert(sizeof(MemoryV2) == 40 && alignof(MemoryV2) == 8);
static_assert(offsetof(MemoryV2, total) == 8 && offsetof(MemoryV2, used) == 32);

/// Holds NVML_STRUCT_VERSION(Memory, 2): the size in the low bits, the version in the top byte.
inline constexpr unsigned k_memory_v2_version = unsigned{sizeof(MemoryV2)} | (2u << 24u);
static_assert(k_memory_v2_version == 0x02000028u);

/// Mirrors nvmlUtilization_t; percent.
struct Utilization {
    unsigned gpu;
    unsigned memory;
};
static_assert(sizeof(Utilization) == 8);

/// Mirrors nvmlProcessInfo_v1_t: the 16-byte entry of the unversioned process calls.
struct ProcessInfoV1 {
    unsigned pid;
    std::uint64_t used_gpu_memory;
};
static_assert(sizeof(ProcessInfoV1) == 16 && offsetof(ProcessInfoV1, used_gpu_memory) == 8);

/// Mirrors nvmlProcessInfo_v2_t == nvmlProcessInfo_t: the 24-byte entry of _v2 and _v3.
struct ProcessInfoV2 {
    unsigned pid;
    std::uint64_t used_gpu_memory;
    unsigned gpu_instance_id;      ///< k_instance_id_none without MIG
    unsigned compute_instance_id;  ///< k_instance_id_none without MIG
};
static_assert(sizeof(ProcessInfoV2) == 24 && offsetof(ProcessInfoV2, used_gpu_memory) == 8);
static_assert(offsetof(ProcessInfoV2, gpu_instance_id) == 16);
static_assert(offsetof(ProcessInfoV2, compute_instance_id) == 20);

/// Mirrors nvmlProcessDetail_v1_t: the 32-byte entry that _v3 wrote on drivers
/// 535.43.02-535.86.05 without a version bump (§1.7).
struct ProcessDetailV1 {
    unsigned pid;
    std::uint64_t used_gpu_memory;
    unsigned gpu_instance_id;
    unsigned compute_instance_id;
    std::uint64_t used_gpu_cc_protected_memory;
};
static_assert(sizeof(ProcessDetailV1) == 32);
static_assert(offsetof(ProcessDetailV1, used_gpu_cc_protected_memory) == 24);

// Function pointer types, one per prototype shape (§1.4).
using InitFn = Return (*)();
using ShutdownFn = Return (*)();
using ErrorStringFn = const char* (*)(Return);
using SystemGetDriverVersionFn = Return (*)(char* version, unsigned length);
using SystemGetCudaDriverVersionFn = Return (*)(int* version);
using DeviceGetCountFn = Return (*)(unsigned* count);
using DeviceGetHandleByIndexFn = Return (*)(unsigned index, Device* device);
using DeviceGetStringFn = Return (*)(Device device, char* buffer, unsigned length);  // UUID, name
using DeviceGetPciInfoFn = Return (*)(Device device, PciInfo* pci);
using DeviceGetMemoryInfoFn = Return (*)(Device device, Memory* memory);
using DeviceGetMemoryInfoV2Fn = Return (*)(Device device, MemoryV2* memory);
using DeviceGetUtilizationRatesFn = Return (*)(Device device, Utilization* utilization);
using DeviceGetTemperatureFn = Return (*)(Device device, int sensor, unsigned* temperature);
using DeviceGetUnsignedFn = Return (*)(Device device, unsigned* value);  // power, counts, ids
using DeviceGetCudaComputeCapabilityFn = Return (*)(Device device, int* major, int* minor);
using DeviceGetMigModeFn = Return (*)(Device device, unsigned* current, unsigned* pending);
using DeviceGetMigDeviceHandleByIndexFn = Return (*)(Device device, unsigned index,
                                                     Device* mig_device);
/// Covers every RunningProcesses variant; the entry layout depends on the symbol (§1.7).
using DeviceGetRunningProcessesFn = Return (*)(Device device, unsigned* count, void* infos);

}  // namespace gpuenv::core::gpu::nvml_abi
