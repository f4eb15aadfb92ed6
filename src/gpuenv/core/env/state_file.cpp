#include <gpuenv/core/env/state_file.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <sys/file.h>

#include <nlohmann/json.hpp>

#include <gpuenv/core/env/env_vars.hpp>
#include <gpuenv/util/atomic_write.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/json_value.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr std::string_view k_record_key = "gpuenv";
constexpr int k_record_format = 1;

// ---- Style: how the file found was written, so that it is rewritten the same way. ----

enum class Layout { compact, indented };
enum class AsciiOnly { no, yes };

struct StateStyle {
    std::string before;  // bytes before the opening brace (a BOM, blanks)
    std::string after;   // bytes after the closing brace (a trailing newline)
    Layout layout = Layout::compact;
    std::string newline = "\n";
    std::string indent;                    // one level, when indented
    std::string key_separator = ": ";      // json.dumps' default
    std::string item_separator = ", ";     // compact only
    AsciiOnly ascii_only = AsciiOnly::no;  // conda writes ensure_ascii=False
};

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Returns the separator at `pos` with the blanks around it, or "" when they span a line.
std::string separator_at(std::string_view body, std::size_t pos) {
    std::size_t begin = pos;
    while (begin > 0 && is_blank(body[begin - 1]))
        --begin;
    std::size_t end = pos + 1;
    while (end < body.size() && is_blank(body[end]))
        ++end;
    const std::string_view sep = body.substr(begin, end - begin);
    return sep.find_first_of("\r\n") == std::string_view::npos ? std::string(sep) : "";
}

unsigned hex_value(std::string_view four) {
    unsigned v = 0;
    for (const char c : four) {
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= static_cast<unsigned>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= static_cast<unsigned>(c - 'A' + 10);
    }
    return v;
}

// Detects the style of a valid JSON object document (the heuristic is in the header).
StateStyle detect_style(std::string_view text) {
    StateStyle style;
    const std::size_t open = text.find('{');
    const std::size_t close = text.rfind('}');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open)
        return style;
    style.before = std::string(text.substr(0, open));
    style.after = std::string(text.substr(close + 1));
    const std::string_view body = text.substr(open, close - open + 1);

    if (const std::size_t nl = body.find('\n'); nl != std::string_view::npos) {
        style.layout = Layout::indented;
        if (nl > 0 && body[nl - 1] == '\r')
            style.newline = "\r\n";
        std::size_t end = nl + 1;
        while (end < body.size() && (body[end] == ' ' || body[end] == '\t'))
            ++end;
        style.indent = std::string(body.substr(nl + 1, end - nl - 1));
    }

    bool in_string = false;
    bool seen_colon = false;
    bool seen_comma = false;
    bool escaped_non_ascii = false;
    bool raw_non_ascii = false;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (static_cast<unsigned char>(c) >= 0x80)
            raw_non_ascii = true;
        if (in_string) {
            if (c == '\\') {
                if (i + 5 < body.size() && body[i + 1] == 'u' &&
                    hex_value(body.substr(i + 2, 4)) >= 0x7f)
                    escaped_non_ascii = true;
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == ':' && !seen_colon) {
            seen_colon = true;
            if (auto sep = separator_at(body, i); !sep.empty())
                style.key_separator = std::move(sep);
        } else if (c == ',' && !seen_comma) {
            seen_comma = true;
            if (auto sep = separator_at(body, i); !sep.empty())
                style.item_separator = std::move(sep);
        }
    }
    if (!seen_comma)
        style.item_separator = style.key_separator.find(' ') != std::string::npos ? ", " : ",";
    if (escaped_non_ascii && !raw_non_ascii)
        style.ascii_only = AsciiOnly::yes;
    return style;
}

// ---- Rendering, as Python's json.dumps and nlohmann's dump() do. ----

void append_u_escape(std::string& out, unsigned code) {
    static constexpr char k_hex[] = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4)
        out.push_back(k_hex[(code >> shift) & 0xfu]);
}

