#include <gpuenv/core/env/env_vars.hpp>

#include <algorithm>
#include <istream>
#include <optional>
#include <streambuf>
#include <system_error>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
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

// Exposes a string_view to nlohmann's stream reader and says how far it has read, so that
// the SAX handler can point at the value a key belongs to.
class ViewBuffer : public std::streambuf {
  public:
    explicit ViewBuffer(std::string_view text) {
        // The get area is only read; streambuf wants non-const pointers all the same.
        char* begin = const_cast<char*>(text.data());
        setg(begin, begin, begin + text.size());
    }

    [[nodiscard]] std::size_t consumed() const {
        return static_cast<std::size_t>(gptr() - eback());
    }
};

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

std::size_t skip_json_space(std::string_view text, std::size_t i) {
    while (i < text.size() &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        ++i;
    return i;
}

// Returns where a bad literal starts when the character at `offset` ends one ("tru}" points
// at the t, as Python's json does), else `offset`.
std::size_t literal_start(std::string_view text, std::size_t offset) {
    offset = std::min(offset, text.size());
    constexpr std::string_view k_literals[] = {"true", "false", "null"};
    for (std::size_t k = 1; k <= 4 && k <= offset; ++k) {
        const std::string_view read = text.substr(offset - k, k);
        for (const auto literal : k_literals) {
            if (literal.size() > k && literal.substr(0, k) == read)
                return offset - k;
        }
    }
    return offset;
}

// Collects the string values of one object (the document, or state's env_vars) in one pass,
// without building a DOM; nlohmann's SAX parser keeps its own stack, so nesting costs no
// recursion.
class VarsHandler {
  public:
    using json = nlohmann::json;

    VarsHandler(std::string_view text, const ViewBuffer& buffer, bool state_file,
                const std::string& path, Diagnostics& warnings)
        : m_text(text),
          m_buffer(buffer),
          m_state_file(state_file),
          m_path(path),
          m_warnings(warnings) {}

    bool null() { return scalar("null"); }
    bool boolean(bool /*value*/) { return scalar("a boolean"); }
    bool number_integer(json::number_integer_t /*value*/) { return scalar("a number"); }
    bool number_unsigned(json::number_unsigned_t /*value*/) { return scalar("a number"); }
    bool number_float(json::number_float_t /*value*/, const std::string& /*text*/) {
        return scalar("a number");
    }
    bool binary(json::binary_t& /*value*/) { return scalar("binary"); }

    bool string(std::string& value) {
        if (at_variable()) {
            m_vars.set(m_key, std::move(value));
            return true;
        }
        return scalar("a string");
    }

    bool start_object(std::size_t /*size*/) {
        if (m_depth == 0) {
            m_vars_depth = m_state_file ? 0 : 1;
        } else if (m_state_file && m_depth == 1 && m_key == "env_vars") {
            // A second env_vars key replaces the first, as in a Python dict.
            m_vars.clear();
            m_vars_depth = 2;
        } else if (!scalar("an object")) {
            return false;
        }
        ++m_depth;
        return true;
    }

    bool end_object() { return end_container(); }

    bool start_array(std::size_t /*size*/) {
        if (!scalar("an array"))
            return false;
        ++m_depth;
        return true;
    }

    bool end_array() { return end_container(); }

    bool key(std::string& key) {
        if (m_depth == 1 || (m_vars_depth != 0 && m_depth == m_vars_depth)) {
            m_key = std::move(key);
            m_key_end = m_buffer.consumed();
        }
        return true;
    }

    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& error) {
        // `position` counts the characters read, so the offending one is the last of them.
        m_failure =
            JsonFailure{literal_start(m_text, position > 0 ? position - 1 : 0), reason_of(error)};
        return false;
    }

    [[nodiscard]] const std::optional<JsonFailure>& failure() const { return m_failure; }

    [[nodiscard]] Pairs take() { return m_vars.take(); }

  private:
    // nlohmann's message leads with its own id and position; keep the part after them.
    static std::string reason_of(const nlohmann::detail::exception& error) {
        std::string_view reason = error.what();
        if (const auto column = reason.find(", column "); column != std::string_view::npos) {
            if (const auto colon = reason.find(": ", column); colon != std::string_view::npos)
                reason.remove_prefix(colon + 2);
        }
        return std::string(reason);
    }

    [[nodiscard]] bool at_variable() const { return m_vars_depth != 0 && m_depth == m_vars_depth; }

    // Returns where the value of the last key starts: past the spaces, the colon and spaces.
    [[nodiscard]] std::size_t value_offset() const {
        std::size_t i = skip_json_space(m_text, m_key_end);
        if (i < m_text.size() && m_text[i] == ':')
            ++i;
        return skip_json_space(m_text, i);
    }

    bool fail_shape(std::size_t offset, std::string reason) {
        m_failure = JsonFailure{offset, std::move(reason)};
        return false;
    }

    void warn_not_string(std::string_view type) {
        const auto where = util::line_column(m_text, value_offset());
        m_warnings.push_back(
            {m_path, where.line, where.column,
             "value of " + m_key + " is " + std::string(type) + ", not a string; ignored"});
        // The last value wins in Python: the string an earlier duplicate gave is gone too.
        m_vars.erase(m_key);
    }

    // Handles a value that is not a string (or a container at the variables' level).
    bool scalar(std::string_view type) {
        if (m_depth == 0) {
            return fail_shape(skip_document_start(),
                              "expected an object, found " + std::string(type));
        }
        if (m_state_file && m_depth == 1 && m_key == "env_vars")
            return fail_shape(value_offset(),
                              "env_vars must be an object, not " + std::string(type));
        if (at_variable())
            warn_not_string(type);
        return true;
    }

    bool end_container() {
        --m_depth;
        if (m_state_file && m_depth == 1 && m_vars_depth == 2)
            m_vars_depth = 0;
        return true;
    }

    // Returns the offset of the document's first token (past a UTF-8 BOM, as nlohmann skips).
    [[nodiscard]] std::size_t skip_document_start() const {
        const std::size_t start = m_text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
        return skip_json_space(m_text, start);
    }

    std::string_view m_text;
    const ViewBuffer& m_buffer;
    bool m_state_file;
    const std::string& m_path;
    Diagnostics& m_warnings;
    int m_depth = 0;       // containers open
    int m_vars_depth = 0;  // depth of the variables' object while it is open, else 0
    std::string m_key;     // last key at depth 1 or inside the variables' object
    std::size_t m_key_end = 0;
    OrderedVars m_vars;
    std::optional<JsonFailure> m_failure;
};

struct ParsedVars {
    Pairs vars;
    std::optional<JsonFailure> failure;
};

ParsedVars parse_vars(std::string_view text, const std::string& path, bool state_file,
                      Diagnostics& warnings) {
    ViewBuffer buffer(text);
    std::istream stream(&buffer);
    VarsHandler handler(text, buffer, state_file, path, warnings);
    ParsedVars parsed;
    if (!nlohmann::json::sax_parse(stream, &handler)) {
        parsed.failure = handler.failure();
        if (!parsed.failure)
            parsed.failure = JsonFailure{0, "invalid JSON"};
        return parsed;
    }
    parsed.vars = handler.take();
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
