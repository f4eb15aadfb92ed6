#include <gtest/gtest.h>

#include <map>

#include <gpuenv/core/gpu/policy.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/units.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::gpu {
namespace {

constexpr std::string_view k_example =
    "# /etc/gpuenv/config.yaml\n"
    "free:\n"
    "  max_process_memory: 256MiB\n"
    "  max_utilization: 10\n"
    "limits:\n"
    "  default: {gpus: all, max_gpus: 4}\n"
    "  users:\n"
    "    alice: {gpus: [0, 1], max_gpus: 2}\n"
    "    bob: {gpus: none}\n"
    "  groups:\n"
    "    ml-team: {gpus: all, max_gpus: 8}\n"
    "    students: {gpus: [GPU-8932f937], max_gpus: 1}\n"
    "user_settings: [free.max_process_memory, free.max_utilization]\n";

Policy parse(std::string_view text) {
    return parse_policy(text, "/etc/gpuenv/config.yaml");
}

std::string error_of(std::string_view text) {
    try {
        (void)parse(text);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        return e.what();
    }
    return "";
}

std::string user_error_of(Policy& policy, std::string_view text) {
    try {
        apply_user_settings(policy, text, "/home/u/.config/gpuenv/config.yaml");
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        return e.what();
    }
    return "";
}

std::vector<std::string> warnings_of(const Policy& policy) {
    std::vector<std::string> out;
    for (const auto& w : policy.warnings)
        out.push_back(w.to_string());
    return out;
}

EnvLookup lookup_from(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        const auto it = vars.find(std::string(name));
        if (it == vars.end())
            return std::nullopt;
        return it->second;
    };
}

GpuRule rule_with(std::vector<std::string> gpus) {
    GpuRule rule;
    rule.gpus = std::move(gpus);
    return rule;
}

std::optional<std::uint64_t> size_of(std::string_view text) {
    std::string error;
    return util::parse_size(text, error);
}

std::string size_error(std::string_view text) {
    std::string error;
    EXPECT_FALSE(util::parse_size(text, error).has_value()) << text;
    return error;
}

}  // namespace

TEST(Policy, ReadsTheExample) {
    const Policy policy = parse(k_example);
    EXPECT_TRUE(policy.warnings.empty()) << policy.warnings[0].to_string();
    EXPECT_EQ(policy.path, "/etc/gpuenv/config.yaml");
    EXPECT_EQ(policy.free.max_process_memory, 256ULL << 20);
    EXPECT_EQ(policy.free.max_utilization, 10U);
    EXPECT_FALSE(policy.default_rule.gpus.has_value());
    EXPECT_EQ(policy.default_rule.max_gpus, 4U);
    EXPECT_EQ(policy.default_rule.key, "limits.default");
    EXPECT_EQ(policy.default_rule.source, "/etc/gpuenv/config.yaml:6");
    ASSERT_EQ(policy.users.size(), 2U);
    const GpuRule& alice = policy.users.at("alice");
    EXPECT_EQ(alice.gpus, (std::vector<std::string>{"0", "1"}));
    EXPECT_EQ(alice.max_gpus, 2U);
    EXPECT_EQ(alice.key, "limits.users.alice");
    EXPECT_EQ(alice.source, "/etc/gpuenv/config.yaml:8");
    const GpuRule& bob = policy.users.at("bob");
    ASSERT_TRUE(bob.gpus.has_value());
    EXPECT_TRUE(bob.gpus->empty());
    EXPECT_FALSE(bob.max_gpus.has_value());
    ASSERT_EQ(policy.groups.size(), 2U);
    EXPECT_EQ(policy.groups[0].first, "ml-team");
    EXPECT_EQ(policy.groups[1].first, "students");
    EXPECT_EQ(policy.groups[1].second.gpus, std::vector<std::string>{"GPU-8932f937"});
    EXPECT_EQ(policy.user_settings,
              (std::vector<std::string>{"free.max_process_memory", "free.max_utilization"}));
}

