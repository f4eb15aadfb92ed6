#include <gpuenv/core/env/env_vars.hpp>

#include <algorithm>
#include <optional>
#include <system_error>
#include <unordered_map>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/json_cursor.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;

using Pairs = std::vector<std::pair<std::string, std::string>>;

// conda's CONDA_ENV_VARS_UNSET_VAR: `conda env config vars unset` writes it instead of
// deleting the key.
constexpr std::string_view k_unset = "***unset***";

// Source names effective_env_vars gives its warnings when the caller names no files.
constexpr std::string_view k_packages_dir = "etc/conda/env_vars.d";
constexpr std::string_view k_state_file = "conda-meta/state";

struct JsonFailure {
    std::size_t offset = 0;
    std::string reason;
};

// Keeps the variables as Python's json.loads builds a dict: a repeated key keeps its first
// position and takes the last value.
class OrderedVars {
  public:
    void set(const std::string& key, std::string value) {
        if (const auto it = m_index.find(key); it != m_index.end()) {
            m_pairs[it->second] = {key, std::move(value)};
            return;
        }
        m_index.emplace(key, m_pairs.size());
        m_pairs.emplace_back(std::pair<std::string, std::string>{key, std::move(value)});
    }

    void erase(const std::string& key) {
        if (const auto it = m_index.find(key); it != m_index.end())
            m_pairs[it->second].reset();
    }

    void clear() {
        m_index.clear();
        m_pairs.clear();
    }

    [[nodiscard]] Pairs take() {
        Pairs out;
        out.reserve(m_pairs.size());
        for (auto& pair : m_pairs) {
            if (pair)
                out.push_back(std::move(*pair));
        }
        return out;
    }

  private:
    std::unordered_map<std::string, std::size_t> m_index;
    std::vector<std::optional<std::pair<std::string, std::string>>> m_pairs;
};

// Reads the string values of one object (the document, or state's env_vars) in one pass,
// without building a tree; the value of any other type is a warning and is skipped.
void read_vars_object(util::json::Cursor& c, const std::string& path, OrderedVars& vars,
                      Diagnostics& warnings) {
    using util::json::Type;
    c.enter_object();
    for (std::string_view key; c.next_field(key);) {
        const Type type = c.peek();
        if (type == Type::string) {
            vars.set(std::string(key), std::string(c.read_string()));
            continue;
        }
        const auto where = util::line_column(c.text(), c.offset());
        warnings.push_back({path, where.line, where.column,
                            "value of " + std::string(key) + " is " +
                                std::string(util::json::type_name(type)) +
                                ", not a string; ignored"});
        // The last value wins in Python: the string an earlier duplicate gave is gone too.
        vars.erase(std::string(key));
    }
}

struct ParsedVars {
    Pairs vars;
    std::optional<JsonFailure> failure;
};

ParsedVars parse_vars(std::string_view text, const std::string& path, bool state_file,
                      Diagnostics& warnings) {
    using util::json::Type;
    ParsedVars parsed;
    OrderedVars vars;
    util::json::Cursor c(text);
    try {
        if (const Type type = c.peek(); type != Type::object) {
            const std::size_t at = c.offset();
            c.skip();  // a syntax error anywhere says more than the wrong type does
            c.finish();
            parsed.failure = JsonFailure{
                at, "expected an object, found " + std::string(util::json::type_name(type))};
            return parsed;
        }
        if (!state_file) {
            read_vars_object(c, path, vars, warnings);
        } else {
            c.enter_object();
            for (std::string_view key; c.next_field(key);) {
                if (key != "env_vars")
                    continue;
                if (const Type type = c.peek(); type != Type::object) {
                    parsed.failure =
                        JsonFailure{c.offset(), "env_vars must be an object, not " +
                                                    std::string(util::json::type_name(type))};
                    return parsed;
                }
                vars.clear();  // a second env_vars key replaces the first, as in a Python dict
                read_vars_object(c, path, vars, warnings);
            }
        }
        c.finish();
    } catch (const util::json::SyntaxError& error) {
        parsed.failure = JsonFailure{error.offset(), error.what()};
        return parsed;
    }
    parsed.vars = vars.take();
    return parsed;
}

std::string failure_message(const std::string& path, std::string_view text,
                            const JsonFailure& failure) {
    const auto where = util::line_column(text, failure.offset);
    return "cannot read " + path + ": line " + std::to_string(where.line) + ", column " +
           std::to_string(where.column) + ": " + failure.reason;
}

