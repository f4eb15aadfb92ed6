#include <gpuenv/core/env/history.hpp>

#include <cstdint>
#include <optional>

#include <gpuenv/core/spec/match_spec.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;

// A history written by hand or damaged could hold a bad spec list on every line; past this
// many the rest are counted in one last warning.
constexpr std::size_t k_max_warnings = 100;

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Python's \w on ASCII.
bool is_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::size_t skip_space(std::string_view s, std::size_t i) {
    while (i < s.size() && is_space(s[i]))
        ++i;
    return i;
}

bool starts_with(std::string_view s, std::size_t i, std::string_view prefix) {
    return s.substr(i, prefix.size()) == prefix;
}

// Matches conda's `==>\s*(.+?)\s*<==` at the start of a stripped line.
std::optional<std::string_view> match_header(std::string_view line) {
    if (!starts_with(line, 0, "==>"))
        return std::nullopt;
    const std::size_t start = 3;
    const std::size_t p = skip_space(line, start);
    if (p == line.size())
        return std::nullopt;
    // The lazy group ends at the first "<==" it can: one character after the spaces at least.
    if (const auto close = line.find("<==", p + 1); close != std::string_view::npos)
        return util::trim(line.substr(p, close - p));
    // Only "==>  <==" is left: the group is the last space before the arrows.
    if (p > start && starts_with(line, p, "<=="))
        return line.substr(p - 1, 1);
    return std::nullopt;
}

// Matches `\s*<key>\s*(.+)` from `i` (key includes its colon) and returns the group.
std::optional<std::string_view> match_value(std::string_view line, std::size_t i,
                                            std::string_view key) {
    i = skip_space(line, i);
    if (!starts_with(line, i, key))
        return std::nullopt;
    i = skip_space(line, i + key.size());
    if (i == line.size())
        return std::nullopt;
    return line.substr(i);
}

// Matches `# <tool> version: <version>` ("conda", "mamba", ...) and returns "tool version".
std::optional<std::string> match_tool(std::string_view line) {
    const std::size_t start = skip_space(line, 1);
    std::size_t end = start;
    while (end < line.size() && (is_word(line[end]) || line[end] == '-' || line[end] == '.'))
        ++end;
    if (end == start || end == line.size() || !is_space(line[end]))
        return std::nullopt;
    const auto version = match_value(line, end, "version:");
    if (!version)
        return std::nullopt;
    return std::string(line.substr(start, end - start)) + " " + std::string(*version);
}

struct SpecLine {
    std::string_view action;
    std::string_view specs;        // may be empty
    std::size_t specs_offset = 0;  // in the line
};

// Matches conda's `#\s*(\w+)\s*specs:\s*(.+)?`, including its backtracking: in
// "# updatespecs: x" the word is "update".
std::optional<SpecLine> match_spec_line(std::string_view line) {
    const std::size_t start = skip_space(line, 1);
    std::size_t end = start;
    while (end < line.size() && is_word(line[end]))
        ++end;
    if (end == start)
        return std::nullopt;
    std::size_t after = 0;
    std::string_view action;
    if (const auto p = skip_space(line, end); p > end && starts_with(line, p, "specs:")) {
        action = line.substr(start, end - start);
        after = p + 6;
    } else if (end - start > 5 && line.substr(end - 5, 5) == "specs" &&
               starts_with(line, end, ":")) {
        action = line.substr(start, end - 5 - start);
        after = end + 1;
    } else {
        return std::nullopt;
    }
    const std::size_t value = skip_space(line, after);
    return SpecLine{action, line.substr(value), value};
}

struct ListFailure {
    std::size_t offset = 0;
    std::string reason;
};

// Reads a list of string literals as Python's ast.literal_eval does for what conda writes
// (repr of a list of str, u'' strings from Python 2) and what micromamba writes (std::quoted,
// whose only escapes are \" and \\, read the same way). One pass, no backtracking.
class PyListParser {
  public:
    explicit PyListParser(std::string_view text) : m_text(text) {}