// Decodes the UTF-8 sequence at s[i] (valid: the parser checked it) and advances i.
unsigned decode_utf8(std::string_view s, std::size_t& i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned lead = byte(i);
    int extra = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
    unsigned code = extra == 3 ? lead & 0x07u : extra == 2 ? lead & 0x0fu : lead & 0x1fu;
    if (extra == 0)
        code = lead;
    for (++i; extra > 0 && i < s.size(); --extra, ++i)
        code = (code << 6) | (byte(i) & 0x3fu);
    return code;
}

void append_string(std::string& out, std::string_view s, AsciiOnly ascii_only) {
    out.push_back('"');
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80 && ascii_only == AsciiOnly::yes) {
            const unsigned code = decode_utf8(s, i);
            if (code > 0xffff) {
                append_u_escape(out, 0xd800 + ((code - 0x10000) >> 10));
                append_u_escape(out, 0xdc00 + ((code - 0x10000) & 0x3ff));
            } else {
                append_u_escape(out, code);
            }
            continue;
        }
        ++i;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || (c == 0x7f && ascii_only == AsciiOnly::yes))
                    append_u_escape(out, c);
                else
                    out.push_back(static_cast<char>(c));
        }
    }
    out.push_back('"');
}

void render(std::string& out, const Json& j, const StateStyle& style, int depth) {
    const bool indented = style.layout == Layout::indented;
    const auto line_break = [&](int level) {
        if (!indented)
            return;
        out += style.newline;
        for (int k = 0; k < level; ++k)
            out += style.indent;
    };
    if (j.is_object() || j.is_array()) {
        const bool object = j.is_object();
        if (j.empty()) {
            out += object ? "{}" : "[]";
            return;
        }
        out.push_back(object ? '{' : '[');
        bool first = true;
        for (auto it = j.begin(); it != j.end(); ++it) {
            if (!first)
                out += indented ? "," : style.item_separator;
            first = false;
            line_break(depth + 1);
            if (object) {
                append_string(out, it.key(), style.ascii_only);
                out += style.key_separator;
            }
            render(out, *it, style, depth + 1);
        }
        line_break(depth);
        out.push_back(object ? '}' : ']');
    } else if (j.is_string()) {
        append_string(out, j.get_ref<const std::string&>(), style.ascii_only);
    } else {
        out += j.dump();
    }
}

std::string render_document(const Json& doc, const StateStyle& style) {
    std::string out = style.before;
    render(out, doc, style, 0);
    out += style.after;
    return out;
}

// ---- The record under "gpuenv". ----

struct Record {
    Binding binding;
    bool env_vars_existed = true;
};

[[noreturn]] void bad_record(const fs::path& file, std::string_view why) {
    throw Error(ExitCode::not_found,
                "cannot read " + file.string() + ": the \"" + std::string(k_record_key) +
                    "\" key is not a binding gpuenv wrote: " + std::string(why));
}

std::optional<Record> parse_record(const Json& doc, const fs::path& file) {
    const auto it = doc.find(k_record_key);
    if (it == doc.end())
        return std::nullopt;
    const Json& j = *it;
    if (!j.is_object())
        bad_record(file, "not an object");
    Record record;
    const auto flag = [&](const char* key, bool& out) {
        if (const auto f = j.find(key); f != j.end()) {
            if (!f->is_boolean())
                bad_record(file, std::string(key) + " is not a boolean");
            out = f->get<bool>();
        }
    };
    flag("state_file_existed", record.binding.state_file_existed);
    flag("env_vars_existed", record.env_vars_existed);
    const auto vars = j.find("env_vars");
    if (vars == j.end() || !vars->is_object())
        bad_record(file, "env_vars is not an object");
    for (auto v = vars->begin(); v != vars->end(); ++v) {
        const auto value = v->find("value");
        const auto previous = v->find("previous");
        if (!v->is_object() || value == v->end() || !value->is_string() || previous == v->end() ||
            !(previous->is_string() || previous->is_null()))
            bad_record(file, "the entry for " + v.key() + " is not {value, previous}");
        BoundVar bound{v.key(), value->get<std::string>(), std::nullopt};
        if (previous->is_string())
            bound.previous = previous->get<std::string>();
        record.binding.vars.push_back(std::move(bound));
    }
    return record;
}