TEST(Policy, EmptyFileGivesDefaults) {
    for (const std::string_view text : {"", "# only a comment\n", "---\n"}) {
        const Policy policy = parse(text);
        EXPECT_EQ(policy.free.max_process_memory, 256ULL << 20);
        EXPECT_EQ(policy.free.max_utilization, 10U);
        EXPECT_FALSE(policy.default_rule.gpus.has_value());
        EXPECT_FALSE(policy.default_rule.max_gpus.has_value());
        EXPECT_TRUE(policy.default_rule.source.empty());
        EXPECT_EQ(policy.user_settings.size(), 2U);
        EXPECT_TRUE(policy.warnings.empty());
    }
}

TEST(Policy, EmptySectionsAreEmpty) {
    const Policy policy = parse("free:\nlimits:\n  users:\n  groups:\n  default:\n");
    EXPECT_TRUE(policy.users.empty());
    EXPECT_TRUE(policy.groups.empty());
    // `default:` with nothing under it is a complete rule without restrictions.
    EXPECT_EQ(policy.default_rule.source, "/etc/gpuenv/config.yaml:5");
    EXPECT_FALSE(policy.default_rule.gpus.has_value());
    EXPECT_FALSE(policy.default_rule.max_gpus.has_value());
}

TEST(Policy, UserRuleWinsOverGroupAndDefault) {
    const Policy policy = parse(k_example);
    EXPECT_EQ(rule_for(policy, {"alice", {"ml-team"}}).key, "limits.users.alice");
}

TEST(Policy, FirstMatchingGroupInFileOrderWins) {
    const Policy policy = parse(k_example);
    EXPECT_EQ(rule_for(policy, {"carol", {"students", "ml-team"}}).key, "limits.groups.ml-team");
    EXPECT_EQ(rule_for(policy, {"dave", {"users", "students"}}).key, "limits.groups.students");
}

TEST(Policy, DefaultAppliesToEveryoneElse) {
    const Policy policy = parse(k_example);
    const GpuRule& rule = rule_for(policy, {"erin", {"erin", "users"}});
    EXPECT_EQ(rule.key, "limits.default");
    EXPECT_EQ(rule.max_gpus, 4U);
}

TEST(Policy, NoDefaultMeansNoLimit) {
    const Policy policy = parse("limits:\n  users:\n    alice: {max_gpus: 1}\n");
    const GpuRule& rule = rule_for(policy, {"erin", {}});
    EXPECT_TRUE(rule.key.empty());
    EXPECT_FALSE(rule.gpus.has_value());
    EXPECT_FALSE(rule.max_gpus.has_value());
    EXPECT_FALSE(over_limit(rule, {"erin", {}}, 100, 100).has_value());
}

TEST(Policy, MatchedRuleIsComplete) {
    // alice's rule leaves out max_gpus: no limit, not the default's 4.
    const Policy policy =
        parse("limits:\n  default: {gpus: [0], max_gpus: 4}\n  users:\n    alice: {gpus: [1]}\n");
    const GpuRule& rule = rule_for(policy, {"alice", {}});
    EXPECT_FALSE(rule.max_gpus.has_value());
    EXPECT_TRUE(rule_allows(rule, 1, "GPU-b"));
    EXPECT_FALSE(rule_allows(rule, 0, "GPU-a"));
}

TEST(Policy, GroupNamesAreMatchedExactly) {
    const Policy policy = parse(k_example);
    EXPECT_EQ(rule_for(policy, {"frank", {"ml"}}).key, "limits.default");
    EXPECT_EQ(rule_for(policy, {"frank", {"ML-TEAM"}}).key, "limits.default");
}

TEST(Policy, UserSettingsOverrideAllowedThresholds) {
    Policy policy = parse(k_example);
    apply_user_settings(policy, "free:\n  max_process_memory: 1GiB\n  max_utilization: 50%\n",
                        "/home/u/.config/gpuenv/config.yaml");
    EXPECT_EQ(policy.free.max_process_memory, 1ULL << 30);
    EXPECT_EQ(policy.free.max_utilization, 50U);
    EXPECT_TRUE(policy.warnings.empty());
}