    std::optional<std::vector<std::string>> parse(ListFailure& failure) {
        std::vector<std::string> items;
        m_pos = 1;  // past '['
        skip_blank();
        if (peek() == ']')
            return finish(items, failure);
        while (true) {
            std::string item;
            if (!read_string(item, failure))
                return std::nullopt;
            skip_blank();
            // Adjacent literals concatenate ('a' 'b' is 'ab').
            while (is_string_start()) {
                if (!read_string(item, failure))
                    return std::nullopt;
                skip_blank();
            }
            items.push_back(std::move(item));
            if (peek() == ',') {
                ++m_pos;
                skip_blank();
                if (peek() == ']')
                    return finish(items, failure);
                continue;
            }
            if (peek() == ']')
                return finish(items, failure);
            return fail(failure, "expected ',' or ']'");
        }
    }

  private:
    char peek() const { return m_pos < m_text.size() ? m_text[m_pos] : '\0'; }

    // Skips spaces and a `#` comment, which runs to the end of the line.
    void skip_blank() {
        m_pos = skip_space(m_text, m_pos);
        if (peek() == '#')
            m_pos = m_text.size();
    }

    std::nullopt_t fail(ListFailure& failure, std::string reason) const {
        failure.offset = m_pos;
        failure.reason = std::move(reason);
        return std::nullopt;
    }

    std::optional<std::vector<std::string>> finish(std::vector<std::string>& items,
                                                   ListFailure& failure) {
        ++m_pos;  // past ']'
        skip_blank();
        if (m_pos != m_text.size())
            return fail(failure, "unexpected text after the list");
        return std::move(items);
    }

    bool is_string_start() const {
        std::size_t i = m_pos;
        while (i < m_text.size() && i < m_pos + 2 &&
               std::string_view("uUrRbB").find(m_text[i]) != std::string_view::npos)
            ++i;
        return i < m_text.size() && (m_text[i] == '\'' || m_text[i] == '"');
    }

    bool read_string(std::string& out, ListFailure& failure) {
        bool raw = false;
        bool bytes = false;
        const std::size_t start = m_pos;
        while (m_pos < m_text.size() && m_pos < start + 2) {
            const char c = m_text[m_pos];
            if (c == 'r' || c == 'R') {
                raw = true;
            } else if (c == 'b' || c == 'B') {
                bytes = true;
            } else if (c != 'u' && c != 'U') {
                break;
            }
            ++m_pos;
        }
        const char quote = peek();
        if (quote != '\'' && quote != '"') {
            m_pos = start;
            fail(failure, "expected a quoted string");
            return false;
        }
        if (bytes) {
            m_pos = start;
            fail(failure, "a bytes literal is not a spec");
            return false;
        }
        const bool triple = m_text.substr(m_pos, 3) == std::string(3, quote);
        m_pos += triple ? 3 : 1;
        while (true) {
            if (m_pos >= m_text.size()) {
                fail(failure, "unterminated string");
                return false;
            }
            const char c = m_text[m_pos];
            if (c == quote) {
                if (!triple) {
                    ++m_pos;
                    return true;
                }
                if (m_text.substr(m_pos, 3) == std::string(3, quote)) {
                    m_pos += 3;
                    return true;
                }
            }
            if (c == '\\') {
                if (!read_escape(raw, out, failure))
                    return false;
                continue;
            }
            out += c;
            ++m_pos;
        }
    }

    // Reads the escape at m_pos (a backslash) as Python 3 reads it in a str literal.
    bool read_escape(bool raw, std::string& out, ListFailure& failure) {
        if (m_pos + 1 >= m_text.size()) {
            ++m_pos;
            fail(failure, "unterminated string");
            return false;
        }
        const char c = m_text[m_pos + 1];
        if (raw) {
            // A raw string keeps the backslash, which still protects the quote after it.
            out += '\\';
            out += c;
            m_pos += 2;
            return true;
        }
        const std::size_t escape_start = m_pos;
        m_pos += 2;
        switch (c) {
            case '\\':
            case '\'':
            case '"':
                out += c;
                return true;
            case 'a':
                out += '\a';
                return true;
            case 'b':
                out += '\b';
                return true;
            case 'f':
                out += '\f';
                return true;
            case 'n':
                out += '\n';
                return true;
            case 'r':
                out += '\r';
                return true;
            case 't':
                out += '\t';
                return true;
            case 'v':
                out += '\v';
                return true;
            case 'x':
                return read_hex(2, escape_start, out, failure);
            case 'u':
                return read_hex(4, escape_start, out, failure);
            case 'U':
                return read_hex(8, escape_start, out, failure);
            case 'N':
                m_pos = escape_start;
                fail(failure, "named unicode escapes are not supported");
                return false;
            default:
                break;
        }
        if (c >= '0' && c <= '7') {
            std::uint32_t value = static_cast<std::uint32_t>(c - '0');
            for (int n = 0; n < 2 && peek() >= '0' && peek() <= '7'; ++n)
                value = value * 8 + static_cast<std::uint32_t>(m_text[m_pos++] - '0');
            util::append_utf8(out, value);
            return true;
        }
        // Python keeps an unknown escape as written.
        out += '\\';
        out += c;
        return true;
    }

