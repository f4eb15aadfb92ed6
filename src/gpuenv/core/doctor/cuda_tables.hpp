#pragma once

// NVIDIA's and PyTorch's published facts that `doctor` compares a build with a machine by:
// the minimum driver of each CUDA toolkit, minor-version compatibility, the compute
// capabilities a toolkit targets and the arch lists of PyTorch's wheels
// (../shared/reference/gpu.md §5). Pure tables and lookups; nothing here reads the machine.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/gpu/nvml.hpp>

namespace gpuenv::core::doctor {

/// Compares two driver versions field by field as numbers ("550.54.15" < "550.127.05"), a
/// missing field counting as 0 ("525" < "525.60.13"); returns a negative, zero or positive int.
[[nodiscard]] int compare_driver_versions(std::string_view a, std::string_view b);

/// Returns whether driver `version` is `minimum` or newer.
[[nodiscard]] bool driver_at_least(std::string_view version, std::string_view minimum);

/// Returns a number that orders CUDA versions (12.6 -> 1206).
[[nodiscard]] constexpr int rank(gpu::CudaVersion version) {
    return version.major * 100 + version.minor;
}

/// Returns a number that orders compute capabilities (8.9 -> 809, 12.0 -> 1200).
[[nodiscard]] constexpr int rank(gpu::ComputeCapability cc) {
    return cc.major * 100 + cc.minor;
}

/// Formats a compute capability as "8.6".
[[nodiscard]] std::string format_cc(gpu::ComputeCapability cc);

// ---- driver <-> CUDA (§5.1-5.3) -------------------------------------------------------------

/// Returns the minimum Linux driver of a CUDA toolkit's GA release (§5.1, Table 3 of the CUDA
/// release notes); nothing for a release the table lacks (12.7, anything past 13.2).
[[nodiscard]] std::optional<std::string_view> min_driver_for_cuda(gpu::CudaVersion cuda);

/// Returns the newest CUDA whose GA minimum `driver` meets (§5.2, derived from §5.1); nothing
/// for an unparsable driver or one older than CUDA 10.0's. NVML's cuda_driver_version is the
/// authoritative value; this is the fallback when only the driver version is known.
[[nodiscard]] std::optional<gpu::CudaVersion> max_cuda_for_driver(std::string_view driver);

/// Returns the driver a whole CUDA major family needs through minor-version compatibility
/// (§5.3: 11 -> 450.80.02, 12 -> 525, 13 -> 580); nothing for majors without it (10 and older)
/// or unknown ones.
[[nodiscard]] std::optional<std::string_view> minor_compat_min_driver(int cuda_major);

/// Returns the oldest driver that runs a build of `cuda` at all: the minor-compatibility minimum
/// of its major raised to the family's first GA minimum (12.1 -> 525.60.13), or the release's own
/// minimum where minor compatibility does not apply; nothing when neither is known.
[[nodiscard]] std::optional<std::string> min_driver_to_run(gpu::CudaVersion cuda);

/// Says how a driver runs code built with some CUDA version (§5.3).
enum class DriverFit {
    supported,     ///< the driver supports that CUDA version
    minor_compat,  ///< runs through minor-version compatibility: PTX JIT and newer features may
                   ///< fail
    too_old,       ///< cannot run it: CUDA reports no device / "driver too old"
};

/// Returns how a driver that supports CUDA `driver_max` (and has version `driver`, "" when
/// unknown) runs code built with CUDA `build`.
[[nodiscard]] DriverFit driver_fit(gpu::CudaVersion build, gpu::CudaVersion driver_max,
                                   std::string_view driver);

// ---- compute capability (§5.4-5.5) ----------------------------------------------------------

/// Returns the newest compute capability CUDA `cuda` compiles for (§5.5); nothing for a
/// release the table lacks.
[[nodiscard]] std::optional<gpu::ComputeCapability> max_cc_for_cuda(gpu::CudaVersion cuda);

/// Returns the oldest compute capability CUDA `cuda` compiles for (10.x: 3.0, 11.x: 3.5,
/// 12.x: 5.0, 13.x: 7.5); nothing for majors the table lacks.
[[nodiscard]] std::optional<gpu::ComputeCapability> min_cc_for_cuda(gpu::CudaVersion cuda);

/// Describes one entry of a build's GPU code, as torch.cuda.get_arch_list() names it.
struct GpuCode {
    gpu::ComputeCapability cc;
    bool ptx = false;            ///< compute_XY: PTX the driver can JIT-compile for newer GPUs
    bool arch_specific = false;  ///< sm_90a: runs on that exact compute capability only
};

/// Holds the GPU code a build carries.
using ArchList = std::vector<GpuCode>;

/// Parses torch.cuda.get_arch_list() entries ("sm_80", "sm_90a", "compute_120"); entries that
/// name no NVIDIA architecture (ROCm's "gfx90a") are left out.
[[nodiscard]] ArchList parse_arch_list(const std::vector<std::string>& entries);

/// Parses a TORCH_CUDA_ARCH_LIST value ("7.5;8.0;12.0+PTX"): a cubin per entry, plus PTX for
/// entries ending in "+PTX".
[[nodiscard]] ArchList parse_torch_cuda_arch_list(std::string_view text);

/// Returns whether some code in `arches` runs on a GPU of capability `cc`: a cubin of the same
/// major and a lower or equal minor (an arch-specific one of exactly `cc`), or PTX of a
/// capability at most `cc` (Blackwell compatibility guide, §5.5).
[[nodiscard]] bool arch_list_runs_on(const ArchList& arches, gpu::ComputeCapability cc);

/// Formats as get_arch_list() names the entries: "sm_75 sm_80 compute_120".
[[nodiscard]] std::string format_arch_list(const ArchList& arches);

/// Holds the arch list a PyTorch build is taken to carry, and what that rests on.
struct TorchArchList {
    ArchList arches;
    /// The list is PyTorch's own for that release and CUDA version (its build scripts);
    /// otherwise it is derived from what the CUDA toolkit targets.
    bool published = false;
    std::string basis;  ///< "PyTorch 2.7 cu128 wheels", "derived from CUDA 12.4's targets"
};

/// Returns the arch list of PyTorch's own wheels (download.pytorch.org and PyPI) of release
/// `torch_version` ("2.7.1+cu128"; "" for the newest) built with `cuda`: the published list
/// where known (cu126, cu128, cu129, cu130, cu118, cu117), else PyTorch's usual architectures
/// (3.7 with CUDA 11, 5.0 6.0 7.0 7.5 8.0 8.6 9.0 10.0 12.0) within what the toolkit targets,
/// without PTX.
[[nodiscard]] TorchArchList pytorch_wheel_arch_list(std::string_view torch_version,
                                                    gpu::CudaVersion cuda);

/// Returns the arch list of a build that compiles cubins over the toolkit's whole range and PTX
/// for its newest architecture, as conda-forge's pytorch does: only GPUs older than the
/// toolkit's minimum fall outside it.
[[nodiscard]] TorchArchList toolkit_arch_list(gpu::CudaVersion cuda);

/// Lists the CUDA versions of PyTorch 2.x's wheel indexes worth recommending
/// (https://download.pytorch.org/whl/cuXYZ), oldest first.
[[nodiscard]] const std::vector<gpu::CudaVersion>& pytorch_wheel_cudas();

/// Returns the wheel index tag of a CUDA version ("cu126").
[[nodiscard]] std::string wheel_tag(gpu::CudaVersion cuda);

}  // namespace gpuenv::core::doctor