TEST(Policy, UserSettingsOutsideTheListAreIgnoredWithAWarning) {
    Policy policy = parse("free: {max_utilization: 5}\nuser_settings: [free.max_process_memory]\n");
    apply_user_settings(policy,
                        "free:\n"
                        "  max_process_memory: 2GB\n"
                        "  max_utilization: 90\n"
                        "limits:\n"
                        "  default: {gpus: all}\n"
                        "user_settings: [free.max_utilization]\n"
                        "colour: blue\n",
                        "/home/u/.config/gpuenv/config.yaml");
    EXPECT_EQ(policy.free.max_process_memory, 2000000000U);
    EXPECT_EQ(policy.free.max_utilization, 5U);
    EXPECT_EQ(policy.default_rule.source, "");
    EXPECT_EQ(policy.user_settings, std::vector<std::string>{"free.max_process_memory"});
    EXPECT_EQ(warnings_of(policy),
              (std::vector<std::string>{
                  "/home/u/.config/gpuenv/config.yaml:3:3: free.max_utilization is set by "
                  "/etc/gpuenv/config.yaml (not in its user_settings); ignored",
                  "/home/u/.config/gpuenv/config.yaml:4:1: limits are set by "
                  "/etc/gpuenv/config.yaml; ignored",
                  "/home/u/.config/gpuenv/config.yaml:6:1: user_settings is set by "
                  "/etc/gpuenv/config.yaml; ignored",
                  "/home/u/.config/gpuenv/config.yaml:7:1: unknown key 'colour' is ignored"}));
}

TEST(Policy, EmptyUserSettingsAllowNothing) {
    Policy policy = parse("user_settings: []\n");
    EXPECT_TRUE(policy.user_settings.empty());
    apply_user_settings(policy, "free: {max_utilization: 90}\n", "user.yaml");
    EXPECT_EQ(policy.free.max_utilization, 10U);
    ASSERT_EQ(policy.warnings.size(), 1U);
    EXPECT_EQ(policy.warnings[0].line, 1);
}

TEST(Policy, BadAllowedUserValueIsAnErrorAndChangesNothing) {
    Policy policy = parse(k_example);
    EXPECT_EQ(user_error_of(policy, "free:\n  max_utilization: 20\n  max_process_memory: 1G\n"),
              "/home/u/.config/gpuenv/config.yaml:3:23: free.max_process_memory: unit 'G' is "
              "ambiguous: write kB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)");
    EXPECT_EQ(policy.free.max_utilization, 10U);
    EXPECT_EQ(user_error_of(policy, "free: [1\n"),
              "/home/u/.config/gpuenv/config.yaml:2:1: end of sequence flow not found");
}

TEST(Policy, UnknownKeysAreWarnings) {
    const Policy policy = parse(
        "free:\n"
        "  max_temperature: 80\n"
        "limits:\n"
        "  default: {gpus: all, priority: 3}\n"
        "  projects: {}\n"
        "user_settings: [free.max_utilization, free.max_temperature]\n"
        "scheduler: fair\n");
    EXPECT_EQ(warnings_of(policy),
              (std::vector<std::string>{
                  "/etc/gpuenv/config.yaml:2:3: unknown key 'free.max_temperature' is ignored",
                  "/etc/gpuenv/config.yaml:4:24: unknown key 'limits.default.priority' is "
                  "ignored",
                  "/etc/gpuenv/config.yaml:5:3: unknown key 'limits.projects' is ignored",
                  "/etc/gpuenv/config.yaml:6:39: unknown user setting 'free.max_temperature' is "
                  "ignored",
                  "/etc/gpuenv/config.yaml:7:1: unknown key 'scheduler' is ignored"}));
    EXPECT_EQ(policy.user_settings, std::vector<std::string>{"free.max_utilization"});
}

