#include <gpuenv/core/doctor/doctor.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include <support/temp_dir.hpp>

namespace gpuenv::core::doctor {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

DoctorReport scan(const std::vector<fs::path>& dirs) {
    DoctorInput input;
    input.scan_dirs = dirs;
    DoctorReport report;
    check_sources(input, report);
    return report;
}

// Writes one file and scans its directory.
DoctorReport scan_one(const test::TempDir& dir, const std::string& name, const std::string& text) {
    test::write_file(dir / name, text);
    return scan({dir.path()});
}

DoctorReport scan_python(const std::string& text) {
    const test::TempDir dir;
    return scan_one(dir, "train.py", text);
}

// Returns a notebook whose cells are code cells with these sources (a "# md" source makes a
// markdown cell); sources are written as lists of lines, as Jupyter does.
std::string notebook(const std::vector<std::string>& cells) {
    Json doc = {{"nbformat", 4}, {"nbformat_minor", 5}, {"metadata", Json::object()}};
    doc["cells"] = Json::array();
    for (const std::string& source : cells) {
        Json lines = Json::array();
        std::size_t start = 0;
        while (start < source.size()) {
            const auto end = source.find('\n', start);
            const auto stop = end == std::string::npos ? source.size() : end + 1;
            lines.push_back(source.substr(start, stop - start));
            start = stop;
        }
        const bool markdown = source.starts_with("# md");
        Json cell = {{"cell_type", markdown ? "markdown" : "code"},
                     {"metadata", Json::object()},
                     {"source", lines}};
        if (!markdown) {
            cell["outputs"] = Json::array();
            cell["execution_count"] = nullptr;
        }
        doc["cells"].push_back(cell);
    }
    return doc.dump(1);
}

bool contains(const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
        return line.find(text) != std::string::npos;
    });
}

// Expects one warning-level finding for train.py whose evidence quotes `line`.
void expect_late(const DoctorReport& report, const std::string& line) {
    ASSERT_EQ(report.findings.size(), 1u) << line;
    const DoctorFinding& finding = report.findings[0];
    EXPECT_EQ(finding.rule, "late_cuda_visible_devices");
    EXPECT_EQ(finding.severity, Severity::warning);
    EXPECT_TRUE(contains(finding.evidence, line)) << line;
    EXPECT_TRUE(report.warnings.empty());
}

// ---- positives: each way of setting the variable ----------------------------------------------

TEST(CheckSources, FindsAnAssignmentAfterImportingTorch) {
    const test::TempDir dir;
    const DoctorReport report = scan_one(dir, "train.py",
                                         "import os\n"
                                         "import torch\n"
                                         "\n"
                                         "os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n"
                                         "model = build()\n");
    ASSERT_EQ(report.findings.size(), 1u);
    const DoctorFinding& finding = report.findings[0];
    const std::string path = (dir / "train.py").string();
    EXPECT_EQ(finding.rule, "late_cuda_visible_devices");
    EXPECT_EQ(finding.severity, Severity::warning);
    EXPECT_EQ(finding.title, path +
                                 " sets CUDA_VISIBLE_DEVICES at line 4, after torch is imported "
                                 "(line 2); it takes effect only if no CUDA call ran before it");
    EXPECT_EQ(finding.evidence, (std::vector<std::string>{
                                    path + ":2: import torch",
                                    path + ":4: os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\""}));
    EXPECT_NE(finding.fix.find("CUDA_VISIBLE_DEVICES=1 python " + path), std::string::npos);
    EXPECT_NE(finding.fix.find("gpuenv run -p PREFIX --gpu 1 -- python " + path),
              std::string::npos);
    EXPECT_NE(finding.fix.find("gpuenv bind"), std::string::npos);
}

