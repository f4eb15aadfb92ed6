#include <gpuenv/core/gpu/nvml.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/fake_nvml_scenario.hpp"
#include "support/temp_dir.hpp"

namespace gpuenv::core::gpu {
namespace {

using Json = nlohmann::json;

struct Variant {
    const char* library;
    std::size_t entry_size;
};

const std::vector<Variant>& variants() {
    static const std::vector<Variant> all = {
        {GPUENV_FAKE_NVML_CURRENT, 24}, {GPUENV_FAKE_NVML_535_43, 32}, {GPUENV_FAKE_NVML_470, 16}};
    return all;
}

using Scenario = test::FakeNvmlScenario;

Json two_gpus() {
    return Json::parse(R"({
      "driver_version": "535.54.03", "cuda_version": 12020,
      "gpus": [
        {"uuid": "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6", "name": "NVIDIA A100-SXM4-80GB",
         "pci_bus_id": "00000000:07:00.0", "memory_total": 85899345920, "memory_used": 3221225472,
         "utilisation_gpu": 87, "utilisation_memory": 41, "temperature": 61, "power_mw": 312000,
         "compute_capability": [8, 0],
         "processes": [{"pid": 4242, "used_memory": 2147483648}, {"pid": 777, "used_memory": null},
                       {"pid": 4294967, "used_memory": 1048576}]},
        {"uuid": "GPU-18ef14e9-0000-0000-0000-000000000001", "name": "NVIDIA A100-SXM4-80GB",
         "pci_bus_id": "00000000:0F:00.0", "compute_capability": [8, 0]}
      ]})");
}

Nvml load_or_fail(const char* library) {
    NvmlLoadFailure failure;
    std::optional<Nvml> nvml = Nvml::load(library, failure);
    if (!nvml) {
        throw std::runtime_error(failure.message);  // gtest reports it as this test's failure
    }
    return std::move(*nvml);
}

TEST(Nvml, ReadsDevicesAndProcessesFromEveryDriverFamily) {
    const Scenario scenario(two_gpus());
    for (const Variant& variant : variants()) {
        SCOPED_TRACE(variant.library);
        const Nvml nvml = load_or_fail(variant.library);
        EXPECT_EQ(nvml.process_call().entry_size, variant.entry_size);
        const NvmlSnapshot snapshot = nvml.snapshot();
        EXPECT_EQ(snapshot.driver_version.value, "535.54.03");
        ASSERT_TRUE(snapshot.cuda_driver_version.ok());
        EXPECT_EQ(snapshot.cuda_driver_version.value->major, 12);
        EXPECT_EQ(snapshot.cuda_driver_version.value->minor, 2);
        ASSERT_EQ(snapshot.gpus.size(), 2u);

        const GpuInfo& gpu = snapshot.gpus[0];
        EXPECT_EQ(gpu.index, 0u);
        EXPECT_EQ(gpu.uuid.value, "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6");
        EXPECT_EQ(gpu.name.value, "NVIDIA A100-SXM4-80GB");
        EXPECT_EQ(gpu.pci_bus_id.value, "00000000:07:00.0");
        ASSERT_TRUE(gpu.memory.ok());
        EXPECT_EQ(gpu.memory.value->total, 85899345920u);
        EXPECT_EQ(gpu.memory.value->used, 3221225472u);
        ASSERT_TRUE(gpu.utilisation.ok());
        EXPECT_EQ(gpu.utilisation.value->gpu, 87u);
        EXPECT_EQ(gpu.utilisation.value->memory, 41u);
        EXPECT_EQ(gpu.temperature_c.value, 61u);
        EXPECT_EQ(gpu.power_mw.value, 312000u);
        ASSERT_TRUE(gpu.compute_capability.ok());
        EXPECT_EQ(gpu.compute_capability.value->major, 8);
        EXPECT_EQ(gpu.compute_capability.value->minor, 0);
        ASSERT_TRUE(gpu.mig_mode.ok());
        EXPECT_FALSE(gpu.mig_mode.value->current);

        ASSERT_TRUE(gpu.processes.ok()) << gpu.processes.error;
        const std::vector<GpuProcess>& processes = *gpu.processes.value;
        ASSERT_EQ(processes.size(), 3u);
        EXPECT_EQ(processes[0].pid, 4242u);
        EXPECT_EQ(processes[0].used_memory, std::optional<std::uint64_t>(2147483648u));
        EXPECT_EQ(processes[1].pid, 777u);
        EXPECT_FALSE(processes[1].used_memory.has_value());
        EXPECT_EQ(processes[2].pid, 4294967u);
        EXPECT_EQ(processes[2].used_memory, std::optional<std::uint64_t>(1048576u));

        EXPECT_EQ(snapshot.gpus[1].uuid.value, "GPU-18ef14e9-0000-0000-0000-000000000001");
        ASSERT_TRUE(snapshot.gpus[1].processes.ok());
        EXPECT_TRUE(snapshot.gpus[1].processes.value->empty());
    }
}

TEST(Nvml, ReadsManyProcessesAtTheStrideOfThe53543Layout) {
    Json process_list = Json::array();
    for (unsigned pid = 1000; pid < 1040; ++pid) {
        process_list.push_back({{"pid", pid}, {"used_memory", std::uint64_t{pid} << 20u}});
    }
    Json json;
    json["gpus"] = Json::array({Json{{"processes", process_list}}});
    const Scenario scenario(json);
    for (const Variant& variant : variants()) {
        SCOPED_TRACE(variant.library);
        const NvmlSnapshot snapshot = load_or_fail(variant.library).snapshot();
        ASSERT_EQ(snapshot.gpus.size(), 1u);
        ASSERT_TRUE(snapshot.gpus[0].processes.ok());
        const std::vector<GpuProcess>& processes = *snapshot.gpus[0].processes.value;
        ASSERT_EQ(processes.size(), 40u);
        for (unsigned i = 0; i < 40; ++i) {
            EXPECT_EQ(processes[i].pid, 1000 + i);
            EXPECT_EQ(processes[i].used_memory, std::uint64_t{1000 + i} << 20u);
        }
    }
}

// A driver whose library writes another layout than its symbols imply (reference §1.7,
// nvitop #226): the entries read at the expected stride are garbage, exactly one other layout
// reads sanely, and that one is used with a note.
TEST(Nvml, EntriesOfAnotherLayoutThanTheSymbolsImplyAreDetected) {
    for (const std::size_t written : {16, 24, 32}) {
        Json process_list = Json::array();
        for (unsigned pid = 2000; pid < 2006; ++pid)
            process_list.push_back({{"pid", pid}, {"used_memory", std::uint64_t{pid} << 20u}});
        Json json;
        json["process_entry_size"] = written;
        json["gpus"] =
            Json::array({Json{{"memory_total", 85899345920ULL}, {"processes", process_list}}});
        const Scenario scenario(json);
        for (const Variant& variant : variants()) {
            SCOPED_TRACE(std::string(variant.library) + " writing " + std::to_string(written));
            const NvmlSnapshot snapshot = load_or_fail(variant.library).snapshot();
            ASSERT_TRUE(snapshot.gpus[0].processes.ok());
            const std::vector<GpuProcess>& processes = *snapshot.gpus[0].processes.value;
            ASSERT_EQ(processes.size(), 6u);
            for (unsigned i = 0; i < 6; ++i) {
                EXPECT_EQ(processes[i].pid, 2000 + i);
                EXPECT_EQ(processes[i].used_memory, std::uint64_t{2000 + i} << 20u);
            }
            const auto& notes = snapshot.gpus[0].notes;
            if (written == variant.entry_size) {
                EXPECT_TRUE(notes.empty());
            } else {
                ASSERT_EQ(notes.size(), 1u);
                EXPECT_NE(notes[0].find("wrote " + std::to_string(written) +
                                        "-byte process "
                                        "entries where " +
                                        std::to_string(variant.entry_size) + " were expected"),
                          std::string::npos)
                    << notes[0];
            }
        }
    }
}

TEST(Nvml, ProcessesThatAppearAfterTheSizingCallAreRead) {
    Json late = Json::array();
    for (unsigned pid = 2000; pid < 2030; ++pid) {
        late.push_back({{"pid", pid}, {"used_memory", pid}});
    }
    Json json = Json::parse(R"({"gpus": [{"processes": [{"pid": 10, "used_memory": 1},
                                                        {"pid": 11, "used_memory": 2}]}]})");
    json["gpus"][0]["processes_after_sizing"] = late;
    const Scenario scenario(json);
    for (const Variant& variant : variants()) {
        SCOPED_TRACE(variant.library);
        const NvmlSnapshot snapshot = load_or_fail(variant.library).snapshot();
        ASSERT_EQ(snapshot.gpus.size(), 1u);
        ASSERT_TRUE(snapshot.gpus[0].processes.ok()) << snapshot.gpus[0].processes.error;
        const std::vector<GpuProcess>& processes = *snapshot.gpus[0].processes.value;
        ASSERT_EQ(processes.size(), 32u);
        EXPECT_EQ(processes[1].pid, 11u);
        EXPECT_EQ(processes[31].pid, 2029u);
        EXPECT_EQ(processes[31].used_memory, std::uint64_t{2029});
    }
}

