#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpuenv::core::env {

// gpuenv binds GPUs to a conda environment by setting activation variables in the prefix's
// conda-meta/state (reference/conda.md 2.2), which conda and micromamba export on activation.
// What bind changed is recorded under a top-level "gpuenv" key (both tools keep unknown
// top-level keys), so that unbind can put back exactly what was there:
//
//   "gpuenv": {"format": 1, "state_file_existed": true, "env_vars_existed": true,
//              "env_vars": {"CUDA_VISIBLE_DEVICES": {"value": "GPU-...", "previous": null}}}
//
// "previous" is the value before the first bind, null when the variable was absent.
//
// The file is rewritten in the style it was found in, so that bind then unbind leaves it
// byte-identical. Style heuristic (the file is valid JSON by then):
//   - bytes before the opening '{' and after the closing '}' (a BOM, a trailing newline) are
//     kept verbatim;
//   - a newline inside the braces means indented (Python indent=N, nlohmann dump(N)): one
//     level's indent is the run of spaces or tabs after that first newline, "\r\n" is kept;
//     otherwise compact, one line;
//   - the key separator is the first ':' outside strings with the blanks around it; the item
//     separator (compact only) is the first ',' likewise; with no ',' it is ", " when the key
//     separator has a space (Python's default) and "," otherwise (nlohmann's dump());
//   - non-ASCII is written as UTF-8 (conda's ensure_ascii=False, nlohmann) unless the file
//     holds a \u escape of a non-ASCII character and no raw non-ASCII byte (Python's
//     ensure_ascii=True). Escapes follow Python and nlohmann, which agree: \" \\ \b \f \n \r
//     \t, other control characters as lowercase \u00xx, '/' not escaped.
// A new file is written as conda does: json.dumps(state, ensure_ascii=False), no newline.
//
// Writers hold an exclusive flock on conda-meta/.gpuenv-state.lock (never removed: removing
// a lock file races with its waiters) across read-modify-write, and replace the file
// atomically. conda itself does not take that lock.

/// Describes one variable gpuenv bound.
struct BoundVar {
    std::string name;
    std::string value;                    ///< what gpuenv set
    std::optional<std::string> previous;  ///< the value before the first bind; none if absent
};

/// Holds what gpuenv bound in a prefix's conda-meta/state, in binding order.
struct Binding {
    std::vector<BoundVar> vars;
    bool state_file_existed = true;  ///< whether conda-meta/state existed before the first bind
};

/// Reports what unbind_env_vars did.
struct UnbindResult {
    bool was_bound = false;             ///< false: nothing was bound and nothing was written
    std::vector<std::string> restored;  ///< variables given back their previous value
    std::vector<std::string> removed;   ///< variables bind had added, removed again
    /// Variables whose value changed after bind (another tool set or unset them); left as
    /// found.
    std::vector<std::string> kept;
    bool state_file_removed = false;  ///< bind had created conda-meta/state; it is gone again
};

/// Throws gpuenv::Error unless `prefix` is a conda environment, the only kind whose activation
/// applies conda-meta/state: not_found when it is missing, usage (suggesting `gpuenv run`) for
/// a venv or a plain Python; `action` ("bind") starts the message.
void require_conda_prefix(const std::filesystem::path& prefix, std::string_view action);

/// Sets `vars` in the prefix's conda-meta/state env_vars (an existing variable keeps its
/// place, a new one is appended), keeps every other key and variable, and records each
/// variable's value before the first bind under "gpuenv". Throws gpuenv::Error: usage for a
/// prefix without conda-meta/ (a venv) or an invalid name (empty, '=', PATH), not_found for
/// a missing prefix or a state file that is not {"env_vars": {str: str}} (file, line, column;
/// nothing written) or cannot be locked or written.
void bind_env_vars(const std::filesystem::path& prefix,
                   const std::vector<std::pair<std::string, std::string>>& vars);

/// Restores what bind_env_vars changed: previous values put back, added variables and the
/// "gpuenv" key removed, the file removed if bind created it; a variable changed since bind
/// is left as found. Writes nothing when nothing is bound. Throws as bind_env_vars does.
UnbindResult unbind_env_vars(const std::filesystem::path& prefix);

/// Returns what gpuenv bound in the prefix, or std::nullopt when nothing is (or the prefix
/// has no conda-meta/state). Takes no lock. Throws gpuenv::Error(not_found) naming the file
/// when conda-meta/state cannot be read or parsed.
[[nodiscard]] std::optional<Binding> read_binding(const std::filesystem::path& prefix);

}  // namespace gpuenv::core::env
