// A fake libnvidia-ml for tests: the C ABI of ../shared/reference/gpu.md §1, driven by the
// JSON scenario named in GPUENV_FAKE_NVML_SCENARIO (read by nvmlInit*). Built three times
// from this file; the variant macro decides which symbols exist and how _v3 lays out
// process entries (§1.7, §1.8):
//   FAKE_NVML_CURRENT  every symbol; _v3 writes 24-byte entries; RunningProcessDetailList
//   FAKE_NVML_535_43   _v3 writes 32-byte entries; ConfComputeMemSizeInfo, no DetailList
//   FAKE_NVML_470      no _v2/_v3 process calls, no nvmlDeviceGetMemoryInfo_v2
//
// Scenario (every key optional):
// {"driver_version": "550.54.15", "cuda_version": 12040, "init": 18,
//  "process_entry_size": 16,   // every process call writes entries of this size instead
//                              // (a driver whose layout disagrees with its symbols, §1.7)
//  "fail": {"nvmlDeviceGetPowerUsage": 3},          // every device; base name or exact symbol
//  "gpus": [{"uuid": "GPU-...", "name": "...", "pci_bus_id": "00000000:07:00.0",
//            "memory_total": 85899345920, "memory_used": 1048576,
//            "utilisation_gpu": 50, "utilisation_memory": 20, "temperature": 40,
//            "power_mw": 70000, "compute_capability": [8, 0],
//            "mig_mode": 1, "mig_pending": 1, "max_mig_devices": 7,
//            "mig_devices": [{"slot": 0, "uuid": "MIG-...", "gpu_instance_id": 1,
//                             "compute_instance_id": 0, "memory_total": 1, "memory_used": 0}],
//            "lost": false, "fail": {"nvmlDeviceGetHandleByIndex": 4},
//            "processes": [{"pid": 42, "used_memory": 1024}, {"pid": 43, "used_memory": null}],
//            "processes_after_sizing": [{"pid": 44, "used_memory": 1}]}]}
// A test fake may keep global state: NVML's C API is itself a process-wide singleton.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuenv/core/gpu/nvml_abi.hpp>

#if !defined(FAKE_NVML_CURRENT) && !defined(FAKE_NVML_535_43) && !defined(FAKE_NVML_470)
#error "define one of FAKE_NVML_CURRENT, FAKE_NVML_535_43, FAKE_NVML_470"
#endif

#define FAKE_NVML_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

namespace abi = gpuenv::core::gpu::nvml_abi;
using Json = nlohmann::json;

struct FakeProcess {
    unsigned pid = 0;
    std::uint64_t used_memory = abi::k_value_not_available;
};

struct FakeDevice {
    std::string uuid;
    std::string name;
    std::string pci_bus_id;
    std::uint64_t memory_total = 0;
    std::uint64_t memory_used = 0;
    unsigned utilisation_gpu = 0;
    unsigned utilisation_memory = 0;
    unsigned temperature = 0;
    unsigned power_mw = 0;
    int cc_major = 0;
    int cc_minor = 0;
    unsigned mig_mode = abi::k_mig_disable;
    unsigned mig_pending = abi::k_mig_disable;
    unsigned max_mig_devices = 0;
    unsigned gpu_instance_id = abi::k_instance_id_none;
    unsigned compute_instance_id = abi::k_instance_id_none;
    unsigned slot = 0;
    bool lost = false;
    std::map<std::string, int> fail;
    std::vector<FakeProcess> processes;
    std::vector<FakeProcess> processes_after_sizing;  ///< appear once a sizing call returned
    std::vector<FakeDevice> mig_devices;
};

struct Scenario {
    std::string driver_version = "550.54.15";
    int cuda_version = 12040;
    int init_error = 0;
    std::size_t process_entry_size = 0;  ///< 0: the layout the symbol implies
    std::map<std::string, int> fail;
    std::vector<FakeDevice> gpus;
};

Scenario g_scenario;
int g_init_count = 0;

std::map<std::string, int> read_failures(const Json& json) {
    std::map<std::string, int> failures;
    if (json.contains("fail")) {
        for (const auto& item : json.at("fail").items()) {
            failures[item.key()] = item.value().get<int>();
        }
    }
    return failures;
}

