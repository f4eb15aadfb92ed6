#include <gpuenv/core/gpu/policy.hpp>

#include <algorithm>
#include <cerrno>
#include <limits>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <gpuenv/core/yaml_location.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/text.hpp>
#include <gpuenv/util/units.hpp>

namespace gpuenv::core::gpu {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t k_max_size = 1U << 20;  // far beyond any real policy file
constexpr std::uint64_t k_mib = 1ULL << 20;
constexpr std::size_t k_max_index_digits = 6;  // no machine has a million GPUs

std::string where(const fs::path& path, const YAML::Mark& mark) {
    return path.string() + ":" + std::to_string(mark.is_null() ? 0 : mark.line + 1);
}

std::string scalar(const YAML::Node& node, const fs::path& path, std::string_view what) {
    if (!node.IsScalar())
        fail_at(path, node.Mark(), std::string(what) + " must be a string");
    return node.Scalar();
}

// Calls fn(key, key node, value node) for each entry of a mapping (null counts as empty);
// a key given twice is an error, since which one wins would be a guess.
template <typename Fn>
void for_each_entry(const YAML::Node& node, const fs::path& path, std::string_view what, Fn fn) {
    if (node.IsNull())
        return;
    if (!node.IsMap())
        fail_at(path, node.Mark(), std::string(what) + " must be a mapping");
    std::map<std::string, int> seen;
    for (const auto& entry : node) {
        const std::string key = scalar(entry.first, path, "a key");
        const int line = entry.first.Mark().is_null() ? 0 : entry.first.Mark().line + 1;
        const auto [it, inserted] = seen.emplace(key, line);
        if (!inserted) {
            fail_at(
                path, entry.first.Mark(),
                "duplicate key '" + key + "' (first at line " + std::to_string(it->second) + ")");
        }
        fn(key, entry.first, entry.second);
    }
}

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parses a whole decimal number that fits in `max`; throws naming `what` otherwise.
std::uint64_t whole_number(const YAML::Node& node, const fs::path& path, std::string_view what,
                           std::uint64_t max) {
    const std::string text = scalar(node, path, what);
    const std::string_view s = util::trim(text);
    if (!s.empty() && s.front() == '-')
        fail_at(path, node.Mark(), std::string(what) + " must not be negative, got '" + text + "'");
    if (!all_digits(s))
        fail_at(path, node.Mark(),
                std::string(what) + " must be a whole number, got '" + text + "'");
    std::uint64_t value = 0;
    for (const char c : s) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (max - digit) / 10)
            fail_at(path, node.Mark(), std::string(what) + " is too large: '" + text + "'");
        value = value * 10 + digit;
    }
    return value;
}

unsigned percent(const YAML::Node& node, const fs::path& path, std::string_view what) {
    const std::string text = scalar(node, path, what);
    std::string_view s = util::trim(text);
    if (!s.empty() && s.back() == '%')
        s = util::trim(s.substr(0, s.size() - 1));
    if (!s.empty() && s.front() == '-')
        fail_at(path, node.Mark(), std::string(what) + " must not be negative, got '" + text + "'");
    if (!all_digits(s))
        fail_at(path, node.Mark(),
                std::string(what) + " must be a whole percentage 0-100, got '" + text + "'");
    while (s.size() > 1 && s.front() == '0')
        s.remove_prefix(1);
    if (s.size() > 3 || std::stoul(std::string(s)) > 100)
        fail_at(path, node.Mark(), std::string(what) + " must be at most 100%, got '" + text + "'");
    return static_cast<unsigned>(std::stoul(std::string(s)));
}

std::uint64_t size(const YAML::Node& node, const fs::path& path, std::string_view what) {
    const std::string text = scalar(node, path, what);
    std::string error;
    const auto value = util::parse_size(text, error);
    if (!value)
        fail_at(path, node.Mark(), std::string(what) + ": " + error);
    return *value;
}

bool starts_with_ignoring_case(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && util::iequals(s.substr(0, prefix.size()), prefix);
}

// Checks one entry of a `gpus:` list: an index or a GPU-/MIG- UUID (prefix).
std::string gpu_entry(const YAML::Node& node, const fs::path& path) {
    std::string text = std::string(util::trim(scalar(node, path, "a GPU entry")));
    if (all_digits(text)) {
        if (text.size() > k_max_index_digits)
            fail_at(path, node.Mark(), "GPU index '" + text + "' is too large");
        return std::to_string(std::stoul(text));  // "01" names GPU 1 as nvidia-smi -i does
    }
    if (starts_with_ignoring_case(text, "GPU-") || starts_with_ignoring_case(text, "MIG-")) {
        if (text.size() == 4)
            fail_at(path, node.Mark(),
                    "'" + text + "' names no GPU: give at least part of the UUID");
        return text;
    }
    if (text == "all" || text == "none")
        fail_at(path, node.Mark(), "'" + text + "' stands alone: write gpus: " + text);
    fail_at(path, node.Mark(),
            "GPU entry '" + text + "' is not an index such as 0 or a UUID such as GPU-8932f937");
}