TEST(Policy, MalformedYamlIsAnErrorWithItsPlace) {
    EXPECT_EQ(error_of("limits:\n  users: {alice: [0\n"),
              "/etc/gpuenv/config.yaml:3:1: end of sequence flow not found");
    EXPECT_EQ(error_of("free:\n\tmax_utilization: 5\n").rfind("/etc/gpuenv/config.yaml:2:", 0), 0U);
}

TEST(Policy, WrongShapesAreErrors) {
    EXPECT_EQ(error_of("- free\n"),
              "/etc/gpuenv/config.yaml:1:1: expected a mapping with free, limits and "
              "user_settings");
    EXPECT_EQ(error_of("free: 10\n"), "/etc/gpuenv/config.yaml:1:7: free must be a mapping");
    EXPECT_EQ(error_of("limits:\n  users: [alice]\n"),
              "/etc/gpuenv/config.yaml:2:10: limits.users must be a mapping");
    EXPECT_EQ(error_of("limits:\n  users:\n    alice: 2\n"),
              "/etc/gpuenv/config.yaml:3:12: limits.users.alice must be a mapping");
    EXPECT_EQ(error_of("limits:\n  default: {gpus: 0}\n"),
              "/etc/gpuenv/config.yaml:2:19: limits.default.gpus must be all, none or a list such "
              "as [0, 1]");
    EXPECT_EQ(error_of("user_settings: free.max_utilization\n"),
              "/etc/gpuenv/config.yaml:1:16: user_settings must be a list such as "
              "[free.max_utilization]");
    EXPECT_EQ(error_of("free:\n  max_utilization: [5]\n"),
              "/etc/gpuenv/config.yaml:2:20: free.max_utilization must be a string");
}

TEST(Policy, BadNumbersAreErrors) {
    EXPECT_EQ(error_of("free: {max_utilization: 101}\n"),
              "/etc/gpuenv/config.yaml:1:25: free.max_utilization must be at most 100%, got "
              "'101'");
    EXPECT_EQ(error_of("free: {max_utilization: -1}\n"),
              "/etc/gpuenv/config.yaml:1:25: free.max_utilization must not be negative, got '-1'");
    EXPECT_EQ(error_of("free: {max_utilization: 2.5}\n"),
              "/etc/gpuenv/config.yaml:1:25: free.max_utilization must be a whole percentage "
              "0-100, got '2.5'");
    EXPECT_EQ(error_of("free: {max_process_memory: -5MiB}\n"),
              "/etc/gpuenv/config.yaml:1:28: free.max_process_memory: must not be negative, got "
              "'-5MiB'");
    EXPECT_EQ(
        error_of("limits: {default: {max_gpus: -2}}\n"),
        "/etc/gpuenv/config.yaml:1:30: limits.default.max_gpus must not be negative, got '-2'");
    EXPECT_EQ(
        error_of("limits: {default: {max_gpus: two}}\n"),
        "/etc/gpuenv/config.yaml:1:30: limits.default.max_gpus must be a whole number, got 'two'");
    EXPECT_EQ(error_of("limits: {default: {max_gpus: 99999999999}}\n"),
              "/etc/gpuenv/config.yaml:1:30: limits.default.max_gpus is too large: '99999999999'");
}

TEST(Policy, BadGpuEntriesAreErrors) {
    EXPECT_EQ(error_of("limits: {default: {gpus: [0, gpu0]}}\n"),
              "/etc/gpuenv/config.yaml:1:30: GPU entry 'gpu0' is not an index such as 0 or a "
              "UUID such as GPU-8932f937");
    EXPECT_EQ(error_of("limits: {default: {gpus: [all]}}\n"),
              "/etc/gpuenv/config.yaml:1:27: 'all' stands alone: write gpus: all");
    EXPECT_EQ(error_of("limits: {default: {gpus: [GPU-]}}\n"),
              "/etc/gpuenv/config.yaml:1:27: 'GPU-' names no GPU: give at least part of the "
              "UUID");
    EXPECT_EQ(error_of("limits: {default: {gpus: [-1]}}\n"),
              "/etc/gpuenv/config.yaml:1:27: GPU entry '-1' is not an index such as 0 or a UUID "
              "such as GPU-8932f937");
    EXPECT_EQ(error_of("limits: {default: {gpus: [1234567]}}\n"),
              "/etc/gpuenv/config.yaml:1:27: GPU index '1234567' is too large");
}

