// Rule 12: Jupyter kernelspecs that start the environment's Python without its GPU binding,
// and the Jupyter search path (default_kernel_dirs) they are read from. The binding facts it
// compares with are binding_facts.hpp's, defined in binding_rules.cpp.
#include <gpuenv/core/doctor/doctor.hpp>

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

#include <nlohmann/json.hpp>

#include <gpuenv/core/doctor/binding_facts.hpp>
#include <gpuenv/core/fleet/transport.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/json_value.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::doctor {
namespace {

namespace fs = std::filesystem;
using binding_facts::binding_line;
using binding_facts::k_order;
using binding_facts::k_pci_bus_id;
using binding_facts::k_visible;
using binding_facts::lookup;
using binding_facts::prefix_of;
using binding_facts::source_of;
using binding_facts::starts_as_integer;
using binding_facts::Vars;

std::optional<std::string> non_empty(const Vars& vars, std::string_view name) {
    std::optional<std::string> value = lookup(vars, name);
    if (value && value->empty())
        return std::nullopt;
    return value;
}

// ---- rule 12: kernelspecs ------------------------------------------------------------------

bool envset(const Vars& environment, std::string_view name) {
    const std::optional<std::string> value = lookup(environment, name);
    if (!value)
        return false;
    const std::string lower = util::to_lower(*value);
    return lower != "no" && lower != "n" && lower != "false" && lower != "off" && lower != "0" &&
           lower != "0.0";
}

fs::path home_dir(const Vars& environment) {
    if (auto home = non_empty(environment, "HOME"))
        return *home;
    const passwd* entry = ::getpwuid(::getuid());
    return entry != nullptr && entry->pw_dir != nullptr ? fs::path(entry->pw_dir) : fs::path();
}

// "python", "python3", "python3.11", "python3.13t": the names an environment's bin/ gives its
// interpreter.
bool is_python_name(std::string_view name) {
    if (!name.starts_with("python"))
        return false;
    name.remove_prefix(6);
    if (name.ends_with('t'))
        name.remove_suffix(1);
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

fs::path canonical_or_self(const fs::path& path) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(path, ec);
    return ec ? path.lexically_normal() : canonical;
}

// What identifies the environment's interpreter on disk, canonicalised once.
struct EnvPython {
    fs::path bin;                        ///< canonical prefix/bin
    fs::path own_kernels;                ///< canonical prefix/share/jupyter/kernels
    std::vector<fs::path> interpreters;  ///< canonical targets of prefix/bin/python*, in prefix
};

EnvPython env_python(const fs::path& prefix) {
    EnvPython env{canonical_or_self(prefix / "bin"),
                  canonical_or_self(prefix / "share" / "jupyter" / "kernels"),
                  {}};
    const fs::path root = canonical_or_self(prefix);
    for (const char* name : {"python", "python3"}) {
        const fs::path target = canonical_or_self(prefix / "bin" / name);
        // A venv's bin/python links to the base interpreter, which is not the venv.
        const auto [end, ignored] =
            std::mismatch(root.begin(), root.end(), target.begin(), target.end());
        if (end == root.end())
            env.interpreters.push_back(target);
    }
    return env;
}

// Whether a kernel's argv[0] starts this environment's Python. Jupyter itself runs a bare
// "python" as its own interpreter, which is this environment's only for a kernelspec the
// environment ships (share/jupyter/kernels).
bool runs_env_python(const std::string& argv0, const fs::path& kernels_dir, const EnvPython& env) {
    const fs::path path(argv0);
    if (argv0.find('/') == std::string::npos)
        return is_python_name(argv0) && canonical_or_self(kernels_dir) == env.own_kernels;
    if (!path.is_absolute())
        return false;
    if (is_python_name(path.filename().string()) &&
        canonical_or_self(path.parent_path()) == env.bin)
        return true;
    const fs::path target = canonical_or_self(path);
    return std::find(env.interpreters.begin(), env.interpreters.end(), target) !=
           env.interpreters.end();
}

struct Kernelspec {
    fs::path file;
    std::string name;  ///< the directory's name
    nlohmann::json doc;
};

std::optional<Kernelspec> read_kernelspec(const fs::path& file, gpuenv::Diagnostics& warnings) {
    std::string text;
    std::string error;
    if (!util::read_file_into(file, text, error)) {
        warnings.push_back({file.string(), 0, 0, "cannot read kernelspec: " + error});
        return std::nullopt;
    }
    Kernelspec spec{file, file.parent_path().filename().string(), {}};
    try {
        spec.doc = util::json::parse_value(text);
    } catch (const util::json::SyntaxError& e) {
        const auto where = util::line_column(text, e.offset());
        warnings.push_back({file.string(), where.line, where.column,
                            std::string("invalid kernelspec JSON: ") + e.what()});
        return std::nullopt;
    }
    const auto argv = spec.doc.is_object() ? spec.doc.find("argv") : spec.doc.end();
    if (!spec.doc.is_object() || argv == spec.doc.end() || !argv->is_array() || argv->empty() ||
        !(*argv)[0].is_string()) {
        warnings.push_back({file.string(), 0, 0, "kernelspec has no argv list of strings"});
        return std::nullopt;
    }
    return spec;
}

// The kernelspec's value of a variable: nullopt when its env does not set it.
std::optional<std::string> kernel_env(const nlohmann::json& doc, std::string_view name) {
    const auto env = doc.find("env");
    if (env == doc.end() || !env->is_object())
        return std::nullopt;
    const auto value = env->find(std::string(name));
    if (value == env->end() || !value->is_string())
        return std::nullopt;
    return value->get<std::string>();
}

// `python -m ipykernel install` writes to PREFIX/share/jupyter/kernels (--user: the user's
// data directory); a kernelspec elsewhere is only edited in place.
std::optional<std::string> install_location(const fs::path& kernels_dir, const Vars& environment) {
    const fs::path dir = kernels_dir.lexically_normal();
    const fs::path jupyter = dir.parent_path();
    if (dir.filename() != "kernels" || jupyter.filename() != "jupyter" ||
        jupyter.parent_path().filename() != "share")
        return std::nullopt;
    const fs::path prefix = jupyter.parent_path().parent_path();
    if (!lookup(environment, "JUPYTER_DATA_DIR") && !lookup(environment, "XDG_DATA_HOME") &&
        prefix == home_dir(environment) / ".local")
        return "--user";
    return "--prefix " + fleet::shell_quote(prefix.string());
}

std::string kernelspec_fix(const DoctorInput& input, const Kernelspec& spec,
                           const fs::path& kernels_dir, const std::string& visible,
                           const std::string& order) {
    std::string fix = "add \"env\": {\"CUDA_VISIBLE_DEVICES\": " + nlohmann::json(visible).dump() +
                      ", \"CUDA_DEVICE_ORDER\": " + nlohmann::json(order).dump() + "} to " +
                      spec.file.string();
    const std::optional<std::string> where =
        install_location(kernels_dir, input.machine.environment);
    if (!where)
        return fix;
    fix += ", or reinstall it with ipykernel 5.4 or later: " +
           fleet::shell_quote((prefix_of(input) / "bin" / "python").string()) +
           " -m ipykernel install " + *where + " --name " + fleet::shell_quote(spec.name);
    const auto display = spec.doc.find("display_name");
    if (display != spec.doc.end() && display->is_string())
        fix += " --display-name " + fleet::shell_quote(display->get<std::string>());
    fix += " --env CUDA_VISIBLE_DEVICES " + fleet::shell_quote(visible) +
           " --env CUDA_DEVICE_ORDER " + fleet::shell_quote(order);
    return fix;
}

// The kernel.json files of a kernels/ directory, sorted (Jupyter lists each subdirectory).
std::vector<fs::path> kernelspec_files(const fs::path& dir, gpuenv::Diagnostics& warnings) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        fs::path file = it->path() / "kernel.json";
        if (util::is_regular_file(file))
            files.push_back(std::move(file));
    }
    if (ec)
        warnings.push_back({dir.string(), 0, 0, "cannot list kernelspecs: " + ec.message()});
    std::sort(files.begin(), files.end());
    return files;
}

