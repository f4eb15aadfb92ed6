#include <gpuenv/core/spec/marker.hpp>

#include <gpuenv/util/text.hpp>

#include <cstdint>
#include <utility>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/core/spec/pep440.hpp>
#include <gpuenv/core/spec/specifier.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/parse_error.hpp>

namespace gpuenv::core::spec {
namespace {

struct VariableSpelling {
    std::string_view text;
    std::string_view name;
};

// packaging's VARIABLE token, its alternatives spelled out; "." aliases and
// python_implementation map to the canonical names.
constexpr VariableSpelling k_variables[] = {
    {"python_version", "python_version"},
    {"python_full_version", "python_full_version"},
    {"os_name", "os_name"},
    {"os.name", "os_name"},
    {"sys_platform", "sys_platform"},
    {"sys.platform", "sys_platform"},
    {"platform_release", "platform_release"},
    {"platform_system", "platform_system"},
    {"platform_version", "platform_version"},
    {"platform.version", "platform_version"},
    {"platform_machine", "platform_machine"},
    {"platform.machine", "platform_machine"},
    {"platform_python_implementation", "platform_python_implementation"},
    {"platform.python_implementation", "platform_python_implementation"},
    {"python_implementation", "platform_python_implementation"},
    {"implementation_name", "implementation_name"},
    {"implementation_version", "implementation_version"},
    {"extra", "extra"},
};

// A regex \w character. Bytes of non-ASCII characters count as word characters: most
// non-ASCII characters next to a keyword are letters.
bool is_word(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x80 || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z');
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::optional<std::string_view> lookup(const MarkerEnvironment& env, std::string_view extra,
                                       std::string_view key) {
    const std::pair<std::string_view, const std::string*> fields[] = {
        {"implementation_name", &env.implementation_name},
        {"implementation_version", &env.implementation_version},
        {"os_name", &env.os_name},
        {"platform_machine", &env.platform_machine},
        {"platform_release", &env.platform_release},
        {"platform_system", &env.platform_system},
        {"platform_version", &env.platform_version},
        {"python_full_version", &env.python_full_version},
        {"platform_python_implementation", &env.platform_python_implementation},
        {"python_version", &env.python_version},
        {"sys_platform", &env.sys_platform},
    };
    if (key == "extra")
        return extra;
    for (const auto& [name, value] : fields) {
        if (name == key)
            return *value;
    }
    return std::nullopt;
}

}  // namespace

// Recursive descent over packaging's marker grammar; recursion is bounded by k_max_depth.
class Marker::Parser {
  public:
    Parser(std::string_view text, std::size_t pos, std::string_view what, Marker& out)
        : m_text(text), m_pos(pos), m_what(what), m_out(out) {}

    std::size_t position() const { return m_pos; }

    // marker = atom (BOOLOP atom)*
    std::size_t parse_list(std::size_t depth) {
        const std::size_t index = m_out.m_lists.size();
        m_out.m_lists.emplace_back();
        List list;
        list.atoms.push_back(parse_atom(depth));
        while (true) {
            const bool is_or = at_word("or");
            if (!is_or && !at_word("and"))
                break;
            m_pos += is_or ? 2 : 3;
            list.joins.push_back(is_or);
            list.atoms.push_back(parse_atom(depth));
        }
        m_out.m_lists[index] = std::move(list);
        return index;
    }

  private:
    [[noreturn]] void fail(std::size_t offset, std::string_view reason) const {
        util::throw_parse_error(m_what, m_text, offset, reason);
    }

    void skip_ws() {
        while (m_pos < m_text.size() && (m_text[m_pos] == ' ' || m_text[m_pos] == '\t'))
            ++m_pos;
    }

    bool peek(char c) const { return m_pos < m_text.size() && m_text[m_pos] == c; }

