#include <gpuenv/core/run/activation.hpp>

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include <gpuenv/core/env/env_vars.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::run {
namespace {

namespace fs = std::filesystem;

using Pairs = std::vector<std::pair<std::string, std::string>>;

// conda's CONDA_ENV_VARS_UNSET_VAR.
constexpr std::string_view k_unset_marker = "***unset***";

// Sources each script named before "--" with the variables already exported (as conda does
// after its exports), then replaces itself with the command after "--". Nothing from the user
// is ever part of this text: scripts and arguments are positional parameters. A script that
// is not a readable file is skipped, since a failed `.` would end a non-interactive sh.
constexpr std::string_view k_wrapper_script =
    "while [ \"$#\" -gt 0 ] && [ \"$1\" != -- ]; do "
    "__gpuenv_activate_script=$1; shift; "
    "if [ -f \"$__gpuenv_activate_script\" ] && [ -r \"$__gpuenv_activate_script\" ]; then "
    ". \"$__gpuenv_activate_script\"; fi; "
    "done; "
    "unset __gpuenv_activate_script; "
    "if [ \"$#\" -gt 0 ]; then shift; fi; "
    "exec \"$@\"";

// conda's default PATH when the variable is missing (activate.py _get_starting_path_list).
constexpr std::string_view k_default_path = "/usr/bin";

// Compares PATH entries as conda's paths_equal does on Linux: lexically, ignoring a trailing
// separator. An empty entry (the current directory) equals nothing we add or remove.
std::string comparable(std::string_view entry) {
    if (entry.empty())
        return {};
    std::string normal = fs::path(entry).lexically_normal().string();
    while (normal.size() > 1 && normal.back() == '/')
        normal.pop_back();
    return normal;
}

std::optional<std::string> lookup(const Environment& env, const std::string& name) {
    if (const auto it = env.find(name); it != env.end())
        return it->second;
    return std::nullopt;
}

// Reads CONDA_SHLVL as conda does (int(value.strip() or 0)); a value that is not a number
// counts as 0.
int shell_level(const Environment& env) {
    const auto value = lookup(env, "CONDA_SHLVL");
    if (!value)
        return 0;
    const std::string_view text = util::trim(*value);
    int level = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), level);
    if (ec != std::errc() || end != text.data() + text.size() || level < 0)
        return 0;
    return level;
}

// conda's _default_env: the directory name inside an envs/ folder, else the path.
std::string default_env(const ActivationTarget& target) {
    if (!target.name.empty())
        return target.name;
    const fs::path& prefix = target.prefix.path;
    if (prefix.parent_path().filename() == "envs")
        return prefix.filename().string();
    return prefix.string();
}

std::vector<fs::path> list_activate_scripts(const fs::path& prefix, Diagnostics& warnings) {
    std::vector<fs::path> scripts;
    const fs::path dir = prefix / "etc" / "conda" / "activate.d";
    if (!util::is_directory(dir))
        return scripts;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() > 3 && name.ends_with(".sh") && util::is_regular_file(it->path()))
            scripts.push_back(it->path());
    }
    if (ec)
        warnings.push_back({dir.string(), 0, 0, "cannot list: " + ec.message()});
    // Python's sorted() on str: code point order, which is byte order for UTF-8 names.
    std::sort(scripts.begin(), scripts.end(),
              [](const fs::path& a, const fs::path& b) { return a.native() < b.native(); });
    return scripts;
}

// Parses env_vars.d again for its "***unset***" entries; read_env_vars keeps only the effective
// values. Its warnings already cover files that cannot be read, so failures are silent here.
std::vector<Pairs> read_package_vars(const fs::path& prefix) {
    std::vector<fs::path> files;
    const fs::path dir = prefix / "etc" / "conda" / "env_vars.d";
    if (!util::is_directory(dir))
        return {};
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() == ".json")
            files.push_back(it->path());
    }
    std::sort(files.begin(), files.end(),
              [](const fs::path& a, const fs::path& b) { return a.native() < b.native(); });
    std::vector<Pairs> packages;
    std::string text;
    std::string error;
    for (const auto& file : files) {
        if (!util::read_file_into(file, text, error))
            continue;
        try {
            packages.push_back(env::parse_env_vars_json(text, file, false));
        } catch (const Error&) {
            // Reported by read_env_vars.
        }
    }
    return packages;
}

// Reads pyvenv.cfg's prompt (CPython writes it with repr() quotes, virtualenv without) and
// whether virtualenv or uv wrote the file.
void read_pyvenv_cfg(const fs::path& prefix, ActivationFiles& files) {
    const fs::path cfg = prefix / "pyvenv.cfg";
    std::string text;
    std::string error;
    if (!util::read_file_into(cfg, text, error)) {
        files.warnings.push_back({cfg.string(), 0, 0, "cannot read: " + error});
        return;
    }
    for (const auto line : util::split(text, '\n')) {
        const auto eq = line.find('=');
        if (eq == std::string_view::npos)
            continue;
        const std::string key = util::to_lower(util::trim(line.substr(0, eq)));
        std::string_view value = util::trim(line.substr(eq + 1));
        if (key == "virtualenv" || key == "uv") {
            files.venv_tool = true;
        } else if (key == "prompt") {
            if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
                value.back() == value.front())
                value = value.substr(1, value.size() - 2);
            files.venv_prompt = std::string(value);
        }
    }
}

