#include <gpuenv/core/env/env_locator.hpp>

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <set>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/process.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;

std::string getenv_string(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::string(value) : std::string();
}

bool is_conda_env(const fs::path& p) {
    return util::is_directory(p / "conda-meta");
}

// Returns a path usable as a set key: canonical when it exists, lexically normal otherwise.
std::string path_key(const fs::path& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(p, ec);
    if (ec)
        c = p.lexically_normal();
    std::string s = c.string();
    while (s.size() > 1 && s.back() == '/')
        s.pop_back();
    return s;
}

void add_unique(std::vector<fs::path>& list, std::set<std::string>& seen, const fs::path& p) {
    if (p.empty())
        return;
    if (seen.insert(path_key(p)).second)
        list.push_back(p.lexically_normal());
}

// Returns the install root of a conda executable: <root>/bin/conda, <root>/condabin/conda.
fs::path root_of_conda_exe(const std::string& conda_exe) {
    if (conda_exe.empty())
        return {};
    const fs::path exe(conda_exe);
    const auto dir = exe.parent_path().filename();
    if (dir == "bin" || dir == "condabin" || dir == "Scripts")
        return exe.parent_path().parent_path();
    return {};
}

// Reads ~/.conda/environments.txt: one prefix per line; blank lines and '#' comments skipped.
std::vector<fs::path> registered_envs(const LocatorContext& context) {
    std::vector<fs::path> out;
    if (context.home.empty())
        return out;
    const auto text = util::read_file_head(context.home / ".conda" / "environments.txt", 16 << 20);
    if (!text)
        return out;
    for (const auto line : util::split(*text, '\n')) {
        const auto entry = util::trim(line);
        if (entry.empty() || entry.front() == '#')
            continue;
        out.emplace_back(std::string(entry));
    }
    return out;
}

// Returns the subdirectories of dir, sorted.
std::vector<fs::path> subdirectories(const fs::path& dir) {
    std::vector<fs::path> out;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr)
        return out;
    while (const dirent* entry = ::readdir(d)) {
        const std::string_view name(entry->d_name);
        if (name == "." || name == "..")
            continue;
        if (util::is_directory(dir / name))
            out.push_back(dir / name);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

bool is_script(const fs::path& file) {
    const auto head = util::read_file_head(file, 2);
    return head && *head == "#!";
}

}  // namespace

LocatorContext LocatorContext::from_environment() {
    LocatorContext c;
    c.conda_prefix = getenv_string("CONDA_PREFIX");
    c.conda_default_env = getenv_string("CONDA_DEFAULT_ENV");
    c.virtual_env = getenv_string("VIRTUAL_ENV");
    c.conda_envs_path = getenv_string("CONDA_ENVS_PATH");
    if (c.conda_envs_path.empty())
        c.conda_envs_path = getenv_string("CONDA_ENVS_DIRS");
    c.mamba_root_prefix = getenv_string("MAMBA_ROOT_PREFIX");
    c.conda_exe = getenv_string("CONDA_EXE");
    c.conda_root = getenv_string("CONDA_ROOT");
    c.path = getenv_string("PATH");
    c.home = getenv_string("HOME");
    // The install locations of the Miniforge, Miniconda, Anaconda and micromamba installers.
    if (!c.home.empty()) {
        for (const char* dir : {"miniforge3", "mambaforge", "miniconda3", "anaconda3", "micromamba",
                                ".local/share/mamba"}) {
            c.default_roots.push_back(c.home / dir);
        }
    }
    for (const char* dir : {"/opt/conda", "/opt/miniforge3", "/opt/miniconda3", "/opt/anaconda3"}) {
        c.default_roots.emplace_back(dir);
    }
    return c;
}

std::vector<fs::path> conda_roots(const LocatorContext& context) {
    std::vector<fs::path> roots;
    std::set<std::string> seen;
    if (!context.mamba_root_prefix.empty())
        add_unique(roots, seen, context.mamba_root_prefix);
    if (!context.conda_root.empty())
        add_unique(roots, seen, context.conda_root);
    add_unique(roots, seen, root_of_conda_exe(context.conda_exe));
    for (const auto& root : context.default_roots) {
        if (util::is_directory(root))
            add_unique(roots, seen, root);
    }
    return roots;
}

std::vector<fs::path> envs_dirs(const LocatorContext& context) {
    std::vector<fs::path> dirs;
    std::set<std::string> seen;
    for (const auto entry : util::split(context.conda_envs_path, ':')) {
        if (!entry.empty())
            add_unique(dirs, seen, fs::path(std::string(entry)));
    }
    for (const auto& root : conda_roots(context))
        add_unique(dirs, seen, root / "envs");
    if (!context.home.empty())
        add_unique(dirs, seen, context.home / ".conda" / "envs");
    return dirs;
}