std::optional<std::vector<std::string>> gpu_list(const YAML::Node& node, const fs::path& path,
                                                 const std::string& what) {
    if (node.IsScalar() && (node.Scalar() == "all" || node.Scalar() == "none")) {
        if (node.Scalar() == "all")
            return std::nullopt;
        return std::vector<std::string>{};
    }
    if (!node.IsSequence())
        fail_at(path, node.Mark(), what + " must be all, none or a list such as [0, 1]");
    std::vector<std::string> entries;
    for (const auto& item : node)
        entries.push_back(gpu_entry(item, path));
    return entries;
}

GpuRule parse_rule(const YAML::Node& node, const fs::path& path, const YAML::Mark& mark,
                   std::string key, Diagnostics& warnings) {
    GpuRule rule;
    rule.key = std::move(key);
    rule.source = where(path, mark);
    for_each_entry(
        node, path, rule.key,
        [&](const std::string& name, const YAML::Node& name_node, const YAML::Node& value) {
            if (name == "gpus") {
                rule.gpus = gpu_list(value, path, rule.key + ".gpus");
            } else if (name == "max_gpus") {
                rule.max_gpus = static_cast<unsigned>(whole_number(
                    value, path, rule.key + ".max_gpus", std::numeric_limits<unsigned>::max()));
            } else {
                warnings.push_back(
                    warning_at(path, name_node.Mark(),
                               "unknown key '" + rule.key + "." + name + "' is ignored"));
            }
        });
    return rule;
}

// Parses each NAME: rule of limits.users or limits.groups and hands it to `add`.
template <typename Add>
void for_each_rule(const YAML::Node& node, const fs::path& path, const std::string& section,
                   Policy& policy, Add add) {
    for_each_entry(
        node, path, section,
        [&](const std::string& name, const YAML::Node& name_node, const YAML::Node& rule_node) {
            add(name, parse_rule(rule_node, path, name_node.Mark(), section + "." + name,
                                 policy.warnings));
        });
}

void parse_limits(const YAML::Node& node, const fs::path& path, Policy& policy) {
    for_each_entry(
        node, path, "limits",
        [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
            if (key == "default") {
                policy.default_rule =
                    parse_rule(value, path, key_node.Mark(), "limits.default", policy.warnings);
            } else if (key == "users") {
                for_each_rule(value, path, "limits.users", policy,
                              [&](const std::string& name, GpuRule rule) {
                                  policy.users.emplace(name, std::move(rule));
                              });
            } else if (key == "groups") {
                for_each_rule(value, path, "limits.groups", policy,
                              [&](const std::string& name, GpuRule rule) {
                                  policy.groups.emplace_back(name, std::move(rule));
                              });
            } else {
                policy.warnings.push_back(warning_at(
                    path, key_node.Mark(), "unknown key 'limits." + key + "' is ignored"));
            }
        });
}

void parse_user_settings(const YAML::Node& node, const fs::path& path, Policy& policy) {
    policy.user_settings.clear();
    if (node.IsNull())
        return;
    if (!node.IsSequence())
        fail_at(path, node.Mark(), "user_settings must be a list such as [free.max_utilization]");
    for (const auto& item : node) {
        const std::string name = scalar(item, path, "a user setting");
        if (name != k_setting_max_process_memory && name != k_setting_max_utilization) {
            policy.warnings.push_back(
                warning_at(path, item.Mark(), "unknown user setting '" + name + "' is ignored"));
            continue;
        }
        if (std::find(policy.user_settings.begin(), policy.user_settings.end(), name) ==
            policy.user_settings.end()) {
            policy.user_settings.push_back(name);
        }
    }
}

// Says which file is being read: the system file sets everything, the user file only what
// the system file allows.
enum class FileKind { system, user };

