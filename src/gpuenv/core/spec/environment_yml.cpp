#include <gpuenv/core/spec/environment_yml.hpp>

#include <cstdlib>

#include <yaml-cpp/yaml.h>

#include <gpuenv/core/yaml_location.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::spec {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t k_max_size = 64U << 20;  // far beyond any real environment.yml

// conda's VALID_KEYS (conda/env/env.py); anything else is ignored with a warning.
constexpr std::string_view k_valid_keys[] = {"name", "prefix", "channels", "dependencies",
                                             "variables"};

std::string scalar(const YAML::Node& node, const fs::path& path, std::string_view what) {
    if (!node.IsScalar())
        fail_at(path, node.Mark(), std::string(what) + " must be a string");
    return node.Scalar();
}

// Evaluates micromamba's `sel(...)` dict selectors for the target subdir.
bool selector_applies(std::string_view selector, const SelectorPlatform& platform) {
    const std::string_view os =
        std::string_view(platform.subdir).substr(0, platform.subdir.find('-'));
    if (selector == "unix")
        return os == "linux" || os == "osx";
    if (selector == "win")
        return os == "win";
    if (selector == "linux" || selector == "osx")
        return os == selector;
    return selector == platform.subdir;
}

MatchSpec parse_spec(const YAML::Node& node, const fs::path& path) {
    const std::string text = scalar(node, path, "a dependency");
    try {
        return MatchSpec::parse(text);
    } catch (const Error& e) {
        fail_at(path, node.Mark(), e.what());
    }
}

PipDependency parse_pip_line(const YAML::Node& node, const fs::path& path) {
    PipDependency dep;
    dep.text = std::string(util::trim(scalar(node, path, "a pip dependency")));
    dep.line = node.Mark().line + 1;
    if (!dep.text.empty() && dep.text.front() == '-') {
        dep.unchecked_reason = "a pip option, not a requirement";
        return dep;
    }
    try {
        dep.requirement = Requirement::parse(dep.text);
    } catch (const Error& e) {
        // pip also takes bare URLs and paths; only PEP 508 lines can be checked.
        const std::string message = e.what();
        dep.unchecked_reason =
            "not a PEP 508 requirement: " + message.substr(0, message.find('\n'));
    }
    return dep;
}

void read_dependencies(const YAML::Node& list, const fs::path& path,
                       const SelectorPlatform& platform, EnvironmentFile& env) {
    if (!list.IsSequence())
        fail_at(path, list.Mark(), "dependencies must be a list");
    for (const auto& item : list) {
        if (item.IsScalar()) {
            env.conda.push_back({parse_spec(item, path), item.Mark().line + 1});
            continue;
        }
        if (!item.IsMap())
            fail_at(path, item.Mark(), "a dependency must be a string or a section such as pip:");
        for (const auto& entry : item) {
            const std::string key = scalar(entry.first, path, "a section name");
            if (key == "pip") {
                if (entry.second.IsNull())
                    continue;
                if (!entry.second.IsSequence())
                    fail_at(path, entry.second.Mark(), "pip: must be a list");
                for (const auto& line : entry.second)
                    env.pip.push_back(parse_pip_line(line, path));
            } else if (key.size() > 5 && key.compare(0, 4, "sel(") == 0 && key.back() == ')') {
                if (!selector_applies(std::string_view(key).substr(4, key.size() - 5), platform))
                    continue;
                env.conda.push_back({parse_spec(entry.second, path), entry.second.Mark().line + 1});
            } else {
                // CEP 24: unknown sub-installer sections are an error by default.
                fail_at(path, entry.first.Mark(), "unknown dependency section '" + key + "'");
            }
        }
    }
}

}  // namespace