fs::path python_prefix(const fs::path& python) {
    // A venv's or conda env's bin/python3 is often a symlink to a base interpreter, so look
    // for the environment markers before resolving links (Python itself does the same).
    const fs::path unresolved = fs::absolute(python).lexically_normal();
    const fs::path env_candidate = unresolved.parent_path().parent_path();
    if (util::is_regular_file(env_candidate / "pyvenv.cfg") || is_conda_env(env_candidate)) {
        return env_candidate;
    }
    std::error_code ec;
    const fs::path resolved = fs::canonical(unresolved, ec);
    if (ec)
        return {};
    if (is_script(resolved)) {
        // A launcher such as a pyenv shim: only the interpreter knows which prefix it picks.
        const auto output = util::run_capture(
            {unresolved.string(), "-c", "import sys; print(sys.prefix)"}, std::chrono::seconds(10));
        if (!output || output->exit_status != 0)
            return {};
        const fs::path reported(std::string(util::trim(output->out)));
        return util::is_directory(reported) ? reported : fs::path();
    }
    if (resolved.parent_path().filename() == "bin")
        return resolved.parent_path().parent_path();
    return {};
}

LocatedEnv locate_env(const EnvSelection& selection, const LocatorContext& context) {
    if (!selection.name.empty() && !selection.prefix.empty()) {
        throw Error(ExitCode::usage, "-n/--name and -p/--prefix are mutually exclusive");
    }
    if (!selection.prefix.empty())
        return {selection.prefix, EnvOrigin::flag_prefix};

    if (!selection.name.empty()) {
        const std::string& name = selection.name;
        if (name == "base") {
            for (const auto& root : conda_roots(context)) {
                if (is_conda_env(root))
                    return {root, EnvOrigin::flag_name};
            }
        } else if (name.find('/') == std::string::npos && name != "." && name != "..") {
            for (const auto& dir : envs_dirs(context)) {
                if (util::is_directory(dir / name))
                    return {dir / name, EnvOrigin::flag_name};
            }
            for (const auto& registered : registered_envs(context)) {
                if (registered.filename() == name && util::is_directory(registered)) {
                    return {registered, EnvOrigin::flag_name};
                }
            }
        }
        std::string searched;
        for (const auto& dir : envs_dirs(context)) {
            searched += searched.empty() ? "" : ", ";
            searched += dir.string();
        }
        throw Error(ExitCode::not_found,
                    "environment not found: " + name +
                        (searched.empty() ? "" : " (searched " + searched + ")"));
    }

    if (!context.conda_prefix.empty())
        return {context.conda_prefix, EnvOrigin::conda_prefix};
    if (!context.virtual_env.empty())
        return {context.virtual_env, EnvOrigin::virtual_env};
    const std::string python = util::find_on_path("python3", context.path);
    if (!python.empty()) {
        const fs::path prefix = python_prefix(python);
        if (!prefix.empty())
            return {prefix, EnvOrigin::python_on_path};
        throw Error(ExitCode::not_found, "cannot tell the prefix of " + python + "; use -p PREFIX");
    }
    throw Error(ExitCode::not_found,
                "no environment selected: $CONDA_PREFIX and $VIRTUAL_ENV are unset and there is no "
                "python3 on PATH; use -n NAME or -p PREFIX");
}

std::vector<KnownEnv> list_known_envs(const LocatorContext& context) {
    std::vector<KnownEnv> out;
    std::set<std::string> seen;
    const std::string active_key = !context.conda_prefix.empty()  ? path_key(context.conda_prefix)
                                   : !context.virtual_env.empty() ? path_key(context.virtual_env)
                                                                  : std::string();
    const auto roots = conda_roots(context);
    const auto dirs = envs_dirs(context);
    auto name_of = [&](const fs::path& prefix) -> std::string {
        const std::string key = path_key(prefix);
        for (const auto& root : roots) {
            if (path_key(root) == key)
                return "base";
        }
        const std::string parent = path_key(prefix.parent_path());
        for (const auto& dir : dirs) {
            if (path_key(dir) == parent)
                return prefix.filename().string();
        }
        return {};
    };
    auto add = [&](const fs::path& prefix) {
        if (!is_conda_env(prefix))
            return;
        const std::string key = path_key(prefix);
        if (!seen.insert(key).second)
            return;
        out.push_back({name_of(prefix), prefix.lexically_normal(), key == active_key});
    };
    for (const auto& root : roots)
        add(root);
    for (const auto& dir : dirs) {
        for (const auto& child : subdirectories(dir))
            add(child);
    }
    for (const auto& registered : registered_envs(context))
        add(registered);
    return out;
}

}  // namespace gpuenv::core::env
