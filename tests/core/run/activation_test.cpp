#include <gtest/gtest.h>

#include <algorithm>

#include <gpuenv/core/env/prefix.hpp>
#include <gpuenv/core/run/activation.hpp>
#include <support/run_gpuenv.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::run {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

using Pairs = std::vector<std::pair<std::string, std::string>>;

// Writes an empty conda prefix (conda-meta/ with a history file) at `path`.
env::Prefix make_conda_prefix(const fs::path& path) {
    write_file(path / "conda-meta" / "history", "");
    return env::open_prefix(path);
}

env::Prefix make_venv(const fs::path& path, const std::string& cfg,
                      const std::string& python = "3.11") {
    write_file(path / "pyvenv.cfg", cfg);
    write_file(path / "lib" / ("python" + python) / "site-packages" / ".keep", "");
    return env::open_prefix(path);
}

Activation activate(const env::Prefix& prefix, const Environment& current, std::string name = "",
                    UnsetMarker marker = UnsetMarker::unset) {
    const ActivationTarget target{prefix, std::move(name), marker};
    return compute_activation(target, read_activation_files(prefix), current);
}

// Returns the value the activation sets for `name`, or "<not set>".
std::string value_of(const Activation& activation, const std::string& name) {
    std::string value = "<not set>";
    for (const auto& [key, v] : activation.set) {
        if (key == name)
            value = v;
    }
    return value;
}

bool unsets(const Activation& activation, const std::string& name) {
    return std::find(activation.unset.begin(), activation.unset.end(), name) !=
           activation.unset.end();
}

bool has_warning(const Activation& activation, const std::string& part) {
    return std::any_of(
        activation.warnings.begin(), activation.warnings.end(),
        [&](const Diagnostic& d) { return d.message.find(part) != std::string::npos; });
}

// Runs argv with exactly the environment build_environment produced (plus nothing else that
// matters: run_command starts from this process's environment, so the activation's unsets
// are passed as removals).
test::RunResult run_with(const std::vector<std::string>& argv, const Activation& activation,
                         const std::vector<std::string>& envp) {
    test::RunEnv env;
    for (const auto& entry : envp) {
        const auto eq = entry.find('=');
        env.set[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    for (const auto& name : activation.unset) {
        if (!env.set.contains(name))
            env.set[name] = std::nullopt;
    }
    return test::run_command(argv, env);
}

}  // namespace

TEST(ActivationPath, FreshActivationPutsBinFirst) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "envs/torch");
    const auto a = activate(prefix, {{"PATH", "/usr/local/bin:/usr/bin"}});
    EXPECT_EQ(value_of(a, "PATH"), (dir / "envs/torch/bin").string() + ":/usr/local/bin:/usr/bin");
    EXPECT_EQ(value_of(a, "CONDA_PREFIX"), (dir / "envs/torch").string());
    EXPECT_EQ(value_of(a, "CONDA_SHLVL"), "1");
    EXPECT_EQ(value_of(a, "CONDA_DEFAULT_ENV"), "torch");
    EXPECT_EQ(value_of(a, "CONDA_PROMPT_MODIFIER"), "(torch) ");
    EXPECT_EQ(value_of(a, "CONDA_PREFIX_0"), "<not set>");
}

TEST(ActivationPath, ReplacesTheActiveEnvironmentsBin) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "envs/new");
    const Environment current{{"PATH", "/opt/conda/envs/old/bin:/opt/conda/condabin:/usr/bin"},
                              {"CONDA_PREFIX", "/opt/conda/envs/old"},
                              {"CONDA_SHLVL", "2"},
                              {"CONDA_PREFIX_1", "/opt/conda"}};
    const auto a = activate(prefix, current);
    EXPECT_EQ(value_of(a, "PATH"),
              (dir / "envs/new/bin").string() + ":/opt/conda/condabin:/usr/bin");
    EXPECT_EQ(value_of(a, "CONDA_SHLVL"), "3");
    EXPECT_EQ(value_of(a, "CONDA_PREFIX_2"), "/opt/conda/envs/old");
}

