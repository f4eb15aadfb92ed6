#include <gpuenv/core/doctor/doctor.hpp>

#include <gtest/gtest.h>

#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::doctor {
namespace {

namespace fs = std::filesystem;
using gpu::ComputeCapability;
using gpu::CudaVersion;

constexpr std::string_view k_torch_271_cu126 = R"(from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'xpu']
__version__ = '2.7.1+cu126'
debug = False
cuda: Optional[str] = '12.6'
git_version = 'e2d141dbde55c2a4370fac5165b0561b6af4798b'
hip: Optional[str] = None
xpu: Optional[str] = None
)";

constexpr std::string_view k_torch_1131_cu117 = R"(__version__ = '1.13.1+cu117'
debug = False
cuda = '11.7'
git_version = '49444c3e546bf240bed24a101e747422d1f8a0ee'
hip = None
)";

constexpr std::string_view k_torch_cpu = R"(from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']
__version__ = '2.5.1+cpu'
debug = False
cuda: Optional[str] = None
git_version = 'a8d6afb511a69687bbb2b7e88a3cf67917e1697e'
hip: Optional[str] = None
)";

constexpr std::string_view k_torch_rocm = R"(from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']
__version__ = '2.5.1+rocm6.2'
debug = False
cuda: Optional[str] = None
git_version = 'a8d6afb511a69687bbb2b7e88a3cf67917e1697e'
hip: Optional[str] = '6.2.41133-dd7f95766'
)";

// ---- fixtures -------------------------------------------------------------------------------

gpu::GpuInfo gpu_info(unsigned index, std::string name, ComputeCapability cc) {
    gpu::GpuInfo info;
    info.index = index;
    info.handle.value = true;
    info.name.value = std::move(name);
    info.compute_capability.value = cc;
    return info;
}

gpu::NvmlSnapshot nvml(std::string driver, std::optional<CudaVersion> cuda,
                       std::vector<gpu::GpuInfo> gpus = {}) {
    gpu::NvmlSnapshot snapshot;
    snapshot.driver_version.value = std::move(driver);
    if (cuda)
        snapshot.cuda_driver_version.value = *cuda;
    else
        snapshot.cuda_driver_version.error = "Not Supported";
    snapshot.gpu_count.value = static_cast<unsigned>(gpus.size());
    snapshot.gpus = std::move(gpus);
    return snapshot;
}

gpu::GpuInfo h100(unsigned index) {
    return gpu_info(index, "NVIDIA H100 80GB HBM3", {9, 0});
}
gpu::GpuInfo rtx5090(unsigned index) {
    return gpu_info(index, "NVIDIA GeForce RTX 5090", {12, 0});
}
gpu::GpuInfo v100(unsigned index) {
    return gpu_info(index, "Tesla V100-SXM2-32GB", {7, 0});
}
gpu::GpuInfo a100(unsigned index) {
    return gpu_info(index, "NVIDIA A100-SXM4-80GB", {8, 0});
}

env::Package pypi(std::string name, std::string version, std::string installer = "pip") {
    env::Package p;
    p.kind = env::PackageKind::pypi;
    p.name = name;
    p.key = name;
    p.version = std::move(version);
    p.installer = std::move(installer);
    return p;
}

env::Package conda(std::string name, std::string version, std::string channel = "conda-forge") {
    env::Package p;
    p.kind = env::PackageKind::conda;
    p.name = name;
    p.key = name;
    p.version = std::move(version);
    p.channel = std::move(channel);
    p.installer = "conda";
    return p;
}

// An inventory in memory, for the rules (read_torch_build is tested on built prefixes).
env::Inventory inventory(std::vector<env::Package> packages) {
    env::Inventory inv;
    inv.prefix.path = "/envs/train";
    inv.prefix.kind = env::PrefixKind::conda;
    inv.prefix.site_packages = {"/envs/train/lib/python3.11/site-packages"};
    inv.packages = std::move(packages);
    return inv;
}

TorchBuild torch_build(std::string version, std::optional<std::string> cuda,
                       std::string installer = "pip") {
    TorchBuild build;
    build.package = installer == "conda" ? "pytorch" : "torch";
    build.installer = std::move(installer);
    build.version = std::move(version);
    build.cuda = std::move(cuda);
    build.version_file = "/envs/train/lib/python3.11/site-packages/torch/version.py";
    return build;
}

struct Case {
    env::Inventory inv = inventory({pypi("torch", "2.7.1+cu126")});
    DoctorInput input;

    Case(std::optional<TorchBuild> torch, std::optional<gpu::NvmlSnapshot> snapshot) {
        input.inventory = &inv;
        input.torch = std::move(torch);
        input.machine.nvml = std::move(snapshot);
    }
    Case(const Case&) = delete;
    Case& operator=(const Case&) = delete;

    DoctorFindings run(void (*rule)(const DoctorInput&, DoctorReport&)) const {
        DoctorReport report;
        rule(input, report);
        return report.findings;
    }
};

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

bool any_contains(const std::vector<std::string>& lines, std::string_view part) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& line) { return contains(line, part); });
}

