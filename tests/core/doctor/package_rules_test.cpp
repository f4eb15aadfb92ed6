#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gpuenv/core/doctor/doctor.hpp>
#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/env/prefix.hpp>
#include <support/conda_prefix_builder.hpp>
#include <support/python_dist_builder.hpp>
#include <support/sample_env.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::doctor {
namespace {

namespace fs = std::filesystem;
using Rule = void (*)(const DoctorInput&, DoctorReport&);

const std::string k_main = "https://repo.anaconda.com/pkgs/main";

// Holds a conda environment under construction: python 3.11 and an empty site-packages.
struct TestEnv {
    test::TempDir dir;
    test::CondaPrefixBuilder builder{dir / "env"};

    TestEnv() {
        add("python", "3.11.8", "hab00c5b_0_cpython", "conda-forge", {"lib/python3.11/os.py"});
        fs::create_directories(site_packages());
    }

    [[nodiscard]] fs::path prefix() const { return dir / "env"; }
    [[nodiscard]] fs::path site_packages() const { return prefix() / test::k_sample_site_packages; }

    // Adds a conda record (and its files) from a channel name or URL.
    void add(const std::string& name, const std::string& version, const std::string& build = "",
             const std::string& channel = "conda-forge", std::vector<std::string> files = {},
             std::map<std::string, std::string> symlinks = {}) {
        test::CondaPackageSpec spec;
        spec.name = name;
        spec.version = version;
        spec.build = build;
        spec.channel = channel;
        spec.files = std::move(files);
        spec.symlinks = std::move(symlinks);
        builder.add_package(spec);
    }

    // Adds a noarch: python conda record.
    void add_noarch(const std::string& name, const std::string& channel) {
        test::CondaPackageSpec spec;
        spec.name = name;
        spec.version = "1.0";
        spec.build = "pyhd8ed1ab_0";
        spec.channel = channel;
        spec.subdir = "noarch";
        spec.noarch = "python";
        builder.add_package(spec);
    }

    // Installs a distribution with pip (files relative to site-packages).
    void pip(const std::string& name, const std::string& version,
             std::vector<std::string> files = {}, const std::string& metadata_extra = "") {
        test::PythonDistSpec spec{name, version, "pip"};
        spec.files = std::move(files);
        spec.metadata_extra = metadata_extra;
        test::write_dist_info(site_packages(), spec);
    }

    [[nodiscard]] env::Inventory inventory() const {
        return env::read_inventory(env::open_prefix(prefix()));
    }
};

DoctorReport run(Rule rule, const env::Inventory& inventory, DoctorInput input = {}) {
    input.inventory = &inventory;
    DoctorReport report;
    rule(input, report);
    EXPECT_TRUE(report.warnings.empty()) << report.warnings.front().to_string();
    return report;
}

DoctorReport run(Rule rule, const TestEnv& env, DoctorInput input = {}) {
    const auto inventory = env.inventory();
    return run(rule, inventory, std::move(input));
}

std::string rules(const DoctorReport& report) {
    std::string out;
    for (const auto& f : report.findings)
        out += f.rule + ": " + f.title + "\n";
    return out;
}

std::string evidence(const DoctorFinding& finding) {
    std::string out;
    for (const auto& line : finding.evidence)
        out += line + "\n";
    return out;
}

testing::AssertionResult contains(const std::string& text, const std::string& part) {
    if (text.find(part) != std::string::npos)
        return testing::AssertionSuccess();
    return testing::AssertionFailure() << "'" << part << "' not in:\n" << text;
}

TorchBuild pip_torch(const TestEnv& env, const std::string& version,
                     std::optional<std::string> cuda) {
    TorchBuild torch;
    torch.package = "torch";
    torch.installer = "pip";
    torch.version = version;
    torch.cuda = std::move(cuda);
    torch.version_file = env.site_packages() / "torch" / "version.py";
    return torch;
}

}  // namespace

// ---- rule 4 ----------------------------------------------------------------------------------