    // Returns whether `word` starts at the position with a word boundary on both sides.
    bool at_word(std::string_view word) const {
        if (m_text.substr(m_pos, word.size()) != word)
            return false;
        if (m_pos > 0 && is_word(m_text[m_pos - 1]))
            return false;
        const std::size_t end = m_pos + word.size();
        return end == m_text.size() || !is_word(m_text[end]);
    }

    // atom = WS? ( "(" WS? marker WS? ")" | item ) WS?
    Atom parse_atom(std::size_t depth) {
        skip_ws();
        Atom atom;
        if (peek('(')) {
            if (depth + 1 > k_max_depth)
                fail(m_pos, "parentheses nest too deeply");
            ++m_pos;
            skip_ws();
            atom = {true, parse_list(depth + 1)};
            skip_ws();
            if (!peek(')'))
                fail(m_pos, "expected ')'");
            ++m_pos;
        } else {
            Comparison c;
            c.lhs = parse_operand();
            skip_ws();
            c.op = parse_op();
            skip_ws();
            c.rhs = parse_operand();
            atom = {false, m_out.m_comparisons.size()};
            m_out.m_comparisons.push_back(std::move(c));
        }
        skip_ws();
        return atom;
    }

    Operand parse_operand() {
        for (const auto& spelling : k_variables) {
            if (at_word(spelling.text)) {
                m_pos += spelling.text.size();
                return {true, std::string(spelling.name)};
            }
        }
        if (peek('\'') || peek('"')) {
            const std::size_t close = m_text.find(m_text[m_pos], m_pos + 1);
            if (close != std::string_view::npos) {
                Operand literal{false, decode_literal(m_pos + 1, close)};
                m_pos = close + 1;
                return literal;
            }
        }
        fail(m_pos, "expected a marker variable or quoted string");
    }

    Op parse_op() {
        if (at_word("in")) {
            m_pos += 2;
            return Op::in;
        }
        if (at_word("not")) {
            m_pos += 3;
            if (!peek(' ') && !peek('\t'))
                fail(m_pos, "expected whitespace after 'not'");
            skip_ws();
            if (!at_word("in"))
                fail(m_pos, "expected 'in' after 'not'");
            m_pos += 2;
            return Op::not_in;
        }
        static constexpr std::pair<std::string_view, Op> ops[] = {
            {"===", Op::arbitrary}, {"==", Op::eq}, {"~=", Op::compatible}, {"!=", Op::ne},
            {"<=", Op::le},         {">=", Op::ge}, {"<", Op::lt},          {">", Op::gt},
        };
        for (const auto& [text, op] : ops) {
            if (m_text.substr(m_pos, text.size()) == text) {
                m_pos += text.size();
                return op;
            }
        }
        fail(m_pos, "expected a marker operator, one of <=, <, !=, ==, >=, >, ~=, ===, in, not in");
    }

    // Decodes the body of a quoted string as Python's ast.literal_eval does.
    std::string decode_literal(std::size_t begin, std::size_t end) const {
        std::string out;
        out.reserve(end - begin);
        std::size_t i = begin;
        while (i < end) {
            const char c = m_text[i];
            if (c == '\n' || c == '\r')
                fail(i, "line break in a quoted string");
            if (c == '\0')
                fail(i, "NUL character in a quoted string");
            if (c != '\\') {
                out += c;
                ++i;
                continue;
            }
            if (i + 1 == end)
                fail(end, "unterminated string: the closing quote is escaped");
            i = decode_escape(i, end, out);
        }
        return out;
    }