// ---- parse_torch_version_py -----------------------------------------------------------------

TEST(ParseTorchVersionPy, ReadsAnnotated2x) {
    const auto build = parse_torch_version_py(k_torch_271_cu126);
    ASSERT_TRUE(build);
    EXPECT_EQ(build->version, "2.7.1+cu126");
    EXPECT_EQ(build->cuda.value_or("none"), "12.6");
    EXPECT_FALSE(build->hip);
}

TEST(ParseTorchVersionPy, ReadsUnannotated1x) {
    const auto build = parse_torch_version_py(k_torch_1131_cu117);
    ASSERT_TRUE(build);
    EXPECT_EQ(build->version, "1.13.1+cu117");
    EXPECT_EQ(build->cuda.value_or("none"), "11.7");
    EXPECT_FALSE(build->hip);
}

TEST(ParseTorchVersionPy, ReadsCpuAndRocmBuilds) {
    const auto cpu = parse_torch_version_py(k_torch_cpu);
    ASSERT_TRUE(cpu);
    EXPECT_EQ(cpu->version, "2.5.1+cpu");
    EXPECT_FALSE(cpu->cuda);
    EXPECT_FALSE(cpu->hip);
    const auto rocm = parse_torch_version_py(k_torch_rocm);
    ASSERT_TRUE(rocm);
    EXPECT_FALSE(rocm->cuda);
    EXPECT_EQ(rocm->hip.value_or("none"), "6.2.41133-dd7f95766");
}

TEST(ParseTorchVersionPy, AcceptsDoubleQuotesAndCrlf) {
    const auto build =
        parse_torch_version_py("__version__ = \"2.8.0\"\r\ncuda: Optional[str] = \"12.8\"\r\n");
    ASSERT_TRUE(build);
    EXPECT_EQ(build->version, "2.8.0");
    EXPECT_EQ(build->cuda.value_or("none"), "12.8");
}

TEST(ParseTorchVersionPy, IgnoresCommentsComparisonsAndOtherNames) {
    const auto build = parse_torch_version_py(
        "# cuda = '11.0'\n"
        "if cuda == '10.2': pass\n"
        "cuda_home = '/usr/local/cuda'\n"
        "__version__ = '2.1.0'\n"
        "cuda = None\n");
    ASSERT_TRUE(build);
    EXPECT_EQ(build->version, "2.1.0");
    EXPECT_FALSE(build->cuda);
}

TEST(ParseTorchVersionPy, NothingWithoutVersion) {
    EXPECT_FALSE(parse_torch_version_py("cuda = '12.1'\n"));
    EXPECT_FALSE(parse_torch_version_py(""));
    EXPECT_FALSE(parse_torch_version_py("__version__ = get_version()\n"));
}

// ---- read_torch_build -----------------------------------------------------------------------

const fs::path k_sp = test::k_sample_site_packages;

TEST(ReadTorchBuild, ReadsPipTorchFromABuiltPrefix) {
    test::TempDir dir;
    test::write_sample_env(dir.path());
    test::PythonDistSpec torch{"torch", "2.7.1+cu126", "pip"};
    torch.files = {"torch/__init__.py"};
    test::write_dist_info(dir.path() / k_sp, torch);
    test::write_file(dir.path() / k_sp / "torch/version.py", k_torch_271_cu126);

    const env::Inventory inv = env::read_inventory(env::open_prefix(dir.path()));
    Diagnostics warnings;
    const auto build = read_torch_build(inv, warnings);
    ASSERT_TRUE(build);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(build->package, "torch");
    EXPECT_EQ(build->installer, "pip");
    EXPECT_EQ(build->version, "2.7.1+cu126");
    EXPECT_EQ(build->cuda.value_or("none"), "12.6");
    EXPECT_EQ(build->version_file, inv.prefix.path / k_sp / "torch/version.py");
}

TEST(ReadTorchBuild, ReadsCondaPytorchOwningTheTorchDist) {
    test::TempDir dir;
    auto builder = test::write_sample_env(dir.path());
    test::PythonDistSpec torch{"torch", "2.5.1", "conda"};
    torch.files = {"torch/__init__.py"};
    test::add_conda_python_package(builder, "pytorch", torch, "cuda126_py311h1234567_300");
    test::write_file(dir.path() / k_sp / "torch/version.py",
                     "__version__ = '2.5.1'\ncuda: Optional[str] = '12.6'\nhip = None\n");

    const env::Inventory inv = env::read_inventory(env::open_prefix(dir.path()));
    Diagnostics warnings;
    const auto build = read_torch_build(inv, warnings);
    ASSERT_TRUE(build);
    EXPECT_EQ(build->package, "pytorch");
    EXPECT_EQ(build->installer, "conda");
    EXPECT_EQ(build->cuda.value_or("none"), "12.6");
}

TEST(ReadTorchBuild, NothingWithoutTorch) {
    test::TempDir dir;
    test::write_sample_env(dir.path());
    // A stray torch/version.py that no package owns is not read.
    test::write_file(dir.path() / k_sp / "torch/version.py", k_torch_cpu);
    const env::Inventory inv = env::read_inventory(env::open_prefix(dir.path()));
    Diagnostics warnings;
    EXPECT_FALSE(read_torch_build(inv, warnings));
    EXPECT_TRUE(warnings.empty());
}