std::vector<FakeProcess> read_processes(const Json& list) {
    std::vector<FakeProcess> processes;
    for (const Json& p : list) {
        FakeProcess process;
        process.pid = p.at("pid").get<unsigned>();
        if (p.contains("used_memory") && !p.at("used_memory").is_null()) {
            process.used_memory = p.at("used_memory").get<std::uint64_t>();
        }
        processes.push_back(process);
    }
    return processes;
}

FakeDevice read_device(const Json& j, std::size_t index) {
    FakeDevice d;
    d.uuid = j.value("uuid", "GPU-00000000-0000-0000-0000-00000000000" + std::to_string(index));
    d.name = j.value("name", std::string("Fake GPU"));
    d.pci_bus_id = j.value("pci_bus_id", "00000000:0" + std::to_string(index) + ":00.0");
    d.memory_total = j.value("memory_total", std::uint64_t{80} << 30u);
    d.memory_used = j.value("memory_used", std::uint64_t{0});
    d.utilisation_gpu = j.value("utilisation_gpu", 0u);
    d.utilisation_memory = j.value("utilisation_memory", 0u);
    d.temperature = j.value("temperature", 30u);
    d.power_mw = j.value("power_mw", 50000u);
    if (j.contains("compute_capability")) {
        d.cc_major = j.at("compute_capability").at(0).get<int>();
        d.cc_minor = j.at("compute_capability").at(1).get<int>();
    }
    d.mig_mode = j.value("mig_mode", 0u);
    d.mig_pending = j.value("mig_pending", d.mig_mode);
    d.gpu_instance_id = j.value("gpu_instance_id", abi::k_instance_id_none);
    d.compute_instance_id = j.value("compute_instance_id", abi::k_instance_id_none);
    d.slot = j.value("slot", static_cast<unsigned>(index));
    d.lost = j.value("lost", false);
    d.fail = read_failures(j);
    d.processes = read_processes(j.value("processes", Json::array()));
    d.processes_after_sizing = read_processes(j.value("processes_after_sizing", Json::array()));
    const Json migs = j.value("mig_devices", Json::array());
    for (std::size_t i = 0; i < migs.size(); ++i) {
        d.mig_devices.push_back(read_device(migs[i], i));
    }
    d.max_mig_devices = j.value("max_mig_devices", static_cast<unsigned>(d.mig_devices.size()));
    return d;
}

// Returns 0 when the scenario was read, else the code nvmlInit reports.
int load_scenario() {
    g_scenario = Scenario{};
    const char* path = std::getenv("GPUENV_FAKE_NVML_SCENARIO");
    if (path == nullptr || *path == '\0') {
        return 0;
    }
    try {
        std::ifstream in(path);
        if (!in) {
            return abi::k_error_unknown;
        }
        const Json j = Json::parse(in);
        g_scenario.driver_version = j.value("driver_version", g_scenario.driver_version);
        g_scenario.cuda_version = j.value("cuda_version", g_scenario.cuda_version);
        g_scenario.init_error = j.value("init", 0);
        g_scenario.process_entry_size = j.value("process_entry_size", std::size_t{0});
        g_scenario.fail = read_failures(j);
        const Json gpus = j.value("gpus", Json::array());
        for (std::size_t i = 0; i < gpus.size(); ++i) {
            g_scenario.gpus.push_back(read_device(gpus[i], i));
        }
    } catch (const std::exception&) {
        return abi::k_error_unknown;
    }
    return 0;
}

// Drops a trailing "_vN" so that {"fail": {"nvmlDeviceGetCount": 4}} covers every version.
std::string base_name(const std::string& symbol) {
    const auto pos = symbol.rfind("_v");
    if (pos == std::string::npos || pos + 2 >= symbol.size()) {
        return symbol;
    }
    for (std::size_t i = pos + 2; i < symbol.size(); ++i) {
        if (symbol[i] < '0' || symbol[i] > '9') {
            return symbol;
        }
    }
    return symbol.substr(0, pos);
}

int lookup(const std::map<std::string, int>& failures, const std::string& symbol) {
    if (auto it = failures.find(symbol); it != failures.end()) {
        return it->second;
    }
    if (auto it = failures.find(base_name(symbol)); it != failures.end()) {
        return it->second;
    }
    return 0;
}