TEST(Nvml, MissingLibraryIsAFailureNotACrash) {
    NvmlLoadFailure failure;
    const auto nvml = Nvml::load("/nonexistent/libnvidia-ml.so.1", failure);
    EXPECT_FALSE(nvml.has_value());
    EXPECT_EQ(failure.kind, NvmlLoadFailureKind::library_not_found);
    EXPECT_NE(failure.message.find("NVML not found (no NVIDIA driver?)"), std::string::npos);
    EXPECT_NE(failure.message.find("/nonexistent/libnvidia-ml.so.1"), std::string::npos);
}

TEST(Nvml, LibraryWithoutNvmlSymbolsIsRejected) {
    NvmlLoadFailure failure;
    const auto nvml = Nvml::load("libm.so.6", failure);
    EXPECT_FALSE(nvml.has_value());
    EXPECT_EQ(failure.kind, NvmlLoadFailureKind::missing_symbol);
    EXPECT_NE(failure.message.find("nvmlInit_v2"), std::string::npos);
}

TEST(Nvml, VersionMismatchAtInitHasItsOwnMessage) {
    const Scenario scenario(Json::parse(R"({"init": 18, "gpus": [{}]})"));
    for (const Variant& variant : variants()) {
        NvmlLoadFailure failure;
        EXPECT_FALSE(Nvml::load(variant.library, failure).has_value());
        EXPECT_EQ(failure.kind, NvmlLoadFailureKind::version_mismatch);
        EXPECT_EQ(failure.error_code, 18);
        EXPECT_NE(failure.message.find("driver/library version mismatch"), std::string::npos);
        EXPECT_NE(failure.message.find("reboot"), std::string::npos);
    }
}

