#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include <gpuenv/core/env/env_vars.hpp>
#include <gpuenv/core/env/state_file.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/process.hpp>
#include <support/conda_prefix_builder.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;
using test::CondaPrefixBuilder;
using test::CondaWriter;
using test::TempDir;
using test::write_file;

using Pairs = std::vector<std::pair<std::string, std::string>>;

const Pairs k_gpus = {{"CUDA_VISIBLE_DEVICES", "GPU-6f2c1a9e-0b1d-4c3e-9f00-1234567890ab"},
                      {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}};

fs::path state_of(const fs::path& prefix) {
    return prefix / "conda-meta" / "state";
}

// Writes `original` as the prefix's state, binds, unbinds, and expects the original bytes.
void expect_round_trip(const std::string& original, const Pairs& vars = k_gpus) {
    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    write_file(state_of(env.prefix()), original);
    bind_env_vars(env.prefix(), vars);
    const std::string bound = util::read_file(state_of(env.prefix()));
    EXPECT_NE(bound, original);
    const auto vars_after = read_env_vars(env.prefix());
    EXPECT_TRUE(vars_after.warnings.empty());
    for (const auto& [name, value] : vars)
        EXPECT_EQ(vars_after.vars.at(name), value) << name;
    const UnbindResult result = unbind_env_vars(env.prefix());
    EXPECT_TRUE(result.was_bound);
    EXPECT_TRUE(result.kept.empty());
    EXPECT_EQ(util::read_file(state_of(env.prefix())), original) << "bound:\n" << bound;
}

// Returns the message of the gpuenv::Error `f` throws, expecting `code`; "" when none.
template <typename F>
std::string error_of(F f, ExitCode code) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        return e.what();
    }
    return "";
}

mode_t mode_of(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 07777;
}

}  // namespace

TEST(StateFile, RoundTripsCondasCompactStyle) {
    const std::string original =
        R"({"env_vars": {"MY_VAR": "value", "CUDA_HOME": "/usr/local/cuda"}})";
    expect_round_trip(original);

    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    write_file(state_of(env.prefix()), original);
    bind_env_vars(env.prefix(), {{"CUDA_VISIBLE_DEVICES", "GPU-a"}});
    EXPECT_EQ(util::read_file(state_of(env.prefix())),
              R"({"env_vars": {"MY_VAR": "value", "CUDA_HOME": "/usr/local/cuda", )"
              R"("CUDA_VISIBLE_DEVICES": "GPU-a"}, "gpuenv": {"format": 1, )"
              R"("state_file_existed": true, "env_vars_existed": true, "env_vars": )"
              R"({"CUDA_VISIBLE_DEVICES": {"value": "GPU-a", "previous": null}}}})");
}

TEST(StateFile, RoundTripsMicromambasIndentedStyle) {
    // micromamba writes j.dump(4): 4-space indent, no trailing newline.
    const std::string original =
        "{\n    \"env_vars\": {\n        \"MY_VAR\": \"value\",\n        \"OTHER\": \"x\"\n    "
        "}\n}";
    expect_round_trip(original);

    TempDir dir;
    const CondaPrefixBuilder env(dir / "env", CondaWriter::micromamba);
    write_file(state_of(env.prefix()), original);
    bind_env_vars(env.prefix(), k_gpus);
    const std::string bound = util::read_file(state_of(env.prefix()));
    // nlohmann's own dump(4) of the same document is the oracle for the style.
    EXPECT_EQ(nlohmann::ordered_json::parse(bound).dump(4), bound);
}

TEST(StateFile, RoundTripsOtherStyles) {
    expect_round_trip("{\"env_vars\": {}}");
    expect_round_trip("{\"env_vars\": {\"A\": \"1\"}}\n");
    expect_round_trip("{\"env_vars\":{\"A\":\"1\",\"B\":\"2\"}}");          // nlohmann dump()
    expect_round_trip("{\n  \"env_vars\": {\n    \"A\": \"1\"\n  }\n}\n");  // indent=2 + newline
    expect_round_trip("{\n\t\"env_vars\": {\n\t\t\"A\": \"1\"\n\t}\n}");
    expect_round_trip("{\r\n    \"env_vars\": {\r\n        \"A\": \"1\"\r\n    }\r\n}\r\n");
    expect_round_trip("{\n    \"env_vars\": {}\n}");
    expect_round_trip("{}");
}