TEST(ReadTorchBuild, WarnsWhenTheVersionFileIsMissing) {
    test::TempDir dir;
    test::write_sample_env(dir.path());
    test::write_dist_info(dir.path() / k_sp, {"torch", "2.7.1", "pip"});
    const env::Inventory inv = env::read_inventory(env::open_prefix(dir.path()));
    Diagnostics warnings;
    EXPECT_FALSE(read_torch_build(inv, warnings));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_TRUE(contains(warnings[0].message,
                         "torch 2.7.1 is installed but no site-packages "
                         "holds torch/version.py"));
    EXPECT_TRUE(contains(warnings[0].path, "torch-2.7.1.dist-info"));
}

TEST(ReadTorchBuild, WarnsWhenTheVersionFileNamesNoVersion) {
    test::TempDir dir;
    test::write_sample_env(dir.path());
    test::write_dist_info(dir.path() / k_sp, {"torch", "2.7.1", "pip"});
    test::write_file(dir.path() / k_sp / "torch/version.py", "cuda = '12.6'\n");
    const env::Inventory inv = env::read_inventory(env::open_prefix(dir.path()));
    Diagnostics warnings;
    EXPECT_FALSE(read_torch_build(inv, warnings));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_EQ(warnings[0].path, (inv.prefix.path / k_sp / "torch/version.py").string());
    EXPECT_TRUE(contains(warnings[0].message, "no __version__"));
}

// ---- rule 1: cpu_only_torch -----------------------------------------------------------------

TEST(CpuOnlyTorch, ErrorOnAMachineWithGpus) {
    Case c(torch_build("2.5.1+cpu", std::nullopt),
           nvml("550.54.15", CudaVersion{12, 4}, {a100(0), a100(1)}));
    c.inv = inventory({pypi("torch", "2.5.1+cpu"), pypi("torchvision", "0.20.1+cpu")});
    const auto findings = c.run(check_cpu_only_torch);
    ASSERT_EQ(findings.size(), 1u);
    const DoctorFinding& f = findings[0];
    EXPECT_EQ(f.rule, "cpu_only_torch");
    EXPECT_EQ(f.severity, Severity::error);
    EXPECT_EQ(f.title, "torch 2.5.1+cpu is a CPU-only build on a machine with 2 NVIDIA GPUs");
    EXPECT_TRUE(any_contains(f.evidence,
                             "lib/python3.11/site-packages/torch/version.py: "
                             "__version__ = '2.5.1+cpu', cuda = None"));
    EXPECT_TRUE(any_contains(f.evidence, "NVML lists 2 GPUs: NVIDIA A100-SXM4-80GB (GPU 0, 1)"));
    EXPECT_TRUE(any_contains(f.evidence, "driver 550.54.15 supports CUDA 12.4 at most (NVML)"));
    // The newest wheel CUDA the driver fully supports, torchvision along.
    EXPECT_EQ(f.fix,
              "pip uninstall -y torch torchvision && pip install torch torchvision "
              "--index-url https://download.pytorch.org/whl/cu124");
}

TEST(CpuOnlyTorch, FixFollowsTheInstaller) {
    Case uv(torch_build("2.7.1+cpu", std::nullopt, "uv"),
            nvml("570.124.06", CudaVersion{12, 8}, {h100(0)}));
    ASSERT_EQ(uv.run(check_cpu_only_torch).size(), 1u);
    EXPECT_EQ(uv.run(check_cpu_only_torch)[0].fix,
              "uv pip uninstall torch && uv pip install torch --index-url "
              "https://download.pytorch.org/whl/cu128");

    Case forge(torch_build("2.7.1", std::nullopt, "conda"),
               nvml("560.35.03", CudaVersion{12, 6}, {h100(0)}));
    forge.inv = inventory({conda("pytorch", "2.7.1")});
    ASSERT_EQ(forge.run(check_cpu_only_torch).size(), 1u);
    EXPECT_EQ(forge.run(check_cpu_only_torch)[0].fix,
              "conda install -c conda-forge pytorch-gpu \"cuda-version<=12.6\"");

    Case channel(torch_build("2.3.1", std::nullopt, "conda"),
                 nvml("535.104.05", CudaVersion{12, 2}, {h100(0)}));
    channel.inv = inventory({conda("pytorch", "2.3.1", "pytorch")});
    ASSERT_EQ(channel.run(check_cpu_only_torch).size(), 1u);
    EXPECT_EQ(channel.run(check_cpu_only_torch)[0].fix,
              "conda install pytorch pytorch-cuda=12.1 -c pytorch -c nvidia");
}

TEST(CpuOnlyTorch, NamesAnXpuBuild) {
    Case c(torch_build("2.9.1+xpu", std::nullopt),
           nvml("570.124.06", CudaVersion{12, 8}, {h100(0)}));
    const auto findings = c.run(check_cpu_only_torch);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].title,
              "torch 2.9.1+xpu is an Intel XPU (not CUDA) build on a machine "
              "with 1 NVIDIA GPU");
}

