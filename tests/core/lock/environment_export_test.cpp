#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/lock/environment_export.hpp>
#include <gpuenv/util/error.hpp>
#include <support/conda_prefix_builder.hpp>
#include <support/python_dist_builder.hpp>
#include <support/run_gpuenv.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::lock {
namespace {

namespace fs = std::filesystem;
using test::CondaPackageSpec;
using test::CondaPrefixBuilder;
using test::PythonDistSpec;
using test::TempDir;

using Strings = std::vector<std::string>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

const std::string k_sp = "lib/python3.11/site-packages";
constexpr const char* k_python = "/usr/bin/python3";

LockedPackage conda(std::string name, std::string version, std::string build, std::string channel) {
    LockedPackage p;
    p.manager = Manager::conda;
    p.key = name;
    p.name = std::move(name);
    p.version = std::move(version);
    p.build = std::move(build);
    p.channel = std::move(channel);
    return p;
}

LockedPackage pypi(std::string name, std::string version, bool requested = false) {
    LockedPackage p;
    p.manager = Manager::pypi;
    p.name = std::move(name);
    p.version = std::move(version);
    p.requested = requested;
    return p;
}

// A small environment: two channels, conda packages out of order, pip distributions of every
// kind, variables.
LockedEnv sample_env() {
    LockedEnv env;
    env.name = "demo";
    env.channels = {"conda-forge", "pytorch", "conda-forge"};
    env.packages.push_back(conda("python", "3.11.9", "hb806964_0_cpython", "conda-forge"));
    env.packages.push_back(conda("numpy", "1.26.4", "py311h64a7726_0", "conda-forge"));
    env.packages.push_back(conda("pip", "24.0", "pyhd8ed1ab_0", "conda-forge"));
    env.packages.push_back(conda("pytorch", "2.5.1", "py3.11_cuda12.4_0", "pytorch"));
    env.packages.push_back(pypi("Requests", "2.32.3", true));
    env.packages.push_back(pypi("zope.interface", "6.4"));
    auto git = pypi("mylib", "0.1.0", true);
    git.direct_url = env::DirectUrl{env::DirectUrl::Kind::vcs,
                                    "https://github.com/me/mylib",
                                    false,
                                    "git",
                                    "0123abcd",
                                    "main",
                                    "",
                                    "src"};
    env.packages.push_back(git);
    auto wheel = pypi("tool", "1.0");
    wheel.direct_url = env::DirectUrl{env::DirectUrl::Kind::archive,
                                      "https://example.com/tool-1.0-py3-none-any.whl",
                                      false,
                                      "",
                                      "",
                                      "",
                                      "sha256=abcd",
                                      ""};
    env.packages.push_back(wheel);
    auto editable = pypi("dev-pkg", "0.0.1", true);
    editable.direct_url = env::DirectUrl{
        env::DirectUrl::Kind::dir, "file:///home/me/dev-pkg", true, "", "", "", "", ""};
    env.packages.push_back(editable);
    sort_packages(env.packages);
    env.env_vars = {{"CUDA_HOME", "/usr/local/cuda"}, {"MY_FLAG", "yes"}};
    return env;
}

spec::EnvironmentFile parse_yml(const std::string& text) {
    return spec::parse_environment_yml(text, "environment.yml",
                                       [](std::string_view) { return std::nullopt; });
}

Strings conda_specs(const spec::EnvironmentFile& file) {
    Strings out;
    for (const auto& dep : file.conda)
        out.push_back(dep.spec.str());
    return out;
}

Strings pip_lines(const spec::EnvironmentFile& file) {
    Strings out;
    for (const auto& dep : file.pip)
        out.push_back(dep.text);
    return out;
}

// Checks that gpuenv's reader gives back what was rendered.
void expect_round_trip(const ExportedEnv& exported) {
    const std::string text = render_environment_yml(exported);
    const auto file = parse_yml(text);
    EXPECT_EQ(file.name, exported.name) << text;
    EXPECT_EQ(file.channels, exported.channels) << text;
    EXPECT_EQ(conda_specs(file), exported.conda) << text;
    EXPECT_EQ(pip_lines(file), exported.pip) << text;
    EXPECT_EQ(file.variables, exported.variables) << text;
}

// Returns why PyYAML cannot be the oracle here, or "" when it can.
std::string pyyaml_missing() {
    if (!fs::exists(k_python))
        return std::string(k_python) + " is missing";
    if (test::run_command({k_python, "-c", "import yaml"}).exit_code != 0)
        return "python3-yaml is not installed";
    return "";
}

// Loads a rendered file with PyYAML's safe loader and returns it as JSON.
nlohmann::json load_with_pyyaml(const std::string& text) {
    TempDir dir;
    test::write_file(dir / "environment.yml", text);
    const auto result = test::run_command(
        {k_python, "-c",
         "import json, sys, yaml\n"
         "print(json.dumps(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))))\n",
         (dir / "environment.yml").string()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return nlohmann::json::parse(result.out);
}

// Installs a Python package as conda does: its dist-info on disk, owned by a record.
void add_conda_python(CondaPrefixBuilder& builder, CondaPackageSpec spec) {
    PythonDistSpec dist{spec.name, spec.version, "conda"};
    test::write_dist_info(builder.prefix() / k_sp, dist);
    for (const auto& f : test::dist_info_files(dist))
        spec.files.emplace_back(k_sp).append("/").append(f);
    builder.add_package(spec);
}

env::Inventory inventory_of(const fs::path& prefix) {
    return env::read_inventory(env::open_prefix(prefix));
}

}  // namespace

TEST(EnvironmentExport, PinnedExportListsEveryPackage) {
    const auto exported = export_pinned(sample_env());
    EXPECT_EQ(exported.name, "demo");
    EXPECT_EQ(exported.channels, (Strings{"conda-forge", "pytorch"}));
    EXPECT_EQ(exported.conda,
              (Strings{"numpy=1.26.4=py311h64a7726_0", "pip=24.0=pyhd8ed1ab_0",
                       "python=3.11.9=hb806964_0_cpython", "pytorch=2.5.1=py3.11_cuda12.4_0"}));
    EXPECT_EQ(exported.pip,
              (Strings{"-e file:///home/me/dev-pkg",
                       "mylib @ git+https://github.com/me/mylib@0123abcd#subdirectory=src",
                       "Requests==2.32.3",
                       "tool @ https://example.com/tool-1.0-py3-none-any.whl#sha256=abcd",
                       "zope.interface==6.4"}));
    EXPECT_EQ(exported.variables, (Pairs{{"CUDA_HOME", "/usr/local/cuda"}, {"MY_FLAG", "yes"}}));
}

TEST(EnvironmentExport, NoBuildsLeavesBuildStringsOut) {
    const auto exported = export_pinned(sample_env(), Builds::no);
    EXPECT_EQ(exported.conda,
              (Strings{"numpy=1.26.4", "pip=24.0", "python=3.11.9", "pytorch=2.5.1"}));
}

TEST(EnvironmentExport, RendersTheLayoutCondaEnvExportWrites) {
    const std::string text = render_environment_yml(export_pinned(sample_env()));
    EXPECT_EQ(text,
              "name: demo\n"
              "channels:\n"
              "  - conda-forge\n"
              "  - pytorch\n"
              "dependencies:\n"
              "  - numpy=1.26.4=py311h64a7726_0\n"
              "  - pip=24.0=pyhd8ed1ab_0\n"
              "  - python=3.11.9=hb806964_0_cpython\n"
              "  - pytorch=2.5.1=py3.11_cuda12.4_0\n"
              "  - pip:\n"
              "      - \"-e file:///home/me/dev-pkg\"\n"
              "      - \"mylib @ git+https://github.com/me/mylib@0123abcd#subdirectory=src\"\n"
              "      - Requests==2.32.3\n"
              "      - \"tool @ https://example.com/tool-1.0-py3-none-any.whl#sha256=abcd\"\n"
              "      - zope.interface==6.4\n"
              "variables:\n"
              "  CUDA_HOME: /usr/local/cuda\n"
              "  MY_FLAG: \"yes\"\n")
        << text;
}

TEST(EnvironmentExport, PinnedExportRoundTripsThroughTheReader) {
    expect_round_trip(export_pinned(sample_env()));
    expect_round_trip(export_pinned(sample_env(), Builds::no));
}

TEST(EnvironmentExport, EmptyEnvironmentRendersEmptyDependencies) {
    ExportedEnv empty;
    EXPECT_EQ(render_environment_yml(empty), "dependencies: []\n");
    expect_round_trip(empty);
}

TEST(EnvironmentExport, QuotesWhatYamlWouldMisread) {
    ExportedEnv env;
    env.name = "yes";
    env.channels = {"https://conda.example.com/x", "/opt/local-channel", "file:///srv/ch"};
    env.conda = {"numpy[version='>=1.21,<2']", "scipy >=1.10", "pkg 1.0.*|2.0", "4ti2=1.6.10=h0",
                 "numpy[build=py_0]"};
    env.pip = {"a-b==1.0; python_version < \"3.12\"", "c==1.0 ; os_name == 'nt'",
               "pkg @ https://h/x.whl#md5=00"};
    env.variables = {{"NO", "off"},          {"VERSION", "1.10"},  {"EMPTY", ""},
                     {"COLON", "a: b"},      {"HASH", "x #y"},     {"LEAD", " space"},
                     {"TAB", "a\tb"},        {"LINE", "one\ntwo"}, {"QUOTE", "say \"hi\" \\ ok"},
                     {"NULL", "null"},       {"TILDE", "~"},       {"STAR", "*ref"},
                     {"UTF8", "café ✓"},     {"CTRL", "\x01\x7f"}, {"INF", ".inf"},
                     {"DATE", "2001-12-14"}, {"END", "ends:"},     {"BRACKET", "[1, 2]"}};
    const std::string text = render_environment_yml(env);
    EXPECT_NE(text.find("name: \"yes\"\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  \"NO\": \"off\"\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  VERSION: \"1.10\"\n"), std::string::npos) << text;
    EXPECT_NE(text.find("  CTRL: \"\\x01\\x7F\"\n"), std::string::npos) << text;
    expect_round_trip(env);
    if (const auto why = pyyaml_missing(); !why.empty())
        GTEST_SKIP() << why;
    const auto doc = load_with_pyyaml(text);
    EXPECT_EQ(doc["name"], "yes");
    EXPECT_EQ(doc["channels"].get<Strings>(), env.channels);
    Strings deps;
    for (const auto& item : doc["dependencies"]) {
        if (item.is_string())
            deps.push_back(item.get<std::string>());
    }
    EXPECT_EQ(deps, env.conda);
    EXPECT_EQ(doc["dependencies"].back()["pip"].get<Strings>(), env.pip);
    for (const auto& [name, value] : env.variables)
        EXPECT_EQ(doc["variables"][name], value) << name;
}

TEST(EnvironmentExport, InvalidUtf8BecomesReplacementCharacter) {
    ExportedEnv env;
    env.variables = {{"BAD",
                      "a\xff"
                      "b"}};
    const std::string text = render_environment_yml(env);
    EXPECT_NE(text.find("BAD: \"a\\uFFFDb\""), std::string::npos) << text;
    const auto file = parse_yml(text);
    ASSERT_EQ(file.variables.size(), 1U);
    EXPECT_EQ(file.variables[0].second,
              "a\xEF\xBF\xBD"
              "b");
}

TEST(EnvironmentExport, PyYamlReadsThePinnedExport) {
    if (const auto why = pyyaml_missing(); !why.empty())
        GTEST_SKIP() << why;
    const auto exported = export_pinned(sample_env());
    const auto doc = load_with_pyyaml(render_environment_yml(exported));
    EXPECT_EQ(doc["name"], exported.name);
    EXPECT_EQ(doc["channels"].get<Strings>(), exported.channels);
    const auto& deps = doc["dependencies"];
    ASSERT_EQ(deps.size(), exported.conda.size() + 1);
    for (std::size_t i = 0; i < exported.conda.size(); ++i)
        EXPECT_EQ(deps[i], exported.conda[i]);
    EXPECT_EQ(deps.back()["pip"].get<Strings>(), exported.pip);
    EXPECT_EQ(doc["variables"]["MY_FLAG"], "yes");
}

TEST(EnvironmentExport, FromHistoryKeepsRequestedSpecsStillInstalled) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    add_conda_python(builder, {.name = "pip",
                               .version = "24.0",
                               .build = "pyhd8ed1ab_0",
                               .subdir = "noarch",
                               .noarch = "python"});
    builder.add_package({.name = "python", .version = "3.11.9", .build = "hb806964_0_cpython"});
    builder.add_package({.name = "numpy", .version = "1.26.4"});
    builder.add_package({.name = "pytorch", .version = "2.5.1", .channel = "pytorch"});
    builder.add_package({.name = "libzlib", .version = "1.3.1"});
    builder.add_history_line("==> 2025-01-01 10:00:00 <==");
    builder.add_history_line("# cmd: conda create -n env -c conda-forge python=3.11 numpy scipy");
    builder.add_history_line("# conda version: 25.1.2");
    builder.add_history_line("+conda-forge/linux-64::python-3.11.9-hb806964_0_cpython");
    builder.add_history_line("# update specs: ['python=3.11', 'numpy', 'scipy']");
    builder.add_history_line("==> 2025-01-02 10:00:00 <==");
    builder.add_history_line("# cmd: conda install pytorch::pytorch>=2.5 numpy>=1.26");
    builder.add_history_line("# update specs: ['pytorch::pytorch>=2.5', 'numpy>=1.26']");
    // Installed by pip: one on request, one as a dependency.
    test::write_dist_info(dir / "env" / k_sp,
                          {.name = "Requests", .version = "2.32.3", .requested = true});
    test::write_dist_info(dir / "env" / k_sp, {.name = "urllib3", .version = "2.2.2"});
    test::write_file(dir / "env/conda-meta/state", R"({"env_vars": {"MY_VAR": "1"}})");

    const auto inventory = inventory_of(builder.prefix());
    auto locked = lock_from_inventory(inventory, HashRecords::no);
    locked.name = "env";
    const auto history = env::read_history(builder.prefix());
    const auto exported = export_from_history(inventory, history, locked);
    EXPECT_EQ(exported.name, "env");
    // scipy was asked for but is not installed: conda leaves it out too.
    EXPECT_EQ(exported.conda,
              (Strings{"numpy>=1.26", "pip", "python=3.11", "pytorch::pytorch>=2.5"}));
    EXPECT_EQ(exported.channels, (Strings{"conda-forge", "pytorch"}));
    EXPECT_EQ(exported.pip, Strings{"Requests==2.32.3"});
    EXPECT_EQ(exported.variables, (Pairs{{"MY_VAR", "1"}}));
    expect_round_trip(exported);
}

TEST(EnvironmentExport, FromHistoryWithoutPipDistributionsAddsNoPip) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    builder.add_package({.name = "pip", .version = "24.0", .subdir = "noarch"});
    builder.add_package({.name = "zlib", .version = "1.3.1", .channel = "https://my.host/ch"});
    builder.add_history_line("==> 2025-01-01 10:00:00 <==");
    builder.add_history_line("# cmd: micromamba install zlib");
    builder.add_history_line("# update specs: [\"zlib\"]");
    const auto inventory = inventory_of(builder.prefix());
    const auto locked = lock_from_inventory(inventory, HashRecords::no);
    const auto exported =
        export_from_history(inventory, env::read_history(builder.prefix()), locked);
    EXPECT_EQ(exported.conda, Strings{"zlib"});
    EXPECT_EQ(exported.channels, Strings{"https://my.host/ch"});
    EXPECT_TRUE(exported.pip.empty());
}