TEST(StateFile, KeepsOtherTopLevelKeysAndVariablesInOrder) {
    // conda's tests put "version": 1 before env_vars; other tools may add keys after it.
    expect_round_trip(R"({"version": 1, "env_vars": {"A": "1", "B": "2"}})");
    expect_round_trip(
        R"({"env_vars": {"A": "1"}, "extra": {"list": [1, 2.5, true, null], "o": {}}, "z": []})");
    expect_round_trip(
        "{\n    \"version\": 1,\n    \"env_vars\": {\n        \"A\": \"1\"\n    },\n"
        "    \"list\": [\n        1,\n        \"x\"\n    ]\n}");
    // No env_vars at all: bind adds it, unbind takes it away again.
    expect_round_trip(R"({"version": 1})");

    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    write_file(
        state_of(env.prefix()),
        R"({"version": 1, "env_vars": {"A": "1", "CUDA_DEVICE_ORDER": "FASTEST_FIRST", "B": "2"}})");
    bind_env_vars(env.prefix(), k_gpus);
    const auto doc = nlohmann::ordered_json::parse(util::read_file(state_of(env.prefix())));
    std::vector<std::string> keys;
    for (const auto& [key, value] : doc.items())
        keys.push_back(key);
    EXPECT_EQ(keys, (std::vector<std::string>{"version", "env_vars", "gpuenv"}));
    std::vector<std::string> names;
    for (const auto& [key, value] : doc["env_vars"].items())
        names.push_back(key);
    EXPECT_EQ(names,
              (std::vector<std::string>{"A", "CUDA_DEVICE_ORDER", "B", "CUDA_VISIBLE_DEVICES"}));
    EXPECT_EQ(doc["env_vars"]["CUDA_DEVICE_ORDER"], "PCI_BUS_ID");
}

TEST(StateFile, RoundTripsNonAsciiAndEscapes) {
    // conda's ensure_ascii=False and nlohmann both write UTF-8 as is and leave '/' alone.
    const std::string original =
        R"({"env_vars": {"GREETING": "héllo ✓ 𝄞", "P": "/a/b", "Q": "tab\t\"q\" \\ \u0001 \n"}})";
    expect_round_trip(original, {{"CUDA_VISIBLE_DEVICES", "GPU-é/1"}});

    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    write_file(state_of(env.prefix()), original);
    bind_env_vars(env.prefix(), {{"CUDA_VISIBLE_DEVICES", "GPU-é/1"}});
    const std::string bound = util::read_file(state_of(env.prefix()));
    EXPECT_NE(bound.find(R"("CUDA_VISIBLE_DEVICES": "GPU-é/1")"), std::string::npos) << bound;

    // A file written with Python's default ensure_ascii=True stays ASCII.
    expect_round_trip(R"({"env_vars": {"T": "\u00e9 \ud834\udd1e \u007f"}})",
                      {{"CUDA_VISIBLE_DEVICES", "GPU-é"}});
}

