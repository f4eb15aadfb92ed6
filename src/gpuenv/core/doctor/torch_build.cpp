// The PyTorch build an environment holds and what could replace it: torch/version.py read
// without importing torch (read_torch_build, parse_torch_version_py), the driver a replacement
// must run on, and the commands that install a build for another CUDA the way torch was
// installed, which the fixes of torch_rules.cpp quote.

#include <gpuenv/core/doctor/torch_build.hpp>

#include <gpuenv/core/doctor/cuda_tables.hpp>

#include <algorithm>
#include <string>

#include <fmt/core.h>

#include <gpuenv/util/file.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::doctor {

namespace {

namespace fs = std::filesystem;

// ---- torch/version.py ---------------------------------------------------------------------

bool is_identifier_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

struct Assignment {
    std::string_view name;
    std::optional<std::string> value;  ///< empty for None or anything but a string literal
};

// Reads `name = 'value'`, `name: Optional[str] = "value"` or `name = None`.
std::optional<Assignment> parse_assignment(std::string_view line) {
    line = util::trim(line);
    std::size_t i = 0;
    while (i < line.size() && is_identifier_char(line[i]))
        ++i;
    if (i == 0)
        return std::nullopt;
    Assignment assignment{line.substr(0, i), std::nullopt};
    std::string_view rest = util::trim(line.substr(i));
    if (!rest.empty() && rest.front() == ':') {
        const auto eq = rest.find('=');
        if (eq == std::string_view::npos)
            return std::nullopt;
        rest = rest.substr(eq);
    }
    if (rest.empty() || rest.front() != '=' || (rest.size() > 1 && rest[1] == '='))
        return std::nullopt;
    rest = util::trim(rest.substr(1));
    if (!rest.empty() && (rest.front() == '\'' || rest.front() == '"')) {
        const auto close = rest.find(rest.front(), 1);
        if (close == std::string_view::npos)
            return std::nullopt;
        assignment.value = std::string(rest.substr(1, close - 1));
    }
    return assignment;
}

// For install_command: torchvision and torchaudio installed beside torch are replaced with it.
bool has_pypi(const env::Inventory& inventory, std::string_view key) {
    return std::any_of(
        inventory.packages.begin(), inventory.packages.end(),
        [&](const env::Package& p) { return p.kind == env::PackageKind::pypi && p.key == key; });
}

}  // namespace