TEST(EnvironmentExport, FromHistoryOfAVenvListsRequestedDistributions) {
    TempDir dir;
    test::write_file(dir / "venv/pyvenv.cfg", "home = /usr/bin\n");
    test::write_dist_info(dir / "venv" / k_sp, {.name = "pip", .version = "24.0"});
    test::write_dist_info(dir / "venv" / k_sp,
                          {.name = "torch", .version = "2.5.1", .requested = true});
    test::write_dist_info(dir / "venv" / k_sp,
                          {.name = "Flask", .version = "3.0.3", .requested = true});
    const auto inventory = inventory_of(dir / "venv");
    const auto locked = lock_from_inventory(inventory, HashRecords::no);
    const auto exported = export_from_history(inventory, env::read_history(dir / "venv"), locked);
    EXPECT_TRUE(exported.conda.empty());
    EXPECT_TRUE(exported.channels.empty());
    EXPECT_EQ(exported.pip, (Strings{"Flask==3.0.3", "torch==2.5.1"}));
    expect_round_trip(exported);
}

TEST(EnvironmentExport, FromHistoryFallsBackToRecordsWhenThereIsNoHistory) {
    // pixi and rattler leave conda-meta/history empty and record requested specs instead.
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env", test::CondaWriter::rattler);
    builder.add_package({.name = "python", .version = "3.12.4", .requested = true});
    builder.add_package({.name = "libffi", .version = "3.4.2"});
    const auto inventory = inventory_of(builder.prefix());
    const auto locked = lock_from_inventory(inventory, HashRecords::no);
    const auto exported =
        export_from_history(inventory, env::read_history(builder.prefix()), locked);
    EXPECT_EQ(exported.conda, Strings{"python"});
    EXPECT_EQ(exported.channels, Strings{"conda-forge"});
}