TEST(CudaRuntimesRule, CondaAndPipCudnnOfDifferentMajorsAreReported) {
    TestEnv env;
    env.add("cudnn", "8.9.2.26", "cuda12_0");
    env.pip("nvidia-cudnn-cu12", "9.1.0.70");
    const auto report = run(check_cuda_runtimes, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_EQ(f.rule, "cudnn_mismatch");
    EXPECT_EQ(f.severity, Severity::warning);
    EXPECT_TRUE(contains(f.title, "8.9 (conda) and 9.1 (pip)"));
    EXPECT_TRUE(contains(evidence(f),
                         "cuDNN 8.9: conda cudnn 8.9.2.26 (conda-forge), "
                         "conda-meta/cudnn-8.9.2.26-cuda12_0.json"));
    EXPECT_TRUE(contains(evidence(f),
                         "cuDNN 9.1: pip nvidia-cudnn-cu12 9.1.0.70, "
                         "lib/python3.11/site-packages/"
                         "nvidia_cudnn_cu12-9.1.0.70.dist-info"));
    EXPECT_TRUE(contains(f.fix, "`pip uninstall -y nvidia-cudnn-cu12`"));
    EXPECT_TRUE(contains(f.fix, "`conda remove cudnn`"));
}

TEST(CudaRuntimesRule, RuntimesOfOneMajorButDifferentMinorsAreReported) {
    TestEnv env;
    env.add("cuda-cudart", "12.1.105", "0", "nvidia");
    env.pip("nvidia-cuda-runtime-cu12", "12.4.127");
    const auto report = run(check_cuda_runtimes, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    EXPECT_EQ(report.findings[0].rule, "cuda_runtime_mismatch");
    EXPECT_TRUE(contains(report.findings[0].title, "12.1 (conda) and 12.4 (pip)"));
}

TEST(CudaRuntimesRule, CudatoolkitAgainstTheCuda13WheelWithoutSuffix) {
    TestEnv env;
    env.add("cudatoolkit", "11.8.0", "h6a678d5_0", k_main);
    env.pip("nvidia-cuda-runtime", "13.0.96");
    const auto report = run(check_cuda_runtimes, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    EXPECT_TRUE(contains(report.findings[0].title, "11.8 (conda) and 13.0 (pip)"));
    EXPECT_TRUE(contains(evidence(report.findings[0]), "conda cudatoolkit 11.8.0 (pkgs/main)"));
}

TEST(CudaRuntimesRule, ProvidersThatAgreeAreHealthy) {
    TestEnv env;
    env.add("cuda-cudart", "12.1.105", "0", "nvidia");
    env.add("cuda-runtime", "12.1.0", "0", "nvidia");
    env.add("cudnn", "8.9.2.26", "cuda12_0");
    env.add("cuda-version", "12.1", "h1d6eff3_3");
    env.pip("nvidia-cuda-runtime-cu12", "12.1.105");
    env.pip("nvidia-cudnn-cu12", "8.9.2.26");
    EXPECT_TRUE(run(check_cuda_runtimes, env).findings.empty());
}

TEST(CudaRuntimesRule, OneSideAloneIsHealthy) {
    TestEnv conda_only;
    conda_only.add("cudatoolkit", "11.8.0", "h6a678d5_0", k_main);
    conda_only.add("cudnn", "8.9.2.26", "cuda11_0");
    EXPECT_TRUE(run(check_cuda_runtimes, conda_only).findings.empty());

    // Two pip majors install two sonames side by side, each wheel finding its own.
    TestEnv pip_only;
    pip_only.pip("nvidia-cuda-runtime-cu11", "11.7.99");
    pip_only.pip("nvidia-cuda-runtime-cu12", "12.1.105");
    pip_only.pip("nvidia-cudnn-cu11", "8.5.0.96");
    pip_only.pip("nvidia-cudnn-cu12", "8.9.2.26");
    EXPECT_TRUE(run(check_cuda_runtimes, pip_only).findings.empty());
}

TEST(CudaRuntimesRule, TorchBuiltForAnotherMajorThanThePipRuntime) {
    TestEnv env;
    env.pip("nvidia-cuda-runtime-cu11", "11.7.99");
    env.pip("torch", "2.1.0+cu121", {"torch/version.py", "torch/lib/libtorch_cpu.so"});
    DoctorInput input;
    input.torch = pip_torch(env, "2.1.0+cu121", "12.1");
    const auto report = run(check_cuda_runtimes, env, input);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_EQ(f.rule, "torch_cuda_runtime_mismatch");
    EXPECT_TRUE(contains(f.title, "torch 2.1.0+cu121 is built for CUDA 12.1"));
    EXPECT_TRUE(contains(f.title, "11.7"));
    EXPECT_TRUE(
        contains(evidence(f), "cuda = '12.1' (lib/python3.11/site-packages/torch/version.py)"));
    EXPECT_TRUE(contains(f.fix, "`pip install \"nvidia-cuda-runtime-cu12==12.1.*\"`"));

    input.torch = pip_torch(env, "2.9.0+cu130", "13.0");
    EXPECT_TRUE(contains(run(check_cuda_runtimes, env, input).findings.at(0).fix,
                         "\"nvidia-cuda-runtime==13.0.*\""));
}

TEST(CudaRuntimesRule, TorchWithAMatchingOrBundledRuntimeIsHealthy) {
    TestEnv env;
    env.pip("nvidia-cuda-runtime-cu11", "11.7.99");
    env.pip("nvidia-cuda-runtime-cu12", "12.4.127");  // a newer minor serves a 12.1 build
    DoctorInput input;
    input.torch = pip_torch(env, "2.1.0+cu121", "12.1");
    EXPECT_TRUE(run(check_cuda_runtimes, env, input).findings.empty());

    TestEnv bundled;
    bundled.pip("nvidia-cuda-runtime-cu11", "11.7.99");
    bundled.pip("torch", "2.0.1+cu118",
                {"torch/version.py", "torch/lib/libcudart-d0da41ae.so.11.0"});
    input.torch = pip_torch(bundled, "2.0.1+cu121", "12.1");
    EXPECT_TRUE(run(check_cuda_runtimes, bundled, input).findings.empty());

    // A CPU build, and a conda build (which uses conda's runtime), are not judged here.
    input.torch = pip_torch(env, "2.1.0+cpu", std::nullopt);
    EXPECT_TRUE(run(check_cuda_runtimes, bundled, input).findings.empty());
    input.torch = pip_torch(env, "2.1.0", "12.1");
    input.torch->installer = "conda";
    EXPECT_TRUE(run(check_cuda_runtimes, bundled, input).findings.empty());
}

// ---- rule 5 ----------------------------------------------------------------------------------

TEST(OpenmpRule, CondaForgeGnuEnvironmentWithWheelCopiesIsHealthy) {
    TestEnv env;
    env.add("_openmp_mutex", "4.5", "2_gnu", "conda-forge", {},
            {{"lib/libgomp.so.1", "libgomp.so.1.0.0"}});
    env.add("libgomp", "13.2.0", "h807b86a_5", "conda-forge", {"lib/libgomp.so.1.0.0"});
    // pip's torch and scikit-learn each bundle their own libgomp: the same runtime.
    env.pip("torch", "2.3.1", {"torch/__init__.py", "torch/lib/libgomp-a34b3233.so.1"});
    env.pip("scikit-learn", "1.5.0",
            {"sklearn/__init__.py", "scikit_learn.libs/libgomp-a34b3233.so.1.0.0"});
    EXPECT_TRUE(run(check_openmp_and_blas, env).findings.empty());
}

TEST(OpenmpRule, LlvmOpenmpAliasesAreOneRuntime) {
    // conda-forge's llvm-openmp installs libiomp5.so and libgomp.so as links to libomp.so.
    TestEnv env;
    env.add("llvm-openmp", "18.1.8", "hf5423f3_0", "conda-forge", {"lib/libomp.so"},
            {{"lib/libiomp5.so", "libomp.so"}, {"lib/libgomp.so", "libomp.so"}});
    env.add("_openmp_mutex", "4.5", "2_kmp_llvm", "conda-forge", {},
            {{"lib/libgomp.so.1", "libomp.so"}});
    env.add("libgomp", "13.2.0", "h807b86a_5", "conda-forge", {"lib/libgomp.so.1.0.0"});
    EXPECT_TRUE(run(check_openmp_and_blas, env).findings.empty());
}

TEST(OpenmpRule, IntelAndLlvmOpenmpFromTwoPackages) {
    TestEnv env;
    env.add("intel-openmp", "2023.1.0", "hdb19cb5_46306", k_main, {"lib/libiomp5.so"});
    env.add("llvm-openmp", "14.0.6", "h9e868ea_0", "conda-forge", {"lib/libomp.so"});
    const auto report = run(check_openmp_and_blas, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_EQ(f.rule, "mixed_openmp_runtimes");
    EXPECT_EQ(f.severity, Severity::warning);
    EXPECT_TRUE(contains(f.title, "libiomp5 (intel-openmp) and libomp (llvm-openmp)"));
    EXPECT_TRUE(contains(evidence(f),
                         "libiomp5: conda intel-openmp 2023.1.0 (pkgs/main); "
                         "conda-meta/intel-openmp-2023.1.0-hdb19cb5_46306.json, "
                         "lib/libiomp5.so"));
    EXPECT_TRUE(contains(evidence(f), "libomp: conda llvm-openmp 14.0.6 (conda-forge)"));
    EXPECT_TRUE(contains(f.fix, "OMP: Error #15"));
    EXPECT_FALSE(contains(f.fix, "MKL_THREADING_LAYER"));
}

TEST(OpenmpRule, AnUnownedLibiomp5IsStillACopy) {
    TestEnv env;
    test::write_file(env.prefix() / "lib" / "libiomp5.so", "ELF");
    env.add("llvm-openmp", "14.0.6", "h9e868ea_0", "conda-forge", {"lib/libomp.so"});
    const auto report = run(check_openmp_and_blas, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    EXPECT_TRUE(contains(evidence(report.findings[0]),
                         "libiomp5: lib/libiomp5.so, which no package record names"));
}

TEST(OpenmpRule, MklOpenmpWithAWheelsLibgomp) {
    TestEnv env;
    env.add("intel-openmp", "2023.1.0", "hdb19cb5_46306", k_main, {"lib/libiomp5.so"});
    env.add("mkl", "2023.1.0", "h213fc3f_46344", k_main);
    env.add("_openmp_mutex", "5.1", "1_gnu", k_main);
    env.add("libgomp", "11.2.0", "h1234567_1", k_main, {"lib/libgomp.so.1.0.0"});
    env.pip("torch", "2.3.1", {"torch/__init__.py", "torch/lib/libgomp-a34b3233.so.1"});
    const auto report = run(check_openmp_and_blas, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_TRUE(contains(f.title, "libiomp5 (intel-openmp) and libgomp (torch)"));
    EXPECT_TRUE(contains(evidence(f),
                         "libgomp: pip torch 2.3.1; "
                         "lib/python3.11/site-packages/torch/lib/libgomp-a34b3233.so.1"));
    // conda's own libgomp is the GCC runtime, not the copy at fault.
    EXPECT_FALSE(contains(evidence(f), "libgomp 11.2.0"));
    EXPECT_TRUE(contains(f.fix, "MKL_THREADING_LAYER=GNU"));
    EXPECT_FALSE(contains(f.fix, "Error #15"));

    DoctorInput input;
    input.env_vars.vars["MKL_THREADING_LAYER"] = "GNU";
    EXPECT_TRUE(run(check_openmp_and_blas, env, input).findings.empty());
}

TEST(OpenmpRule, DefaultsMklEnvironmentWithCondasLibgompIsHealthy) {
    TestEnv env;
    env.add("intel-openmp", "2023.1.0", "hdb19cb5_46306", k_main, {"lib/libiomp5.so"});
    env.add("mkl", "2023.1.0", "h213fc3f_46344", k_main);
    env.add("_openmp_mutex", "5.1", "1_gnu", k_main, {},
            {{"lib/libgomp.so.1", "libgomp.so.1.0.0"}});
    env.add("libgomp", "11.2.0", "h1234567_1", k_main, {"lib/libgomp.so.1.0.0"});
    EXPECT_TRUE(run(check_openmp_and_blas, env).findings.empty());
}

TEST(BlasRule, MklWithCondaOpenblas) {
    TestEnv env;
    env.add("mkl", "2024.2.2", "ha957f24_16");
    env.add("libblas", "3.9.0", "25_linux64_openblas");
    env.add("libopenblas", "0.3.28", "pthreads_h94d23a6_0", "conda-forge",
            {"lib/libopenblas.so.0"});
    const auto report = run(check_openmp_and_blas, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_EQ(f.rule, "mkl_with_other_blas");
    EXPECT_TRUE(contains(evidence(f), "MKL: conda mkl 2024.2.2 (conda-forge)"));
    EXPECT_TRUE(contains(evidence(f), "other BLAS: conda libblas 3.9.0 (conda-forge)"));
    EXPECT_TRUE(contains(evidence(f), "other BLAS: conda libopenblas 0.3.28"));
    EXPECT_TRUE(contains(f.fix, "libblas=*=*mkl"));
}

TEST(BlasRule, MklWithAWheelsBundledOpenblas) {
    TestEnv env;
    env.add("mkl", "2023.1.0", "h213fc3f_46344", k_main);
    env.pip("numpy", "1.26.4",
            {"numpy/__init__.py", "numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so",
             "numpy.libs/libgfortran-040039e1.so.5.0.0"});
    const auto report = run(check_openmp_and_blas, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_TRUE(contains(evidence(f),
                         "OpenBLAS bundled by pip numpy 1.26.4: lib/python3.11/"
                         "site-packages/numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so"));
    EXPECT_TRUE(contains(f.fix, "`pip uninstall -y numpy` then `conda install numpy`"));
    EXPECT_FALSE(contains(f.fix, "nomkl"));
}

TEST(BlasRule, OneBlasIsHealthy) {
    TestEnv mkl;
    mkl.add("mkl", "2024.2.2", "ha957f24_16");
    mkl.add("libblas", "3.9.0", "25_linux64_mkl");
    mkl.add("libcblas", "3.9.0", "25_linux64_mkl");
    EXPECT_TRUE(run(check_openmp_and_blas, mkl).findings.empty());

    TestEnv openblas;
    openblas.add("libblas", "3.9.0", "25_linux64_openblas");
    openblas.add("libopenblas", "0.3.28", "pthreads_h94d23a6_0");
    openblas.pip("scipy", "1.13.0",
                 {"scipy/__init__.py", "scipy.libs/libscipy_openblas-c128ec02.so"});
    EXPECT_TRUE(run(check_openmp_and_blas, openblas).findings.empty());
}

// ---- rule 6 ----------------------------------------------------------------------------------

TEST(CondaPipOverlapRule, PipOverACondaPackage) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    const fs::path sp = dir / "env" / test::k_sample_site_packages;
    // pip upgrading numpy removes conda's metadata and writes its own.
    fs::remove_all(sp / "numpy-1.26.4.dist-info");
    test::PythonDistSpec numpy{"numpy", "2.0.1", "pip"};
    test::write_dist_info(sp, numpy);
    const auto inventory = env::read_inventory(env::open_prefix(dir / "env"));
    const auto report = run(check_conda_pip_overlap, inventory);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_EQ(f.rule, "conda_pip_overlap");
    EXPECT_EQ(f.severity, Severity::warning);
    EXPECT_EQ(f.title, "numpy is installed by both conda and pip");
    ASSERT_EQ(f.evidence.size(), 1U);
    EXPECT_EQ(f.evidence[0],
              "numpy: conda numpy 1.26.4 py311h64a7726_0 (conda-forge), pip 2.0.1 "
              "(lib/python3.11/site-packages/numpy-2.0.1.dist-info)");
    EXPECT_TRUE(contains(f.fix,
                         "`pip uninstall -y numpy` then `conda install --force-reinstall "
                         "numpy=1.26.4`"));
}

TEST(CondaPipOverlapRule, TwoMetadataDirectoriesAreADuplicateNotAnOverlap) {
    // pip left conda's numpy-1.26.4.dist-info beside its own: Python lists one of them, and
    // the second is a duplicate distribution (rule 7), not a second installer.
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    test::PythonDistSpec numpy{"numpy", "2.0.1", "pip"};
    test::write_dist_info(dir / "env" / test::k_sample_site_packages, numpy);
    const auto inventory = env::read_inventory(env::open_prefix(dir / "env"));
    EXPECT_TRUE(run(check_conda_pip_overlap, inventory).findings.empty());
    const auto report = run(check_dependencies, inventory);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    EXPECT_TRUE(contains(evidence(report.findings[0]),
                         "duplicate distribution: numpy-1.26.4.dist-info, numpy-2.0.1.dist-info in "
                         "lib/python3.11/site-packages"));
}

TEST(CondaPipOverlapRule, CondaNameDiffersFromTheDistribution) {
    TestEnv env;
    test::PythonDistSpec conda_torch{"torch", "2.1.0", "conda"};
    test::add_conda_python_package(env.builder, "pytorch", conda_torch, "py3.11_cuda12.1_0");
    fs::remove_all(env.site_packages() / "torch-2.1.0.dist-info");
    env.pip("torch", "2.3.1");
    const auto report = run(check_conda_pip_overlap, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_TRUE(contains(evidence(f), "torch: conda pytorch 2.1.0 py3.11_cuda12.1_0"));
    EXPECT_TRUE(contains(f.fix,
                         "`pip uninstall -y torch` then `conda install --force-reinstall "
                         "pytorch=2.1.0`"));
    EXPECT_TRUE(contains(f.fix, "`conda remove --force pytorch`"));
}

TEST(CondaPipOverlapRule, ManyOverlapsAreOneFinding) {
    TestEnv env;
    for (int i = 0; i < 12; ++i) {
        const std::string name = "pkg" + std::to_string(i);
        env.add(name, "1.0", "py_0");
        env.pip(name, "1.1");
    }
    const auto report = run(check_conda_pip_overlap, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_EQ(f.title, "12 packages are installed by both conda and pip");
    ASSERT_EQ(f.evidence.size(), 11U);
    EXPECT_EQ(f.evidence.back(), "and 2 more (`gpuenv verify` lists each as shadowed)");
    EXPECT_TRUE(contains(f.fix, "likewise for the rest"));
}

TEST(CondaPipOverlapRule, CondaOwnedDistributionsAreHealthy) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    EXPECT_TRUE(run(check_conda_pip_overlap, env::read_inventory(env::open_prefix(dir / "env")))
                    .findings.empty());
}

// ---- rule 7 ----------------------------------------------------------------------------------

TEST(DependenciesRule, ConsistentEnvironmentIsHealthy) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    EXPECT_TRUE(run(check_dependencies, env::read_inventory(env::open_prefix(dir / "env")))
                    .findings.empty());
}

TEST(DependenciesRule, ProblemsAreSummarisedByKind) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    const fs::path sp = dir / "env" / test::k_sample_site_packages;
    fs::remove(dir / "env" / "conda-meta" / "libzlib-1.3.1-h4ab18f5_1.json");
    fs::remove_all(sp / "idna-3.6.dist-info");
    test::PythonDistSpec idna{"idna", "1.0", "pip"};
    test::write_dist_info(sp, idna);
    const auto report = run(check_dependencies, env::read_inventory(env::open_prefix(dir / "env")));
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_EQ(f.rule, "broken_dependencies");
    EXPECT_EQ(f.severity, Severity::warning);
    EXPECT_EQ(f.title, "3 dependency problems: 2 missing, 1 unsatisfied");
    EXPECT_TRUE(contains(evidence(f), "missing: numpy requires libzlib >=1.2.13,<2.0a0"));
    EXPECT_TRUE(contains(evidence(f), "missing: python requires libzlib >=1.2.13,<2.0a0"));
    EXPECT_TRUE(contains(evidence(f),
                         "unsatisfied: requests (pypi) requires idna<4,>=2.5, found idna 1.0"));
    EXPECT_TRUE(contains(f.fix, "`gpuenv verify`"));
    EXPECT_TRUE(contains(f.fix, "`conda install \"libzlib >=1.2.13,<2.0a0\"`"));
    EXPECT_TRUE(contains(f.fix, "`pip install \"idna<4,>=2.5\"`"));
}

TEST(DependenciesRule, ShadowingIsLeftToTheOverlapRule) {
    test::TempDir dir;
    test::write_sample_env(dir / "env");
    const fs::path sp = dir / "env" / test::k_sample_site_packages;
    // pip's upgrade removed conda's metadata: verify also calls the record stale.
    fs::remove_all(sp / "numpy-1.26.4.dist-info");
    test::PythonDistSpec numpy{"numpy", "2.0.1", "pip"};
    test::write_dist_info(sp, numpy);
    const auto inventory = env::read_inventory(env::open_prefix(dir / "env"));
    EXPECT_TRUE(run(check_dependencies, inventory).findings.empty());
    EXPECT_EQ(run(check_conda_pip_overlap, inventory).findings.size(), 1U);
}

TEST(DependenciesRule, StaleRecordsAndViolatedConstraints) {
    test::TempDir dir;
    auto builder = test::write_sample_env(dir / "env");
    fs::remove_all(dir / "env" / test::k_sample_site_packages / "numpy-1.26.4.dist-info");
    test::CondaPackageSpec old_pin;
    old_pin.name = "scipy-pin";
    old_pin.version = "1.0";
    old_pin.constrains = {"libzlib <1.3"};
    builder.add_package(old_pin);
    const auto report = run(check_dependencies, env::read_inventory(env::open_prefix(dir / "env")));
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_EQ(f.title, "2 dependency problems: 1 constraint violated, 1 stale record");
    EXPECT_TRUE(contains(evidence(f),
                         "constraint violated: scipy-pin constrains libzlib <1.3, "
                         "found libzlib 1.3.1 h4ab18f5_1"));
    EXPECT_TRUE(contains(evidence(f),
                         "stale record: numpy: lib/python3.11/site-packages/"
                         "numpy-1.26.4.dist-info is gone"));
    EXPECT_TRUE(contains(f.fix, "`conda install \"libzlib <1.3\"`"));
    EXPECT_TRUE(contains(f.fix, "`conda install --force-reinstall numpy`"));
}

TEST(DependenciesRule, KindsAreCountedInThePlural) {
    test::TempDir dir;
    auto builder = test::write_sample_env(dir / "env");
    const fs::path sp = dir / "env" / test::k_sample_site_packages;
    fs::remove_all(sp / "numpy-1.26.4.dist-info");
    test::PythonDistSpec tool{"tool", "1.0", "conda"};
    test::add_conda_python_package(builder, "tool", tool);
    fs::remove_all(sp / "tool-1.0.dist-info");
    // A second record of one name (a broken transaction) whose depends names a missing
    // conda package: the fix must still say `conda install`.
    test::CondaPackageSpec again;
    again.name = "libzlib";
    again.version = "1.3.2";
    again.build = "hd590300_5";
    again.depends = {"vs2015_runtime >=14.29"};
    builder.add_package(again);
    const auto report = run(check_dependencies, env::read_inventory(env::open_prefix(dir / "env")));
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_TRUE(contains(f.title, "1 missing"));
    EXPECT_TRUE(contains(f.title, "2 stale records"));
    EXPECT_TRUE(contains(f.fix, "`conda install \"vs2015_runtime >=14.29\"`"));
    EXPECT_FALSE(contains(f.fix, "pip install"));
}

TEST(DependenciesRule, ManyProblemsQuoteTheFirstFew) {
    TestEnv env;
    for (int i = 0; i < 8; ++i)
        env.pip("app" + std::to_string(i), "1.0", {}, "Requires-Dist: absent-lib>=1\n");
    env.pip("six", "1.15.0");
    env.pip("six", "1.16.0");
    const auto report = run(check_dependencies, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_EQ(f.title, "9 dependency problems: 8 missing, 1 duplicate distribution");
    ASSERT_EQ(f.evidence.size(), 6U);
    EXPECT_EQ(f.evidence.back(), "and 4 more");
    EXPECT_TRUE(contains(f.fix, "`pip install \"absent-lib>=1\"`"));
    EXPECT_TRUE(contains(f.fix, "`pip uninstall -y six` until pip finds none"));
}

// ---- rule 13 ---------------------------------------------------------------------------------

TEST(MixedChannelsRule, DefaultsAndCondaForgeAreCounted) {
    TestEnv env;  // python from conda-forge
    for (const auto* name : {"libzlib", "openssl", "libffi", "numpy"})
        env.add(name, "1.0", "h0_0", "conda-forge");
    env.add("libstdcxx-ng", "11.2.0", "h1234567_1", k_main);
    env.add("libgcc-ng", "11.2.0", "h1234567_1", k_main);
    env.add_noarch("requests", k_main);
    const auto report = run(check_mixed_channels, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    const auto& f = report.findings[0];
    EXPECT_EQ(f.rule, "mixed_channels");
    EXPECT_EQ(f.severity, Severity::warning);
    EXPECT_EQ(f.title,
              "compiled packages from channels that are not binary compatible: "
              "5 from conda-forge and 2 from pkgs/main");
    EXPECT_TRUE(contains(evidence(f), "conda-forge: 5 packages, 5 compiled\n"));
    EXPECT_TRUE(
        contains(evidence(f), "pkgs/main: 3 packages, 2 compiled (libgcc-ng, libstdcxx-ng)"));
    EXPECT_TRUE(contains(f.fix, "channel_priority strict"));
    EXPECT_TRUE(contains(f.fix,
                         "`conda install --override-channels -c conda-forge libgcc-ng "
                         "libstdcxx-ng`"));
    EXPECT_FALSE(contains(f.fix, "pytorch"));
}

TEST(MixedChannelsRule, TheFixKeepsTheLargerSide) {
    TestEnv env;  // python from conda-forge
    for (int i = 0; i < 6; ++i)
        env.add("forge" + std::to_string(i), "1.0", "h0_0", "conda-forge");
    for (int i = 0; i < 8; ++i)
        env.add("main" + std::to_string(i), "1.0", "h0_0", k_main);
    const auto report = run(check_mixed_channels, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    EXPECT_TRUE(contains(report.findings[0].title, "8 from pkgs/main and 7 from conda-forge"));
    EXPECT_TRUE(contains(report.findings[0].fix,
                         "`conda install --override-channels -c defaults forge0 forge1 forge2 "
                         "forge3 forge4 ...`"));
}

TEST(MixedChannelsRule, MirrorsAreRecognised) {
    TestEnv env;
    env.add("openssl", "3.0.13", "h7f8727e_0",
            "https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main");
    env.add("libffi", "3.4.4", "h6a678d5_0",
            "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge");
    const auto report = run(check_mixed_channels, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    // python (conda-forge) and libffi come from two spellings of conda-forge.
    EXPECT_TRUE(contains(report.findings[0].title,
                         "1 from https://mirrors.tuna.tsinghua.edu.cn/"
                         "anaconda/pkgs/main"));
}

TEST(MixedChannelsRule, PytorchChannelBesideCondaForge) {
    TestEnv env;
    env.add("pytorch", "2.1.0", "py3.11_cuda12.1_cudnn8.9.2_0", "pytorch");
    const auto report = run(check_mixed_channels, env);
    ASSERT_EQ(report.findings.size(), 1U) << rules(report);
    EXPECT_TRUE(contains(report.findings[0].title, "1 from conda-forge and 1 from pytorch"));
    EXPECT_TRUE(contains(report.findings[0].fix, "conda install -c conda-forge pytorch"));
    EXPECT_FALSE(contains(report.findings[0].fix, "channel_priority"));
}

TEST(MixedChannelsRule, OfficialAndPureCombinationsAreHealthy) {
    TestEnv forge;  // python
    forge.add("numpy", "1.26.4", "py311h64a7726_0");
    forge.add("cuda-cudart", "12.1.105", "0", "nvidia");  // nvidia's channel goes with either
    forge.add_noarch("requests", k_main);                 // noarch carries no binaries
    forge.pip("torch", "2.3.1");
    EXPECT_TRUE(run(check_mixed_channels, forge).findings.empty());

    test::TempDir dir;
    test::CondaPrefixBuilder defaults(dir / "env");
    for (const auto& [name, channel] :
         std::vector<std::pair<std::string, std::string>>{{"python", k_main},
                                                          {"mkl", k_main},
                                                          {"pytorch", "pytorch"},
                                                          {"pytorch-cuda", "pytorch"},
                                                          {"cuda-cudart", "nvidia"},
                                                          {"anaconda-thing", "anaconda"}}) {
        test::CondaPackageSpec spec;
        spec.name = name;
        spec.version = "1.0";
        spec.channel = channel;
        defaults.add_package(spec);
    }
    // An @EXPLICIT record with neither channel nor URL is not counted.
    test::CondaPackageSpec bare;
    bare.name = "bare";
    bare.version = "1.0";
    bare.extra = {{"channel", nullptr}, {"url", nullptr}};
    defaults.add_package(bare);
    EXPECT_TRUE(run(check_mixed_channels, env::read_inventory(env::open_prefix(dir / "env")))
                    .findings.empty());
}

// ---- a large environment -------------------------------------------------------------------

// About 1000 conda records (each depending on the previous one) and 200 pip distributions:
// every rule of this file on it must find nothing. The times go to the test's properties
// (--gtest_output=json) for docs, not into assertions.
TEST(PackageRulesScale, LargeHealthyEnvironment) {
    TestEnv env;
    for (int i = 0; i < 1000; ++i) {
        test::CondaPackageSpec spec;
        spec.name = "lib" + std::to_string(i);
        spec.version = "1." + std::to_string(i % 50) + ".0";
        if (i > 0)
            spec.depends = {"lib" + std::to_string(i - 1) + " >=1.0", "python >=3.11,<3.12.0a0"};
        spec.files = {"lib/lib" + std::to_string(i) + ".so.1"};
        env.builder.add_package(spec);
    }
    env.add("_openmp_mutex", "4.5", "2_gnu");
    env.add("libgomp", "13.2.0", "h807b86a_5", "conda-forge", {"lib/libgomp.so.1.0.0"});
    for (int i = 0; i < 200; ++i) {
        env.pip("dist" + std::to_string(i), "2.0", {"dist" + std::to_string(i) + "/__init__.py"},
                i > 0 ? "Requires-Dist: dist" + std::to_string(i - 1) + ">=1\n" : "");
    }
    const auto inventory = env.inventory();
    ASSERT_GE(inventory.packages.size(), 1200U);
    for (const auto& [name, rule] :
         std::vector<std::pair<std::string, Rule>>{{"cuda_runtimes", check_cuda_runtimes},
                                                   {"openmp_and_blas", check_openmp_and_blas},
                                                   {"conda_pip_overlap", check_conda_pip_overlap},
                                                   {"dependencies", check_dependencies},
                                                   {"mixed_channels", check_mixed_channels}}) {
        const auto start = std::chrono::steady_clock::now();
        const auto report = run(rule, inventory);
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
        EXPECT_TRUE(report.findings.empty()) << name << ": " << rules(report);
        RecordProperty(name + "_us", std::to_string(us));
    }
}

}  // namespace gpuenv::core::doctor