TEST(StateFile, AbsentFileIsCreatedThenRemoved) {
    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    const fs::path state = state_of(env.prefix());
    bind_env_vars(env.prefix(), k_gpus);
    ASSERT_TRUE(util::exists(state));
    const std::string bound = util::read_file(state);
    EXPECT_EQ(bound.rfind(R"({"env_vars": {"CUDA_VISIBLE_DEVICES": "GPU-)", 0), 0u) << bound;
    EXPECT_EQ(bound.back(), '}');  // conda's json.dumps: no trailing newline
    const auto binding = read_binding(env.prefix());
    ASSERT_TRUE(binding);
    EXPECT_FALSE(binding->state_file_existed);

    const UnbindResult result = unbind_env_vars(env.prefix());
    EXPECT_TRUE(result.was_bound);
    EXPECT_TRUE(result.state_file_removed);
    EXPECT_EQ(result.removed,
              (std::vector<std::string>{"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"}));
    EXPECT_FALSE(util::exists(state));
}

TEST(StateFile, CreatedFileIsKeptWhenOthersAddedVariables) {
    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    const fs::path state = state_of(env.prefix());
    bind_env_vars(env.prefix(), {{"CUDA_VISIBLE_DEVICES", "GPU-a"}});
    // `conda env config vars set MINE=1` after the bind keeps the "gpuenv" key.
    auto doc = nlohmann::ordered_json::parse(util::read_file(state));
    doc["env_vars"]["MINE"] = "1";
    write_file(state, doc.dump(4));
    const UnbindResult result = unbind_env_vars(env.prefix());
    EXPECT_FALSE(result.state_file_removed);
    EXPECT_EQ(util::read_file(state), "{\n    \"env_vars\": {\n        \"MINE\": \"1\"\n    }\n}");
}

TEST(StateFile, RebindKeepsOriginalPreviousValues) {
    const std::string original =
        R"({"env_vars": {"CUDA_VISIBLE_DEVICES": "0", "CUDA_DEVICE_ORDER": "FASTEST_FIRST"}})";
    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    write_file(state_of(env.prefix()), original);
    bind_env_vars(env.prefix(), {{"CUDA_VISIBLE_DEVICES", "GPU-a"}});
    bind_env_vars(env.prefix(),
                  {{"CUDA_VISIBLE_DEVICES", "GPU-b"}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}});
    bind_env_vars(env.prefix(), {{"CUDA_VISIBLE_DEVICES", "GPU-c,GPU-d"}, {"NEW", "n"}});

    const auto binding = read_binding(env.prefix());
    ASSERT_TRUE(binding);
    ASSERT_EQ(binding->vars.size(), 3u);
    EXPECT_EQ(binding->vars[0].name, "CUDA_VISIBLE_DEVICES");
    EXPECT_EQ(binding->vars[0].value, "GPU-c,GPU-d");
    EXPECT_EQ(binding->vars[0].previous, "0");
    EXPECT_EQ(binding->vars[1].name, "CUDA_DEVICE_ORDER");
    EXPECT_EQ(binding->vars[1].value, "PCI_BUS_ID");
    EXPECT_EQ(binding->vars[1].previous, "FASTEST_FIRST");
    EXPECT_EQ(binding->vars[2].name, "NEW");
    EXPECT_EQ(binding->vars[2].previous, std::nullopt);
    EXPECT_TRUE(binding->state_file_existed);

    const UnbindResult result = unbind_env_vars(env.prefix());
    EXPECT_EQ(result.restored,
              (std::vector<std::string>{"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"}));
    EXPECT_EQ(result.removed, (std::vector<std::string>{"NEW"}));
    EXPECT_EQ(util::read_file(state_of(env.prefix())), original);
}

TEST(StateFile, UnbindWhenNotBoundChangesNothing) {
    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    const fs::path state = state_of(env.prefix());

    UnbindResult result = unbind_env_vars(env.prefix());
    EXPECT_FALSE(result.was_bound);
    EXPECT_FALSE(util::exists(state));
    EXPECT_EQ(read_binding(env.prefix()), std::nullopt);

    const std::string original = "{\"env_vars\":   {\"A\": \"1\"}}";  // not our style: untouched
    write_file(state, original);
    result = unbind_env_vars(env.prefix());
    EXPECT_FALSE(result.was_bound);
    EXPECT_TRUE(result.restored.empty() && result.removed.empty() && result.kept.empty());
    EXPECT_EQ(util::read_file(state), original);

    bind_env_vars(env.prefix(), k_gpus);
    EXPECT_TRUE(unbind_env_vars(env.prefix()).was_bound);
    EXPECT_FALSE(unbind_env_vars(env.prefix()).was_bound);
}

TEST(StateFile, KeepsCondasUnsetSentinel) {
    // `conda env config vars unset` writes "***unset***" instead of removing the key.
    const std::string original =
        R"({"env_vars": {"OLD": "***unset***", "CUDA_VISIBLE_DEVICES": "***unset***"}})";
    expect_round_trip(original);

    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    write_file(state_of(env.prefix()), original);
    bind_env_vars(env.prefix(), k_gpus);
    const auto doc = nlohmann::ordered_json::parse(util::read_file(state_of(env.prefix())));
    EXPECT_EQ(doc["env_vars"]["OLD"], "***unset***");
    EXPECT_EQ(doc["gpuenv"]["env_vars"]["CUDA_VISIBLE_DEVICES"]["previous"], "***unset***");
}