// Returns the code a call should fail with, 0 to go on.
int check(const char* symbol, const FakeDevice* device = nullptr) {
    if (g_init_count == 0) {
        return abi::k_error_uninitialized;
    }
    if (device != nullptr) {
        if (device->lost) {
            return abi::k_error_gpu_is_lost;
        }
        if (int code = lookup(device->fail, symbol)) {
            return code;
        }
    }
    return lookup(g_scenario.fail, symbol);
}

FakeDevice* from_handle(abi::Device device) {
    return reinterpret_cast<FakeDevice*>(device);
}
abi::Device to_handle(FakeDevice* device) {
    return reinterpret_cast<abi::Device>(device);
}

int copy_string(const std::string& value, char* buffer, unsigned length) {
    if (buffer == nullptr || value.size() + 1 > length) {
        return abi::k_error_insufficient_size;
    }
    std::memcpy(buffer, value.c_str(), value.size() + 1);
    return 0;
}

int init() {
    if (g_init_count == 0) {
        if (int code = load_scenario()) {
            return code;
        }
        if (g_scenario.init_error != 0) {
            return g_scenario.init_error;
        }
    }
    ++g_init_count;
    return 0;
}

template <typename Entry>
int running_processes(const char* symbol, abi::Device handle, unsigned* count, void* infos) {
    FakeDevice* device = from_handle(handle);
    if (int code = check(symbol, device)) {
        return code;
    }
    if (count == nullptr) {
        return abi::k_error_invalid_argument;
    }
    const auto needed = static_cast<unsigned>(device->processes.size());
    if (*count < needed) {
        *count = needed;
        // The list may grow between the sizing call and the fill call (§1.6).
        device->processes.insert(device->processes.end(), device->processes_after_sizing.begin(),
                                 device->processes_after_sizing.end());
        device->processes_after_sizing.clear();
        return abi::k_error_insufficient_size;
    }
    *count = needed;
    const std::size_t stride =
        g_scenario.process_entry_size != 0 ? g_scenario.process_entry_size : sizeof(Entry);
    for (unsigned i = 0; i < needed; ++i) {
        abi::ProcessDetailV1 entry{};  // the largest layout; the first `stride` bytes are written
        entry.pid = device->processes[i].pid;
        entry.used_gpu_memory = device->processes[i].used_memory;
        entry.gpu_instance_id = device->gpu_instance_id;
        entry.compute_instance_id = device->compute_instance_id;
        std::memcpy(static_cast<unsigned char*>(infos) + std::size_t{i} * stride, &entry,
                    std::min(stride, sizeof(entry)));
    }
    return 0;
}

int memory_info(const char* symbol, abi::Device handle, abi::Memory* memory) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check(symbol, device)) {
        return code;
    }
    memory->total = device->memory_total;
    memory->used = device->memory_used;
    memory->free = device->memory_total - device->memory_used;
    return 0;
}

}  // namespace

FAKE_NVML_EXPORT int nvmlInit_v2() {
    return init();
}
FAKE_NVML_EXPORT int nvmlInit() {
    return init();
}
FAKE_NVML_EXPORT int nvmlInitWithFlags(unsigned /*flags*/) {
    return init();
}

FAKE_NVML_EXPORT int nvmlShutdown() {
    if (g_init_count == 0) {
        return abi::k_error_uninitialized;
    }
    --g_init_count;
    return 0;
}

FAKE_NVML_EXPORT const char* nvmlErrorString(int code) {
    switch (code) {
        case 0:
            return "Success";
        case 1:
            return "Uninitialized";
        case 2:
            return "Invalid Argument";
        case 3:
            return "Not Supported";
        case 4:
            return "Insufficient Permissions";
        case 6:
            return "Not Found";
        case 7:
            return "Insufficient Size";
        case 9:
            return "Driver Not Loaded";
        case 13:
            return "Function Not Found";
        case 15:
            return "GPU is lost";
        case 18:
            return "Driver/library version mismatch";
        case 25:
            return "Argument Version Mismatch";
        default:
            return "Unknown Error";
    }
}

FAKE_NVML_EXPORT int nvmlSystemGetDriverVersion(char* version, unsigned length) {
    if (int code = check("nvmlSystemGetDriverVersion")) {
        return code;
    }
    return copy_string(g_scenario.driver_version, version, length);
}

