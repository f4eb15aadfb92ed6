#pragma once

// The GPU policy file (/etc/gpuenv/config.yaml, ~/.config/gpuenv/config.yaml): which GPUs a
// user or group may use, how many at once, and what makes a GPU free for `gpuenv run`.
// Parsing and deciding are pure; load_policy and current_user do the I/O.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gpuenv/core/gpu/visibility.hpp>
#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::gpu {

/// Holds the thresholds under which a GPU with compute processes still counts as free.
struct FreeThresholds {
    std::uint64_t max_process_memory = 256ULL << 20;  ///< bytes, summed over its processes
    unsigned max_utilization = 10;                    ///< percent, 0-100
};

/// Holds one rule of `limits`: which GPUs, and how many at once. A matched rule is complete:
/// a key it leaves out means no restriction, never the value of a less specific rule.
struct GpuRule {
    /// Entries as written (indices, GPU-/MIG- UUIDs or their prefixes); nullopt = all GPUs,
    /// empty = none.
    std::optional<std::vector<std::string>> gpus;
    std::optional<unsigned> max_gpus;  ///< nullopt = no limit
    std::string key;     ///< "limits.users.alice", ...; empty for the built-in "no limit"
    std::string source;  ///< "file:line" of the rule; empty for the built-in "no limit"
};

/// Names the user settings a system file can allow in `user_settings`.
inline constexpr std::string_view k_setting_max_process_memory = "free.max_process_memory";
inline constexpr std::string_view k_setting_max_utilization = "free.max_utilization";

/// Holds a parsed policy: the system file, with the user file's allowed settings applied.
struct Policy {
    std::filesystem::path path;  ///< the system file (whether or not it exists), for messages
    FreeThresholds free;
    GpuRule default_rule;                                 ///< limits.default, else no limit
    std::map<std::string, GpuRule> users;                 ///< limits.users
    std::vector<std::pair<std::string, GpuRule>> groups;  ///< limits.groups, in file order
    /// Keys the user file may set; both free.* keys unless the system file says otherwise.
    std::vector<std::string> user_settings{std::string(k_setting_max_process_memory),
                                           std::string(k_setting_max_utilization)};
    gpuenv::Diagnostics warnings;  ///< unknown keys, user settings that were ignored
};

/// Parses a system policy file. Throws gpuenv::Error(not_found) with "path:line:column:
/// message" for malformed YAML, a wrong type, a bad size, a negative or fractional number, a
/// percentage over 100, a bad GPU entry or a duplicate key; unknown keys are warnings.
[[nodiscard]] Policy parse_policy(std::string_view text, const std::filesystem::path& path);

/// Applies a user file on top of `policy`: the keys its user_settings allow replace the
/// system values; any other key is a warning naming path:line, never an error. Throws
/// gpuenv::Error(not_found) as parse_policy does for malformed YAML or a bad allowed value.
void apply_user_settings(Policy& policy, std::string_view text, const std::filesystem::path& path);

/// Holds where the policy files are.
struct PolicyPaths {
    std::filesystem::path system;               ///< GPUENV_CONFIG, else /etc/gpuenv/config.yaml
    std::optional<std::filesystem::path> user;  ///< nullopt when neither XDG_CONFIG_HOME nor HOME
};

/// Resolves the policy paths from GPUENV_CONFIG, XDG_CONFIG_HOME (when absolute) and HOME.
[[nodiscard]] PolicyPaths policy_paths(const EnvLookup& env);

/// Reads the system file, then the user file; a missing file means defaults. Throws
/// gpuenv::Error(not_found) naming the file when one exists but cannot be read or parsed.
[[nodiscard]] Policy load_policy(const PolicyPaths& paths);

/// Names a user and the groups they belong to.
struct UserIdentity {
    std::string name;
    std::vector<std::string> groups;  ///< group names (a number when a gid has no name)
};

/// Returns the real user of this process and their groups (passwd and group databases).
[[nodiscard]] UserIdentity current_user();

/// Returns the rule for a user: limits.users.NAME, else the first limits.groups entry (in
/// file order) the user belongs to, else limits.default, else the built-in "no limit".
[[nodiscard]] const GpuRule& rule_for(const Policy& policy, const UserIdentity& user);

/// Returns whether a rule lets a device be used. `gpu_index` is the NVML index (as nvidia-smi
/// numbers GPUs; a MIG device's parent), `uuid` the device's UUID (GPU- or MIG-), and
/// `parent_uuid` a MIG device's GPU UUID (empty for a whole GPU). An entry matches when it
/// equals the index or is a prefix of either UUID, ignoring case.
[[nodiscard]] bool rule_allows(const GpuRule& rule, unsigned gpu_index, std::string_view uuid,
                               std::string_view parent_uuid = {});

/// Returns why a user may not take `requested` more devices while holding `held`, or
/// std::nullopt when the rule's max_gpus allows it (a MIG device counts as one).
[[nodiscard]] std::optional<std::string> over_limit(const GpuRule& rule, const UserIdentity& user,
                                                    unsigned requested, unsigned held);

/// Describes what runs on a GPU, as NVML reports it.
struct GpuLoad {
    unsigned process_count = 0;           ///< compute processes
    std::optional<std::uint64_t> memory;  ///< bytes they hold; nullopt when unknown
    std::optional<unsigned> utilization;  ///< percent; nullopt when unknown (MIG)
};

/// Returns why a GPU is not free under the thresholds ("2 processes hold 10240 MiB > 256 MiB",
/// "utilisation 87% > 10%"), or std::nullopt when it is free.
[[nodiscard]] std::optional<std::string> busy_reason(const FreeThresholds& thresholds,
                                                     const GpuLoad& load);

}  // namespace gpuenv::core::gpu