// Returns the VIRTUAL_ENV_PROMPT value bin/activate exports: CPython before 3.13 writes
// "(prompt) ", CPython 3.13+, virtualenv and uv write the bare prompt.
std::string venv_prompt(const ActivationTarget& target, const ActivationFiles& files) {
    std::string prompt = files.venv_prompt;
    if (prompt.empty())
        prompt = target.prefix.path.filename().string();
    if (files.venv_tool)
        return prompt;
    const std::string& version = target.prefix.python_version;
    const auto dot = version.find('.');
    if (dot == std::string::npos || version.substr(0, dot) != "3")
        return prompt;
    int minor = 0;
    const std::string_view rest = std::string_view(version).substr(dot + 1);
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), minor);
    if (ec != std::errc() || minor >= 13)
        return prompt;
    return "(" + prompt + ") ";
}

void activate_conda(const ActivationTarget& target, const ActivationFiles& files,
                    const Environment& current, Activation& out) {
    auto set = [&out](std::string name, std::string value) {
        out.set.emplace_back(std::move(name), std::move(value));
    };
    const fs::path& prefix = target.prefix.path;
    const int old_level = shell_level(current);
    const std::string old_prefix = lookup(current, "CONDA_PREFIX").value_or("");
    // conda turns an activation of the active environment into a reactivation: the level
    // stays and nothing is stacked.
    const bool reactivate = old_level > 0 && comparable(old_prefix) == comparable(prefix.string());
    const int level = reactivate ? old_level : old_level + 1;

    const std::string path = lookup(current, "PATH").value_or(std::string(k_default_path));
    const fs::path replaced =
        old_level > 0 && !old_prefix.empty() ? fs::path(old_prefix) / "bin" : fs::path();
    const std::string env_name = default_env(target);
    set("PATH", prepend_path(path, prefix / "bin", replaced));
    set("CONDA_PREFIX", prefix.string());
    set("CONDA_SHLVL", std::to_string(level));
    set("CONDA_DEFAULT_ENV", env_name);
    // conda's default env_prompt "({default_env}) " with changeps1 on.
    set("CONDA_PROMPT_MODIFIER", "(" + env_name + ") ");

    static const std::set<std::string> k_own = {"CONDA_PREFIX", "CONDA_SHLVL", "CONDA_DEFAULT_ENV",
                                                "CONDA_PROMPT_MODIFIER"};
    std::vector<std::pair<std::string, std::string>> saved;
    for (const auto& [name, value] : files.vars) {
        if (k_own.contains(name) || name.starts_with("CONDA_PREFIX_")) {
            out.warnings.push_back({prefix.string(), 0, 0,
                                    name + " is set by activation itself; the environment's "
                                           "value is ignored"});
            continue;
        }
        // conda saves a value it overwrites as __CONDA_SHLVL_<old level>_<NAME> so that
        // `conda deactivate` restores it.
        if (const auto old = lookup(current, name))
            saved.emplace_back("__CONDA_SHLVL_" + std::to_string(old_level) + "_" + name, *old);
        set(name, value);
    }
    for (auto& [name, value] : saved)
        set(std::move(name), std::move(value));
    if (!reactivate && old_level > 0 && !old_prefix.empty())
        set("CONDA_PREFIX_" + std::to_string(old_level), old_prefix);

    if (target.unset_marker == UnsetMarker::unset) {
        for (const auto& name : files.unset_markers) {
            if (!k_own.contains(name))
                out.unset.push_back(name);
        }
    }
    out.activate_scripts = files.activate_scripts;
}

void activate_venv(const ActivationTarget& target, const ActivationFiles& files,
                   const Environment& current, Activation& out) {
    const fs::path& prefix = target.prefix.path;
    const std::string path = lookup(current, "PATH").value_or(std::string(k_default_path));
    // bin/activate first runs `deactivate nondestructive`, which puts back the PATH saved
    // before an active venv; a child never sees that saved PATH, so drop the active venv's bin.
    const std::string old_venv = lookup(current, "VIRTUAL_ENV").value_or("");
    const fs::path replaced = old_venv.empty() ? fs::path() : fs::path(old_venv) / "bin";
    out.unset.emplace_back("PYTHONHOME");
    out.set.emplace_back("VIRTUAL_ENV", prefix.string());
    out.set.emplace_back("PATH", prepend_path(path, prefix / "bin", replaced));
    out.set.emplace_back("VIRTUAL_ENV_PROMPT", venv_prompt(target, files));
}

}  // namespace