TEST(ActivationPath, RemovesOnlyTheFirstEntryOfTheOldEnvLikeConda) {
    EXPECT_EQ(prepend_path("/a/bin:/usr/bin:/a/bin/", "/n/bin", "/a/bin"),
              "/n/bin:/usr/bin:/a/bin/");
}

TEST(ActivationPath, DoesNotDuplicateTheEnvironmentsBin) {
    EXPECT_EQ(prepend_path("/usr/bin:/n/bin/:/n//bin:/bin", "/n/bin", {}), "/n/bin:/usr/bin:/bin");
    // Empty entries (the current directory) are the user's and stay; an empty PATH adds none.
    EXPECT_EQ(prepend_path("/usr/bin::/bin", "/n/bin", {}), "/n/bin:/usr/bin::/bin");
    EXPECT_EQ(prepend_path("", "/n/bin", {}), "/n/bin");
}

TEST(ActivationPath, MissingPathStartsFromCondasDefault) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "p");
    EXPECT_EQ(value_of(activate(prefix, {}), "PATH"), (dir / "p/bin").string() + ":/usr/bin");
}

TEST(ActivationPath, ActivatingTheActiveEnvironmentKeepsTheLevel) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "envs/same");
    const std::string bin = (dir / "envs/same/bin").string();
    const Environment current{{"PATH", "/usr/bin:" + bin},
                              {"CONDA_PREFIX", (dir / "envs/same").string() + "/"},
                              {"CONDA_SHLVL", "1"}};
    const auto a = activate(prefix, current);
    EXPECT_EQ(value_of(a, "PATH"), bin + ":/usr/bin");
    EXPECT_EQ(value_of(a, "CONDA_SHLVL"), "1");
    EXPECT_EQ(value_of(a, "CONDA_PREFIX_1"), "<not set>");
}

TEST(ActivationPath, InvalidShellLevelCountsAsZero) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "p");
    const auto a = activate(prefix, {{"CONDA_SHLVL", "x"}, {"PATH", "/bin"}});
    EXPECT_EQ(value_of(a, "CONDA_SHLVL"), "1");
    EXPECT_EQ(value_of(activate(prefix, {{"CONDA_SHLVL", " 2 "}}), "CONDA_SHLVL"), "3");
}

TEST(ActivationName, DefaultEnvIsTheNameInEnvsElseThePath) {
    TempDir dir;
    const auto named = make_conda_prefix(dir / "envs/a");
    const auto other = make_conda_prefix(dir / "projects/b");
    EXPECT_EQ(value_of(activate(named, {}), "CONDA_DEFAULT_ENV"), "a");
    EXPECT_EQ(value_of(activate(other, {}), "CONDA_DEFAULT_ENV"), (dir / "projects/b").string());
    EXPECT_EQ(value_of(activate(other, {}), "CONDA_PROMPT_MODIFIER"),
              "(" + (dir / "projects/b").string() + ") ");
    // A name the caller resolved (-n, or "base" for a root) wins.
    EXPECT_EQ(value_of(activate(other, {}, "base"), "CONDA_DEFAULT_ENV"), "base");
    EXPECT_EQ(value_of(activate(other, {}, "base"), "CONDA_PROMPT_MODIFIER"), "(base) ");
}

TEST(ActivationVars, PackagesInOrderThenStateOverrides) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "p");
    write_file(dir / "p/etc/conda/env_vars.d/b.json", R"({"A": "from-b", "B": "b"})");
    write_file(dir / "p/etc/conda/env_vars.d/a.json", R"({"A": "from-a", "C": "a"})");
    write_file(dir / "p/conda-meta/state", R"({"env_vars": {"C": "state", "lower": "x"}})");
    const auto a = activate(prefix, {{"B", "old"}});
    EXPECT_EQ(value_of(a, "A"), "from-b");
    EXPECT_EQ(value_of(a, "B"), "b");
    EXPECT_EQ(value_of(a, "C"), "state");
    EXPECT_EQ(value_of(a, "LOWER"), "x");
    EXPECT_EQ(value_of(a, "lower"), "<not set>");
    // conda keeps the overwritten value for `conda deactivate`.
    EXPECT_EQ(value_of(a, "__CONDA_SHLVL_0_B"), "old");
}