TEST(EnvironmentExport, PinnedFileBecomesALockedEnv) {
    const auto file = parse_yml(
        "name: gpu\n"
        "channels:\n  - conda-forge\n"
        "dependencies:\n"
        "  - conda-forge::python=3.11.9=hb806964_0_cpython\n"
        "  - numpy==1.26.4\n"
        "  - zlib 1.3.1 h4ab18f5_1\n"
        "  - pip=24.0\n"
        "  - pip:\n"
        "      - Requests==2.32.3\n"
        "      - mylib @ git+https://github.com/me/mylib@0123abcd#subdirectory=src\n"
        "      - -e ./local\n"
        "variables:\n  my_var: x\n  PATH: /bad\n");
    const auto env = locked_env_from_environment_yml(file);
    EXPECT_EQ(env.name, "gpu");
    EXPECT_EQ(env.platform, "");
    EXPECT_EQ(env.channels, Strings{"conda-forge"});
    ASSERT_EQ(env.packages.size(), 6U);
    const auto& mylib = env.packages[0];
    EXPECT_EQ(mylib.manager, Manager::pypi);
    EXPECT_EQ(mylib.key, "mylib");
    ASSERT_TRUE(mylib.direct_url.has_value());
    EXPECT_EQ(mylib.direct_url->kind, env::DirectUrl::Kind::vcs);
    EXPECT_EQ(mylib.direct_url->vcs, "git");
    EXPECT_EQ(mylib.direct_url->url, "https://github.com/me/mylib");
    EXPECT_EQ(mylib.direct_url->commit_id, "0123abcd");
    EXPECT_EQ(mylib.direct_url->subdirectory, "src");
    EXPECT_EQ(env.packages[1].name, "numpy");
    EXPECT_EQ(env.packages[1].version, "1.26.4");
    EXPECT_EQ(env.packages[1].build, "");
    EXPECT_EQ(env.packages[2].name, "pip");
    EXPECT_EQ(env.packages[2].version, "24.0");
    EXPECT_EQ(env.packages[3].name, "python");
    EXPECT_EQ(env.packages[3].build, "hb806964_0_cpython");
    EXPECT_EQ(env.packages[3].channel, "conda-forge");
    EXPECT_EQ(env.packages[4].key, "requests");
    EXPECT_EQ(env.packages[4].version, "2.32.3");
    EXPECT_EQ(env.packages[4].manager, Manager::pypi);
    EXPECT_EQ(env.packages[5].build, "h4ab18f5_1");
    EXPECT_FALSE(env.fields.build);
    EXPECT_FALSE(env.fields.channel);
    EXPECT_FALSE(env.fields.installer);
    EXPECT_FALSE(env.fields.hashes);
    EXPECT_TRUE(env.fields.env_vars);
    EXPECT_EQ(env.env_vars, (std::map<std::string, std::string>{{"MY_VAR", "x"}}));
    ASSERT_EQ(env.warnings.size(), 2U);
    EXPECT_EQ(env.warnings[0].line, 12);  // -e ./local
    EXPECT_NE(env.warnings[1].message.find("PATH"), std::string::npos);
    EXPECT_EQ(env.warnings[1].path, "environment.yml");
}