TEST(Policy, DuplicateKeysAreErrors) {
    EXPECT_EQ(error_of("limits:\n  users:\n    alice: {}\n    alice: {max_gpus: 1}\n"),
              "/etc/gpuenv/config.yaml:4:5: duplicate key 'alice' (first at line 3)");
    EXPECT_EQ(error_of("free: {}\nfree: {}\n"),
              "/etc/gpuenv/config.yaml:2:1: duplicate key 'free' (first at line 1)");
}

TEST(Policy, OversizedFileIsAnError) {
    const std::string text(2U << 20, '#');
    EXPECT_EQ(error_of(text), "/etc/gpuenv/config.yaml: file too large");
}

TEST(PolicySize, ReadsUnits) {
    EXPECT_EQ(size_of("0"), 0U);
    EXPECT_EQ(size_of("1024"), 1024U);
    EXPECT_EQ(size_of("12B"), 12U);
    EXPECT_EQ(size_of("256MiB"), 256ULL << 20);
    EXPECT_EQ(size_of("256 mib"), 256ULL << 20);
    EXPECT_EQ(size_of("1GiB"), 1ULL << 30);
    EXPECT_EQ(size_of("2TiB"), 2ULL << 40);
    EXPECT_EQ(size_of("4KiB"), 4096U);
    EXPECT_EQ(size_of("512MB"), 512000000U);
    EXPECT_EQ(size_of("3kB"), 3000U);
    EXPECT_EQ(size_of("1GB"), 1000000000U);
    EXPECT_EQ(size_of("1TB"), 1000000000000U);
    EXPECT_EQ(size_of("16777215TiB"), 16777215ULL << 40);
}

TEST(PolicySize, RefusesWhatItCannotReadExactly) {
    EXPECT_EQ(size_error("1G"),
              "unit 'G' is ambiguous: write kB, MB, GB (powers of 1000) or KiB, MiB, GiB "
              "(powers of 1024)");
    EXPECT_EQ(size_error("1Gi").substr(0, 21), "unit 'Gi' is ambiguou");
    EXPECT_EQ(size_error("1.5GiB"),
              "expected a whole number of bytes or one with a unit such as 256MiB, got '1.5GiB'");
    EXPECT_EQ(size_error("lots"),
              "expected a whole number of bytes or one with a unit such as 256MiB, got 'lots'");
    EXPECT_EQ(size_error("5 parsecs"),
              "unknown unit in '5 parsecs': use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB");
    EXPECT_EQ(size_error("16777216TiB"), "size '16777216TiB' is too large");
    EXPECT_EQ(size_error("99999999999999999999"), "size '99999999999999999999' is too large");
    EXPECT_EQ(size_error(""),
              "expected a whole number of bytes or one with a unit such as 256MiB, got ''");
}

TEST(Policy, NumbersWithLeadingZerosKeepTheirValue) {
    const Policy policy =
        parse("free: {max_utilization: 0100%}\nlimits: {default: {gpus: [01]}}\n");
    EXPECT_EQ(policy.free.max_utilization, 100U);
    EXPECT_TRUE(rule_allows(policy.default_rule, 1, "GPU-x"));
}

TEST(PolicyRule, AllAndNone) {
    const GpuRule all;
    EXPECT_TRUE(rule_allows(all, 7, "GPU-anything"));
    const GpuRule none = rule_with({});
    EXPECT_FALSE(rule_allows(none, 0, "GPU-8932f937"));
}