TEST(CpuOnlyTorch, NoFindingWithoutGpus) {
    Case no_nvml(torch_build("2.5.1+cpu", std::nullopt), std::nullopt);
    EXPECT_TRUE(no_nvml.run(check_cpu_only_torch).empty());
    Case no_gpus(torch_build("2.5.1+cpu", std::nullopt), nvml("550.54.15", CudaVersion{12, 4}));
    EXPECT_TRUE(no_gpus.run(check_cpu_only_torch).empty());
}

TEST(CpuOnlyTorch, NoFindingForCudaOrRocmBuildsOrWithoutTorch) {
    Case cuda(torch_build("2.7.1+cu126", "12.6"), nvml("560.35.03", CudaVersion{12, 6}, {h100(0)}));
    EXPECT_TRUE(cuda.run(check_cpu_only_torch).empty());
    TorchBuild rocm = torch_build("2.5.1+rocm6.2", std::nullopt);
    rocm.hip = "6.2.41133-dd7f95766";
    Case hip(rocm, nvml("560.35.03", CudaVersion{12, 6}, {h100(0)}));
    EXPECT_TRUE(hip.run(check_cpu_only_torch).empty());
    Case none(std::nullopt, nvml("560.35.03", CudaVersion{12, 6}, {h100(0)}));
    EXPECT_TRUE(none.run(check_cpu_only_torch).empty());
}

// ---- rule 2: cuda_newer_than_driver ---------------------------------------------------------

TEST(CudaNewerThanDriver, WarnsWhenOnlyMinorVersionCompatibilityRunsIt) {
    Case c(torch_build("2.7.1+cu126", "12.6"), nvml("535.104.05", CudaVersion{12, 2}, {h100(0)}));
    const auto findings = c.run(check_cuda_newer_than_driver);
    ASSERT_EQ(findings.size(), 1u);
    const DoctorFinding& f = findings[0];
    EXPECT_EQ(f.rule, "cuda_newer_than_driver");
    EXPECT_EQ(f.severity, Severity::warning);
    EXPECT_FALSE(f.inferred);
    EXPECT_EQ(f.title,
              "CUDA 12.6 (torch 2.7.1+cu126) is newer than driver 535.104.05 (CUDA 12.2) "
              "and runs only through minor-version compatibility");
    EXPECT_TRUE(any_contains(f.evidence,
                             "torch 2.7.1+cu126: CUDA 12.6 "
                             "(lib/python3.11/site-packages/torch/version.py)"));
    EXPECT_TRUE(any_contains(f.evidence, "driver 535.104.05 supports CUDA 12.2 at most (NVML)"));
    EXPECT_TRUE(any_contains(f.evidence,
                             "CUDA 12 minor-version compatibility needs driver 525 or "
                             "newer: met; PTX JIT"));
    EXPECT_TRUE(contains(f.fix,
                         "upgrade the NVIDIA driver to 560.28.03 or newer for full CUDA "
                         "12.6 support"));
    EXPECT_TRUE(contains(f.fix, "--index-url https://download.pytorch.org/whl/cu121"));
}

TEST(CudaNewerThanDriver, ErrorWithTheMinimumDriver) {
    Case c(torch_build("2.3.1+cu121", "12.1"), nvml("470.82.01", CudaVersion{11, 4}, {v100(0)}));
    const auto findings = c.run(check_cuda_newer_than_driver);
    ASSERT_EQ(findings.size(), 1u);
    const DoctorFinding& f = findings[0];
    EXPECT_EQ(f.severity, Severity::error);
    EXPECT_EQ(f.title,
              "CUDA 12.1 (torch 2.3.1+cu121) cannot run on driver 470.82.01 (CUDA 11.4): "
              "it needs driver 525.60.13 or newer");
    EXPECT_TRUE(any_contains(f.evidence,
                             "CUDA 12.1 needs driver 530.30.02 or newer; through CUDA "
                             "12 minor-version compatibility 525.60.13 or newer"));
    EXPECT_TRUE(contains(f.fix,
                         "upgrade the NVIDIA driver to 530.30.02 or newer (525.60.13 at "
                         "least, through minor-version compatibility)"));
    // CUDA 11.8 runs on R470 through 11.x minor-version compatibility (450.80.02).
    EXPECT_TRUE(contains(f.fix,
                         "install a build for CUDA 11.8 (runs on this driver through "
                         "minor-version compatibility; driver 520.61.05 or newer supports "
                         "it fully)"));
    EXPECT_TRUE(contains(f.fix, "whl/cu118"));
}

TEST(CudaNewerThanDriver, NoFindingWhenTheDriverSupportsIt) {
    Case c(torch_build("2.7.1+cu128", "12.8"),
           nvml("570.124.06", CudaVersion{12, 8}, {rtx5090(0)}));
    c.inv = inventory({pypi("torch", "2.7.1+cu128"), conda("cuda-version", "12.8")});
    EXPECT_TRUE(c.run(check_cuda_newer_than_driver).empty());
    Case older(torch_build("2.7.1+cu118", "11.8"),
               nvml("580.82.07", CudaVersion{13, 0}, {h100(0)}));
    EXPECT_TRUE(older.run(check_cuda_newer_than_driver).empty());
}