TEST(Nvml, DriverNotLoadedAtInitIsReported) {
    const Scenario scenario(Json::parse(R"({"init": 9})"));
    NvmlLoadFailure failure;
    EXPECT_FALSE(Nvml::load(GPUENV_FAKE_NVML_CURRENT, failure).has_value());
    EXPECT_EQ(failure.kind, NvmlLoadFailureKind::driver_not_loaded);
    EXPECT_NE(failure.message.find("Driver Not Loaded"), std::string::npos);
}

TEST(Nvml, PerCallFailureMarksOnlyThatField) {
    Json json = two_gpus();
    json["fail"] = {{"nvmlDeviceGetPowerUsage", 3}};
    json["gpus"][1]["fail"] = {{"nvmlDeviceGetTemperature", 4}};
    const Scenario scenario(json);
    const NvmlSnapshot snapshot = load_or_fail(GPUENV_FAKE_NVML_CURRENT).snapshot();
    ASSERT_EQ(snapshot.gpus.size(), 2u);
    for (const GpuInfo& gpu : snapshot.gpus) {
        EXPECT_FALSE(gpu.power_mw.ok());
        EXPECT_EQ(gpu.power_mw.error_code, 3);
        EXPECT_EQ(gpu.power_mw.error, "Not Supported");
        EXPECT_TRUE(gpu.uuid.ok());
        EXPECT_TRUE(gpu.memory.ok());
        EXPECT_TRUE(gpu.processes.ok());
    }
    EXPECT_TRUE(snapshot.gpus[0].temperature_c.ok());
    EXPECT_EQ(snapshot.gpus[1].temperature_c.error_code, 4);
}

TEST(Nvml, MemoryFallsBackToV1WhenTheDriverRejectsTheV2VersionWord) {
    Json json = two_gpus();
    json["fail"] = {{"nvmlDeviceGetMemoryInfo_v2", 25}};
    const Scenario scenario(json);
    const NvmlSnapshot snapshot = load_or_fail(GPUENV_FAKE_NVML_CURRENT).snapshot();
    ASSERT_EQ(snapshot.gpus.size(), 2u);
    ASSERT_TRUE(snapshot.gpus[0].memory.ok()) << snapshot.gpus[0].memory.error;
    EXPECT_EQ(snapshot.gpus[0].memory.value->used, 3221225472u);
}

TEST(Nvml, ProcessListFailureLeavesTheDevice) {
    Json json = two_gpus();
    json["gpus"][0]["fail"] = {{"nvmlDeviceGetComputeRunningProcesses", 4}};
    const Scenario scenario(json);
    for (const Variant& variant : variants()) {
        SCOPED_TRACE(variant.library);
        const NvmlSnapshot snapshot = load_or_fail(variant.library).snapshot();
        ASSERT_EQ(snapshot.gpus.size(), 2u);
        EXPECT_EQ(snapshot.gpus[0].processes.error_code, 4);
        EXPECT_EQ(snapshot.gpus[0].processes.error, "Insufficient Permissions");
        EXPECT_TRUE(snapshot.gpus[0].memory.ok());
        EXPECT_TRUE(snapshot.gpus[1].processes.ok());
    }
}