    bool read_hex(int digits, std::size_t escape_start, std::string& out, ListFailure& failure) {
        std::uint32_t value = 0;
        for (int n = 0; n < digits; ++n) {
            const int v = util::hex_value(peek());
            if (v < 0) {
                m_pos = escape_start;
                fail(failure,
                     "truncated \\" + std::string(1, m_text[escape_start + 1]) + " escape");
                return false;
            }
            value = value * 16 + static_cast<std::uint32_t>(v);
            ++m_pos;
        }
        if (value > 0x10FFFF) {
            m_pos = escape_start;
            fail(failure, "escape past U+10FFFF");
            return false;
        }
        util::append_utf8(out, value);
        return true;
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
};

// Tells whether a comma-separated piece continues the previous spec: conda's
// version_relation_re, `^(=|==|!=|<=|>=|<|>)(?![=<>!])(\S+)$`.
bool continues_version(std::string_view piece) {
    std::size_t op = 0;
    if (starts_with(piece, 0, "==") || starts_with(piece, 0, "!=") || starts_with(piece, 0, "<=") ||
        starts_with(piece, 0, ">=")) {
        op = 2;
    } else if (!piece.empty() && (piece[0] == '=' || piece[0] == '<' || piece[0] == '>')) {
        op = 1;
    } else {
        return false;
    }
    const std::string_view rest = piece.substr(op);
    if (rest.empty() || std::string_view("=<>!").find(rest[0]) != std::string_view::npos)
        return false;
    for (const char c : rest) {
        if (is_space(c))
            return false;
    }
    return true;
}

// Splits the conda < 4.5 form, "python>=3.5.1,jupyter >=1.0.0,<2.0", as conda does.
std::vector<std::string> parse_old_format(std::string_view text) {
    std::vector<std::string> specs;
    for (const auto piece : util::split(text, ',')) {
        if (continues_version(piece) && !specs.empty()) {
            specs.back() += ',';
            specs.back() += piece;
        } else {
            specs.emplace_back(piece);
        }
    }
    return specs;
}

class HistoryParser {
  public:
    HistoryParser(const fs::path& path, History& history)
        : m_path(path.string()), m_history(history) {}

    void parse_line(std::string_view raw, int line_number) {
        const std::string_view line = util::trim(raw);
        if (line.empty())
            return;
        if (const auto date = match_header(line)) {
            HistoryRevision revision;
            revision.date = std::string(*date);
            revision.line = line_number;
            m_history.revisions.push_back(std::move(revision));
            return;
        }
        // conda ignores what comes before the first header.
        if (m_history.revisions.empty())
            return;
        HistoryRevision& revision = m_history.revisions.back();
        if (line.front() == '#') {
            const auto column = static_cast<std::size_t>(line.data() - raw.data());
            parse_comment(line, line_number, column, revision);
        } else if (line.front() == '+') {
            revision.linked.emplace_back(line.substr(1));
        } else if (line.front() == '-') {
            revision.unlinked.emplace_back(line.substr(1));
        }
    }

    void finish() {
        if (m_dropped > 0) {
            m_history.warnings.push_back(
                {m_path, 0, 0, std::to_string(m_dropped) + " more spec lists cannot be parsed"});
        }
    }