TEST(CudaNewerThanDriver, NoFindingWithoutNvmlOrCuda) {
    Case no_nvml(torch_build("2.7.1+cu128", "12.8"), std::nullopt);
    EXPECT_TRUE(no_nvml.run(check_cuda_newer_than_driver).empty());
    Case cpu(torch_build("2.5.1+cpu", std::nullopt), nvml("470.82.01", CudaVersion{11, 4}));
    EXPECT_TRUE(cpu.run(check_cuda_newer_than_driver).empty());
}

TEST(CudaNewerThanDriver, DerivesTheDriversCudaWhenNvmlLacksIt) {
    Case c(torch_build("2.7.1+cu128", "12.8"), nvml("470.82.01", std::nullopt, {v100(0)}));
    const auto findings = c.run(check_cuda_newer_than_driver);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].severity, Severity::error);
    EXPECT_TRUE(findings[0].inferred);
    EXPECT_TRUE(any_contains(findings[0].evidence,
                             "driver 470.82.01 supports CUDA 11.4 at most (inferred from the "
                             "driver branch table"));
    // Neither the driver version nor its CUDA: nothing to compare with.
    Case unknown(torch_build("2.7.1+cu128", "12.8"), nvml("", std::nullopt, {v100(0)}));
    unknown.input.machine.nvml->driver_version.value.reset();
    EXPECT_TRUE(unknown.run(check_cuda_newer_than_driver).empty());
}

TEST(CudaNewerThanDriver, ComparesCondaCudaPackages) {
    Case c(std::nullopt, nvml("470.82.01", CudaVersion{11, 4}, {v100(0)}));
    env::Package runtime = conda("cuda-runtime", "12.6.3");
    c.inv = inventory({conda("cuda-version", "12.8"), conda("cudatoolkit", "11.8.0"), runtime,
                       conda("pytorch-cuda", "12.1", "pytorch"), conda("numpy", "1.26.4")});
    const auto findings = c.run(check_cuda_newer_than_driver);
    ASSERT_EQ(findings.size(), 1u);
    const DoctorFinding& f = findings[0];
    EXPECT_EQ(f.severity, Severity::error);
    EXPECT_TRUE(contains(f.title,
                         "CUDA 12.8 (conda package cuda-version 12.8, conda package "
                         "cuda-runtime 12.6.3, conda package pytorch-cuda 12.1)"));
    // cudatoolkit 11.8 runs through 11.x minor-version compatibility: listed, not in the title.
    EXPECT_TRUE(any_contains(f.evidence, "conda package cudatoolkit 11.8.0: CUDA 11.8"));
    EXPECT_FALSE(any_contains(f.evidence, "numpy"));
    EXPECT_TRUE(contains(f.fix, "conda install \"cuda-version<=11.4\""));
}

TEST(CudaNewerThanDriver, NoMinorCompatibilityAcrossMajors) {
    Case c(torch_build("2.9.0+cu130", "13.0"), nvml("575.57.08", CudaVersion{12, 9}, {h100(0)}));
    const auto findings = c.run(check_cuda_newer_than_driver);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].severity, Severity::error);
    EXPECT_TRUE(contains(findings[0].title, "it needs driver 580.65.06 or newer"));
    EXPECT_TRUE(contains(findings[0].fix, "whl/cu128"));
}

// ---- rule 3: compute_capability -------------------------------------------------------------

TEST(ComputeCapability, HopperRunsCu118) {
    Case c(torch_build("2.3.1+cu118", "11.8"), nvml("550.54.15", CudaVersion{12, 4}, {h100(0)}));
    EXPECT_TRUE(c.run(check_compute_capability).empty());
}

TEST(ComputeCapability, BlackwellWithCu126IsAnInferredError) {
    Case c(torch_build("2.7.1+cu126", "12.6"),
           nvml("570.124.06", CudaVersion{12, 8}, {rtx5090(0), rtx5090(1)}));
    const auto findings = c.run(check_compute_capability);
    ASSERT_EQ(findings.size(), 1u);
    const DoctorFinding& f = findings[0];
    EXPECT_EQ(f.rule, "compute_capability");
    EXPECT_EQ(f.severity, Severity::error);
    EXPECT_TRUE(f.inferred);
    EXPECT_EQ(f.title,
              "torch 2.7.1+cu126 has no GPU code for NVIDIA GeForce RTX 5090 (compute "
              "capability 12.0) (inferred from its CUDA version)");
    EXPECT_TRUE(any_contains(f.evidence,
                             "GPU 0, 1 (NVIDIA GeForce RTX 5090): compute capability "
                             "12.0 (NVML)"));
    EXPECT_TRUE(any_contains(f.evidence,
                             "inferred arch list, PyTorch 2.7 cu126 wheels: sm_50 "
                             "sm_60 sm_70 sm_75 sm_80 sm_86 sm_90"));
    EXPECT_TRUE(any_contains(f.evidence,
                             "no cubin sm_12x at or below sm_120 and no PTX at or "
                             "below compute_120 to JIT-compile"));
    EXPECT_TRUE(any_contains(f.evidence, "gpuenv doctor --probe"));
    EXPECT_EQ(f.fix,
              "pip uninstall -y torch && pip install torch --index-url "
              "https://download.pytorch.org/whl/cu128");
}