    // Decodes the escape at `i` (a backslash) and returns the position after it.
    std::size_t decode_escape(std::size_t i, std::size_t end, std::string& out) const {
        const char d = m_text[i + 1];
        // Single-character escapes: the letter, then what it stands for.
        static constexpr std::string_view k_simple = "\\\\''\"\"a\ab\bf\fn\nr\rt\tv\v";
        for (std::size_t k = 0; k < k_simple.size(); k += 2) {
            if (k_simple[k] == d) {
                out += k_simple[k + 1];
                return i + 2;
            }
        }
        switch (d) {
            case '\n':
                return i + 2;
            case '\r':
                return (i + 2 < end && m_text[i + 2] == '\n') ? i + 3 : i + 2;
            case 'x':
            case 'u':
            case 'U': {
                const std::size_t digits = d == 'x' ? 2 : d == 'u' ? 4 : 8;
                std::uint32_t cp = 0;
                for (std::size_t k = 0; k < digits; ++k) {
                    const int h = i + 2 + k < end ? util::hex_value(m_text[i + 2 + k]) : -1;
                    if (h < 0)
                        fail(i, "truncated escape in a quoted string");
                    cp = cp * 16 + static_cast<std::uint32_t>(h);
                }
                if (cp > 0x10ffff)
                    fail(i, "illegal Unicode character in a quoted string");
                util::append_utf8(out, cp);
                return i + 2 + digits;
            }
            case 'N':
                fail(i, "\\N{...} escapes are not supported in a quoted string");
            default:
                break;
        }
        if (d >= '0' && d <= '7') {
            std::uint32_t cp = 0;
            std::size_t k = i + 1;
            while (k < end && k < i + 4 && m_text[k] >= '0' && m_text[k] <= '7')
                cp = cp * 8 + static_cast<std::uint32_t>(m_text[k++] - '0');
            util::append_utf8(out, cp);
            return k;
        }
        out += '\\';  // Python keeps unknown escapes as written
        return i + 1;
    }