TEST(CheckSources, FindsEachFormOfAssignment) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"import torch\nimport os\nos.environ['CUDA_VISIBLE_DEVICES']='0'\n",
         "os.environ['CUDA_VISIBLE_DEVICES']='0'"},
        {"import torch\nfrom os import environ\nenviron[\"CUDA_VISIBLE_DEVICES\"] = \"2\"\n",
         "environ[\"CUDA_VISIBLE_DEVICES\"] = \"2\""},
        {"import torch, os\nos.environ.setdefault(\"CUDA_VISIBLE_DEVICES\", \"0\")\n",
         "os.environ.setdefault"},
        {"import torch, os\nos.environ.update({\n    \"A\": \"1\",\n    \"CUDA_VISIBLE_DEVICES\": "
         "\"0\",\n})\n",
         ":2: os.environ.update({"},
        {"import torch, os\nos.environ.update(CUDA_VISIBLE_DEVICES=\"0,1\")\n",
         "os.environ.update(CUDA_VISIBLE_DEVICES"},
        {"import torch, os\nos.environ |= {\"CUDA_VISIBLE_DEVICES\": \"3\"}\n", "os.environ |="},
        {"import torch, os\nos.putenv(\"CUDA_VISIBLE_DEVICES\", \"1\")\n", "os.putenv"},
        {"import torch\nget_ipython().run_line_magic('env', 'CUDA_VISIBLE_DEVICES=1')\n",
         "run_line_magic"},
        {"import torch\nos.environ[\"CUDA_VISIBLE_DEVICES\"] = args.gpus\n", "args.gpus"},
    };
    for (const auto& [text, line] : cases)
        expect_late(scan_python(text), line);
}

TEST(CheckSources, FindsEachFormOfImport) {
    const std::string set = "os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n";
    for (const std::string import :
         {"import numpy, torch", "import numpy as np, torch as th", "import torch.nn as nn",
          "from torch.utils.data import DataLoader", "from torch import (\n    nn,\n)",
          "import torchvision", "if True: import torch"}) {
        const DoctorReport report = scan_python("import os\n" + import + "\n" + set);
        ASSERT_EQ(report.findings.size(), 1u) << import;
        EXPECT_EQ(report.findings[0].severity, Severity::warning);
    }
    const DoctorReport vision = scan_python("import os\nimport torchvision\n" + set);
    ASSERT_EQ(vision.findings.size(), 1u);
    EXPECT_NE(vision.findings[0].title.find("after torchvision imports torch (line 2)"),
              std::string::npos);
}

TEST(CheckSources, FindsAnAssignmentInsideMain) {
    expect_late(scan_python("import os\n"
                            "import torch\n"
                            "\n"
                            "def main(gpu):\n"
                            "    os.environ[\"CUDA_VISIBLE_DEVICES\"] = gpu\n"
                            "\n"
                            "if __name__ == \"__main__\":\n"
                            "    main(\"1\")\n"),
                "train.py:5:");
}

// ---- errors: a CUDA call between the import and the assignment --------------------------------

TEST(CheckSources, CallsItTooLateAfterACudaCall) {
    const test::TempDir dir;
    const DoctorReport report = scan_one(dir, "train.py",
                                         "import os\n"
                                         "import torch\n"
                                         "print(torch.cuda.device_count())\n"
                                         "os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n");
    ASSERT_EQ(report.findings.size(), 1u);
    const DoctorFinding& finding = report.findings[0];
    const std::string path = (dir / "train.py").string();
    EXPECT_EQ(finding.severity, Severity::error);
    EXPECT_EQ(finding.title, path +
                                 " sets CUDA_VISIBLE_DEVICES at line 4 too late: CUDA is "
                                 "initialised by the call at line 3 and reads the variable only "
                                 "then");
    EXPECT_EQ(finding.evidence,
              (std::vector<std::string>{
                  path + ":2: import torch", path + ":3: print(torch.cuda.device_count())",
                  path + ":4: os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\""}));
}

