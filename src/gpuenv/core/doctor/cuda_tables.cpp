#include <gpuenv/core/doctor/cuda_tables.hpp>

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/core.h>

namespace gpuenv::core::doctor {

namespace {

using gpu::ComputeCapability;
using gpu::CudaVersion;

// Reads the leading digits of a field; "" or non-digits count as 0 so that a driver version
// with a suffix still orders by its numbers.
long field_value(std::string_view field) {
    long value = 0;
    std::from_chars(field.data(), field.data() + field.size(), value);
    return value;
}

std::string_view next_field(std::string_view& text) {
    const auto dot = text.find('.');
    const std::string_view field = text.substr(0, dot);
    text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    return field;
}

struct DriverRow {
    CudaVersion cuda;
    std::string_view driver;
};

// §5.1, the GA row of each release (Linux x86_64). There is no CUDA 12.7 toolkit.
constexpr std::array k_ga_drivers = {
    DriverRow{{10, 0}, "410.48"},    DriverRow{{10, 1}, "418.39"},
    DriverRow{{10, 2}, "440.33"},    DriverRow{{11, 0}, "450.51.05"},
    DriverRow{{11, 1}, "455.23"},    DriverRow{{11, 2}, "460.27.03"},
    DriverRow{{11, 3}, "465.19.01"}, DriverRow{{11, 4}, "470.42.01"},
    DriverRow{{11, 5}, "495.29.05"}, DriverRow{{11, 6}, "510.39.01"},
    DriverRow{{11, 7}, "515.43.04"}, DriverRow{{11, 8}, "520.61.05"},
    DriverRow{{12, 0}, "525.60.13"}, DriverRow{{12, 1}, "530.30.02"},
    DriverRow{{12, 2}, "535.54.03"}, DriverRow{{12, 3}, "545.23.06"},
    DriverRow{{12, 4}, "550.54.14"}, DriverRow{{12, 5}, "555.42.02"},
    DriverRow{{12, 6}, "560.28.03"}, DriverRow{{12, 8}, "570.26"},
    DriverRow{{12, 9}, "575.51.03"}, DriverRow{{13, 0}, "580.65.06"},
    DriverRow{{13, 1}, "590.44.01"}, DriverRow{{13, 2}, "595.45.04"},
};

struct CcRange {
    CudaVersion first;
    CudaVersion last;
    ComputeCapability cc;
};

// §5.5: ArrayFire's Toolkit2MaxCompute up to 12.6; 12.8 adds sm_100/sm_120, 12.9 sm_103/sm_121.
// 13.1 and 13.2 add no architecture that is known here, so they keep 13.0's 12.1. CUDA 10.0 is
// the Turing release (sm_75).
constexpr std::array k_max_cc = {
    CcRange{{10, 0}, {10, 2}, {7, 5}},  CcRange{{11, 0}, {11, 0}, {8, 0}},
    CcRange{{11, 1}, {11, 6}, {8, 6}},  CcRange{{11, 7}, {11, 7}, {8, 7}},
    CcRange{{11, 8}, {12, 6}, {9, 0}},  CcRange{{12, 8}, {12, 8}, {12, 0}},
    CcRange{{12, 9}, {12, 9}, {12, 1}}, CcRange{{13, 0}, {13, 2}, {12, 1}},
};

// The oldest architecture each major compiles for: CUDA 11.0 dropped sm_30/sm_32, 12.0 dropped
// Kepler (sm_35/sm_37), 13.0 dropped Maxwell, Pascal and Volta (§5.5).
constexpr std::array k_min_cc = {
    std::pair{10, ComputeCapability{3, 0}},
    std::pair{11, ComputeCapability{3, 5}},
    std::pair{12, ComputeCapability{5, 0}},
    std::pair{13, ComputeCapability{7, 5}},
};

struct PublishedList {
    CudaVersion cuda;
    int torch_from;              // first torch release (major * 100 + minor) built with this list
    int torch_until;             // first release no longer built with it
    std::string_view arch_list;  // TORCH_CUDA_ARCH_LIST
};

constexpr int k_any_release = 9999;

// PyTorch's wheel lists (TORCH_CUDA_ARCH_LIST of pytorch/builder's and later .ci/manywheel's
// build_cuda.sh; §5.5). cu128 dropped Volta in 2.7 (pytorch#147607), brought it back for
// 2.8-2.10 with cu129 (pytorch#157517, #160269) and dropped it again in 2.11 (pytorch#172598,
// #182250). The cu130 list is the 2.10/2.11 support matrix (pytorch#172352).
constexpr std::array k_published = {
    PublishedList{{11, 7}, 113, 201, "3.7;5.0;6.0;7.0;7.5;8.0;8.6"},
    PublishedList{{11, 8}, 200, 201, "3.7;5.0;6.0;7.0;7.5;8.0;8.6;9.0"},
    PublishedList{{12, 6}, 206, k_any_release, "5.0;6.0;7.0;7.5;8.0;8.6;9.0"},
    PublishedList{{12, 8}, 207, 208, "7.5;8.0;8.6;9.0;10.0;12.0"},
    PublishedList{{12, 8}, 208, 211, "7.0;7.5;8.0;8.6;9.0;10.0;12.0"},
    PublishedList{{12, 8}, 211, k_any_release, "7.5;8.0;8.6;9.0;10.0;12.0"},
    PublishedList{{12, 9}, 208, 211, "7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX"},
    PublishedList{{12, 9}, 211, k_any_release, "7.5;8.0;8.6;9.0;10.0;12.0+PTX"},
    PublishedList{{13, 0}, 209, k_any_release, "7.5;8.0;8.6;9.0;10.0;12.0+PTX"},
};

// The architectures PyTorch's wheels have been built for over the years, oldest first.
constexpr std::array k_usual_pytorch_arches = {
    ComputeCapability{3, 7},  ComputeCapability{5, 0}, ComputeCapability{6, 0},
    ComputeCapability{7, 0},  ComputeCapability{7, 5}, ComputeCapability{8, 0},
    ComputeCapability{8, 6},  ComputeCapability{9, 0}, ComputeCapability{10, 0},
    ComputeCapability{12, 0},
};

// The architectures a conda-forge style build compiles cubins for (pytorch-cpu-feedstock's
// build.sh lists 6.1 and 8.9 too); its newest gets PTX as well.
constexpr std::array k_toolkit_build_arches = {
    ComputeCapability{3, 5}, ComputeCapability{5, 0},  ComputeCapability{6, 0},
    ComputeCapability{6, 1}, ComputeCapability{7, 0},  ComputeCapability{7, 5},
    ComputeCapability{8, 0}, ComputeCapability{8, 6},  ComputeCapability{8, 9},
    ComputeCapability{9, 0}, ComputeCapability{10, 0}, ComputeCapability{12, 0},
};

// Reads "2.7.1+cu126" as 207; 0 when it does not start with major.minor.
int torch_release(std::string_view version) {
    int major = 0;
    int minor = 0;
    const auto* end = version.data() + version.size();
    auto [ptr, ec] = std::from_chars(version.data(), end, major);
    if (ec != std::errc() || ptr == end || *ptr != '.')
        return 0;
    auto [ptr2, ec2] = std::from_chars(ptr + 1, end, minor);
    if (ec2 != std::errc())
        return 0;
    return major * 100 + minor;
}

// Reads "80", "90a", "120" as a compute capability: the last digit is the minor.
std::optional<GpuCode> parse_code_digits(std::string_view digits, bool ptx) {
    GpuCode code;
    code.ptx = ptx;
    while (!digits.empty() && (digits.back() < '0' || digits.back() > '9')) {
        // "a" (arch-specific) runs on exactly that capability; "f" (family) like a plain cubin.
        if (digits.back() == 'a')
            code.arch_specific = true;
        digits.remove_suffix(1);
    }
    if (digits.size() < 2)
        return std::nullopt;
    int value = 0;
    const auto* end = digits.data() + digits.size();
    const auto [ptr, ec] = std::from_chars(digits.data(), end, value);
    if (ec != std::errc() || ptr != end)
        return std::nullopt;
    code.cc = {value / 10, value % 10};
    return code;
}

}  // namespace

int compare_driver_versions(std::string_view a, std::string_view b) {
    while (!a.empty() || !b.empty()) {
        const long x = field_value(next_field(a));
        const long y = field_value(next_field(b));
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

bool driver_at_least(std::string_view version, std::string_view minimum) {
    return compare_driver_versions(version, minimum) >= 0;
}

std::string format_cc(ComputeCapability cc) {
    return fmt::format("{}.{}", cc.major, cc.minor);
}

std::optional<std::string_view> min_driver_for_cuda(CudaVersion cuda) {
    for (const DriverRow& row : k_ga_drivers)
        if (rank(row.cuda) == rank(cuda))
            return row.driver;
    return std::nullopt;
}

std::optional<CudaVersion> max_cuda_for_driver(std::string_view driver) {
    if (driver.empty() || field_value(driver) == 0)
        return std::nullopt;
    std::optional<CudaVersion> best;
    for (const DriverRow& row : k_ga_drivers)
        if (driver_at_least(driver, row.driver))
            best = row.cuda;
    return best;
}

std::optional<std::string_view> minor_compat_min_driver(int cuda_major) {
    switch (cuda_major) {
        case 11:
            return "450.80.02";
        case 12:
            return "525";
        case 13:
            return "580";
        default:
            return std::nullopt;
    }
}

std::optional<std::string> min_driver_to_run(CudaVersion cuda) {
    const auto compat = minor_compat_min_driver(cuda.major);
    if (!compat) {
        const auto own = min_driver_for_cuda(cuda);
        return own ? std::optional<std::string>(*own) : std::nullopt;
    }
    std::string needed(*compat);
    if (const auto first = min_driver_for_cuda({cuda.major, 0});
        first && !driver_at_least(needed, *first))
        needed = *first;
    return needed;
}

DriverFit driver_fit(CudaVersion build, CudaVersion driver_max, std::string_view driver) {
    if (rank(driver_max) >= rank(build))
        return DriverFit::supported;
    const auto compat = minor_compat_min_driver(build.major);
    if (!compat)
        return DriverFit::too_old;
    // Without the driver's own version, a driver that supports some release of the same major
    // family meets that family's minimum.
    const bool meets =
        driver.empty() ? driver_max.major >= build.major : driver_at_least(driver, *compat);
    return meets ? DriverFit::minor_compat : DriverFit::too_old;
}

std::optional<ComputeCapability> max_cc_for_cuda(CudaVersion cuda) {
    for (const CcRange& range : k_max_cc)
        if (rank(cuda) >= rank(range.first) && rank(cuda) <= rank(range.last))
            return range.cc;
    return std::nullopt;
}

std::optional<ComputeCapability> min_cc_for_cuda(CudaVersion cuda) {
    for (const auto& [major, cc] : k_min_cc)
        if (major == cuda.major)
            return cc;
    return std::nullopt;
}

ArchList parse_arch_list(const std::vector<std::string>& entries) {
    ArchList arches;
    for (const std::string& entry : entries) {
        const std::string_view text = entry;
        std::optional<GpuCode> code;
        if (text.rfind("sm_", 0) == 0)
            code = parse_code_digits(text.substr(3), false);
        else if (text.rfind("compute_", 0) == 0)
            code = parse_code_digits(text.substr(8), true);
        if (code)
            arches.push_back(*code);
    }
    return arches;
}

ArchList parse_torch_cuda_arch_list(std::string_view text) {
    ArchList arches;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto end = std::min(text.find_first_of("; ", start), text.size());
        std::string_view entry = text.substr(start, end - start);
        start = end + 1;
        const bool ptx = entry.size() > 4 && entry.substr(entry.size() - 4) == "+PTX";
        if (ptx)
            entry.remove_suffix(4);
        const auto dot = entry.find('.');
        if (dot == std::string_view::npos)
            continue;
        GpuCode code;
        code.cc.major = static_cast<int>(field_value(entry.substr(0, dot)));
        code.cc.minor = static_cast<int>(field_value(entry.substr(dot + 1)));
        code.arch_specific = entry.back() == 'a';
        arches.push_back(code);
        if (ptx) {
            code.ptx = true;
            arches.push_back(code);
        }
    }
    return arches;
}

bool arch_list_runs_on(const ArchList& arches, ComputeCapability cc) {
    return std::any_of(arches.begin(), arches.end(), [&](const GpuCode& code) {
        if (code.arch_specific)
            return rank(code.cc) == rank(cc);
        if (code.ptx)
            return rank(code.cc) <= rank(cc);
        return code.cc.major == cc.major && code.cc.minor <= cc.minor;
    });
}

std::string format_arch_list(const ArchList& arches) {
    std::string out;
    for (const GpuCode& code : arches) {
        if (!out.empty())
            out += ' ';
        out += fmt::format("{}_{}{}{}", code.ptx ? "compute" : "sm", code.cc.major, code.cc.minor,
                           code.arch_specific ? "a" : "");
    }
    return out;
}

TorchArchList pytorch_wheel_arch_list(std::string_view torch_version, CudaVersion cuda) {
    const int release = torch_version.empty() ? k_any_release - 1 : torch_release(torch_version);
    for (const PublishedList& row : k_published) {
        if (rank(row.cuda) != rank(cuda) || release < row.torch_from || release >= row.torch_until)
            continue;
        const std::string who = torch_version.empty()
                                    ? std::string("PyTorch's newest")
                                    : fmt::format("PyTorch {}.{}", release / 100, release % 100);
        return {parse_torch_cuda_arch_list(row.arch_list), true,
                fmt::format("{} {} wheels", who, wheel_tag(cuda))};
    }
    TorchArchList derived;
    derived.basis = fmt::format("PyTorch's usual architectures within what CUDA {}.{} targets",
                                cuda.major, cuda.minor);
    const auto low = min_cc_for_cuda(cuda);
    const auto high = max_cc_for_cuda(cuda);
    if (!low || !high)
        return derived;
    for (const ComputeCapability cc : k_usual_pytorch_arches) {
        // Kepler's sm_37 was built only with CUDA 11 (pytorch/builder's build_cuda.sh).
        if (rank(cc) == 307 && cuda.major != 11)
            continue;
        if (rank(cc) >= rank(*low) && rank(cc) <= rank(*high))
            derived.arches.push_back({cc, false, false});
    }
    return derived;
}

TorchArchList toolkit_arch_list(CudaVersion cuda) {
    TorchArchList list;
    list.basis =
        fmt::format("what CUDA {}.{} targets, with PTX for the newest", cuda.major, cuda.minor);
    const auto low = min_cc_for_cuda(cuda);
    const auto high = max_cc_for_cuda(cuda);
    if (!low || !high)
        return list;
    for (const ComputeCapability cc : k_toolkit_build_arches)
        if (rank(cc) >= rank(*low) && rank(cc) <= rank(*high))
            list.arches.push_back({cc, false, false});
    if (!list.arches.empty())
        list.arches.push_back({list.arches.back().cc, true, false});
    return list;
}

const std::vector<CudaVersion>& pytorch_wheel_cudas() {
    // cu129 served 2.8 only and covers the same GPUs as cu128, which every release since 2.7
    // has; recommending it would pin an old release.
    static const std::vector<CudaVersion> cudas = {{11, 8}, {12, 1}, {12, 4},
                                                   {12, 6}, {12, 8}, {13, 0}};
    return cudas;
}

std::string wheel_tag(CudaVersion cuda) {
    return fmt::format("cu{}{}", cuda.major, cuda.minor);
}

}  // namespace gpuenv::core::doctor