TEST(PolicyRule, IndicesUuidsAndPrefixes) {
    const GpuRule rule = rule_with({"1", "GPU-8932F937", "MIG-aa11"});
    EXPECT_TRUE(rule_allows(rule, 1, "GPU-0000"));
    EXPECT_FALSE(rule_allows(rule, 10, "GPU-0000"));
    EXPECT_TRUE(rule_allows(rule, 3, "GPU-8932f937-9c1a-4b2e-8d1f-0123456789ab"));
    EXPECT_FALSE(rule_allows(rule, 3, "GPU-8932f93"));
    EXPECT_TRUE(rule_allows(rule, 4, "MIG-aa11bb22-0000-0000-0000-000000000000"));
    EXPECT_FALSE(rule_allows(rule, 4, "MIG-aa12bb22-0000-0000-0000-000000000000"));
}

TEST(PolicyRule, MigDeviceCountsByParentIndexAndParentUuid) {
    EXPECT_TRUE(rule_allows(rule_with({"2"}), 2, "MIG-ffff", "GPU-1234"));
    EXPECT_TRUE(rule_allows(rule_with({"GPU-12"}), 5, "MIG-ffff", "GPU-1234"));
    EXPECT_FALSE(rule_allows(rule_with({"GPU-13"}), 5, "MIG-ffff", "GPU-1234"));
}

TEST(PolicyRule, OverLimitSaysWhy) {
    const Policy policy = parse(k_example);
    const UserIdentity alice{"alice", {}};
    const GpuRule& rule = rule_for(policy, alice);
    EXPECT_FALSE(over_limit(rule, alice, 2, 0).has_value());
    EXPECT_FALSE(over_limit(rule, alice, 1, 1).has_value());
    EXPECT_EQ(over_limit(rule, alice, 2, 1),
              "alice may use at most 2 GPUs at once (limits.users.alice, "
              "/etc/gpuenv/config.yaml:8): 1 held, 2 requested");
    const UserIdentity dave{"dave", {"students"}};
    EXPECT_EQ(over_limit(rule_for(policy, dave), dave, 2, 0),
              "dave may use at most 1 GPU at once (limits.groups.students, "
              "/etc/gpuenv/config.yaml:12): 0 held, 2 requested");
}

TEST(PolicyFree, IdleGpuIsFree) {
    EXPECT_FALSE(busy_reason({}, {0, 0, 0}).has_value());
    EXPECT_FALSE(busy_reason({}, {0, std::nullopt, std::nullopt}).has_value());
}

TEST(PolicyFree, SmallProcessesAndLowUtilisationAreTolerated) {
    EXPECT_FALSE(busy_reason({}, {1, 256ULL << 20, 10}).has_value());
}

TEST(PolicyFree, MemoryOverTheThreshold) {
    EXPECT_EQ(busy_reason({}, {3, 10240ULL << 20, 0}), "3 processes hold 10240 MiB > 256 MiB");
    EXPECT_EQ(busy_reason({}, {1, (256ULL << 20) + 1, 0}), "1 process holds 257 MiB > 256 MiB");
    EXPECT_EQ(busy_reason({500000000, 10}, {1, 500000001, 0}), "1 process holds 477 MiB > 476 MiB");
}

TEST(PolicyFree, UtilisationOverTheThreshold) {
    EXPECT_EQ(busy_reason({}, {0, 0, 87}), "utilisation 87% > 10%");
    EXPECT_EQ(busy_reason({}, {2, 1ULL << 30, 87}),
              "2 processes hold 1024 MiB > 256 MiB; utilisation 87% > 10%");
}

TEST(PolicyFree, UnknownMemoryOfAProcessIsBusy) {
    EXPECT_EQ(busy_reason({}, {2, std::nullopt, 0}),
              "2 processes hold an unknown amount of memory");
}