TEST(CheckSources, RecognisesEachKindOfCudaCall) {
    const std::string set = "os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n";
    for (const std::string call :
         {"device = \"cuda\" if torch.cuda.is_available() else \"cpu\"", "model = Net().cuda()",
          "x = x.to(\"cuda:0\")", "x = torch.zeros(3, device=\"cuda\")",
          "torch.cuda.set_device(0)"}) {
        const DoctorReport report = scan_python("import os, torch\n" + call + "\n" + set);
        ASSERT_EQ(report.findings.size(), 1u) << call;
        EXPECT_EQ(report.findings[0].severity, Severity::error) << call;
    }
    const DoctorReport alias = scan_python("import os\nimport torch as th\nth.cuda.init()\n" + set);
    ASSERT_EQ(alias.findings.size(), 1u);
    EXPECT_EQ(alias.findings[0].severity, Severity::error);
    const DoctorReport module =
        scan_python("import os\nfrom torch import cuda\ncuda.init()\n" + set);
    ASSERT_EQ(module.findings.size(), 1u);
    EXPECT_EQ(module.findings[0].severity, Severity::error);
}

TEST(CheckSources, DoesNotCountCallsThatDoNotInitialiseCuda) {
    const std::string set = "os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n";
    for (const std::string line : {"device = \"cuda\"", "device = torch.device(\"cuda\")",
                                   "torch.backends.cudnn.benchmark = True", "# model.cuda()"}) {
        const DoctorReport report = scan_python("import os, torch\n" + line + "\n" + set);
        ASSERT_EQ(report.findings.size(), 1u) << line;
        EXPECT_EQ(report.findings[0].severity, Severity::warning) << line;
    }
}

TEST(CheckSources, IgnoresCudaCallsInOtherFunctions) {
    // build() has not run when the assignment runs; main()'s own call has.
    const std::string head =
        "import os\n"
        "import torch\n"
        "\n"
        "def build():\n"
        "    return Net().cuda()\n"
        "\n";
    EXPECT_EQ(scan_python(head + "os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n")
                  .findings.at(0)
                  .severity,
              Severity::warning);
    EXPECT_EQ(scan_python(head + "def main():\n"
                                 "    n = torch.cuda.device_count()\n"
                                 "    os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n")
                  .findings.at(0)
                  .severity,
              Severity::error);
}

TEST(CheckSources, PrefersTheAssignmentAfterACudaCall) {
    const test::TempDir dir;
    const DoctorReport report = scan_one(dir, "train.py",
                                         "import os, torch\n"
                                         "os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"0\"\n"
                                         "model = Net().cuda()\n"
                                         "os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n");
    ASSERT_EQ(report.findings.size(), 1u);
    const DoctorFinding& finding = report.findings[0];
    const std::string path = (dir / "train.py").string();
    EXPECT_EQ(finding.severity, Severity::error);
    EXPECT_NE(finding.title.find("at line 4 too late"), std::string::npos);
    EXPECT_EQ(finding.evidence.back(), path + ":2: os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"0\"");
}

// ---- negatives ------------------------------------------------------------------------------

TEST(CheckSources, AcceptsHealthySources) {
    for (const std::string text : {
             // set before the import
             "import os\nos.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\nimport torch\n",
             // a comment
             "import os, torch\n# os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n",
             "import os, torch  # then os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n",
             // a docstring and string literals
             "import os, torch\n\"\"\"Usage:\n    os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n"
             "\"\"\"\n",
             "import os, torch\nprint('os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"')\n",
             "import os, torch\nhelp = f\"\"\"set os.environ['CUDA_VISIBLE_DEVICES'] = '1'\"\"\"\n",
             // another variable, a read, a comparison
             "import os, torch\nos.environ[\"CUDA_DEVICE_ORDER\"] = \"PCI_BUS_ID\"\n",
             "import os, torch\ngpus = os.environ[\"CUDA_VISIBLE_DEVICES\"]\n",
             "import os, torch\nif os.environ[\"CUDA_VISIBLE_DEVICES\"] == \"1\": pass\n",
             "import os, torch\nos.environ.get(\"CUDA_VISIBLE_DEVICES\", \"0\")\n",
             // no torch
             "import os\nimport numpy\nos.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n",
             "import os\nimport torchmetrics_like\nos.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n",
             // torch imported only inside a function that runs after the assignment
             "import os\n\ndef main():\n    import torch\n\nif __name__ == \"__main__\":\n"
             "    os.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n    main()\n",
             // `import` inside a string, an attribute named like the variable
             "import os\nx = 'import torch'\nos.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n",
         }) {
        const DoctorReport report = scan_python(text);
        EXPECT_TRUE(report.findings.empty()) << text;
        EXPECT_TRUE(report.warnings.empty()) << text;
    }
}