Json record_json(const Record& record) {
    Json vars = Json::object();
    for (const auto& v : record.binding.vars) {
        Json entry = Json::object();
        entry["value"] = v.value;
        entry["previous"] = v.previous ? Json(*v.previous) : Json(nullptr);
        vars[v.name] = std::move(entry);
    }
    Json j = Json::object();
    j["format"] = k_record_format;
    j["state_file_existed"] = record.binding.state_file_existed;
    j["env_vars_existed"] = record.env_vars_existed;
    j["env_vars"] = std::move(vars);
    return j;
}

// ---- Reading, locking and the prefix. ----

fs::path state_path(const fs::path& prefix) {
    return prefix / "conda-meta" / "state";
}

// Parses conda-meta/state, checking its shape with positions: {"env_vars": {str: str}}.
Json parse_state(const std::string& text, const fs::path& file) {
    Diagnostics not_strings;
    (void)parse_env_vars_json(text, file, true, not_strings);
    if (!not_strings.empty()) {
        const Diagnostic& d = not_strings.front();
        std::string message = d.message;
        if (const auto cut = message.find("; ignored"); cut != std::string::npos)
            message.erase(cut);
        throw Error(ExitCode::not_found, "cannot read " + file.string() + ": line " +
                                             std::to_string(d.line) + ", column " +
                                             std::to_string(d.column) + ": " + message);
    }
    try {
        return util::json::parse_ordered_value(text);
    } catch (const util::json::SyntaxError& e) {
        throw Error(ExitCode::not_found,
                    "cannot read " + file.string() + ": " + util::json::describe(text, e));
    }
}

struct StateDocument {
    bool existed = false;
    std::string text;
    Json doc = Json::object();
    StateStyle style;
};

StateDocument read_state(const fs::path& file) {
    StateDocument state;
    if (!util::exists(file))
        return state;
    state.existed = true;
    state.text = util::read_file(file);
    state.doc = parse_state(state.text, file);
    state.style = detect_style(state.text);
    return state;
}

// Holds an exclusive flock on conda-meta/.gpuenv-state.lock for its lifetime.
class StateLock {
  public:
    explicit StateLock(const fs::path& prefix)
        : m_path(prefix / "conda-meta" / ".gpuenv-state.lock"),
          m_fd(::open(m_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644)) {
        if (m_fd.get() < 0)
            fail(errno);
        while (::flock(m_fd.get(), LOCK_EX) != 0) {
            if (errno != EINTR)
                fail(errno);
        }
    }

  private:
    [[noreturn]] void fail(int err) const {
        throw Error(ExitCode::not_found,
                    "cannot lock " + m_path.string() + ": " + std::strerror(err));
    }

    fs::path m_path;
    util::FdGuard m_fd;  // closing it releases the lock
};

void validate_name(const std::string& name) {
    if (name.empty() || name.find('=') != std::string::npos || name.find('\0') != std::string::npos)
        throw Error(ExitCode::usage, "invalid environment variable name '" + name + "'");
    if (util::iequals(name, "PATH"))
        throw Error(ExitCode::usage,
                    "cannot bind PATH: conda and micromamba ignore it in conda-meta/state");
}

void write_if_changed(const fs::path& file, const StateDocument& state, const Json& doc) {
    const std::string text = render_document(doc, state.style);
    if (!state.existed || text != state.text)
        util::write_file_atomic(file, text);
}

}  // namespace