TEST(ComputeCapability, BlackwellFixSaysWhenTheDriverMustChange) {
    Case c(torch_build("2.7.1+cu126", "12.6"), nvml("560.35.03", CudaVersion{12, 6}, {rtx5090(0)}));
    const auto findings = c.run(check_compute_capability);
    ASSERT_EQ(findings.size(), 1u);
    // cu128 runs on R560 through minor-version compatibility.
    EXPECT_EQ(findings[0].fix,
              "pip uninstall -y torch && pip install torch --index-url "
              "https://download.pytorch.org/whl/cu128 (runs on this driver "
              "through minor-version compatibility; driver 570.26 or newer "
              "supports it fully)");
    Case old(torch_build("2.7.1+cu126", "12.6"),
             nvml("470.82.01", CudaVersion{11, 4}, {rtx5090(0)}));
    ASSERT_EQ(old.run(check_compute_capability).size(), 1u);
    EXPECT_TRUE(contains(old.run(check_compute_capability)[0].fix,
                         "upgrade the NVIDIA driver to 525.60.13 or newer, then install a CUDA "
                         "12.8 build"));
}

TEST(ComputeCapability, VoltaWithCu128DependsOnTheRelease) {
    Case dropped(torch_build("2.7.1+cu128", "12.8"),
                 nvml("570.124.06", CudaVersion{12, 8}, {v100(0)}));
    const auto findings = dropped.run(check_compute_capability);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_TRUE(any_contains(findings[0].evidence,
                             "compute capability 7.0 is older than the "
                             "oldest code in the build (sm_75)"));
    EXPECT_TRUE(contains(findings[0].fix, "whl/cu126"));
    Case again(torch_build("2.11.0+cu128", "12.8"),
               nvml("570.124.06", CudaVersion{12, 8}, {v100(0)}));
    EXPECT_EQ(again.run(check_compute_capability).size(), 1u);
    // PyTorch 2.8 to 2.10 built cu128 with sm_70 again.
    Case kept(torch_build("2.9.0+cu128", "12.8"),
              nvml("570.124.06", CudaVersion{12, 8}, {v100(0)}));
    EXPECT_TRUE(kept.run(check_compute_capability).empty());
}

TEST(ComputeCapability, ProbeArchListOverridesTheInference) {
    Case c(torch_build("2.7.1+cu126", "12.6"),
           nvml("570.124.06", CudaVersion{12, 8}, {rtx5090(0)}));
    ProbeResult probe;
    probe.ran = true;
    probe.torch_imported = true;
    probe.arch_list = {"sm_80", "sm_90", "sm_120"};
    c.input.probe = probe;
    EXPECT_TRUE(c.run(check_compute_capability).empty());

    // A build the tables would pass, but whose own list lacks the GPU: an error read, not inferred.
    Case custom(torch_build("2.7.1+cu126", "12.6"),
                nvml("570.124.06", CudaVersion{12, 8}, {h100(0)}));
    probe.arch_list = {"sm_80", "sm_86"};
    custom.input.probe = probe;
    const auto findings = custom.run(check_compute_capability);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_FALSE(findings[0].inferred);
    EXPECT_EQ(findings[0].title,
              "torch 2.7.1+cu126 has no GPU code for NVIDIA H100 80GB HBM3 "
              "(compute capability 9.0)");
    EXPECT_TRUE(any_contains(findings[0].evidence,
                             "arch list, torch.cuda.get_arch_list() (--probe): sm_80 sm_86"));
    EXPECT_FALSE(any_contains(findings[0].evidence, "gpuenv doctor --probe"));
}

TEST(ComputeCapability, OneFindingPerGpuModel) {
    Case c(torch_build("2.7.1+cu126", "12.6"), nvml("570.124.06", CudaVersion{12, 8},
                                                    {rtx5090(0), a100(1), rtx5090(2), rtx5090(3),
                                                     gpu_info(4, "NVIDIA B200", {10, 0})}));
    const auto findings = c.run(check_compute_capability);
    ASSERT_EQ(findings.size(), 2u);
    EXPECT_TRUE(any_contains(findings[0].evidence, "GPU 0, 2, 3 (NVIDIA GeForce RTX 5090)"));
    EXPECT_TRUE(any_contains(findings[1].evidence, "GPU 4 (NVIDIA B200): compute capability 10.0"));
}