TEST(CheckSources, ScansNothingWithoutScanDirs) {
    DoctorReport report;
    check_sources(DoctorInput{}, report);
    EXPECT_TRUE(report.findings.empty());
    EXPECT_TRUE(report.warnings.empty());
}

// ---- notebooks --------------------------------------------------------------------------------

TEST(CheckSources, FindsAnAssignmentInALaterCell) {
    const test::TempDir dir;
    const DoctorReport report =
        scan_one(dir, "explore.ipynb",
                 notebook({"import os\nimport torch\n", "# md: pick a GPU",
                           "x = 1\nos.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\"\n"}));
    ASSERT_EQ(report.findings.size(), 1u);
    const DoctorFinding& finding = report.findings[0];
    const std::string path = (dir / "explore.ipynb").string();
    EXPECT_EQ(finding.severity, Severity::warning);
    EXPECT_NE(finding.title.find("at cell 3, line 2, after torch is imported (cell 1, line 2)"),
              std::string::npos);
    EXPECT_EQ(finding.evidence,
              (std::vector<std::string>{
                  path + ": cell 1, line 2 (code line 2): import torch",
                  path + ": cell 3, line 2 (code line 4): os.environ[\"CUDA_VISIBLE_DEVICES\"] "
                         "= \"1\""}));
    EXPECT_NE(finding.fix.find("%env CUDA_VISIBLE_DEVICES=1"), std::string::npos);
    EXPECT_NE(finding.fix.find("restart the kernel"), std::string::npos);
}

TEST(CheckSources, FindsEnvMagics) {
    for (const std::string magic :
         {"%env CUDA_VISIBLE_DEVICES=1", "%env CUDA_VISIBLE_DEVICES 1",
          "  %env CUDA_VISIBLE_DEVICES = 1", "%set_env CUDA_VISIBLE_DEVICES 1"}) {
        const test::TempDir dir;
        const DoctorReport report =
            scan_one(dir, "nb.ipynb", notebook({"import torch", "print(1)\n" + magic + "\nx = 2"}));
        ASSERT_EQ(report.findings.size(), 1u) << magic;
        EXPECT_TRUE(contains(report.findings[0].evidence, ": cell 2, line 2 (code line 3): "))
            << magic;
    }
}

TEST(CheckSources, FindsAMagicAfterACudaCallInANotebook) {
    const test::TempDir dir;
    const DoctorReport report = scan_one(
        dir, "nb.ipynb",
        notebook({"import torch\ntorch.cuda.is_available()", "%env CUDA_VISIBLE_DEVICES=1"}));
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_EQ(report.findings[0].severity, Severity::error);
    EXPECT_NE(report.findings[0].title.find("initialised by the call at cell 1, line 2"),
              std::string::npos);
}

TEST(CheckSources, AcceptsHealthyNotebooks) {
    for (const std::vector<std::string>& cells : std::vector<std::vector<std::string>>{
             {"%env CUDA_VISIBLE_DEVICES=1", "import torch"},
             {"import torch", "%env CUDA_VISIBLE_DEVICES"},
             {"import torch", "%env CUDA_DEVICE_ORDER=PCI_BUS_ID"},
             {"import torch", "!CUDA_VISIBLE_DEVICES=1 python train.py"},
             {"import torch", "%%bash\nexport CUDA_VISIBLE_DEVICES=1"},
             {"import torch",
              "%%writefile train.py\nimport os\nos.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\""},
             {"import torch", "# md\nos.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\""},
         }) {
        const test::TempDir dir;
        const DoctorReport report = scan_one(dir, "nb.ipynb", notebook(cells));
        EXPECT_TRUE(report.findings.empty()) << cells.back();
        EXPECT_TRUE(report.warnings.empty()) << cells.back();
    }
}