TEST(EnvironmentExport, FieldsSayWhatEveryCondaSpecCarries) {
    const auto file = parse_yml(
        "dependencies:\n"
        "  - conda-forge::python=3.11.9=hb806964_0_cpython\n"
        "  - conda-forge/linux-64::numpy==1.26.4=py311h64a7726_0\n");
    const auto env = locked_env_from_environment_yml(file);
    EXPECT_TRUE(env.fields.build);
    EXPECT_TRUE(env.fields.channel);
    EXPECT_EQ(env.channels, Strings{"conda-forge"});
    EXPECT_EQ(env.packages[0].subdir, "linux-64");
}

TEST(EnvironmentExport, UnpinnedCondaSpecIsAnErrorNamingFileAndLine) {
    for (const std::string spec :
         {"numpy", "numpy>=1.26", "numpy 1.26.*", "numpy=1.26,<2", "*=1.0=0"}) {
        const auto file = parse_yml("dependencies:\n  - python==3.11.9\n  - \"" + spec + "\"\n");
        try {
            (void)locked_env_from_environment_yml(file);
            ADD_FAILURE() << spec << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ExitCode::not_found);
            EXPECT_EQ(std::string(e.what()).rfind("environment.yml:3: ", 0), 0U) << e.what();
        }
    }
}