void check_kernelspec(const DoctorInput& input, const Kernelspec& spec, const fs::path& kernels_dir,
                      DoctorReport& report) {
    const std::string& visible = input.env_vars.vars.at(std::string(k_visible));
    const std::optional<std::string> env_order = lookup(input.env_vars.vars, k_order);
    const std::optional<std::string> kernel_visible = kernel_env(spec.doc, k_visible);
    const std::optional<std::string> kernel_order = kernel_env(spec.doc, k_order);
    // The order matters only for indices, and only when the environment sets one.
    const bool order_differs =
        env_order && starts_as_integer(util::trim(visible)) && kernel_order != env_order;
    if (kernel_visible == visible && !order_differs)
        return;
    DoctorFinding finding;
    finding.rule = "kernelspec_without_binding";
    finding.severity = Severity::warning;
    finding.title = "Jupyter kernel '" + spec.name +
                    "' starts this environment's Python without its GPU binding";
    finding.evidence = {"kernelspec: " + spec.file.string(),
                        "argv[0]: " + spec.doc.at("argv")[0].get<std::string>(),
                        binding_line(source_of(input.env_vars, k_visible), visible)};
    if (!kernel_visible)
        finding.evidence.emplace_back("the kernelspec's env does not set CUDA_VISIBLE_DEVICES");
    else if (*kernel_visible != visible)
        finding.evidence.push_back("the kernelspec's env sets CUDA_VISIBLE_DEVICES=" +
                                   *kernel_visible);
    if (order_differs)
        finding.evidence.push_back("the environment sets CUDA_DEVICE_ORDER=" + *env_order +
                                   "; the kernelspec " +
                                   (kernel_order ? "sets " + *kernel_order : "does not"));
    finding.evidence.emplace_back(
        "Jupyter starts argv directly, without conda activation, so conda-meta/state does not "
        "apply (unless Jupyter itself was started in the activated environment)");
    finding.fix = kernelspec_fix(input, spec, kernels_dir, visible,
                                 env_order.value_or(std::string(k_pci_bus_id)));
    report.findings.push_back(std::move(finding));
}

}  // namespace