void parse_free(const YAML::Node& node, const fs::path& path, FileKind kind, Policy& policy) {
    const auto allowed = [&](std::string_view setting) {
        return kind == FileKind::system ||
               std::find(policy.user_settings.begin(), policy.user_settings.end(), setting) !=
                   policy.user_settings.end();
    };
    for_each_entry(
        node, path, "free",
        [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
            const std::string setting = "free." + key;
            const bool known =
                setting == k_setting_max_process_memory || setting == k_setting_max_utilization;
            if (!known) {
                policy.warnings.push_back(
                    warning_at(path, key_node.Mark(), "unknown key '" + setting + "' is ignored"));
            } else if (!allowed(setting)) {
                policy.warnings.push_back(warning_at(path, key_node.Mark(),
                                                     setting + " is set by " +
                                                         policy.path.string() +
                                                         " (not in its user_settings); ignored"));
            } else if (setting == k_setting_max_process_memory) {
                policy.free.max_process_memory = size(value, path, setting);
            } else {
                policy.free.max_utilization = percent(value, path, setting);
            }
        });
}

// Loads YAML text; null when the document is empty (only comments): the defaults then hold.
YAML::Node load_yaml(std::string_view text, const fs::path& path) {
    if (text.size() > k_max_size)
        throw Error(ExitCode::not_found, path.string() + ": file too large");
    try {
        YAML::Node root = YAML::Load(std::string(text));
        if (!root.IsNull() && !root.IsMap())
            fail_at(path, root.Mark(), "expected a mapping with free, limits and user_settings");
        return root;
    } catch (const YAML::Exception& e) {
        fail_at(path, e.mark, e.msg);
    }
}

std::string format_mib(std::uint64_t bytes, bool round_up) {
    const std::uint64_t mib = bytes / k_mib + (round_up && bytes % k_mib != 0 ? 1 : 0);
    return std::to_string(mib) + " MiB";
}

}  // namespace

Policy parse_policy(std::string_view text, const fs::path& path) {
    Policy policy;
    policy.path = path;
    const YAML::Node root = load_yaml(text, path);
    try {
        for_each_entry(
            root, path, "the policy",
            [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
                if (key == "free") {
                    parse_free(value, path, FileKind::system, policy);
                } else if (key == "limits") {
                    parse_limits(value, path, policy);
                } else if (key == "user_settings") {
                    parse_user_settings(value, path, policy);
                } else {
                    policy.warnings.push_back(
                        warning_at(path, key_node.Mark(), "unknown key '" + key + "' is ignored"));
                }
            });
    } catch (const YAML::Exception& e) {
        fail_at(path, e.mark, e.msg);
    }
    return policy;
}

void apply_user_settings(Policy& policy, std::string_view text, const fs::path& path) {
    const YAML::Node root = load_yaml(text, path);
    // Parse into a copy so that an error leaves `policy` as it was.
    Policy updated = policy;
    try {
        for_each_entry(
            root, path, "the user settings",
            [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
                if (key == "free") {
                    parse_free(value, path, FileKind::user, updated);
                } else if (key == "limits" || key == "user_settings") {
                    updated.warnings.push_back(
                        warning_at(path, key_node.Mark(),
                                   key + " " + (key == "limits" ? "are" : "is") + " set by " +
                                       policy.path.string() + "; ignored"));
                } else {
                    updated.warnings.push_back(
                        warning_at(path, key_node.Mark(), "unknown key '" + key + "' is ignored"));
                }
            });
    } catch (const YAML::Exception& e) {
        fail_at(path, e.mark, e.msg);
    }
    policy = std::move(updated);
}

PolicyPaths policy_paths(const EnvLookup& env) {
    const auto non_empty = [&](std::string_view name) -> std::optional<std::string> {
        auto value = env(name);
        if (!value || value->empty())
            return std::nullopt;
        return value;
    };
    PolicyPaths paths;
    paths.system = non_empty("GPUENV_CONFIG").value_or("/etc/gpuenv/config.yaml");
    // The XDG base directory spec: a relative XDG_CONFIG_HOME is invalid and ignored.
    if (const auto xdg = non_empty("XDG_CONFIG_HOME"); xdg && fs::path(*xdg).is_absolute()) {
        paths.user = fs::path(*xdg) / "gpuenv" / "config.yaml";
    } else if (const auto home = non_empty("HOME")) {
        paths.user = fs::path(*home) / ".config" / "gpuenv" / "config.yaml";
    }
    return paths;
}

Policy load_policy(const PolicyPaths& paths) {
    Policy policy;
    policy.path = paths.system;
    if (util::exists(paths.system))
        policy = parse_policy(util::read_file(paths.system), paths.system);
    if (paths.user && util::exists(*paths.user))
        apply_user_settings(policy, util::read_file(*paths.user), *paths.user);
    return policy;
}