TEST(ComputeCapability, CondaForgeBuildsCarryPtx) {
    Case forge(torch_build("2.7.1", "12.6", "conda"),
               nvml("570.124.06", CudaVersion{12, 8}, {rtx5090(0)}));
    forge.inv = inventory({conda("pytorch", "2.7.1")});
    EXPECT_TRUE(forge.run(check_compute_capability).empty());

    Case volta(torch_build("2.9.0", "13.0", "conda"),
               nvml("580.82.07", CudaVersion{13, 0}, {v100(0)}));
    volta.inv = inventory({conda("pytorch", "2.9.0")});
    const auto findings = volta.run(check_compute_capability);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_TRUE(any_contains(findings[0].evidence, "derived: what CUDA 13.0 targets"));
    EXPECT_EQ(findings[0].fix, "conda install -c conda-forge pytorch-gpu \"cuda-version<=12.8\"");
}

TEST(ComputeCapability, NoFindingWithoutACudaBuildOrGpus) {
    Case cpu(torch_build("2.5.1+cpu", std::nullopt),
             nvml("570.124.06", CudaVersion{12, 8}, {v100(0)}));
    EXPECT_TRUE(cpu.run(check_compute_capability).empty());
    Case none(std::nullopt, nvml("570.124.06", CudaVersion{12, 8}, {v100(0)}));
    EXPECT_TRUE(none.run(check_compute_capability).empty());
    Case no_gpu(torch_build("2.7.1+cu128", "12.8"), nvml("570.124.06", CudaVersion{12, 8}));
    EXPECT_TRUE(no_gpu.run(check_compute_capability).empty());
    Case healthy(torch_build("2.7.1+cu128", "12.8"),
                 nvml("570.124.06", CudaVersion{12, 8}, {a100(0), h100(1), rtx5090(2)}));
    EXPECT_TRUE(healthy.run(check_compute_capability).empty());
}

// ---- rule 14: mixed_precision ---------------------------------------------------------------

TEST(MixedPrecision, AdviceFollowsTheComputeCapability) {
    Case c(torch_build("2.7.1+cu126", "12.6"),
           nvml("560.35.03", CudaVersion{12, 6},
                {a100(0), a100(1), v100(2), gpu_info(3, "Tesla P100-PCIE-16GB", {6, 0})}));
    const auto findings = c.run(check_mixed_precision);
    ASSERT_EQ(findings.size(), 3u);
    for (const DoctorFinding& f : findings) {
        EXPECT_EQ(f.rule, "mixed_precision");
        EXPECT_EQ(f.severity, Severity::info);
    }
    EXPECT_EQ(findings[0].title,
              "NVIDIA A100-SXM4-80GB has bf16 and fp16 Tensor Cores: train in bf16");
    EXPECT_TRUE(any_contains(findings[0].evidence,
                             "GPU 0, 1 (NVIDIA A100-SXM4-80GB): compute "
                             "capability 8.0"));
    EXPECT_TRUE(contains(findings[0].fix, "dtype=torch.bfloat16"));
    EXPECT_TRUE(contains(findings[0].fix, "set_float32_matmul_precision(\"high\")"));
    EXPECT_TRUE(contains(findings[1].title, "fp16 Tensor Cores but no bf16"));
    EXPECT_TRUE(contains(findings[1].fix, "GradScaler"));
    EXPECT_TRUE(contains(findings[2].title, "no Tensor Cores"));
}

TEST(MixedPrecision, NothingWithoutGpusOrTorch) {
    Case no_gpu(torch_build("2.7.1+cu126", "12.6"), nvml("560.35.03", CudaVersion{12, 6}));
    EXPECT_TRUE(no_gpu.run(check_mixed_precision).empty());
    Case no_nvml(torch_build("2.7.1+cu126", "12.6"), std::nullopt);
    EXPECT_TRUE(no_nvml.run(check_mixed_precision).empty());
    Case no_torch(std::nullopt, nvml("560.35.03", CudaVersion{12, 6}, {a100(0)}));
    EXPECT_TRUE(no_torch.run(check_mixed_precision).empty());
}

// ---- --probe ---------------------------------------------------------------------------------

ProbeResult healthy_probe() {
    ProbeResult probe;
    probe.python = "/envs/train/bin/python";
    probe.ran = true;
    probe.python_version = "3.11.8";
    probe.torch_imported = true;
    probe.torch_version = "2.7.1+cu126";
    probe.cuda = "12.6";
    probe.cuda_available = true;
    probe.device_count = 1;
    probe.arch_list = {"sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"};
    return probe;
}

TEST(Probe, NothingWithoutProbeOrWhenHealthy) {
    Case c(torch_build("2.7.1+cu126", "12.6"), nvml("560.35.03", CudaVersion{12, 6}, {h100(0)}));
    EXPECT_TRUE(c.run(check_probe).empty());
    c.input.probe = healthy_probe();
    EXPECT_TRUE(c.run(check_probe).empty());
}

TEST(Probe, WarnsWhenThePythonCouldNotRun) {
    Case c(torch_build("2.7.1+cu126", "12.6"), std::nullopt);
    ProbeResult probe;
    probe.python = "/envs/train/bin/python";
    probe.error = "timed out after 20 s";
    c.input.probe = probe;
    const auto findings = c.run(check_probe);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].rule, "probe_failed");
    EXPECT_EQ(findings[0].severity, Severity::warning);
    EXPECT_EQ(findings[0].evidence, std::vector<std::string>{"/envs/train/bin/python: timed out "
                                                             "after 20 s"});
}