void require_conda_prefix(const fs::path& prefix, std::string_view action) {
    if (!util::is_directory(prefix))
        throw Error(ExitCode::not_found, "no environment at " + prefix.string());
    if (!util::is_directory(prefix / "conda-meta"))
        throw Error(ExitCode::usage,
                    "cannot " + std::string(action) + " " + prefix.string() +
                        ": not a conda environment (no conda-meta/); a venv has no activation "
                        "hook to carry a binding, use `gpuenv run` instead");
}

void bind_env_vars(const fs::path& prefix,
                   const std::vector<std::pair<std::string, std::string>>& vars) {
    require_conda_prefix(prefix, "bind GPUs to");
    for (const auto& [name, value] : vars)
        validate_name(name);
    const StateLock lock(prefix);
    const fs::path file = state_path(prefix);
    StateDocument state = read_state(file);
    Json doc = state.doc;

    Record record;
    if (auto found = parse_record(doc, file)) {
        record = std::move(*found);
    } else {
        record.binding.state_file_existed = state.existed;
        record.env_vars_existed = doc.contains("env_vars");
    }
    Json& env_vars = doc["env_vars"];
    if (env_vars.is_null())
        env_vars = Json::object();
    for (const auto& [name, value] : vars) {
        auto& bound = record.binding.vars;
        const std::string& wanted = name;
        auto it = std::find_if(bound.begin(), bound.end(),
                               [&](const BoundVar& v) { return v.name == wanted; });
        if (it == bound.end()) {
            // The first bind of a variable records what it replaces; a rebind keeps that.
            std::optional<std::string> previous;
            if (const auto current = env_vars.find(name); current != env_vars.end())
                previous = current->get<std::string>();
            bound.push_back({name, value, std::move(previous)});
        } else {
            it->value = value;
        }
        env_vars[name] = value;
    }
    doc[std::string(k_record_key)] = record_json(record);
    write_if_changed(file, state, doc);
}

UnbindResult unbind_env_vars(const fs::path& prefix) {
    require_conda_prefix(prefix, "unbind GPUs from");
    const StateLock lock(prefix);
    const fs::path file = state_path(prefix);
    StateDocument state = read_state(file);
    UnbindResult result;
    const auto record = parse_record(state.doc, file);
    if (!record)
        return result;
    result.was_bound = true;

    Json doc = state.doc;
    const auto env_vars_it = doc.find("env_vars");
    Json no_vars = Json::object();
    Json& env_vars = env_vars_it != doc.end() ? *env_vars_it : no_vars;
    for (const auto& bound : record->binding.vars) {
        const auto current = env_vars.find(bound.name);
        if (current == env_vars.end() || current->get<std::string>() != bound.value) {
            // Someone set or unset it after bind: their change wins over ours.
            result.kept.push_back(bound.name);
        } else if (bound.previous) {
            *current = *bound.previous;
            result.restored.push_back(bound.name);
        } else {
            env_vars.erase(current);
            result.removed.push_back(bound.name);
        }
    }
    doc.erase(std::string(k_record_key));
    if (const auto it = doc.find("env_vars");
        !record->env_vars_existed && it != doc.end() && it->empty())
        doc.erase(it);

    if (!record->binding.state_file_existed && doc.empty()) {
        std::error_code ec;
        if (!fs::remove(file, ec) && ec)
            throw Error(ExitCode::not_found,
                        "cannot remove " + file.string() + ": " + ec.message());
        result.state_file_removed = true;
        return result;
    }
    write_if_changed(file, state, doc);
    return result;
}

std::optional<Binding> read_binding(const fs::path& prefix) {
    const fs::path file = state_path(prefix);
    if (!util::exists(file))
        return std::nullopt;
    const StateDocument state = read_state(file);
    auto record = parse_record(state.doc, file);
    if (!record)
        return std::nullopt;
    return std::move(record->binding);
}

}  // namespace gpuenv::core::env