TEST(StateFile, VariableChangedAfterBindIsLeftAsFound) {
    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    const fs::path state = state_of(env.prefix());
    write_file(state, R"({"env_vars": {"CUDA_VISIBLE_DEVICES": "0"}})");
    bind_env_vars(env.prefix(), k_gpus);
    auto doc = nlohmann::ordered_json::parse(util::read_file(state));
    doc["env_vars"]["CUDA_VISIBLE_DEVICES"] = "3";  // the user set it again with conda
    write_file(state, doc.dump());
    const UnbindResult result = unbind_env_vars(env.prefix());
    EXPECT_EQ(result.kept, (std::vector<std::string>{"CUDA_VISIBLE_DEVICES"}));
    EXPECT_EQ(result.removed, (std::vector<std::string>{"CUDA_DEVICE_ORDER"}));
    EXPECT_EQ(util::read_file(state), R"({"env_vars":{"CUDA_VISIBLE_DEVICES":"3"}})");
}

TEST(StateFile, BadStateFileNamesLineAndColumnAndIsNotWritten) {
    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    const fs::path state = state_of(env.prefix());
    const auto expect_rejected = [&](const std::string& text, const std::string& where) {
        write_file(state, text);
        const std::string message =
            error_of([&] { bind_env_vars(env.prefix(), k_gpus); }, ExitCode::not_found);
        EXPECT_NE(message.find(state.string()), std::string::npos) << message;
        EXPECT_NE(message.find(where), std::string::npos) << message;
        EXPECT_EQ(util::read_file(state), text);
        (void)error_of([&] { (void)read_binding(env.prefix()); }, ExitCode::not_found);
        (void)error_of([&] { (void)unbind_env_vars(env.prefix()); }, ExitCode::not_found);
        EXPECT_EQ(util::read_file(state), text);
    };
    expect_rejected("{\n  \"env_vars\": {\"A\": \"1\",}\n}", "line 2, column");
    expect_rejected("{\"env_vars\": {\"A\": 1}}", "line 1, column 20");
    expect_rejected("{\"env_vars\": [\"A\"]}", "line 1, column 14");
    expect_rejected("[]", "line 1, column 1");
    expect_rejected("", "line 1, column 1");
    expect_rejected(R"({"env_vars": {}, "gpuenv": 3})", "\"gpuenv\" key");
}

TEST(StateFile, VenvIsAUsageErrorSuggestingRun) {
    TempDir dir;
    write_file(dir / "venv/pyvenv.cfg", "home = /usr/bin\n");
    const fs::path venv = dir / "venv";
    const std::string message = error_of([&] { bind_env_vars(venv, k_gpus); }, ExitCode::usage);
    EXPECT_NE(message.find("activation hook"), std::string::npos) << message;
    EXPECT_NE(message.find("gpuenv run"), std::string::npos) << message;
    (void)error_of([&] { (void)unbind_env_vars(venv); }, ExitCode::usage);
    EXPECT_EQ(read_binding(venv), std::nullopt);
    EXPECT_FALSE(util::exists(venv / "conda-meta"));

    (void)error_of([&] { bind_env_vars(dir / "missing", k_gpus); }, ExitCode::not_found);
}

TEST(StateFile, RejectsInvalidNames) {
    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    (void)error_of([&] { bind_env_vars(env.prefix(), {{"PATH", "/x"}}); }, ExitCode::usage);
    (void)error_of([&] { bind_env_vars(env.prefix(), {{"A=B", "x"}}); }, ExitCode::usage);
    (void)error_of([&] { bind_env_vars(env.prefix(), {{"", "x"}}); }, ExitCode::usage);
    EXPECT_FALSE(util::exists(state_of(env.prefix())));
}