// conda's activation (activate.py): merge the sources as Python dicts do (a key set again
// keeps its first position), drop the unset sentinel, then uppercase names in that order so
// that a later spelling wins. Each value remembers its source for the PATH warning.
std::map<std::string, std::string> apply_rules(const std::vector<Pairs>& packages,
                                               const Pairs& state,
                                               const std::vector<std::string>& package_names,
                                               const std::string& state_name,
                                               Diagnostics& warnings) {
    struct Entry {
        std::string value;
        const std::string* source = nullptr;
    };
    std::vector<std::pair<std::string, Entry>> merged;
    std::unordered_map<std::string, std::size_t> index;
    const std::string packages_dir(k_packages_dir);
    auto merge = [&](const Pairs& pairs, const std::string* source) {
        for (const auto& [key, value] : pairs) {
            if (const auto it = index.find(key); it != index.end()) {
                merged[it->second].second = {value, source};
            } else {
                index.emplace(key, merged.size());
                merged.push_back({key, {value, source}});
            }
        }
    };
    for (std::size_t i = 0; i < packages.size(); ++i)
        merge(packages[i], i < package_names.size() ? &package_names[i] : &packages_dir);
    merge(state, &state_name);

    std::map<std::string, std::string> vars;
    for (auto& [key, entry] : merged) {
        if (entry.value == k_unset)
            continue;
        std::string name = util::to_upper(key);
        if (name == "PATH") {
            warnings.push_back({*entry.source, 0, 0,
                                "PATH is reserved and is not set on activation (conda ignores "
                                "it)"});
            continue;
        }
        vars.insert_or_assign(std::move(name), std::move(entry.value));
    }
    return vars;
}

}  // namespace

std::map<std::string, std::string> effective_env_vars(const std::vector<Pairs>& packages,
                                                      const Pairs& state, Diagnostics& warnings) {
    return apply_rules(packages, state, {}, std::string(k_state_file), warnings);
}

Pairs parse_env_vars_json(std::string_view text, const fs::path& path, bool state_file,
                          Diagnostics& warnings) {
    const std::string name = path.string();
    auto parsed = parse_vars(text, name, state_file, warnings);
    if (parsed.failure)
        throw Error(ExitCode::not_found, failure_message(name, text, *parsed.failure));
    return std::move(parsed.vars);
}

Pairs parse_env_vars_json(std::string_view text, const fs::path& path, bool state_file) {
    Diagnostics ignored;
    return parse_env_vars_json(text, path, state_file, ignored);
}

EnvVars read_env_vars(const fs::path& prefix) {
    EnvVars result;
    std::string text;
    std::string error;
    // Reads and parses one file; a failure becomes a warning.
    auto read = [&](const fs::path& file, bool state_file) -> std::optional<Pairs> {
        const std::string name = file.string();
        if (!util::read_file_into(file, text, error)) {
            result.warnings.push_back({name, 0, 0, "cannot read: " + error});
            return std::nullopt;
        }
        auto parsed = parse_vars(text, name, state_file, result.warnings);
        if (parsed.failure) {
            const auto where = util::line_column(text, parsed.failure->offset);
            result.warnings.push_back(
                {name, where.line, where.column, "cannot parse: " + parsed.failure->reason});
            return std::nullopt;
        }
        return std::move(parsed.vars);
    };

    std::vector<Pairs> packages;
    std::vector<std::string> package_names;
    const fs::path dir = prefix / "etc" / "conda" / "env_vars.d";
    if (util::is_directory(dir)) {
        std::vector<fs::path> files;
        std::error_code ec;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            if (it->path().extension() == ".json")
                files.push_back(it->path());
        }
        if (ec)
            result.warnings.push_back({dir.string(), 0, 0, "cannot list: " + ec.message()});
        std::sort(files.begin(), files.end(),
                  [](const fs::path& a, const fs::path& b) { return a.native() < b.native(); });
        for (const auto& file : files) {
            if (auto pairs = read(file, false)) {
                packages.push_back(std::move(*pairs));
                package_names.push_back(file.string());
            }
        }
    }
    const fs::path state = prefix / "conda-meta" / "state";
    if (util::exists(state)) {
        if (auto pairs = read(state, true))
            result.state_vars = std::move(*pairs);
    }
    result.vars =
        apply_rules(packages, result.state_vars, package_names, state.string(), result.warnings);
    return result;
}

}  // namespace gpuenv::core::env