    std::string_view m_text;
    std::size_t m_pos;
    std::string_view m_what;
    Marker& m_out;
};

Marker Marker::parse_part(std::string_view text, std::size_t& pos, std::string_view what) {
    Marker marker;
    Parser parser(text, pos, what, marker);
    parser.parse_list(0);
    pos = parser.position();
    // packaging normalizes the extra compared in the marker's first comparison (only there).
    const Atom& first = marker.m_lists[0].atoms[0];
    if (!first.is_list) {
        Comparison& c = marker.m_comparisons[first.index];
        if (c.lhs.is_variable && c.lhs.value == "extra")
            c.rhs = {false, normalize_pypi_name(c.rhs.value)};
        else if (c.rhs.is_variable && c.rhs.value == "extra")
            c.lhs = {false, normalize_pypi_name(c.lhs.value)};
    }
    return marker;
}

Marker Marker::parse(std::string_view text) {
    std::size_t pos = 0;
    Marker marker = parse_part(text, pos, "PEP 508 marker");
    // As packaging's END ("$"), a final newline is allowed.
    if (pos != text.size() && !(pos + 1 == text.size() && text[pos] == '\n'))
        util::throw_parse_error("PEP 508 marker", text, pos, "expected 'and', 'or' or the end");
    return marker;
}

bool Marker::evaluate(const MarkerEnvironment& env, std::string_view extra) const {
    return evaluate_list(0, env, extra);
}

bool Marker::evaluate_list(std::size_t index, const MarkerEnvironment& env,
                           std::string_view extra) const {
    // Every atom is evaluated, as packaging does, so an undefined comparison is reported
    // wherever it is; "and" binds tighter than "or".
    const List& list = m_lists[index];
    bool any_group = false;
    bool group = true;
    for (std::size_t i = 0; i < list.atoms.size(); ++i) {
        if (i > 0 && list.joins[i - 1]) {
            any_group = any_group || group;
            group = true;
        }
        const Atom& atom = list.atoms[i];
        const bool value = atom.is_list
                               ? evaluate_list(atom.index, env, extra)
                               : evaluate_comparison(m_comparisons[atom.index], env, extra);
        group = group && value;
    }
    return any_group || group;
}

bool Marker::evaluate_comparison(const Comparison& c, const MarkerEnvironment& env,
                                 std::string_view extra) const {
    // As packaging: the left variable's value against the right side as written, or the
    // left literal against the variable the right side names.
    std::string lhs;
    std::string rhs;
    std::string_view key;
    if (c.lhs.is_variable) {
        key = c.lhs.value;
        lhs = std::string(*lookup(env, extra, key));
        rhs = c.rhs.value;
    } else {
        key = c.rhs.value;
        const auto value = lookup(env, extra, key);
        if (!value) {
            throw Error(ExitCode::usage, "cannot evaluate marker '" + str() + "': '" +
                                             std::string(key) + "' is not a marker variable");
        }
        lhs = c.lhs.value;
        rhs = std::string(*value);
    }
    if (key == "extra") {
        lhs = normalize_pypi_name(lhs);
        rhs = normalize_pypi_name(rhs);
    }

    static constexpr std::string_view op_texts[] = {
        "<", "<=", "==", "!=", ">=", ">", "~=", "===", "in", "not in"};
    const std::string_view op_text = op_texts[static_cast<int>(c.op)];
    std::optional<Specifier> spec;
    if (c.op != Op::in && c.op != Op::not_in) {
        SpecParseFailure failure;
        spec = Specifier::try_parse(std::string(op_text) + rhs, failure);
        if (spec) {
            if (const auto v = Pep440Version::try_parse(lhs))
                return spec->contains(*v, PreReleases::allow);
        }
    }
    // Not both versions: compare as text (packaging 23.0 raises when only the left side is not
    // a version; PEP 508 says to compare as strings).
    switch (c.op) {
        case Op::in:
            return rhs.find(lhs) != std::string::npos;
        case Op::not_in:
            return rhs.find(lhs) == std::string::npos;
        case Op::eq:
            return lhs == rhs;
        case Op::ne:
            return lhs != rhs;
        case Op::lt:
            return lhs < rhs;
        case Op::le:
            return lhs <= rhs;
        case Op::ge:
            return lhs >= rhs;
        case Op::gt:
            return lhs > rhs;
        case Op::arbitrary:
            if (spec)
                return ascii_lower(lhs) == ascii_lower(rhs);
            break;
        case Op::compatible:
            break;
    }
    throw Error(ExitCode::usage, "cannot evaluate marker '" + str() + "': undefined comparison '" +
                                     lhs + "' " + std::string(op_text) + " '" + rhs + "'");
}

std::string Marker::str() const {
    std::string out;
    format_list(0, true, out);
    return out;
}

void Marker::format_list(std::size_t index, bool first, std::string& out) const {
    const auto format_comparison = [&](const Comparison& c) {
        static constexpr std::string_view op_texts[] = {
            "<", "<=", "==", "!=", ">=", ">", "~=", "===", "in", "not in"};
        const auto operand = [&](const Operand& o) {
            if (o.is_variable) {
                out += o.value;
            } else {
                out += '"';
                out += o.value;
                out += '"';
            }
        };
        operand(c.lhs);
        out += ' ';
        out += op_texts[static_cast<int>(c.op)];
        out += ' ';
        operand(c.rhs);
    };
    const List& list = m_lists[index];
    if (list.atoms.size() == 1) {
        // packaging drops the parentheses of a one-atom list; unlike packaging 23.0, which
        // prints `a and ((b or c))` as `a and b or c`, they are kept where they matter.
        if (list.atoms[0].is_list)
            format_list(list.atoms[0].index, first, out);
        else
            format_comparison(m_comparisons[list.atoms[0].index]);
        return;
    }
    if (!first)
        out += '(';
    for (std::size_t i = 0; i < list.atoms.size(); ++i) {
        if (i > 0)
            out += list.joins[i - 1] ? " or " : " and ";
        if (list.atoms[i].is_list)
            format_list(list.atoms[i].index, false, out);
        else
            format_comparison(m_comparisons[list.atoms[i].index]);
    }
    if (!first)
        out += ')';
}

}  // namespace gpuenv::core::spec