UserIdentity current_user() {
    const uid_t uid = getuid();
    UserIdentity user;
    user.name = std::to_string(uid);
    gid_t primary = getgid();
    const long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buffer(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
    passwd pw{};
    passwd* found = nullptr;
    while (getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) == ERANGE &&
           buffer.size() < (1U << 20)) {
        buffer.resize(buffer.size() * 2);
    }
    if (found == nullptr) {
        // No passwd entry (a container with a bare uid): no user or group rule can name it.
        user.groups.push_back(std::to_string(primary));
        return user;
    }
    user.name = pw.pw_name;
    primary = pw.pw_gid;
    std::vector<gid_t> gids(64);
    int count = static_cast<int>(gids.size());
    while (getgrouplist(pw.pw_name, primary, gids.data(), &count) < 0 && count < 65536) {
        gids.resize(static_cast<std::size_t>(count) > gids.size() ? static_cast<std::size_t>(count)
                                                                  : gids.size() * 2);
        count = static_cast<int>(gids.size());
    }
    gids.resize(static_cast<std::size_t>(std::max(count, 0)));
    std::vector<char> group_buffer(16384);
    for (const gid_t gid : gids) {
        group gr{};
        group* entry = nullptr;
        while (getgrgid_r(gid, &gr, group_buffer.data(), group_buffer.size(), &entry) == ERANGE &&
               group_buffer.size() < (1U << 22)) {
            group_buffer.resize(group_buffer.size() * 2);
        }
        std::string name = entry != nullptr ? std::string(gr.gr_name) : std::to_string(gid);
        if (std::find(user.groups.begin(), user.groups.end(), name) == user.groups.end())
            user.groups.push_back(std::move(name));
    }
    return user;
}

const GpuRule& rule_for(const Policy& policy, const UserIdentity& user) {
    if (const auto it = policy.users.find(user.name); it != policy.users.end())
        return it->second;
    for (const auto& [group, rule] : policy.groups) {
        if (std::find(user.groups.begin(), user.groups.end(), group) != user.groups.end())
            return rule;
    }
    return policy.default_rule;
}

bool rule_allows(const GpuRule& rule, unsigned gpu_index, std::string_view uuid,
                 std::string_view parent_uuid) {
    if (!rule.gpus)
        return true;
    const std::string index = std::to_string(gpu_index);
    return std::any_of(rule.gpus->begin(), rule.gpus->end(), [&](const std::string& entry) {
        if (all_digits(entry))
            return entry == index;
        return starts_with_ignoring_case(uuid, entry) ||
               (!parent_uuid.empty() && starts_with_ignoring_case(parent_uuid, entry));
    });
}

std::optional<std::string> over_limit(const GpuRule& rule, const UserIdentity& user,
                                      unsigned requested, unsigned held) {
    if (!rule.max_gpus)
        return std::nullopt;
    const std::uint64_t total = std::uint64_t{requested} + held;
    if (total <= *rule.max_gpus)
        return std::nullopt;
    const unsigned max = *rule.max_gpus;
    return user.name + " may use at most " + std::to_string(max) + (max == 1 ? " GPU" : " GPUs") +
           " at once (" + rule.key + ", " + rule.source + "): " + std::to_string(held) + " held, " +
           std::to_string(requested) + " requested";
}

std::optional<std::string> busy_reason(const FreeThresholds& thresholds, const GpuLoad& load) {
    std::vector<std::string> reasons;
    const std::string processes =
        std::to_string(load.process_count) +
        (load.process_count == 1 ? " process holds " : " processes hold ");
    if (!load.memory && load.process_count > 0) {
        // Memory NVML cannot report may be anything; counting the GPU free would be a guess.
        reasons.push_back(processes + "an unknown amount of memory");
    } else if (load.memory && *load.memory > thresholds.max_process_memory) {
        reasons.push_back(processes + format_mib(*load.memory, true) + " > " +
                          format_mib(thresholds.max_process_memory, false));
    } else if (load.process_count > 0 && thresholds.max_process_memory == 0) {
        reasons.push_back(std::to_string(load.process_count) +
                          (load.process_count == 1 ? " process runs" : " processes run") +
                          " and free.max_process_memory is 0");
    }
    if (load.utilization && *load.utilization > thresholds.max_utilization) {
        reasons.push_back("utilisation " + std::to_string(*load.utilization) + "% > " +
                          std::to_string(thresholds.max_utilization) + "%");
    }
    if (reasons.empty())
        return std::nullopt;
    std::string out = reasons.front();
    for (std::size_t i = 1; i < reasons.size(); ++i)
        out += "; " + reasons[i];
    return out;
}

}  // namespace gpuenv::core::gpu