TEST(EnvironmentExport, UnpinnedPipRequirementIsAnErrorNamingFileAndLine) {
    for (const std::string line : {"requests", "requests>=2", "requests==2.*", "requests>=2,<3"}) {
        const auto file =
            parse_yml("dependencies:\n  - pip==24.0\n  - pip:\n      - " + line + "\n");
        try {
            (void)locked_env_from_environment_yml(file);
            ADD_FAILURE() << line << " was accepted";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("environment.yml:4: "), std::string::npos)
                << e.what();
            EXPECT_NE(std::string(e.what()).find("name==version"), std::string::npos);
        }
    }
}

TEST(EnvironmentExport, PinnedExportRoundTripsToTheSamePackages) {
    const auto original = sample_env();
    const auto file = parse_yml(render_environment_yml(export_pinned(original)));
    const auto env = locked_env_from_environment_yml(file);
    // The editable line is left out (a warning); everything else comes back.
    ASSERT_EQ(env.packages.size(), original.packages.size() - 1);
    ASSERT_EQ(env.warnings.size(), 1U);
    std::size_t j = 0;
    for (const auto& p : original.packages) {
        if (p.direct_url && p.direct_url->editable)
            continue;
        const auto& q = env.packages[j++];
        EXPECT_EQ(q.manager, p.manager) << p.name;
        EXPECT_EQ(q.name, p.name);
        EXPECT_EQ(q.build, p.build);
        if (!p.direct_url) {
            EXPECT_EQ(q.version, p.version) << p.name;
        }
        EXPECT_EQ(q.direct_url.has_value(), p.direct_url.has_value()) << p.name;
        if (p.direct_url && q.direct_url) {
            EXPECT_EQ(q.direct_url->url, p.direct_url->url);
            EXPECT_EQ(q.direct_url->kind, p.direct_url->kind);
            EXPECT_EQ(q.direct_url->archive_hash, p.direct_url->archive_hash);
        }
    }
    EXPECT_EQ(env.env_vars, original.env_vars);
    EXPECT_TRUE(env.fields.build);
}

}  // namespace gpuenv::core::lock