TEST(PolicyFree, ZeroThresholdAllowsNoProcess) {
    EXPECT_EQ(busy_reason({0, 10}, {1, 0, 0}), "1 process runs and free.max_process_memory is 0");
    EXPECT_FALSE(busy_reason({0, 0}, {0, 0, 0}).has_value());
}

TEST(PolicyPaths, SystemAndUserLocations) {
    auto paths = policy_paths(lookup_from({{"HOME", "/home/u"}}));
    EXPECT_EQ(paths.system, "/etc/gpuenv/config.yaml");
    EXPECT_EQ(paths.user, std::filesystem::path("/home/u/.config/gpuenv/config.yaml"));
    paths = policy_paths(lookup_from(
        {{"HOME", "/home/u"}, {"XDG_CONFIG_HOME", "/cfg"}, {"GPUENV_CONFIG", "/t/policy.yaml"}}));
    EXPECT_EQ(paths.system, "/t/policy.yaml");
    EXPECT_EQ(paths.user, std::filesystem::path("/cfg/gpuenv/config.yaml"));
    paths = policy_paths(
        lookup_from({{"HOME", "/home/u"}, {"XDG_CONFIG_HOME", "rel"}, {"GPUENV_CONFIG", ""}}));
    EXPECT_EQ(paths.system, "/etc/gpuenv/config.yaml");
    EXPECT_EQ(paths.user, std::filesystem::path("/home/u/.config/gpuenv/config.yaml"));
    EXPECT_FALSE(policy_paths(lookup_from({})).user.has_value());
}

TEST(PolicyLoad, MissingFilesGiveDefaults) {
    const test::TempDir dir;
    const Policy policy = load_policy({dir / "system.yaml", dir / "user.yaml"});
    EXPECT_EQ(policy.path, dir / "system.yaml");
    EXPECT_EQ(policy.free.max_utilization, 10U);
    EXPECT_TRUE(policy.users.empty());
    EXPECT_TRUE(policy.warnings.empty());
}

TEST(PolicyLoad, ReadsBothFiles) {
    const test::TempDir dir;
    test::write_file(dir / "system.yaml", k_example);
    test::write_file(dir / "user.yaml", "free: {max_utilization: 30}\n");
    const Policy policy = load_policy({dir / "system.yaml", dir / "user.yaml"});
    EXPECT_EQ(policy.free.max_utilization, 30U);
    EXPECT_EQ(policy.users.size(), 2U);
}

TEST(PolicyLoad, UserFileWithoutSystemFileMaySetThresholds) {
    const test::TempDir dir;
    test::write_file(dir / "user.yaml", "free: {max_process_memory: 0}\nlimits: {}\n");
    const Policy policy = load_policy({dir / "system.yaml", dir / "user.yaml"});
    EXPECT_EQ(policy.free.max_process_memory, 0U);
    ASSERT_EQ(policy.warnings.size(), 1U);
    EXPECT_EQ(policy.warnings[0].to_string(), (dir / "user.yaml").string() +
                                                  ":2:1: limits are set by " +
                                                  (dir / "system.yaml").string() + "; ignored");
}

TEST(PolicyLoad, UnreadableOrBrokenFileIsAnError) {
    const test::TempDir dir;
    std::filesystem::create_directories(dir / "system.yaml");
    EXPECT_THROW((void)load_policy({dir / "system.yaml", std::nullopt}), Error);
    test::write_file(dir / "broken.yaml", "limits: [\n");
    try {
        (void)load_policy({dir / "broken.yaml", std::nullopt});
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::not_found);
        EXPECT_EQ(std::string(e.what()).rfind((dir / "broken.yaml").string() + ":2:1: ", 0), 0U)
            << e.what();
    }
}

TEST(PolicyUser, CurrentUserHasANameAndGroups) {
    const UserIdentity user = current_user();
    EXPECT_FALSE(user.name.empty());
    EXPECT_FALSE(user.groups.empty());
}

}  // namespace gpuenv::core::gpu