TEST(StateFile, KeepsTheFilesMode) {
    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    const fs::path state = state_of(env.prefix());
    write_file(state, R"({"env_vars": {"A": "1"}})");
    ASSERT_EQ(::chmod(state.c_str(), 0600), 0);
    bind_env_vars(env.prefix(), k_gpus);
    EXPECT_EQ(mode_of(state), 0600u);
    (void)unbind_env_vars(env.prefix());
    EXPECT_EQ(mode_of(state), 0600u);
    EXPECT_EQ(mode_of(env.prefix() / "conda-meta" / ".gpuenv-state.lock") & 0022u, 0u);
}

TEST(StateFile, ConcurrentBindsKeepEachOthersVariables) {
    TempDir dir;
    const CondaPrefixBuilder env(dir / "env");
    const std::string original = R"({"env_vars": {"KEEP": "k"}})";
    write_file(state_of(env.prefix()), original);
    constexpr int k_rounds = 150;
    std::atomic<bool> done{false};
    std::atomic<int> reader_errors{0};
    const auto binder = [&](const std::string& name) {
        for (int i = 0; i < k_rounds; ++i)
            bind_env_vars(env.prefix(), {{name, std::to_string(i)}});
    };
    // Readers take no lock; the atomic rename means they never see a partial file.
    std::thread reader([&] {
        while (!done) {
            try {
                (void)read_binding(env.prefix());
            } catch (const Error&) {
                ++reader_errors;
            }
        }
    });
    std::thread a(binder, "VAR_A");
    std::thread b(binder, "VAR_B");
    a.join();
    b.join();
    done = true;
    reader.join();
    EXPECT_EQ(reader_errors, 0);

    const auto vars = read_env_vars(env.prefix()).vars;
    EXPECT_EQ(vars.at("VAR_A"), std::to_string(k_rounds - 1));
    EXPECT_EQ(vars.at("VAR_B"), std::to_string(k_rounds - 1));
    EXPECT_EQ(vars.at("KEEP"), "k");
    const auto binding = read_binding(env.prefix());
    ASSERT_TRUE(binding);
    EXPECT_EQ(binding->vars.size(), 2u);
    (void)unbind_env_vars(env.prefix());
    EXPECT_EQ(util::read_file(state_of(env.prefix())), original);
}

TEST(StateFile, PythonReadsTheBoundFileInTheSameStyle) {
    // Python's json is conda's reader and writer: it must load the file and, dumping it again
    // in the detected style, give the same bytes.
    const std::string script =
        "import json, sys\n"
        "t = open(sys.argv[1], encoding='utf-8').read()\n"
        "d = json.loads(t)\n"
        "indent = int(sys.argv[2]) if sys.argv[2] != '-' else None\n"
        "ok = json.dumps(d, ensure_ascii=False, indent=indent) == t\n"
        "print(ok, d['env_vars']['CUDA_VISIBLE_DEVICES'] == 'GPU-\\u00e9/1', "
        "d['gpuenv']['env_vars']['T']['previous'] == 'h\\u00e9 \\U0001d11e')\n";
    const auto check = [&](const std::string& original, const std::string& indent) {
        TempDir dir;
        const CondaPrefixBuilder env(dir / "env");
        write_file(state_of(env.prefix()), original);
        bind_env_vars(env.prefix(), {{"CUDA_VISIBLE_DEVICES", "GPU-é/1"}, {"T", "t"}});
        const auto out = util::run_capture(
            {"/usr/bin/python3", "-c", script, state_of(env.prefix()).string(), indent},
            std::chrono::seconds(30));
        ASSERT_TRUE(out);
        EXPECT_EQ(out->exit_status, 0);
        EXPECT_EQ(out->out, "True True True\n") << util::read_file(state_of(env.prefix()));
    };
    if (!util::is_regular_file("/usr/bin/python3"))
        GTEST_SKIP() << "no /usr/bin/python3";
    check(R"({"version": 1, "env_vars": {"T": "hé 𝄞", "x": "a\"b\\c\u0002/"}})", "-");
    check("{\n    \"env_vars\": {\n        \"T\": \"hé 𝄞\"\n    }\n}", "4");
}

}  // namespace gpuenv::core::env