FAKE_NVML_EXPORT int nvmlSystemGetCudaDriverVersion(int* version) {
    if (int code = check("nvmlSystemGetCudaDriverVersion")) {
        return code;
    }
    *version = g_scenario.cuda_version;
    return 0;
}

FAKE_NVML_EXPORT int nvmlSystemGetCudaDriverVersion_v2(int* version) {
    if (int code = check("nvmlSystemGetCudaDriverVersion_v2")) {
        return code;
    }
    *version = g_scenario.cuda_version;
    return 0;
}

FAKE_NVML_EXPORT int nvmlDeviceGetCount_v2(unsigned* count) {
    if (int code = check("nvmlDeviceGetCount_v2")) {
        return code;
    }
    *count = static_cast<unsigned>(g_scenario.gpus.size());
    return 0;
}

FAKE_NVML_EXPORT int nvmlDeviceGetCount(unsigned* count) {
    if (int code = check("nvmlDeviceGetCount")) {
        return code;
    }
    *count = static_cast<unsigned>(g_scenario.gpus.size());
    return 0;
}

namespace {
int handle_by_index(const char* symbol, unsigned index, abi::Device* device) {
    if (g_init_count > 0 && index >= g_scenario.gpus.size()) {
        return abi::k_error_invalid_argument;
    }
    FakeDevice* gpu = g_init_count > 0 ? &g_scenario.gpus[index] : nullptr;
    // A lost GPU still has a handle; its queries fail (as with the real driver).
    if (gpu != nullptr) {
        if (int code = lookup(gpu->fail, symbol)) {
            return code;
        }
    }
    if (int code = check(symbol)) {
        return code;
    }
    *device = to_handle(gpu);
    return 0;
}
}  // namespace

FAKE_NVML_EXPORT int nvmlDeviceGetHandleByIndex_v2(unsigned index, abi::Device* device) {
    return handle_by_index("nvmlDeviceGetHandleByIndex_v2", index, device);
}

FAKE_NVML_EXPORT int nvmlDeviceGetHandleByIndex(unsigned index, abi::Device* device) {
    return handle_by_index("nvmlDeviceGetHandleByIndex", index, device);
}

FAKE_NVML_EXPORT int nvmlDeviceGetUUID(abi::Device handle, char* uuid, unsigned length) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetUUID", device)) {
        return code;
    }
    return copy_string(device->uuid, uuid, length);
}

FAKE_NVML_EXPORT int nvmlDeviceGetName(abi::Device handle, char* name, unsigned length) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetName", device)) {
        return code;
    }
    return copy_string(device->name, name, length);
}

FAKE_NVML_EXPORT int nvmlDeviceGetPciInfo_v3(abi::Device handle, abi::PciInfo* pci) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetPciInfo_v3", device)) {
        return code;
    }
    *pci = abi::PciInfo{};
    return copy_string(device->pci_bus_id, pci->bus_id, sizeof(pci->bus_id));
}

FAKE_NVML_EXPORT int nvmlDeviceGetMemoryInfo(abi::Device handle, abi::Memory* memory) {
    return memory_info("nvmlDeviceGetMemoryInfo", handle, memory);
}

#if !defined(FAKE_NVML_470)
FAKE_NVML_EXPORT int nvmlDeviceGetMemoryInfo_v2(abi::Device handle, abi::MemoryV2* memory) {
    // Newer drivers reject a wrong version word (§1.9).
    if (memory->version != abi::k_memory_v2_version) {
        return abi::k_error_argument_version_mismatch;
    }
    abi::Memory v1{};
    if (int code = memory_info("nvmlDeviceGetMemoryInfo_v2", handle, &v1)) {
        return code;
    }
    memory->total = v1.total;
    memory->used = v1.used;
    memory->free = v1.free;
    memory->reserved = 0;
    return 0;
}
#endif

FAKE_NVML_EXPORT int nvmlDeviceGetUtilizationRates(abi::Device handle, abi::Utilization* rates) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetUtilizationRates", device)) {
        return code;
    }
    rates->gpu = device->utilisation_gpu;
    rates->memory = device->utilisation_memory;
    return 0;
}

FAKE_NVML_EXPORT int nvmlDeviceGetTemperature(abi::Device handle, int sensor, unsigned* celsius) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetTemperature", device)) {
        return code;
    }
    if (sensor != abi::k_temperature_gpu) {
        return abi::k_error_invalid_argument;
    }
    *celsius = device->temperature;
    return 0;
}