std::vector<std::string> unset_marker_names(const std::vector<Pairs>& packages,
                                            const Pairs& state) {
    // Merge as Python's dict.update does (a key set again keeps its first position), then
    // walk in that order: a later spelling of the same uppercased name decides.
    Pairs merged;
    std::unordered_map<std::string, std::size_t> index;
    auto merge = [&](const Pairs& pairs) {
        for (const auto& [key, value] : pairs) {
            if (const auto it = index.find(key); it != index.end()) {
                merged[it->second].second = value;
            } else {
                index.emplace(key, merged.size());
                merged.emplace_back(key, value);
            }
        }
    };
    for (const auto& pairs : packages)
        merge(pairs);
    merge(state);

    std::map<std::string, bool> marked;  // uppercased name -> last spelling was the marker
    for (const auto& [key, value] : merged) {
        const std::string name = util::to_upper(key);
        if (name != "PATH")
            marked[name] = value == k_unset_marker;
    }
    std::vector<std::string> names;
    for (const auto& [name, is_marker] : marked) {
        if (is_marker)
            names.push_back(name);
    }
    return names;
}

ActivationFiles read_activation_files(const env::Prefix& prefix) {
    ActivationFiles files;
    if (prefix.kind == env::PrefixKind::conda) {
        auto env_vars = env::read_env_vars(prefix.path);
        files.vars = std::move(env_vars.vars);
        files.warnings = std::move(env_vars.warnings);
        files.unset_markers =
            unset_marker_names(read_package_vars(prefix.path), env_vars.state_vars);
        files.activate_scripts = list_activate_scripts(prefix.path, files.warnings);
    } else if (prefix.kind == env::PrefixKind::venv) {
        read_pyvenv_cfg(prefix.path, files);
    }
    return files;
}

Activation compute_activation(const ActivationTarget& target, const ActivationFiles& files,
                              const Environment& current) {
    Activation out;
    out.warnings = files.warnings;
    switch (target.prefix.kind) {
        case env::PrefixKind::conda:
            activate_conda(target, files, current, out);
            break;
        case env::PrefixKind::venv:
            activate_venv(target, files, current, out);
            break;
        case env::PrefixKind::python: {
            const std::string path = lookup(current, "PATH").value_or(std::string(k_default_path));
            out.set.emplace_back("PATH", prepend_path(path, target.prefix.path / "bin", {}));
            break;
        }
    }
    return out;
}

std::string prepend_path(const std::string& path_list, const fs::path& dir,
                         const fs::path& replaced) {
    const std::string added = comparable(dir.string());
    const std::string removed = replaced.empty() ? std::string() : comparable(replaced.string());
    std::string out = dir.string();
    bool removed_once = false;
    // An empty PATH has no entries: splitting it would add the current directory.
    if (path_list.empty())
        return out;
    for (const auto entry : util::split(path_list, ':')) {
        const std::string key = comparable(entry);
        if (!key.empty() && key == added)
            continue;
        // conda's _replace_prefix_in_path removes the first matching entry only.
        if (!removed_once && !removed.empty() && key == removed) {
            removed_once = true;
            continue;
        }
        out += ':';
        out += entry;
    }
    return out;
}

std::vector<std::string> build_environment(
    const Activation& activation, const Environment& current,
    const std::vector<std::pair<std::string, std::string>>& overrides) {
    Environment env = current;
    for (const auto& name : activation.unset)
        env.erase(name);
    for (const auto& [name, value] : activation.set)
        env.insert_or_assign(name, value);
    for (const auto& [name, value] : overrides)
        env.insert_or_assign(name, value);
    std::vector<std::string> out;
    out.reserve(env.size());
    for (const auto& [name, value] : env)
        out.push_back(name + "=" + value);
    return out;
}

Environment environment_from_envp(const char* const* envp) {
    Environment env;
    for (; envp != nullptr && *envp != nullptr; ++envp) {
        const std::string_view entry(*envp);
        const auto eq = entry.find('=');
        if (eq == std::string_view::npos || eq == 0)
            continue;
        env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
    return env;
}

std::vector<std::string> wrap_with_activate_scripts(const std::vector<std::string>& argv,
                                                    const std::vector<fs::path>& scripts) {
    if (scripts.empty())
        return argv;
    std::vector<std::string> out;
    out.reserve(argv.size() + scripts.size() + 5);
    out.emplace_back("/bin/sh");
    out.emplace_back("-c");
    out.emplace_back(k_wrapper_script);
    out.emplace_back("sh");
    for (const auto& script : scripts) {
        // The shell text ends the scripts at "--"; a relative script of that name stays a
        // script.
        out.push_back(script == "--" ? "./--" : script.string());
    }
    out.emplace_back("--");
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

}  // namespace gpuenv::core::run