std::string expand_vars(std::string_view text, const EnvLookup& lookup) {
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] != '$') {
            out += text[i++];
            continue;
        }
        std::size_t name_start = i + 1;
        std::size_t name_end = name_start;
        std::size_t next = name_start;
        if (name_start < text.size() && text[name_start] == '{') {
            const auto close = text.find('}', name_start + 1);
            if (close == std::string_view::npos) {
                out += text.substr(i);
                break;
            }
            name_start += 1;
            name_end = close;
            next = close + 1;
        } else {
            while (name_end < text.size() &&
                   (std::isalnum(static_cast<unsigned char>(text[name_end])) != 0 ||
                    text[name_end] == '_')) {
                ++name_end;
            }
            next = name_end;
        }
        const auto name = text.substr(name_start, name_end - name_start);
        const auto value = name.empty() ? std::nullopt : lookup(name);
        if (value) {
            out += *value;
        } else {
            out += text.substr(i, next - i);
        }
        i = next;
    }
    return out;
}

EnvironmentFile parse_environment_yml(std::string_view text, const fs::path& path,
                                      const EnvLookup& lookup, const SelectorPlatform& platform) {
    if (text.size() > k_max_size)
        throw Error(ExitCode::not_found, path.string() + ": file too large");
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        fail_at(path, e.mark, e.msg);
    }
    if (!root.IsMap())
        fail_at(path, root.Mark(), "expected a mapping with name, channels and dependencies");

    EnvironmentFile env;
    env.path = path;
    bool has_dependencies = false;
    try {
        for (const auto& entry : root) {
            const std::string key = scalar(entry.first, path, "a key");
            const YAML::Node& value = entry.second;
            if (key == "name") {
                env.name = value.IsNull() ? "" : scalar(value, path, "name");
            } else if (key == "prefix") {
                env.prefix = value.IsNull() ? "" : scalar(value, path, "prefix");
            } else if (key == "channels") {
                if (value.IsNull())
                    continue;
                if (!value.IsSequence())
                    fail_at(path, value.Mark(), "channels must be a list");
                for (const auto& channel : value) {
                    const std::string name =
                        expand_vars(scalar(channel, path, "a channel"), lookup);
                    if (name == "nodefaults") {
                        env.nodefaults = true;
                    } else {
                        env.channels.push_back(name);
                    }
                }
            } else if (key == "dependencies") {
                has_dependencies = true;
                if (!value.IsNull())
                    read_dependencies(value, path, platform, env);
            } else if (key == "variables") {
                if (value.IsNull())
                    continue;
                if (!value.IsMap())
                    fail_at(path, value.Mark(), "variables must be a mapping");
                for (const auto& var : value) {
                    env.variables.emplace_back(
                        scalar(var.first, path, "a variable name"),
                        var.second.IsNull() ? "" : scalar(var.second, path, "a variable value"));
                }
            } else {
                // conda: "EnvironmentSectionNotValid: The following section(s) ... are invalid and
                // will be ignored".
                env.warnings.push_back(
                    warning_at(path, entry.first.Mark(), "unknown key '" + key + "' is ignored"));
            }
        }
    } catch (const YAML::Exception& e) {
        fail_at(path, e.mark, e.msg);
    }
    if (!has_dependencies)
        env.warnings.push_back(warning_at(path, root.Mark(), "no dependencies key"));

    bool has_pip = false;
    for (const auto& dep : env.conda)
        has_pip = has_pip || dep.spec.name() == "pip";
    if (!env.pip.empty() && !has_pip) {
        env.warnings.push_back(
            {path.string(), env.pip.front().line, 0,
             "pip: dependencies without pip among the conda dependencies (conda adds pip)"});
    }
    for (const auto& dep : env.pip) {
        if (!dep.requirement)
            env.warnings.push_back({path.string(), dep.line, 0,
                                    "cannot check '" + dep.text + "': " + dep.unchecked_reason});
    }
    return env;
}

EnvironmentFile read_environment_yml(const fs::path& path, const SelectorPlatform& platform) {
    const std::string text = util::read_file(path);
    return parse_environment_yml(
        text, path,
        [](std::string_view name) -> std::optional<std::string> {
            const char* value = std::getenv(std::string(name).c_str());
            if (value == nullptr)
                return std::nullopt;
            return std::string(value);
        },
        platform);
}

}  // namespace gpuenv::core::spec