TEST(Nvml, LostAndForbiddenGpusKeepTheirIndexAndTheRestIsRead) {
    const Scenario scenario(Json::parse(R"({"gpus": [
        {"uuid": "GPU-lost", "lost": true},
        {"uuid": "GPU-denied", "fail": {"nvmlDeviceGetHandleByIndex": 4}},
        {"uuid": "GPU-fine", "processes": [{"pid": 12, "used_memory": 5}]}]})"));
    const NvmlSnapshot snapshot = load_or_fail(GPUENV_FAKE_NVML_CURRENT).snapshot();
    ASSERT_EQ(snapshot.gpus.size(), 3u);
    const GpuInfo& lost = snapshot.gpus[0];
    EXPECT_EQ(lost.uuid.error_code, 15);
    EXPECT_EQ(lost.uuid.error, "GPU is lost");
    EXPECT_EQ(lost.memory.error_code, 15);
    EXPECT_EQ(lost.processes.error_code, 15);
    const GpuInfo& denied = snapshot.gpus[1];
    EXPECT_EQ(denied.index, 1u);
    EXPECT_EQ(denied.handle.error_code, 4);
    EXPECT_FALSE(denied.uuid.ok());
    const GpuInfo& fine = snapshot.gpus[2];
    EXPECT_EQ(fine.uuid.value, "GPU-fine");
    ASSERT_TRUE(fine.processes.ok());
    ASSERT_EQ(fine.processes.value->size(), 1u);
    EXPECT_EQ(fine.processes.value->front().pid, 12u);
}

TEST(Nvml, ZeroGpusIsAnEmptyList) {
    const Scenario scenario(Json::parse(R"({"driver_version": "470.256.02", "gpus": []})"));
    const NvmlSnapshot snapshot = load_or_fail(GPUENV_FAKE_NVML_470).snapshot();
    EXPECT_EQ(snapshot.driver_version.value, "470.256.02");
    EXPECT_EQ(snapshot.gpu_count.value, 0u);
    EXPECT_TRUE(snapshot.gpus.empty());
}

TEST(Nvml, ListsMigDevicesAndSkipsEmptySlots) {
    const Scenario scenario(Json::parse(R"({"gpus": [{"mig_mode": 1, "max_mig_devices": 7,
        "mig_devices": [
          {"slot": 0, "uuid": "MIG-aaaaaaaa-0000-0000-0000-000000000000", "gpu_instance_id": 1,
           "compute_instance_id": 0, "memory_total": 10737418240, "memory_used": 1024},
          {"slot": 3, "uuid": "MIG-bbbbbbbb-0000-0000-0000-000000000000", "gpu_instance_id": 2,
           "compute_instance_id": 0}]}]})"));
    const NvmlSnapshot snapshot = load_or_fail(GPUENV_FAKE_NVML_CURRENT).snapshot();
    ASSERT_EQ(snapshot.gpus.size(), 1u);
    const GpuInfo& gpu = snapshot.gpus[0];
    ASSERT_TRUE(gpu.mig_mode.ok());
    EXPECT_TRUE(gpu.mig_mode.value->current);
    ASSERT_TRUE(gpu.mig_devices.ok());
    const std::vector<MigDevice>& migs = *gpu.mig_devices.value;
    ASSERT_EQ(migs.size(), 2u);
    EXPECT_EQ(migs[0].index, 0u);
    EXPECT_EQ(migs[0].uuid.value, "MIG-aaaaaaaa-0000-0000-0000-000000000000");
    EXPECT_EQ(migs[0].gpu_instance_id.value, 1u);
    EXPECT_EQ(migs[0].compute_instance_id.value, 0u);
    ASSERT_TRUE(migs[0].memory.ok());
    EXPECT_EQ(migs[0].memory.value->total, 10737418240u);
    EXPECT_EQ(migs[1].index, 3u);
    EXPECT_EQ(migs[1].gpu_instance_id.value, 2u);
}

TEST(Nvml, MovedFromHandleDoesNotShutDownTwice) {
    const Scenario scenario(two_gpus());
    Nvml first = load_or_fail(GPUENV_FAKE_NVML_CURRENT);
    Nvml second = std::move(first);
    second = load_or_fail(GPUENV_FAKE_NVML_CURRENT);
    EXPECT_EQ(second.snapshot().gpus.size(), 2u);
}

}  // namespace
}  // namespace gpuenv::core::gpu