FAKE_NVML_EXPORT int nvmlDeviceGetPowerUsage(abi::Device handle, unsigned* milliwatts) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetPowerUsage", device)) {
        return code;
    }
    *milliwatts = device->power_mw;
    return 0;
}

FAKE_NVML_EXPORT int nvmlDeviceGetCudaComputeCapability(abi::Device handle, int* major,
                                                        int* minor) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetCudaComputeCapability", device)) {
        return code;
    }
    *major = device->cc_major;
    *minor = device->cc_minor;
    return 0;
}

FAKE_NVML_EXPORT int nvmlDeviceGetMigMode(abi::Device handle, unsigned* current,
                                          unsigned* pending) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetMigMode", device)) {
        return code;
    }
    *current = device->mig_mode;
    *pending = device->mig_pending;
    return 0;
}

FAKE_NVML_EXPORT int nvmlDeviceGetMaxMigDeviceCount(abi::Device handle, unsigned* count) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetMaxMigDeviceCount", device)) {
        return code;
    }
    *count = device->mig_mode == abi::k_mig_enable ? device->max_mig_devices : 0;
    return 0;
}

FAKE_NVML_EXPORT int nvmlDeviceGetMigDeviceHandleByIndex(abi::Device handle, unsigned index,
                                                         abi::Device* mig) {
    FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetMigDeviceHandleByIndex", device)) {
        return code;
    }
    for (FakeDevice& candidate : device->mig_devices) {
        if (candidate.slot == index) {
            *mig = to_handle(&candidate);
            return 0;
        }
    }
    return abi::k_error_not_found;
}

FAKE_NVML_EXPORT int nvmlDeviceGetGpuInstanceId(abi::Device handle, unsigned* id) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetGpuInstanceId", device)) {
        return code;
    }
    *id = device->gpu_instance_id;
    return device->gpu_instance_id == abi::k_instance_id_none ? abi::k_error_not_supported : 0;
}

FAKE_NVML_EXPORT int nvmlDeviceGetComputeInstanceId(abi::Device handle, unsigned* id) {
    const FakeDevice* device = from_handle(handle);
    if (int code = check("nvmlDeviceGetComputeInstanceId", device)) {
        return code;
    }
    *id = device->compute_instance_id;
    return device->compute_instance_id == abi::k_instance_id_none ? abi::k_error_not_supported : 0;
}

FAKE_NVML_EXPORT int nvmlDeviceGetComputeRunningProcesses(abi::Device device, unsigned* count,
                                                          void* infos) {
    return running_processes<abi::ProcessInfoV1>("nvmlDeviceGetComputeRunningProcesses", device,
                                                 count, infos);
}

#if !defined(FAKE_NVML_470)
FAKE_NVML_EXPORT int nvmlDeviceGetComputeRunningProcesses_v2(abi::Device device, unsigned* count,
                                                             void* infos) {
    return running_processes<abi::ProcessInfoV2>("nvmlDeviceGetComputeRunningProcesses_v2", device,
                                                 count, infos);
}

// 535.43.02-535.86.05 wrote the 32-byte nvmlProcessDetail_v1_t here without a version bump.
FAKE_NVML_EXPORT int nvmlDeviceGetComputeRunningProcesses_v3(abi::Device device, unsigned* count,
                                                             void* infos) {
#if defined(FAKE_NVML_535_43)
    using Entry = abi::ProcessDetailV1;
#else
    using Entry = abi::ProcessInfoV2;
#endif
    return running_processes<Entry>("nvmlDeviceGetComputeRunningProcesses_v3", device, count,
                                    infos);
}

// Present only as a marker of the driver family; gpuenv never calls it.
FAKE_NVML_EXPORT int nvmlDeviceGetConfComputeMemSizeInfo(abi::Device /*device*/, void* /*info*/) {
    return abi::k_error_not_supported;
}
#endif

#if defined(FAKE_NVML_CURRENT)
// Present only as a marker of the driver family; gpuenv never calls it.
FAKE_NVML_EXPORT int nvmlDeviceGetRunningProcessDetailList(abi::Device /*device*/, void* /*list*/) {
    return abi::k_error_not_supported;
}
#endif