TEST(ActivationVars, UnsetMarkerUnsetsTheVariable) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "p");
    write_file(dir / "p/etc/conda/env_vars.d/pkg.json",
               R"({"GONE": "pkg", "BACK": "***unset***"})");
    write_file(dir / "p/conda-meta/state",
               R"({"env_vars": {"GONE": "***unset***", "BACK": "state", "low": "***unset***"}})");
    const auto a = activate(prefix, {{"GONE", "inherited"}});
    EXPECT_TRUE(unsets(a, "GONE"));
    EXPECT_TRUE(unsets(a, "LOW"));
    EXPECT_FALSE(unsets(a, "BACK"));
    EXPECT_EQ(value_of(a, "GONE"), "<not set>");
    EXPECT_EQ(value_of(a, "BACK"), "state");
    const auto envp = build_environment(a, {{"GONE", "inherited"}, {"KEEP", "1"}});
    EXPECT_EQ(std::count(envp.begin(), envp.end(), "KEEP=1"), 1);
    EXPECT_TRUE(std::none_of(envp.begin(), envp.end(),
                             [](const std::string& e) { return e.starts_with("GONE="); }));
}

TEST(ActivationVars, UnsetMarkerSkipLeavesTheInheritedValueLikeCondaActivate) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "p");
    write_file(dir / "p/conda-meta/state", R"({"env_vars": {"GONE": "***unset***"}})");
    const auto a = activate(prefix, {{"GONE", "inherited"}}, "", UnsetMarker::skip);
    EXPECT_FALSE(unsets(a, "GONE"));
    EXPECT_EQ(value_of(a, "GONE"), "<not set>");
}

TEST(ActivationVars, LaterSpellingDecidesBetweenMarkerAndValue) {
    EXPECT_EQ(unset_marker_names({{{"foo", "***unset***"}}}, {{"FOO", "x"}}),
              std::vector<std::string>{});
    EXPECT_EQ(unset_marker_names({{{"FOO", "x"}}}, {{"foo", "***unset***"}}),
              std::vector<std::string>{"FOO"});
    // Merged as a dict: a key set again keeps its first position.
    EXPECT_EQ(
        unset_marker_names({{{"foo", "***unset***"}, {"FOO", "x"}}}, {{"foo", "***unset***"}}),
        std::vector<std::string>{});
    EXPECT_EQ(unset_marker_names({}, {{"PATH", "***unset***"}}), std::vector<std::string>{});
}

TEST(ActivationVars, PathInStateIsIgnoredWithAWarning) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "p");
    write_file(dir / "p/conda-meta/state", R"({"env_vars": {"path": "/evil"}})");
    const auto a = activate(prefix, {{"PATH", "/usr/bin"}});
    EXPECT_EQ(value_of(a, "PATH"), (dir / "p/bin").string() + ":/usr/bin");
    EXPECT_TRUE(has_warning(a, "PATH is reserved"));
}

TEST(ActivationVars, ActivationsOwnNamesCannotBeOverridden) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "envs/p");
    write_file(dir / "envs/p/conda-meta/state", R"({"env_vars": {"CONDA_PREFIX": "/x"}})");
    const auto a = activate(prefix, {});
    EXPECT_EQ(value_of(a, "CONDA_PREFIX"), (dir / "envs/p").string());
    EXPECT_TRUE(has_warning(a, "CONDA_PREFIX is set by activation itself"));
}