  private:
    void parse_comment(std::string_view line, int line_number, std::size_t column,
                       HistoryRevision& revision) {
        if (const auto cmd = match_value(line, 1, "cmd:"))
            revision.command = std::string(*cmd);
        if (const auto tool = match_tool(line)) {
            // mamba's own version line says more than the conda one it may write beside it.
            if (revision.tool.empty() || revision.tool.rfind("conda ", 0) == 0)
                revision.tool = *tool;
        }
        const auto spec_line = match_spec_line(line);
        if (!spec_line)
            return;
        std::vector<std::string> specs;
        if (!spec_line->specs.empty() && spec_line->specs.front() == '[') {
            ListFailure failure;
            auto parsed = PyListParser(spec_line->specs).parse(failure);
            if (!parsed) {
                warn(line_number, column + spec_line->specs_offset + failure.offset,
                     "cannot parse the " + std::string(spec_line->action) +
                         " spec list: " + failure.reason);
                return;
            }
            specs = std::move(*parsed);
        } else if (spec_line->specs.find('[') == std::string_view::npos) {
            specs = parse_old_format(spec_line->specs);
        } else {
            warn(line_number, column + spec_line->specs_offset,
                 "cannot parse the " + std::string(spec_line->action) +
                     " spec list: not a list and not the old comma-separated form");
            return;
        }
        std::vector<std::string> kept;
        for (auto& spec : specs) {
            const std::string_view trimmed = util::trim(spec);
            // conda drops empty specs and the `name@` of features.
            if (!trimmed.empty() && trimmed.back() != '@')
                kept.emplace_back(trimmed);
        }
        if (kept.empty())
            return;
        // As conda's dict update, a later line of the same kind replaces an earlier one.
        const std::string_view action = spec_line->action;
        if (action == "update" || action == "install" || action == "create") {
            revision.update_specs = std::move(kept);
        } else if (action == "remove" || action == "uninstall") {
            revision.remove_specs = std::move(kept);
        } else if (action == "neutered") {
            revision.neutered_specs = std::move(kept);
        }
    }

    void warn(int line_number, std::size_t column, std::string message) {
        if (m_history.warnings.size() >= k_max_warnings) {
            ++m_dropped;
            return;
        }
        m_history.warnings.push_back(
            {m_path, line_number, static_cast<int>(column) + 1, std::move(message)});
    }

    std::string m_path;
    History& m_history;
    std::size_t m_dropped = 0;
};

// Returns the package name a history spec is about: the MatchSpec's, else the text up to the
// first space or operator.
std::string spec_name(std::string_view spec) {
    if (const auto parsed = spec::MatchSpec::try_parse(spec))
        return parsed->name();
    const std::string_view text = util::trim(spec);
    const auto end = text.find_first_of(" \t=<>!~,|[");
    return util::to_lower(text.substr(0, end));
}

}  // namespace

History parse_history(std::string_view text, const fs::path& path) {
    History history;
    HistoryParser parser(path, history);
    int line_number = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        ++line_number;
        const auto end = text.find_first_of("\r\n", pos);
        if (end == std::string_view::npos) {
            parser.parse_line(text.substr(pos), line_number);
            break;
        }
        parser.parse_line(text.substr(pos, end - pos), line_number);
        pos = end + (text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n' ? 2 : 1);
    }
    parser.finish();
    return history;
}

History read_history(const fs::path& prefix) {
    const fs::path path = prefix / "conda-meta" / "history";
    if (!util::exists(path))
        return {};
    return parse_history(util::read_file(path), path);
}

std::map<std::string, std::string> requested_specs_map(const History& history) {
    std::map<std::string, std::string> specs;
    for (const auto& revision : history.revisions) {
        // conda's get_user_requests keeps only the blocks with a `# cmd:` line.
        if (revision.command.empty())
            continue;
        for (const auto& spec : revision.remove_specs)
            specs.erase(spec_name(spec));
        for (const auto* list : {&revision.update_specs, &revision.neutered_specs}) {
            for (const auto& spec : *list) {
                std::string name = spec_name(spec);
                if (!name.empty())
                    specs.insert_or_assign(std::move(name), spec);
            }
        }
    }
    return specs;
}

}  // namespace gpuenv::core::env
