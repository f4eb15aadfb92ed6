#include <gpuenv/core/gpu/nvml.hpp>

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <utility>

namespace gpuenv::core::gpu {

namespace {

namespace abi = nvml_abi;
using Symbols = Nvml::Symbols;

// Caps the process buffer so that a garbage count from a broken driver cannot exhaust memory.
constexpr unsigned k_max_process_entries = 1u << 16u;
// The process list may grow between the sizing call and the fill call; retry a few times only.
constexpr int k_process_attempts = 4;

template <typename Fn>
Fn find_symbol(void* library, std::initializer_list<const char*> names) {
    for (const char* name : names) {
        if (void* symbol = ::dlsym(library, name)) {
            return reinterpret_cast<Fn>(symbol);
        }
    }
    return nullptr;
}

bool has_symbol(void* library, const char* name) {
    return ::dlsym(library, name) != nullptr;
}

// Texts for when the library has no nvmlErrorString or returns nothing.
std::string fallback_error_string(int code) {
    switch (code) {
        case abi::k_success:
            return "success";
        case abi::k_error_uninitialized:
            return "uninitialized";
        case abi::k_error_invalid_argument:
            return "invalid argument";
        case abi::k_error_not_supported:
            return "not supported";
        case abi::k_error_no_permission:
            return "insufficient permissions";
        case abi::k_error_not_found:
            return "not found";
        case abi::k_error_insufficient_size:
            return "insufficient size";
        case abi::k_error_driver_not_loaded:
            return "driver not loaded";
        case abi::k_error_timeout:
            return "timeout";
        case abi::k_error_library_not_found:
            return "library not found";
        case abi::k_error_function_not_found:
            return "function not found";
        case abi::k_error_gpu_is_lost:
            return "gpu is lost";
        case abi::k_error_reset_required:
            return "gpu requires reset";
        case abi::k_error_operating_system:
            return "blocked by the operating system";
        case abi::k_error_lib_rm_version_mismatch:
            return "driver/library version mismatch";
        case abi::k_error_argument_version_mismatch:
            return "argument version mismatch";
        default:
            return "nvml error " + std::to_string(code);
    }
}

std::string describe(const Symbols& symbols, int code) {
    if (symbols.error_string != nullptr) {
        const char* text = symbols.error_string(code);
        if (text != nullptr && *text != '\0') {
            return text;
        }
    }
    return fallback_error_string(code);
}

template <typename T>
NvmlField<T> failed(const Symbols& symbols, int code) {
    NvmlField<T> field;
    field.error_code = code;
    field.error = describe(symbols, code);
    return field;
}

template <typename T>
NvmlField<T> succeeded(T value) {
    NvmlField<T> field;
    field.value = std::move(value);
    return field;
}

std::string c_string(const char* buffer, std::size_t size) {
    return std::string(buffer, ::strnlen(buffer, size));
}

// nvitop's rule (reference §1.7): _v3 writes 32-byte entries on exactly the drivers that
// export nvmlDeviceGetConfComputeMemSizeInfo but not nvmlDeviceGetRunningProcessDetailList.
ProcessCall choose_process_call(void* library) {
    using Fn = abi::DeviceGetRunningProcessesFn;
    if (auto v3 = find_symbol<Fn>(library, {"nvmlDeviceGetComputeRunningProcesses_v3"})) {
        const bool entries_32 = has_symbol(library, "nvmlDeviceGetConfComputeMemSizeInfo") &&
                                !has_symbol(library, "nvmlDeviceGetRunningProcessDetailList");
        return {v3, entries_32 ? sizeof(abi::ProcessDetailV1) : sizeof(abi::ProcessInfoV2),
                "nvmlDeviceGetComputeRunningProcesses_v3"};
    }
    if (auto v2 = find_symbol<Fn>(library, {"nvmlDeviceGetComputeRunningProcesses_v2"})) {
        return {v2, sizeof(abi::ProcessInfoV2), "nvmlDeviceGetComputeRunningProcesses_v2"};
    }
    if (auto v1 = find_symbol<Fn>(library, {"nvmlDeviceGetComputeRunningProcesses"})) {
        return {v1, sizeof(abi::ProcessInfoV1), "nvmlDeviceGetComputeRunningProcesses"};
    }
    return {};
}

Symbols resolve(void* lib) {
    Symbols s;
    s.init = find_symbol<abi::InitFn>(lib, {"nvmlInit_v2", "nvmlInit"});
    s.shutdown = find_symbol<abi::ShutdownFn>(lib, {"nvmlShutdown"});
    s.error_string = find_symbol<abi::ErrorStringFn>(lib, {"nvmlErrorString"});
    s.driver_version =
        find_symbol<abi::SystemGetDriverVersionFn>(lib, {"nvmlSystemGetDriverVersion"});
    // The unversioned call still answers without libcuda.so.1; _v2 then fails (§1.6).
    s.cuda_driver_version = find_symbol<abi::SystemGetCudaDriverVersionFn>(
        lib, {"nvmlSystemGetCudaDriverVersion", "nvmlSystemGetCudaDriverVersion_v2"});
    s.count =
        find_symbol<abi::DeviceGetCountFn>(lib, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"});
    s.handle_by_index = find_symbol<abi::DeviceGetHandleByIndexFn>(
        lib, {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"});
    s.uuid = find_symbol<abi::DeviceGetStringFn>(lib, {"nvmlDeviceGetUUID"});
    s.name = find_symbol<abi::DeviceGetStringFn>(lib, {"nvmlDeviceGetName"});
    s.pci_info = find_symbol<abi::DeviceGetPciInfoFn>(lib, {"nvmlDeviceGetPciInfo_v3"});
    s.memory = find_symbol<abi::DeviceGetMemoryInfoFn>(lib, {"nvmlDeviceGetMemoryInfo"});
    s.memory_v2 = find_symbol<abi::DeviceGetMemoryInfoV2Fn>(lib, {"nvmlDeviceGetMemoryInfo_v2"});
    s.utilisation =
        find_symbol<abi::DeviceGetUtilizationRatesFn>(lib, {"nvmlDeviceGetUtilizationRates"});
    s.temperature = find_symbol<abi::DeviceGetTemperatureFn>(lib, {"nvmlDeviceGetTemperature"});
    s.power = find_symbol<abi::DeviceGetUnsignedFn>(lib, {"nvmlDeviceGetPowerUsage"});
    s.compute_capability = find_symbol<abi::DeviceGetCudaComputeCapabilityFn>(
        lib, {"nvmlDeviceGetCudaComputeCapability"});
    s.mig_mode = find_symbol<abi::DeviceGetMigModeFn>(lib, {"nvmlDeviceGetMigMode"});
    s.max_mig_devices =
        find_symbol<abi::DeviceGetUnsignedFn>(lib, {"nvmlDeviceGetMaxMigDeviceCount"});
    s.mig_handle = find_symbol<abi::DeviceGetMigDeviceHandleByIndexFn>(
        lib, {"nvmlDeviceGetMigDeviceHandleByIndex"});
    s.gpu_instance_id = find_symbol<abi::DeviceGetUnsignedFn>(lib, {"nvmlDeviceGetGpuInstanceId"});
    s.compute_instance_id =
        find_symbol<abi::DeviceGetUnsignedFn>(lib, {"nvmlDeviceGetComputeInstanceId"});
    s.processes = choose_process_call(lib);
    return s;
}

NvmlLoadFailure init_failure(const Symbols& symbols, int code, std::string_view library) {
    NvmlLoadFailure failure;
    failure.error_code = code;
    const std::string text = describe(symbols, code);
    const std::string suffix =
        " (" + std::string(library) + ", error " + std::to_string(code) + ")";
    if (code == abi::k_error_lib_rm_version_mismatch) {
        failure.kind = NvmlLoadFailureKind::version_mismatch;
        failure.message = "NVML driver/library version mismatch" + suffix +
                          ": the loaded nvidia kernel module and libnvidia-ml differ, usually "
                          "after a driver upgrade without a reboot; reboot or reload the module";
    } else if (code == abi::k_error_driver_not_loaded) {
        failure.kind = NvmlLoadFailureKind::driver_not_loaded;
        failure.message = "NVIDIA driver not loaded" + suffix + ": " + text;
    } else {
        failure.kind = NvmlLoadFailureKind::init_failed;
        failure.message = "cannot initialise NVML" + suffix + ": " + text;
    }
    return failure;
}

NvmlField<GpuMemory> read_memory(const Symbols& s, abi::Device device) {
    int code = abi::k_error_function_not_found;
    if (s.memory_v2 != nullptr) {
        abi::MemoryV2 memory{};
        memory.version = abi::k_memory_v2_version;
        code = s.memory_v2(device, &memory);
        if (code == abi::k_success) {
            return succeeded(GpuMemory{memory.used, memory.total});
        }
    }
    // A driver that rejects the v2 version word still answers the v1 call (nvidia-settings#78).
    const bool retry_v1 =
        code == abi::k_error_function_not_found || code == abi::k_error_argument_version_mismatch;
    if (s.memory != nullptr && retry_v1) {
        abi::Memory memory{};
        code = s.memory(device, &memory);
        if (code == abi::k_success) {
            return succeeded(GpuMemory{memory.used, memory.total});
        }
    }
    return failed<GpuMemory>(s, code);
}

// Reads pid and memory from each entry at `stride`; both fields sit at the same offsets (0 and
// 8) in the 16-, 24- and 32-byte layouts.
std::vector<GpuProcess> parse_processes(const std::vector<unsigned char>& bytes, unsigned count,
                                        std::size_t stride) {
    std::vector<GpuProcess> processes;
    processes.reserve(count);
    for (unsigned i = 0; i < count; ++i) {
        const unsigned char* entry = bytes.data() + std::size_t{i} * stride;
        GpuProcess process;
        std::memcpy(&process.pid, entry + offsetof(abi::ProcessInfoV1, pid), sizeof(unsigned));
        std::uint64_t used = 0;
        std::memcpy(&used, entry + offsetof(abi::ProcessInfoV1, used_gpu_memory), sizeof(used));
        if (used != abi::k_value_not_available) {
            process.used_memory = used;
        }
        processes.push_back(process);
    }
    return processes;
}

// Linux's ceiling for pid_max (PID_MAX_LIMIT on 64-bit): no pid is ever larger.
constexpr std::uint64_t k_pid_limit = 4194304;
// GPU and compute instance ids are small (a GPU has at most 8 MIG slices); NVML writes
// 0xFFFFFFFF without MIG.
constexpr unsigned k_max_instance_id = 64;

// Says whether every entry read at `stride` looks like a process (reference §1.7 step 2): a
// pid in Linux's range, memory within the GPU's, instance ids unset or small. A wrong stride
// makes later entries straddle two real ones, which fails these checks.
bool entries_sane(const std::vector<unsigned char>& bytes, unsigned count, std::size_t stride,
                  std::optional<std::uint64_t> total_memory) {
    if (std::size_t{count} * stride > bytes.size())
        return false;
    for (unsigned i = 0; i < count; ++i) {
        const unsigned char* entry = bytes.data() + std::size_t{i} * stride;
        unsigned pid = 0;
        std::uint64_t used = 0;
        std::memcpy(&pid, entry + offsetof(abi::ProcessInfoV1, pid), sizeof(pid));
        std::memcpy(&used, entry + offsetof(abi::ProcessInfoV1, used_gpu_memory), sizeof(used));
        if (pid == 0 || pid > k_pid_limit)
            return false;
        if (used != abi::k_value_not_available && total_memory && used > *total_memory)
            return false;
        if (stride >= sizeof(abi::ProcessInfoV2)) {
            unsigned gi = 0;
            unsigned ci = 0;
            std::memcpy(&gi, entry + offsetof(abi::ProcessInfoV2, gpu_instance_id), sizeof(gi));
            std::memcpy(&ci, entry + offsetof(abi::ProcessInfoV2, compute_instance_id), sizeof(ci));
            for (const unsigned id : {gi, ci}) {
                if (id != abi::k_instance_id_none && id > k_max_instance_id)
                    return false;
            }
        }
    }
    return true;
}

// Picks the entry size to parse with: the symbol's, unless its entries are garbage and exactly
// one other layout reads sanely (a driver whose library and header disagree, nvitop #226).
std::size_t choose_stride(const std::vector<unsigned char>& bytes, unsigned count,
                          std::size_t expected, std::optional<std::uint64_t> total_memory) {
    if (count < 2 || entries_sane(bytes, count, expected, total_memory))
        return expected;  // with one entry every layout reads the same pid and memory
    std::size_t found = 0;
    for (const std::size_t stride :
         {sizeof(abi::ProcessInfoV1), sizeof(abi::ProcessInfoV2), sizeof(abi::ProcessDetailV1)}) {
        if (stride == expected || !entries_sane(bytes, count, stride, total_memory))
            continue;
        if (found != 0)
            return expected;  // two candidates: no basis to choose, keep what the symbol says
        found = stride;
    }
    return found != 0 ? found : expected;
}

NvmlField<std::vector<GpuProcess>> read_processes(const Symbols& s, abi::Device device,
                                                  std::optional<std::uint64_t> total_memory,
                                                  std::vector<std::string>& notes) {
    const ProcessCall& call = s.processes;
    if (call.function == nullptr) {
        return failed<std::vector<GpuProcess>>(s, abi::k_error_function_not_found);
    }
    unsigned count = 0;
    int code = call.function(device, &count, nullptr);
    std::vector<unsigned char> bytes;
    for (int attempt = 0; attempt < k_process_attempts && code == abi::k_error_insufficient_size;
         ++attempt) {
        // Slack for a list that grows between the calls, and room for the 32-byte layout
        // whatever the symbol's, since a driver with a mismatched layout writes that much.
        const unsigned capacity = std::min(count * 2 + 5, k_max_process_entries);
        bytes.assign(std::size_t{capacity} * sizeof(abi::ProcessDetailV1), 0xAA);
        count = capacity;
        code = call.function(device, &count, bytes.data());
        count = std::min(count, capacity);
    }
    if (code != abi::k_success) {
        return failed<std::vector<GpuProcess>>(s, code);
    }
    if (bytes.empty()) {
        return succeeded(std::vector<GpuProcess>{});
    }
    const std::size_t stride = choose_stride(bytes, count, call.entry_size, total_memory);
    if (stride != call.entry_size) {
        notes.push_back(std::string(call.symbol) + " wrote " + std::to_string(stride) +
                        "-byte process entries where " + std::to_string(call.entry_size) +
                        " were expected; read them as " + std::to_string(stride) +
                        "-byte entries (a driver library that disagrees with its own header)");
    }
    return succeeded(parse_processes(bytes, count, stride));
}

NvmlField<std::string> read_string(const Symbols& s, abi::DeviceGetStringFn fn,
                                   abi::Device device) {
    if (fn == nullptr) {
        return failed<std::string>(s, abi::k_error_function_not_found);
    }
    char buffer[abi::k_uuid_buffer_size] = {};
    const int code = fn(device, buffer, sizeof(buffer));
    if (code != abi::k_success) {
        return failed<std::string>(s, code);
    }
    return succeeded(c_string(buffer, sizeof(buffer)));
}

NvmlField<unsigned> read_unsigned(const Symbols& s, abi::DeviceGetUnsignedFn fn,
                                  abi::Device device) {
    if (fn == nullptr) {
        return failed<unsigned>(s, abi::k_error_function_not_found);
    }
    unsigned value = 0;
    const int code = fn(device, &value);
    return code == abi::k_success ? succeeded(value) : failed<unsigned>(s, code);
}

NvmlField<std::string> read_pci_bus_id(const Symbols& s, abi::Device device) {
    if (s.pci_info == nullptr) {
        return failed<std::string>(s, abi::k_error_function_not_found);
    }
    abi::PciInfo pci{};
    const int code = s.pci_info(device, &pci);
    if (code != abi::k_success) {
        return failed<std::string>(s, code);
    }
    return succeeded(c_string(pci.bus_id, sizeof(pci.bus_id)));
}

NvmlField<GpuUtilisation> read_utilisation(const Symbols& s, abi::Device device) {
    if (s.utilisation == nullptr) {
        return failed<GpuUtilisation>(s, abi::k_error_function_not_found);
    }
    abi::Utilization utilisation{};
    const int code = s.utilisation(device, &utilisation);
    if (code != abi::k_success) {
        return failed<GpuUtilisation>(s, code);
    }
    return succeeded(GpuUtilisation{utilisation.gpu, utilisation.memory});
}

NvmlField<unsigned> read_temperature(const Symbols& s, abi::Device device) {
    if (s.temperature == nullptr) {
        return failed<unsigned>(s, abi::k_error_function_not_found);
    }
    unsigned celsius = 0;
    const int code = s.temperature(device, abi::k_temperature_gpu, &celsius);
    return code == abi::k_success ? succeeded(celsius) : failed<unsigned>(s, code);
}

NvmlField<ComputeCapability> read_compute_capability(const Symbols& s, abi::Device device) {
    if (s.compute_capability == nullptr) {
        return failed<ComputeCapability>(s, abi::k_error_function_not_found);
    }
    ComputeCapability capability;
    const int code = s.compute_capability(device, &capability.major, &capability.minor);
    return code == abi::k_success ? succeeded(capability) : failed<ComputeCapability>(s, code);
}

NvmlField<MigMode> read_mig_mode(const Symbols& s, abi::Device device) {
    if (s.mig_mode == nullptr) {
        return failed<MigMode>(s, abi::k_error_function_not_found);
    }
    unsigned current = 0;
    unsigned pending = 0;
    const int code = s.mig_mode(device, &current, &pending);
    if (code != abi::k_success) {
        return failed<MigMode>(s, code);
    }
    return succeeded(MigMode{current == abi::k_mig_enable, pending == abi::k_mig_enable});
}

// Walks the MIG slots; empty slots answer NOT_FOUND and are skipped (§1.6).
NvmlField<std::vector<MigDevice>> read_mig_devices(const Symbols& s, abi::Device device) {
    if (s.max_mig_devices == nullptr || s.mig_handle == nullptr) {
        return failed<std::vector<MigDevice>>(s, abi::k_error_function_not_found);
    }
    const NvmlField<unsigned> max = read_unsigned(s, s.max_mig_devices, device);
    if (!max.ok()) {
        return failed<std::vector<MigDevice>>(s, max.error_code);
    }
    std::vector<MigDevice> devices;
    for (unsigned slot = 0; slot < std::min(*max.value, 64u); ++slot) {
        abi::Device mig = nullptr;
        const int code = s.mig_handle(device, slot, &mig);
        if (code == abi::k_error_not_found) {
            continue;
        }
        MigDevice entry;
        entry.index = slot;
        if (code != abi::k_success) {
            entry.uuid = failed<std::string>(s, code);
            devices.push_back(std::move(entry));
            continue;
        }
        entry.uuid = read_string(s, s.uuid, mig);
        entry.gpu_instance_id = read_unsigned(s, s.gpu_instance_id, mig);
        entry.compute_instance_id = read_unsigned(s, s.compute_instance_id, mig);
        entry.memory = read_memory(s, mig);
        devices.push_back(std::move(entry));
    }
    return succeeded(std::move(devices));
}

// Reads one index; a lost or forbidden GPU keeps its index and error so the scan goes on.
GpuInfo read_gpu(const Symbols& s, unsigned index) {
    GpuInfo gpu;
    gpu.index = index;
    abi::Device device = nullptr;
    const int code = s.handle_by_index(index, &device);
    if (code != abi::k_success) {
        gpu.handle = failed<bool>(s, code);
        return gpu;
    }
    gpu.handle = succeeded(true);
    gpu.uuid = read_string(s, s.uuid, device);
    gpu.name = read_string(s, s.name, device);
    gpu.pci_bus_id = read_pci_bus_id(s, device);
    gpu.memory = read_memory(s, device);
    gpu.utilisation = read_utilisation(s, device);
    gpu.temperature_c = read_temperature(s, device);
    gpu.power_mw = read_unsigned(s, s.power, device);
    gpu.compute_capability = read_compute_capability(s, device);
    gpu.mig_mode = read_mig_mode(s, device);
    if (gpu.mig_mode.ok() && gpu.mig_mode.value->current) {
        gpu.mig_devices = read_mig_devices(s, device);
    } else {
        gpu.mig_devices = succeeded(std::vector<MigDevice>{});
    }
    gpu.processes = read_processes(
        s, device, gpu.memory.ok() ? std::optional(gpu.memory.value->total) : std::nullopt,
        gpu.notes);
    return gpu;
}

}  // namespace

std::optional<Nvml> Nvml::load(std::string_view library, NvmlLoadFailure& failure) {
    const std::string name(library.empty() ? k_default_nvml_library : library);
    ::dlerror();
    void* handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = ::dlerror();
        failure = {NvmlLoadFailureKind::library_not_found, 0,
                   "NVML not found (no NVIDIA driver?): cannot load " + name +
                       (why != nullptr ? std::string(": ") + why : std::string())};
        return std::nullopt;
    }
    const Symbols symbols = resolve(handle);
    const char* missing = symbols.init == nullptr              ? "nvmlInit_v2"
                          : symbols.shutdown == nullptr        ? "nvmlShutdown"
                          : symbols.count == nullptr           ? "nvmlDeviceGetCount_v2"
                          : symbols.handle_by_index == nullptr ? "nvmlDeviceGetHandleByIndex_v2"
                                                               : nullptr;
    if (missing != nullptr) {
        ::dlclose(handle);
        failure = {NvmlLoadFailureKind::missing_symbol, 0,
                   "NVML library " + name + " lacks " + missing + " (not an NVML library?)"};
        return std::nullopt;
    }
    const int code = symbols.init();
    if (code != abi::k_success) {
        failure = init_failure(symbols, code, name);
        ::dlclose(handle);
        return std::nullopt;
    }
    return Nvml(handle, symbols);
}

Nvml::Nvml(Nvml&& other) noexcept
    : m_library(std::exchange(other.m_library, nullptr)), m_symbols(other.m_symbols) {}

Nvml& Nvml::operator=(Nvml&& other) noexcept {
    if (this != &other) {
        Nvml old(std::move(*this));
        m_library = std::exchange(other.m_library, nullptr);
        m_symbols = other.m_symbols;
    }
    return *this;
}

Nvml::~Nvml() {
    if (m_library != nullptr) {
        m_symbols.shutdown();
        ::dlclose(m_library);
    }
}

std::string Nvml::error_string(int code) const {
    return describe(m_symbols, code);
}

NvmlSnapshot Nvml::snapshot() const {
    const Symbols& s = m_symbols;
    NvmlSnapshot snapshot;
    if (s.driver_version != nullptr) {
        char buffer[abi::k_driver_version_buffer_size] = {};
        const int code = s.driver_version(buffer, sizeof(buffer));
        snapshot.driver_version = code == abi::k_success
                                      ? succeeded(c_string(buffer, sizeof(buffer)))
                                      : failed<std::string>(s, code);
    } else {
        snapshot.driver_version = failed<std::string>(s, abi::k_error_function_not_found);
    }
    if (s.cuda_driver_version != nullptr) {
        int version = 0;
        const int code = s.cuda_driver_version(&version);
        snapshot.cuda_driver_version =
            code == abi::k_success ? succeeded(CudaVersion{version / 1000, (version % 1000) / 10})
                                   : failed<CudaVersion>(s, code);
    } else {
        snapshot.cuda_driver_version = failed<CudaVersion>(s, abi::k_error_function_not_found);
    }
    unsigned count = 0;
    const int code = s.count(&count);
    if (code != abi::k_success) {
        snapshot.gpu_count = failed<unsigned>(s, code);
        return snapshot;
    }
    snapshot.gpu_count = succeeded(count);
    for (unsigned index = 0; index < count; ++index) {
        snapshot.gpus.push_back(read_gpu(s, index));
    }
    return snapshot;
}

}  // namespace gpuenv::core::gpu