TEST(ActivationVars, OverridesWinOverTheStateBinding) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "p");
    write_file(dir / "p/conda-meta/state", R"({"env_vars": {"CUDA_VISIBLE_DEVICES": "0"}})");
    const auto a = activate(prefix, {{"CUDA_VISIBLE_DEVICES", "3"}});
    const auto bound = build_environment(a, {{"CUDA_VISIBLE_DEVICES", "3"}});
    EXPECT_EQ(std::count(bound.begin(), bound.end(), "CUDA_VISIBLE_DEVICES=0"), 1);
    const auto chosen = build_environment(
        a, {}, {{"CUDA_VISIBLE_DEVICES", "GPU-1"}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}});
    EXPECT_EQ(std::count(chosen.begin(), chosen.end(), "CUDA_VISIBLE_DEVICES=GPU-1"), 1);
    EXPECT_EQ(std::count(chosen.begin(), chosen.end(), "CUDA_DEVICE_ORDER=PCI_BUS_ID"), 1);
    EXPECT_TRUE(std::is_sorted(chosen.begin(), chosen.end()));
}

TEST(ActivationScripts, SortedShFilesOnly) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "p");
    write_file(dir / "p/etc/conda/activate.d/b.sh", "");
    write_file(dir / "p/etc/conda/activate.d/a.sh", "");
    write_file(dir / "p/etc/conda/activate.d/c.csh", "");
    write_file(dir / "p/etc/conda/activate.d/d.fish", "");
    fs::create_directories(dir / "p/etc/conda/activate.d/dir.sh");
    const auto a = activate(prefix, {});
    EXPECT_EQ(a.activate_scripts, (std::vector<fs::path>{dir / "p/etc/conda/activate.d/a.sh",
                                                         dir / "p/etc/conda/activate.d/b.sh"}));
}

TEST(ActivationVenv, SetsVirtualEnvAndUnsetsPythonHome) {
    TempDir dir;
    const auto prefix = make_venv(dir / "proj/.venv", "home = /usr/bin\nversion = 3.11.4\n");
    const Environment current{
        {"PATH", "/old/venv/bin:/usr/bin"}, {"VIRTUAL_ENV", "/old/venv"}, {"PYTHONHOME", "/usr"}};
    const auto a = activate(prefix, current);
    EXPECT_EQ(value_of(a, "VIRTUAL_ENV"), (dir / "proj/.venv").string());
    EXPECT_EQ(value_of(a, "PATH"), (dir / "proj/.venv/bin").string() + ":/usr/bin");
    EXPECT_TRUE(unsets(a, "PYTHONHOME"));
    EXPECT_EQ(value_of(a, "VIRTUAL_ENV_PROMPT"), "(.venv) ");
    EXPECT_EQ(value_of(a, "CONDA_PREFIX"), "<not set>");
    EXPECT_TRUE(a.activate_scripts.empty());
}

TEST(ActivationVenv, PromptFollowsTheWriter) {
    TempDir dir;
    // CPython writes --prompt with repr() quotes; 3.13 dropped the parentheses.
    const auto quoted = make_venv(dir / "a", "home = /usr/bin\nprompt = 'my env'\n", "3.13");
    EXPECT_EQ(value_of(activate(quoted, {}), "VIRTUAL_ENV_PROMPT"), "my env");
    const auto old = make_venv(dir / "b", "home = /usr/bin\nprompt = 'x'\n", "3.12");
    EXPECT_EQ(value_of(activate(old, {}), "VIRTUAL_ENV_PROMPT"), "(x) ");
    const auto uv = make_venv(dir / "c", "home = /usr/bin\nuv = 0.5.1\nprompt = proj\n", "3.12");
    EXPECT_EQ(value_of(activate(uv, {}), "VIRTUAL_ENV_PROMPT"), "proj");
}

TEST(ActivationPython, OnlyPathChanges) {
    TempDir dir;
    write_file(dir / "usr/lib/python3.11/site-packages/.keep", "");
    const auto prefix = env::open_prefix(dir / "usr");
    ASSERT_EQ(prefix.kind, env::PrefixKind::python);
    const auto a = activate(prefix, {{"PATH", "/bin"}, {"PYTHONHOME", "/x"}});
    EXPECT_EQ(a.set, (Pairs{{"PATH", (dir / "usr/bin").string() + ":/bin"}}));
    EXPECT_TRUE(a.unset.empty());
}