TEST(CheckSources, RunsPythonCellMagics) {
    const test::TempDir dir;
    const DoctorReport report = scan_one(
        dir, "nb.ipynb",
        notebook({"import torch", "%%time\nos.environ[\"CUDA_VISIBLE_DEVICES\"] = \"1\""}));
    EXPECT_EQ(report.findings.size(), 1u);
}

TEST(CheckSources, ReadsSourcesWrittenAsOneString) {
    const test::TempDir dir;
    const Json doc = {
        {"nbformat", 4},
        {"cells",
         {{{"cell_type", "code"}, {"source", "import torch\nimport os"}},
          {{"cell_type", "code"}, {"source", "os.environ['CUDA_VISIBLE_DEVICES'] = '0'"}}}}};
    const DoctorReport report = scan_one(dir, "nb.ipynb", doc.dump());
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_TRUE(contains(report.findings[0].evidence, ": cell 2, line 1 (code line 3): "));
}

TEST(CheckSources, WarnsAboutInvalidNotebooks) {
    const test::TempDir dir;
    // Only files that name the variable are parsed.
    test::write_file(dir / "broken.ipynb", "{\n  \"cells\": [\n    {,\n CUDA_VISIBLE_DEVICES");
    test::write_file(dir / "list.ipynb", "[\"CUDA_VISIBLE_DEVICES\"]");
    test::write_file(dir / "other.ipynb", "{,");
    test::write_file(dir / "train.py",
                     "import torch, os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\n");
    const DoctorReport report = scan({dir.path()});
    EXPECT_EQ(report.findings.size(), 1u);  // the rest is still scanned
    ASSERT_EQ(report.warnings.size(), 2u);
    EXPECT_EQ(report.warnings[0].path, (dir / "broken.ipynb").string());
    EXPECT_EQ(report.warnings[0].line, 3);
    EXPECT_EQ(report.warnings[0].column, 6);
    EXPECT_EQ(report.warnings[0].message,
              "not a valid notebook: expected a key in double quotes, found ','");
    EXPECT_EQ(report.warnings[1].path, (dir / "list.ipynb").string());
    EXPECT_EQ(report.warnings[1].message, "not a notebook: no \"cells\" list");
}

// ---- the walk ---------------------------------------------------------------------------------

TEST(CheckSources, WalksSubdirectoriesInOrder) {
    const test::TempDir dir;
    const std::string late = "import torch, os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\n";
    test::write_file(dir / "b/train.py", late);
    test::write_file(dir / "a/deep/er/eval.py", late);
    test::write_file(dir / "a/notes.txt", late);
    const DoctorReport report = scan({dir.path()});
    ASSERT_EQ(report.findings.size(), 2u);
    EXPECT_EQ(report.findings[0].evidence[0].rfind((dir / "a/deep/er/eval.py").string(), 0), 0u);
    EXPECT_EQ(report.findings[1].evidence[0].rfind((dir / "b/train.py").string(), 0), 0u);
}

TEST(CheckSources, SkipsToolAndHiddenDirectories) {
    const test::TempDir dir;
    const std::string late = "import torch, os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\n";
    for (const char* skipped :
         {".git/hook.py", "__pycache__/x.py", "node_modules/x.py", ".ipynb_checkpoints/x.py",
          ".venv/lib/x.py", "env/lib/python3.11/site-packages/x.py"})
        test::write_file(dir / "src" / skipped, late);
    test::write_file(dir / "elsewhere/train.py", late);
    fs::create_directory_symlink(dir / "elsewhere", dir / "src/linked");
    const DoctorReport report = scan({dir / "src"});
    EXPECT_TRUE(report.findings.empty());
    EXPECT_TRUE(report.warnings.empty());
}

TEST(CheckSources, FollowsSymlinkedFiles) {
    const test::TempDir dir;
    test::write_file(dir / "elsewhere/train.py",
                     "import torch, os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\n");
    fs::create_directories(dir / "src");
    fs::create_symlink(dir / "elsewhere/train.py", dir / "src/train.py");
    EXPECT_EQ(scan({dir / "src"}).findings.size(), 1u);
}