std::vector<fs::path> default_kernel_dirs(const std::map<std::string, std::string>& environment,
                                          const fs::path& prefix) {
    // jupyter_core.paths.jupyter_path("kernels") on Linux.
    std::vector<fs::path> data;
    const auto add = [&data](fs::path path, std::vector<fs::path>& to) {
        if (path.empty())
            return;
        path = path.lexically_normal();
        if (path.has_relative_path() && !path.has_filename())
            path = path.parent_path();  // jupyter strips a trailing '/'
        if (std::find(data.begin(), data.end(), path) == data.end() &&
            std::find(to.begin(), to.end(), path) == to.end())
            to.push_back(std::move(path));
    };
    if (const auto jupyter_path = non_empty(environment, "JUPYTER_PATH")) {
        for (const std::string_view entry : util::split(*jupyter_path, ':'))
            add(fs::path(entry), data);
    }
    const fs::path home = home_dir(environment);
    std::vector<fs::path> user;
    if (const auto dir = non_empty(environment, "JUPYTER_DATA_DIR"))
        add(*dir, user);
    else if (const auto xdg = non_empty(environment, "XDG_DATA_HOME"))
        add(fs::path(*xdg) / "jupyter", user);
    else if (!home.empty())
        add(home / ".local/share/jupyter", user);
    // site.getuserbase()/share/jupyter, while user site-packages are enabled.
    if (!non_empty(environment, "PYTHONNOUSERSITE")) {
        if (const auto base = non_empty(environment, "PYTHONUSERBASE"))
            add(fs::path(*base) / "share/jupyter", user);
        else if (!home.empty())
            add(home / ".local/share/jupyter", user);
    }
    std::vector<fs::path> system = {"/usr/local/share/jupyter", "/usr/share/jupyter"};
    const auto xdg_dirs = non_empty(environment, "XDG_DATA_DIRS");
    if (envset(environment, "JUPYTER_PLATFORM_DIRS") && xdg_dirs) {
        system.clear();
        for (const std::string_view entry : util::split(*xdg_dirs, ':')) {
            if (!entry.empty())
                system.push_back(fs::path(entry) / "jupyter");
        }
    }
    std::vector<fs::path> own;
    if (std::find(system.begin(), system.end(), prefix / "share/jupyter") == system.end())
        add(prefix / "share/jupyter", own);
    const bool env_first = envset(environment, "JUPYTER_PREFER_ENV_PATH");
    for (std::vector<fs::path>* group : {env_first ? &own : &user, env_first ? &user : &own})
        for (fs::path& path : *group)
            add(std::move(path), data);
    for (fs::path& path : system)
        add(std::move(path), data);
    for (fs::path& path : data)
        path /= "kernels";
    return data;
}

void check_kernelspecs(const DoctorInput& input, DoctorReport& report) {
    if (!lookup(input.env_vars.vars, k_visible) || input.inventory == nullptr)
        return;
    const EnvPython env = env_python(prefix_of(input));
    std::vector<fs::path> seen;  // a directory reached twice (a symlink, a repeated entry)
    for (const fs::path& dir : input.kernel_dirs) {
        if (!util::is_directory(dir))
            continue;
        const fs::path canonical = canonical_or_self(dir);
        if (std::find(seen.begin(), seen.end(), canonical) != seen.end())
            continue;
        seen.push_back(canonical);
        for (const fs::path& file : kernelspec_files(dir, report.warnings)) {
            const std::optional<Kernelspec> spec = read_kernelspec(file, report.warnings);
            if (spec && runs_env_python(spec->doc.at("argv")[0].get<std::string>(), dir, env))
                check_kernelspec(input, *spec, dir, report);
        }
    }
}

}  // namespace gpuenv::core::doctor