TEST(ActivationEnvp, ParsesNameValuePairs) {
    const char* envp[] = {"A=1", "B==2", "NOEQ", "=x", "A=dup", nullptr};
    EXPECT_EQ(environment_from_envp(envp), (Environment{{"A", "1"}, {"B", "=2"}}));
}

TEST(ActivationWrap, NoScriptsKeepsArgv) {
    const std::vector<std::string> argv{"python", "-c", "print(1)"};
    EXPECT_EQ(wrap_with_activate_scripts(argv, {}), argv);
}

TEST(ActivationWrap, ShellTextIsConstant) {
    const auto a = wrap_with_activate_scripts({"x"}, {"/s/a.sh"});
    const auto b = wrap_with_activate_scripts({"$(rm -rf /)", "'"}, {"/s/b;c.sh", "/t/d.sh"});
    ASSERT_GE(a.size(), 4U);
    EXPECT_EQ(a[0], "/bin/sh");
    EXPECT_EQ(a[1], "-c");
    EXPECT_EQ(a[2], b[2]);
    EXPECT_EQ(a[3], "sh");
    EXPECT_EQ(std::vector<std::string>(b.begin() + 4, b.end()),
              (std::vector<std::string>{"/s/b;c.sh", "/t/d.sh", "--", "$(rm -rf /)", "'"}));
}

TEST(ActivationWrap, SourcesScriptsWithVariablesExportedThenExecsWithoutInjection) {
    TempDir dir;
    // Hostile names: spaces, quotes, $(...) and ';' in the prefix and the script.
    const fs::path root = dir / "we ird'\"$(touch pwned);x";
    const auto prefix = make_conda_prefix(root / "envs/e");
    write_file(root / "envs/e/conda-meta/state", R"({"env_vars": {"FROM_STATE": "s v"}})");
    // The first script sees the exported state variable (conda exports before sourcing).
    write_file(root / "envs/e/etc/conda/activate.d/10 a;$(touch pwned2).sh",
               "export FROM_SCRIPT=\"seen:$FROM_STATE\"\n");
    write_file(root / "envs/e/etc/conda/activate.d/20-b.sh", "export SECOND=\"$FROM_SCRIPT+2\"\n");
    const auto a = activate(prefix, {{"PATH", "/usr/bin:/bin"}});
    ASSERT_EQ(a.activate_scripts.size(), 2U);
    const auto envp = build_environment(a, {{"PATH", "/usr/bin:/bin"}});
    const std::vector<std::string> command{"/bin/sh",
                                           "-c",
                                           "printf '%s|' \"$SECOND\" \"$@\"",
                                           "inner",
                                           "arg with space",
                                           "'quoted\"",
                                           "$(touch pwned3)",
                                           "a;touch pwned4",
                                           "--",
                                           ""};
    const auto wrapped = wrap_with_activate_scripts(command, a.activate_scripts);
    const auto result = run_with(wrapped, a, envp);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out,
              "seen:s v+2|arg with space|'quoted\"|$(touch pwned3)|a;touch pwned4|--||");
    for (const char* name : {"pwned", "pwned2", "pwned3", "pwned4"}) {
        EXPECT_FALSE(fs::exists(fs::current_path() / name)) << name;
        EXPECT_FALSE(fs::exists(root / name)) << name;
    }
}

TEST(ActivationWrap, ExecsCommandFoundOnTheActivatedPath) {
    TempDir dir;
    const auto prefix = make_conda_prefix(dir / "p");
    write_file(dir / "p/bin/hello-gpuenv", "#!/bin/sh\necho \"hi $GREETING\"\n");
    fs::permissions(dir / "p/bin/hello-gpuenv", fs::perms::owner_all);
    write_file(dir / "p/etc/conda/activate.d/g.sh", "GREETING=there; export GREETING\n");
    const auto a = activate(prefix, {{"PATH", "/usr/bin:/bin"}});
    const auto envp = build_environment(a, {{"PATH", "/usr/bin:/bin"}});
    const auto result =
        run_with(wrap_with_activate_scripts({"hello-gpuenv"}, a.activate_scripts), a, envp);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "hi there\n");
}

}  // namespace gpuenv::core::run