TEST(Probe, ErrorWhenImportTorchFails) {
    Case c(torch_build("2.7.1+cu126", "12.6"), std::nullopt);
    ProbeResult probe = healthy_probe();
    probe.torch_imported = false;
    probe.torch_error = "ImportError: libcudnn.so.9: cannot open shared object file";
    c.input.probe = probe;
    const auto findings = c.run(check_probe);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].rule, "torch_import_failed");
    EXPECT_EQ(findings[0].severity, Severity::error);
    EXPECT_TRUE(any_contains(findings[0].evidence, "libcudnn.so.9"));

    // No torch in the environment: failing to import it is expected.
    Case none(std::nullopt, std::nullopt);
    none.inv = inventory({pypi("numpy", "2.0.0")});
    probe.torch_error = "ModuleNotFoundError: No module named 'torch'";
    none.input.probe = probe;
    EXPECT_TRUE(none.run(check_probe).empty());
}

TEST(Probe, ErrorWhenCudaIsUnavailableDespiteGpus) {
    Case c(torch_build("2.7.1+cu126", "12.6"), nvml("560.35.03", CudaVersion{12, 6}, {h100(0)}));
    ProbeResult probe = healthy_probe();
    probe.cuda_available = false;
    probe.device_count = 0;
    c.input.probe = probe;
    c.input.env_vars.vars["CUDA_VISIBLE_DEVICES"] = "";
    const auto findings = c.run(check_probe);
    ASSERT_EQ(findings.size(), 1u);
    const DoctorFinding& f = findings[0];
    EXPECT_EQ(f.rule, "torch_cuda_unavailable");
    EXPECT_EQ(f.severity, Severity::error);
    EXPECT_TRUE(any_contains(f.evidence,
                             "torch.version.cuda = '12.6', torch.cuda.is_available() "
                             "= False (--probe)"));
    EXPECT_TRUE(any_contains(f.evidence, "driver 560.35.03 supports CUDA 12.6 at most (NVML)"));
    EXPECT_TRUE(any_contains(f.evidence, "CUDA_VISIBLE_DEVICES= (the environment's variables)"));

    // Without GPUs, torch rightly sees none.
    Case no_gpu(torch_build("2.7.1+cu126", "12.6"), std::nullopt);
    no_gpu.input.probe = probe;
    EXPECT_TRUE(no_gpu.run(check_probe).empty());
}

TEST(Probe, ARaisingIsAvailableIsNamedWithItsException) {
    Case c(torch_build("2.7.1+cu126", "12.6"), nvml("560.35.03", CudaVersion{12, 6}, {h100(0)}));
    ProbeResult probe = healthy_probe();
    probe.cuda_available.reset();
    probe.call_errors = {{"cuda_available", "RuntimeError: CUDA driver initialization failed"},
                         {"device_count", "RuntimeError: CUDA driver initialization failed"}};
    c.input.probe = probe;
    const auto findings = c.run(check_probe);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].rule, "torch_cuda_unavailable");
    EXPECT_TRUE(findings[0].title.ends_with("torch.cuda.is_available() raised an exception"))
        << findings[0].title;
    EXPECT_TRUE(any_contains(findings[0].evidence,
                             "torch.cuda.is_available() raised RuntimeError: CUDA driver "
                             "initialization failed (--probe)"));
    EXPECT_TRUE(any_contains(findings[0].evidence,
                             "device_count raised RuntimeError: CUDA driver initialization"));
}

TEST(Probe, LeavesACpuOnlyBuildToItsOwnRule) {
    Case c(torch_build("2.5.1+cpu", std::nullopt),
           nvml("560.35.03", CudaVersion{12, 6}, {h100(0)}));
    ProbeResult probe = healthy_probe();
    probe.torch_version = "2.5.1+cpu";
    probe.cuda.reset();
    probe.cuda_available = false;
    c.input.probe = probe;
    EXPECT_TRUE(c.run(check_probe).empty());
}

TEST(Probe, WarnsWhenAnotherTorchShadowsTheInstalledOne) {
    Case c(torch_build("2.7.1+cu126", "12.6"), nvml("560.35.03", CudaVersion{12, 6}, {h100(0)}));
    ProbeResult probe = healthy_probe();
    probe.torch_version = "2.1.0+cu118";
    probe.cuda = "11.8";
    c.input.probe = probe;
    const auto findings = c.run(check_probe);
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].rule, "torch_shadowed");
    EXPECT_EQ(findings[0].severity, Severity::warning);
    EXPECT_EQ(findings[0].title,
              "`import torch` loads torch 2.1.0+cu118, not the installed "
              "2.7.1+cu126");
    EXPECT_TRUE(contains(findings[0].fix, "print(torch.__file__)"));
}

}  // namespace
}  // namespace gpuenv::core::doctor