namespace detail {

using gpu::CudaVersion;

// Finds the package torch's files belong to: a pip torch (it wins over a conda one it was
// installed over), else the conda record owning the `torch` distribution, else a conda
// pytorch package by name.
const env::Package* find_torch_package(const env::Inventory& inventory) {
    const env::Package* best = nullptr;
    int best_score = 0;
    for (const env::Package& package : inventory.packages) {
        int score = 0;
        if (package.kind == env::PackageKind::pypi && package.key == "torch")
            score = 4;
        else if (package.kind == env::PackageKind::conda && package.dist &&
                 package.dist->normalized_name == "torch")
            score = 3;
        else if (package.kind == env::PackageKind::conda && package.name == "pytorch")
            score = 2;
        else if (package.kind == env::PackageKind::conda &&
                 (package.name == "pytorch-gpu" || package.name == "pytorch-cpu"))
            score = 1;
        if (score > best_score) {
            best = &package;
            best_score = score;
        }
    }
    return best;
}

// ---- the driver ---------------------------------------------------------------------------

std::string DriverFacts::evidence() const {
    const std::string who = version.empty() ? "the driver" : "driver " + version;
    return fmt::format("{} supports CUDA {} at most ({})", who, format_cuda_version(max_cuda),
                       inferred ? "inferred from the driver branch table: NVML did not "
                                  "report its CUDA version"
                                : "NVML");
}

std::optional<DriverFacts> read_driver(const MachineFacts& machine) {
    if (!machine.nvml)
        return std::nullopt;
    DriverFacts facts;
    facts.version = machine.nvml->driver_version.value.value_or("");
    if (machine.nvml->cuda_driver_version.ok()) {
        facts.max_cuda = *machine.nvml->cuda_driver_version.value;
        return facts;
    }
    const auto derived = max_cuda_for_driver(facts.version);
    if (!derived)
        return std::nullopt;
    facts.max_cuda = *derived;
    facts.inferred = true;
    return facts;
}

// ---- how to install another build ---------------------------------------------------------

Installer installer_of(const TorchBuild& torch, const env::Inventory& inventory) {
    if (torch.installer == "conda") {
        const env::Package* package = find_torch_package(inventory);
        return package && package->channel == "pytorch" ? Installer::conda_pytorch_channel
                                                        : Installer::conda_forge;
    }
    return torch.installer.rfind("uv", 0) == 0 ? Installer::uv : Installer::pip;
}

// Returns the highest wheel CUDA the driver runs: fully supported first, else through minor
// compatibility.
std::optional<CudaVersion> wheel_cuda_for(const DriverFacts& driver) {
    std::optional<CudaVersion> compat;
    for (auto it = pytorch_wheel_cudas().rbegin(); it != pytorch_wheel_cudas().rend(); ++it) {
        const DriverFit fit = driver_fit(*it, driver.max_cuda, driver.version);
        if (fit == DriverFit::supported)
            return *it;
        if (fit == DriverFit::minor_compat && !compat)
            compat = *it;
    }
    return compat;
}

// Says when a suggested build runs on the driver only through minor-version compatibility.
std::string compat_note(CudaVersion cuda, const std::optional<DriverFacts>& driver) {
    if (!driver || driver_fit(cuda, driver->max_cuda, driver->version) != DriverFit::minor_compat)
        return "";
    const auto full = min_driver_for_cuda(cuda);
    return fmt::format(" (runs on this driver through minor-version compatibility{})",
                       full ? fmt::format("; driver {} or newer supports it fully", *full) : "");
}

// Returns the command that installs a CUDA `cuda` build the way torch was installed.
std::string install_command(Installer installer, CudaVersion cuda, const DoctorInput& input) {
    switch (installer) {
        case Installer::conda_forge:
            return fmt::format("conda install -c conda-forge pytorch-gpu \"cuda-version<={}\"",
                               format_cuda_version(cuda));
        case Installer::conda_pytorch_channel: {
            // The pytorch channel's last builds (2.5) came for CUDA 11.8, 12.1 and 12.4.
            CudaVersion pin{11, 8};
            for (const CudaVersion c : {CudaVersion{12, 1}, CudaVersion{12, 4}})
                if (rank(c) <= rank(cuda))
                    pin = c;
            return fmt::format("conda install pytorch pytorch-cuda={} -c pytorch -c nvidia",
                               format_cuda_version(pin));
        }
        case Installer::pip:
        case Installer::uv:
            break;
    }
    std::string packages = "torch";
    for (const char* companion : {"torchvision", "torchaudio"})
        if (has_pypi(*input.inventory, companion))
            packages += fmt::format(" {}", companion);
    const char* tool = installer == Installer::uv ? "uv pip" : "pip";
    const char* yes = installer == Installer::uv ? "" : " -y";
    return fmt::format(
        "{0} uninstall{1} {2} && {0} install {2} --index-url https://download.pytorch.org/whl/{3}",
        tool, yes, packages, wheel_tag(cuda));
}

}  // namespace detail

// ---- facts --------------------------------------------------------------------------------

std::optional<TorchBuild> parse_torch_version_py(std::string_view text) {
    TorchBuild build;
    bool has_version = false;
    bool has_cuda = false;
    bool has_hip = false;
    for (const std::string_view line : util::split(text, '\n')) {
        const auto assignment = parse_assignment(line);
        if (!assignment)
            continue;
        const auto& value = assignment->value;
        if (assignment->name == "__version__" && !has_version && value) {
            build.version = *value;
            has_version = true;
        } else if (assignment->name == "cuda" && !has_cuda) {
            has_cuda = true;
            if (value && !value->empty())
                build.cuda = *value;
        } else if (assignment->name == "hip" && !has_hip) {
            has_hip = true;
            if (value && !value->empty())
                build.hip = *value;
        }
    }
    if (!has_version)
        return std::nullopt;
    return build;
}

std::optional<TorchBuild> read_torch_build(const env::Inventory& inventory,
                                           gpuenv::Diagnostics& warnings) {
    const env::Package* package = detail::find_torch_package(inventory);
    if (!package)
        return std::nullopt;
    fs::path file;
    for (const fs::path& site_packages : inventory.prefix.site_packages) {
        if (util::is_regular_file(site_packages / "torch" / "version.py")) {
            file = site_packages / "torch" / "version.py";
            break;
        }
    }
    if (file.empty()) {
        const fs::path where = package->dist     ? package->dist->metadata_path
                               : package->record ? package->record->record_path
                                                 : inventory.prefix.path;
        warnings.push_back({where.string(), 0, 0,
                            fmt::format("{} {} is installed but no site-packages holds "
                                        "torch/version.py; its build is unknown",
                                        package->name, package->version)});
        return std::nullopt;
    }
    std::string text;
    std::string error;
    if (!util::read_file_into(file, text, error)) {
        warnings.push_back({file.string(), 0, 0, "cannot read torch's build: " + error});
        return std::nullopt;
    }
    auto build = parse_torch_version_py(text);
    if (!build) {
        warnings.push_back(
            {file.string(), 0, 0, "cannot read torch's build: no __version__ assignment"});
        return std::nullopt;
    }
    build->package = package->name;
    build->installer = package->installer;
    build->version_file = file;
    return build;
}

}  // namespace gpuenv::core::doctor
