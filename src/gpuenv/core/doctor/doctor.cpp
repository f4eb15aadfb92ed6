#include <gpuenv/core/doctor/doctor.hpp>

#include <algorithm>
#include <charconv>

#include <fmt/core.h>

namespace gpuenv::core::doctor {

std::string_view severity_name(Severity severity) {
    switch (severity) {
        case Severity::info:
            return "info";
        case Severity::warning:
            return "warning";
        case Severity::error:
            return "error";
    }
    return "error";
}

std::size_t MachineFacts::gpu_count() const {
    return nvml ? nvml->gpus.size() : 0;
}

bool unhealthy(const DoctorFindings& findings) {
    return std::any_of(findings.begin(), findings.end(),
                       [](const DoctorFinding& f) { return f.severity != Severity::info; });
}

namespace {

bool parse_number(std::string_view text, int& value) {
    if (text.empty() || text.size() > 6)
        return false;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    return ec == std::errc() && ptr == end;
}

}  // namespace

std::optional<gpu::CudaVersion> parse_cuda_version(std::string_view text) {
    const auto dot = text.find('.');
    gpu::CudaVersion version;
    if (!parse_number(text.substr(0, dot), version.major))
        return std::nullopt;
    if (dot == std::string_view::npos)
        return version;
    auto rest = text.substr(dot + 1);
    const auto second = rest.find('.');
    if (second != std::string_view::npos) {
        int patch = 0;
        if (!parse_number(rest.substr(second + 1), patch))
            return std::nullopt;
        rest = rest.substr(0, second);
    }
    if (!parse_number(rest, version.minor))
        return std::nullopt;
    return version;
}

std::string format_cuda_version(gpu::CudaVersion version) {
    return fmt::format("{}.{}", version.major, version.minor);
}

void check_nvml(const DoctorInput& input, DoctorReport& report) {
    // Only the failure that means "GPUs are there and broken" is a finding: a machine without
    // a driver (library_not_found) or with the library but no loaded module (a CPU node with
    // CUDA libraries installed, a container without --gpus) is simply a machine without GPUs.
    const auto& failure = input.machine.nvml_failure;
    if (!failure || failure->kind != gpu::NvmlLoadFailureKind::version_mismatch)
        return;
    report.findings.push_back(
        {"driver_library_mismatch",
         Severity::error,
         "the NVIDIA kernel module and the user-space driver library differ: no process can use "
         "the GPUs",
         {"NVML: " + failure->message, fmt::format("nvmlInit returned {}", failure->error_code)},
         "the driver was upgraded without a reboot: reboot the node, or stop every GPU process "
         "and reload the module (rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia; "
         "modprobe nvidia); cat /proc/driver/nvidia/version shows the loaded module's version",
         false});
}

DoctorReport run_doctor(const DoctorInput& input) {
    DoctorReport report;
    using Rule = void (*)(const DoctorInput&, DoctorReport&);
    // Rule order is the order of docs/doctor.md: the build against the machine first, then
    // the packages, the machine, the binding, the sources.
    static constexpr Rule rules[] = {
        check_nvml,
        check_cpu_only_torch,
        check_cuda_newer_than_driver,
        check_compute_capability,
        check_probe,
        check_cuda_runtimes,
        check_openmp_and_blas,
        check_conda_pip_overlap,
        check_dependencies,
        check_mixed_channels,
        check_shm,
        check_threads,
        check_binding,
        check_kernelspecs,
        check_zombie_memory,
        check_sources,
        check_mixed_precision,
    };
    for (const Rule rule : rules)
        rule(input, report);
    std::stable_sort(report.findings.begin(), report.findings.end(),
                     [](const DoctorFinding& a, const DoctorFinding& b) {
                         return static_cast<int>(a.severity) > static_cast<int>(b.severity);
                     });
    return report;
}

}  // namespace gpuenv::core::doctor
