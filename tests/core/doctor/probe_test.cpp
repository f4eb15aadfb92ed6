// --probe with real processes: fake interpreters (shell scripts) for the process handling, and
// the real python3 running the real script against planted fake torch packages.
#include <gpuenv/core/doctor/doctor.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <support/temp_dir.hpp>

namespace gpuenv::core::doctor {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::map<std::string, std::string> k_path = {{"PATH", "/usr/bin:/bin"}};

// A prefix whose bin/python is the given shell script.
env::Prefix fake_interpreter(const test::TempDir& dir, std::string_view script) {
    const fs::path python = dir / "env/bin/python";
    test::write_file(python, "#!/bin/sh\n" + std::string(script));
    fs::permissions(python, fs::perms::owner_all);
    env::Prefix prefix;
    prefix.path = dir / "env";
    prefix.kind = env::PrefixKind::conda;
    return prefix;
}

constexpr std::string_view k_report =
    R"({"probe": 1, "python_version": "3.11.7", "torch_imported": true, "torch_version": "2.7.1+cu126", )"
    R"("cuda": "12.6", "cuda_available": true, "device_count": 2, "cudnn_version": 90100, )"
    R"("arch_list": ["sm_80", "sm_90", "compute_90"], "devices": [{"name": "NVIDIA A100-SXM4-80GB", )"
    R"("capability": [8, 0]}, {"name": "NVIDIA H100 80GB HBM3", "capability": [9, 0]}]})";

TEST(ParseProbeOutput, ReadsEveryField) {
    const ProbeResult result = parse_probe_output(std::string(k_report) + "\n");
    EXPECT_TRUE(result.ran);
    EXPECT_EQ(result.error, "");
    EXPECT_EQ(result.python_version, "3.11.7");
    EXPECT_TRUE(result.torch_imported);
    EXPECT_EQ(result.torch_version, "2.7.1+cu126");
    EXPECT_EQ(result.cuda, "12.6");
    EXPECT_EQ(result.cuda_available, true);
    EXPECT_EQ(result.device_count, 2);
    EXPECT_EQ(result.cudnn_version, 90100);
    EXPECT_EQ(result.arch_list, (std::vector<std::string>{"sm_80", "sm_90", "compute_90"}));
    ASSERT_EQ(result.devices.size(), 2U);
    EXPECT_EQ(result.devices[1].name, "NVIDIA H100 80GB HBM3");
    EXPECT_EQ(result.devices[1].cc_major, 9);
    EXPECT_EQ(result.devices[1].cc_minor, 0);
}

TEST(ParseProbeOutput, TakesTheLastJsonLineAfterOtherOutput) {
    const std::string output =
        "Welcome from sitecustomize\n{not the report\n" + std::string(k_report) + "\n\n";
    const ProbeResult result = parse_probe_output(output);
    EXPECT_TRUE(result.ran) << result.error;
    EXPECT_EQ(result.torch_version, "2.7.1+cu126");
}

TEST(ParseProbeOutput, CpuBuildAndMissingFieldsStayUnknown) {
    const ProbeResult result = parse_probe_output(
        R"({"python_version": "3.12.1", "torch_imported": true, "torch_version": "2.5.1+cpu", )"
        R"("cuda": null, "device_count": 0, "cudnn_version": null, "devices": []})");
    EXPECT_TRUE(result.ran);
    EXPECT_FALSE(result.cuda.has_value());
    EXPECT_FALSE(result.cuda_available.has_value());
    EXPECT_FALSE(result.cudnn_version.has_value());
    EXPECT_TRUE(result.arch_list.empty());
}

TEST(ParseProbeOutput, ImportFailureIsAReportNotAnError) {
    const ProbeResult result = parse_probe_output(
        R"({"python_version": "3.11.7", "torch_imported": false, "torch_error": "ImportError: boom"})");
    EXPECT_TRUE(result.ran);
    EXPECT_FALSE(result.torch_imported);
    EXPECT_EQ(result.torch_error, "ImportError: boom");
}

TEST(ParseProbeOutput, GarbageIsAnError) {
    for (const std::string_view output : {"", "Traceback (most recent call last):\n",
                                          "{\"python_version\": 3", "[1, 2]", "{\"x\": 1}",
                                          // a number past double's range (found by make fuzz)
                                          "{\"python_version\": \"3.11\", \"n\": 5e15721}"}) {
        const ProbeResult result = parse_probe_output(output);
        EXPECT_FALSE(result.ran) << output;
        EXPECT_NE(result.error, "") << output;
    }
    // What is not JSON is located in the report line, as every JSON error gpuenv gives.
    EXPECT_EQ(parse_probe_output("{\"python_version\": \"3.11\", \"n\": 5e15721}").error,
              "the probe's report is not JSON: line 1, column 33: number out of range '5e15721'");
    EXPECT_EQ(parse_probe_output("{\"python_version\": tru}").error,
              "the probe's report is not JSON: line 1, column 20: invalid literal 'tru'");
}

TEST(RunProbe, ReadsWhatTheInterpreterPrints) {
    test::TempDir dir;
    const env::Prefix prefix =
        fake_interpreter(dir, "echo 'loading...'\necho '" + std::string(k_report) + "'\n");
    const ProbeResult result = run_probe(prefix, k_path, 10s);
    EXPECT_TRUE(result.ran) << result.error;
    EXPECT_EQ(result.python, (dir / "env/bin/python").string());
    EXPECT_EQ(result.device_count, 2);
}

TEST(RunProbe, PassesArgvWithoutAShellAndExactlyTheEnvironment) {
    test::TempDir dir;
    // Prints the script's first line as python_version and $PROBE_MARK as torch_version; HOME
    // from the test's own environment must not leak in.
    const env::Prefix prefix = fake_interpreter(
        dir,
        "[ \"$1\" = -c ] || exit 3\nfirst=$(printf '%s\\n' \"$2\" | head -n 1)\n"
        "printf '{\"python_version\": \"%s\", \"torch_version\": \"%s|%s\"}\\n' \"$first\" "
        "\"$PROBE_MARK\" \"$HOME\"\n");
    std::map<std::string, std::string> environment = k_path;
    environment["PROBE_MARK"] = "a b;$(x)";
    const ProbeResult result = run_probe(prefix, environment, 10s);
    ASSERT_TRUE(result.ran) << result.error;
    EXPECT_EQ(result.python_version, "import sys");
    EXPECT_EQ(result.torch_version, "a b;$(x)|");
}

TEST(RunProbe, FallsBackToPython3) {
    test::TempDir dir;
    const fs::path python3 = dir / "env/bin/python3";
    test::write_file(python3, "#!/bin/sh\necho '{\"python_version\": \"3.13.0\"}'\n");
    fs::permissions(python3, fs::perms::owner_all);
    env::Prefix prefix;
    prefix.path = dir / "env";
    const ProbeResult result = run_probe(prefix, k_path, 10s);
    EXPECT_TRUE(result.ran) << result.error;
    EXPECT_EQ(result.python, python3.string());
}

TEST(RunProbe, NoInterpreterIsAnError) {
    test::TempDir dir;
    fs::create_directories(dir / "env/bin");
    env::Prefix prefix;
    prefix.path = dir / "env";
    const ProbeResult result = run_probe(prefix, k_path, 10s);
    EXPECT_FALSE(result.ran);
    EXPECT_NE(result.error.find("no Python interpreter in " + (dir / "env/bin").string()),
              std::string::npos)
        << result.error;
}

bool process_gone(pid_t pid) {
    // Gone, or a zombie waiting for init to reap it: either way it holds nothing.
    for (int i = 0; i < 200; ++i) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string text;
        if (!stat || !std::getline(stat, text))
            return true;
        const auto paren = text.rfind(')');
        if (paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z')
            return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

TEST(RunProbe, TimeoutKillsTheProcessGroup) {
    test::TempDir dir;
    const fs::path pids = dir / "pids";
    // A background child in the same group, then the interpreter itself becomes a sleep.
    const env::Prefix prefix =
        fake_interpreter(dir, "sleep 30 &\necho $! > '" + pids.string() + "'\necho $$ >> '" +
                                  pids.string() + "'\nexec sleep 30\n");
    const auto start = std::chrono::steady_clock::now();
    const ProbeResult result = run_probe(prefix, k_path, 300ms);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_FALSE(result.ran);
    EXPECT_EQ(result.error, "timed out after 0.3 s");
    EXPECT_LT(elapsed, 5s);
    std::ifstream in(pids);
    pid_t background = 0;
    pid_t interpreter = 0;
    ASSERT_TRUE(in >> background >> interpreter);
    EXPECT_TRUE(process_gone(interpreter));
    EXPECT_TRUE(process_gone(background));
}

TEST(RunProbe, ChildLeftHoldingThePipesDoesNotHoldTheProbe) {
    test::TempDir dir;
    const fs::path pids = dir / "pids";
    const env::Prefix prefix =
        fake_interpreter(dir, "sleep 30 &\necho $! > '" + pids.string() + "'\necho '" +
                                  std::string(k_report) + "'\n");
    const auto start = std::chrono::steady_clock::now();
    const ProbeResult result = run_probe(prefix, k_path, 20s);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_TRUE(result.ran) << result.error;
    std::ifstream in(pids);
    pid_t background = 0;
    ASSERT_TRUE(in >> background);
    EXPECT_TRUE(process_gone(background));
}

TEST(RunProbe, TimeoutInWholeSeconds) {
    test::TempDir dir;
    const env::Prefix prefix = fake_interpreter(dir, "exec sleep 30\n");
    EXPECT_EQ(run_probe(prefix, k_path, 1s).error, "timed out after 1 s");
}

TEST(RunProbe, GarbageOutputIsAnError) {
    test::TempDir dir;
    const env::Prefix prefix = fake_interpreter(dir, "echo 'Segmentation fault? no, just text'\n");
    const ProbeResult result = run_probe(prefix, k_path, 10s);
    EXPECT_FALSE(result.ran);
    EXPECT_EQ(result.error, "the probe printed no report");
}

TEST(RunProbe, FailedInterpreterReportsItsStatusAndStderrTail) {
    test::TempDir dir;
    const env::Prefix prefix = fake_interpreter(
        dir,
        "i=0\nwhile [ $i -lt 400 ]; do echo \"noise line $i\" >&2; i=$((i+1)); done\n"
        "echo 'ImportError: libcudnn.so.9: cannot open shared object file' >&2\nexit 1\n");
    const ProbeResult result = run_probe(prefix, k_path, 10s);
    EXPECT_FALSE(result.ran);
    EXPECT_EQ(result.error.rfind("exited with status 1: ", 0), 0U) << result.error;
    EXPECT_NE(result.error.find("ImportError: libcudnn.so.9: cannot open shared object file"),
              std::string::npos);
    EXPECT_EQ(result.error.find("noise line 1\n"), std::string::npos);  // only the tail is kept
    EXPECT_LT(result.error.size(), 2200U);
}

TEST(RunProbe, InterpreterKilledBySignalSaysSo) {
    test::TempDir dir;
    const env::Prefix prefix = fake_interpreter(dir, "kill -SEGV $$\n");
    const ProbeResult result = run_probe(prefix, k_path, 10s);
    EXPECT_FALSE(result.ran);
    EXPECT_EQ(result.error.rfind("killed by signal 11", 0), 0U) << result.error;
}

// ---- the real script under the real python3 -------------------------------------------------

constexpr std::string_view k_fake_torch = R"(import types
__version__ = "2.7.1+cu126"
version = types.SimpleNamespace(cuda="12.6")
def _capability(i):
    return (8 + i, 0)
cuda = types.SimpleNamespace(
    is_available=lambda: True,
    device_count=lambda: 2,
    get_arch_list=lambda: ["sm_80", "sm_90"],
    get_device_name=lambda i: "Fake GPU %d" % i,
    get_device_capability=_capability,
)
backends = types.SimpleNamespace(cudnn=types.SimpleNamespace(version=lambda: 90100))
)";

// A prefix whose bin/python is the system's python3, and a site directory for fake torches.
struct RealPython {
    test::TempDir dir;
    env::Prefix prefix;
    std::map<std::string, std::string> environment;

    RealPython() {
        fs::create_directories(dir / "env/bin");
        fs::create_symlink("/usr/bin/python3", dir / "env/bin/python");
        prefix.path = dir / "env";
        environment = {{"PATH", "/usr/bin:/bin"},
                       {"PYTHONPATH", (dir / "site").string()},
                       {"PYTHONNOUSERSITE", "1"}};
    }

    void plant_torch(std::string_view init) const {
        test::write_file(dir / "site/torch/__init__.py", init);
    }
};

TEST(RunProbe, RealScriptReadsAFakeTorch) {
    if (!fs::exists("/usr/bin/python3"))
        GTEST_SKIP() << "no /usr/bin/python3";
    const RealPython python;
    python.plant_torch(k_fake_torch);
    const ProbeResult result = run_probe(python.prefix, python.environment, 30s);
    ASSERT_TRUE(result.ran) << result.error;
    EXPECT_FALSE(result.python_version.empty());
    EXPECT_TRUE(result.torch_imported);
    EXPECT_EQ(result.torch_version, "2.7.1+cu126");
    EXPECT_EQ(result.cuda, "12.6");
    EXPECT_EQ(result.cuda_available, true);
    EXPECT_EQ(result.device_count, 2);
    EXPECT_EQ(result.cudnn_version, 90100);
    EXPECT_EQ(result.arch_list, (std::vector<std::string>{"sm_80", "sm_90"}));
    ASSERT_EQ(result.devices.size(), 2U);
    EXPECT_EQ(result.devices[1].name, "Fake GPU 1");
    EXPECT_EQ(result.devices[1].cc_major, 9);
    EXPECT_EQ(result.devices[1].cc_minor, 0);
}

TEST(RunProbe, RealScriptReportsTheImportError) {
    if (!fs::exists("/usr/bin/python3"))
        GTEST_SKIP() << "no /usr/bin/python3";
    const RealPython python;
    python.plant_torch("raise ImportError('libcudnn.so.9: cannot open shared object file')\n");
    const ProbeResult result = run_probe(python.prefix, python.environment, 30s);
    ASSERT_TRUE(result.ran) << result.error;
    EXPECT_FALSE(result.torch_imported);
    EXPECT_EQ(result.torch_error, "ImportError: libcudnn.so.9: cannot open shared object file");
    EXPECT_EQ(result.torch_version, "");
}

TEST(RunProbe, RealScriptKeepsWhatWorkedWhenACallRaises) {
    if (!fs::exists("/usr/bin/python3"))
        GTEST_SKIP() << "no /usr/bin/python3";
    const RealPython python;
    python.plant_torch(std::string(k_fake_torch) +
                       "def _broken():\n    raise RuntimeError('CUDA driver initialization "
                       "failed')\ncuda.is_available = _broken\nbackends = None\n"
                       "print('a stray print at import')\n");
    const ProbeResult result = run_probe(python.prefix, python.environment, 30s);
    ASSERT_TRUE(result.ran) << result.error;
    EXPECT_FALSE(result.cuda_available.has_value());
    EXPECT_FALSE(result.cudnn_version.has_value());
    EXPECT_EQ(result.torch_version, "2.7.1+cu126");
    EXPECT_EQ(result.device_count, 2);
    EXPECT_EQ(result.devices.size(), 2U);
    // What raised is kept, by the report's key, with the exception's type and text.
    EXPECT_EQ(result.call_errors.at("cuda_available"),
              "RuntimeError: CUDA driver initialization failed");
    EXPECT_TRUE(result.call_errors.at("cudnn_version").starts_with("AttributeError: "))
        << result.call_errors.at("cudnn_version");
    EXPECT_EQ(result.call_errors.size(), 2U);
}

TEST(RunProbe, RealScriptKeepsADevicesError) {
    if (!fs::exists("/usr/bin/python3"))
        GTEST_SKIP() << "no /usr/bin/python3";
    const RealPython python;
    python.plant_torch(std::string(k_fake_torch) +
                       "def _name(i):\n    if i == 1:\n        raise RuntimeError('device 1 is "
                       "lost')\n    return 'Fake GPU %d' % i\ncuda.get_device_name = _name\n");
    const ProbeResult result = run_probe(python.prefix, python.environment, 30s);
    ASSERT_TRUE(result.ran) << result.error;
    ASSERT_EQ(result.devices.size(), 2U);
    EXPECT_EQ(result.devices[0].error, "");
    EXPECT_EQ(result.devices[1].error, "RuntimeError: device 1 is lost");
    EXPECT_EQ(result.devices[1].cc_major, 9);  // the other call still answered
}

TEST(RunProbe, RealScriptIgnoresATorchInTheWorkingDirectory) {
    if (!fs::exists("/usr/bin/python3"))
        GTEST_SKIP() << "no /usr/bin/python3";
    const RealPython python;
    python.plant_torch(k_fake_torch);
    // sys.path[0] of `python -c` is the working directory; the probe drops it.
    const fs::path cwd = fs::current_path();
    test::TempDir work;
    test::write_file(work / "torch/__init__.py", "raise ImportError('shadowed by the cwd')\n");
    fs::current_path(work.path());
    const ProbeResult result = run_probe(python.prefix, python.environment, 30s);
    fs::current_path(cwd);
    ASSERT_TRUE(result.ran) << result.error;
    EXPECT_TRUE(result.torch_imported) << result.torch_error;
}

}  // namespace
}  // namespace gpuenv::core::doctor