TEST(CheckSources, ScansAFileNamedDirectlyAndOnlyOnce) {
    const test::TempDir dir;
    test::write_file(dir / "run_job",
                     "import torch, os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\n");
    test::write_file(dir / "train.py",
                     "import torch, os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\n");
    EXPECT_EQ(scan({dir / "run_job"}).findings.size(), 1u);
    EXPECT_EQ(scan({dir.path(), dir / "train.py", dir / "."}).findings.size(), 1u);
}

TEST(CheckSources, SkipsLargeFilesWithAWarning) {
    const test::TempDir dir;
    std::string big = "import torch, os\nos.environ['CUDA_VISIBLE_DEVICES'] = '0'\n";
    big.append(std::size_t{5} << 20u, '#');
    test::write_file(dir / "generated.py", big);
    const DoctorReport report = scan({dir.path()});
    EXPECT_TRUE(report.findings.empty());
    ASSERT_EQ(report.warnings.size(), 1u);
    EXPECT_EQ(report.warnings[0].message, "not scanned: larger than 4 MiB");
}

TEST(CheckSources, WarnsAboutWhatItCannotRead) {
    const test::TempDir dir;
    const DoctorReport missing = scan({dir / "nowhere"});
    ASSERT_EQ(missing.warnings.size(), 1u);
    EXPECT_EQ(missing.warnings[0].path, (dir / "nowhere").string());
    EXPECT_EQ(missing.warnings[0].message, "cannot scan: No such file or directory");

    ASSERT_EQ(::mkfifo((dir / "pipe").c_str(), 0600), 0);
    const DoctorReport fifo = scan({dir / "pipe"});
    ASSERT_EQ(fifo.warnings.size(), 1u);
    EXPECT_EQ(fifo.warnings[0].message, "cannot scan: not a file or directory");
    fs::remove(dir / "pipe");

    if (::geteuid() == 0)
        GTEST_SKIP() << "root reads files whatever their mode";
    test::write_file(dir / "secret.py", "import torch\n");
    fs::permissions(dir / "secret.py", fs::perms::none);
    test::write_file(dir / "closed/x.py", "import torch\n");
    fs::permissions(dir / "closed", fs::perms::none);
    const DoctorReport report = scan({dir.path()});
    ASSERT_EQ(report.warnings.size(), 2u);
    EXPECT_EQ(report.warnings[0].path, (dir / "closed").string());
    EXPECT_NE(report.warnings[0].message.find("cannot list"), std::string::npos);
    EXPECT_EQ(report.warnings[1].path, (dir / "secret.py").string());
    EXPECT_EQ(report.warnings[1].message, "cannot read: Permission denied");
}

TEST(CheckSources, ReportsOneFindingPerFileWithEveryLateAssignment) {
    const test::TempDir dir;
    const DoctorReport report = scan_one(dir, "train.py",
                                         "import torch, os\n"
                                         "os.environ['CUDA_VISIBLE_DEVICES'] = '0'\n"
                                         "os.putenv('CUDA_VISIBLE_DEVICES', '0')\n");
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_EQ(report.findings[0].evidence.size(), 3u);
    EXPECT_TRUE(contains(report.findings[0].evidence, ":3: os.putenv"));
}

TEST(CheckSources, KeepsLineNumbersAcrossContinuationsAndStrings) {
    const test::TempDir dir;
    const DoctorReport report = scan_one(dir, "train.py",
                                         "import os, \\\n"
                                         "    torch\n"
                                         "DOC = '''\n"
                                         "line\n"
                                         "'''\n"
                                         "x = (1,\n"
                                         "     2)\n"
                                         "os.environ['CUDA_VISIBLE_DEVICES'] = '0'\n");
    ASSERT_EQ(report.findings.size(), 1u);
    EXPECT_TRUE(contains(report.findings[0].evidence, "train.py:8: os.environ"));
}

}  // namespace
}  // namespace gpuenv::core::doctor
