#include <gpuenv/core/spec/version_spec.hpp>

#include <gpuenv/util/parse_error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::spec {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_operator_char(char c) {
    return c == '=' || c == '<' || c == '>' || c == '!' || c == '~';
}
// Shows a character of user input in a message: printable ASCII quoted, anything else as hex.
std::string describe(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
        static constexpr char k_hex[] = "0123456789abcdef";
        return std::string("byte 0x") + k_hex[u >> 4] + k_hex[u & 15];
    }
    return std::string("'") + c + "'";
}

bool is_glob_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == '+' || c == '!' || c == '_' || c == '*' || c == '-';
}

}  // namespace

// An operator-precedence parser over conda's treeify tokens (regexes `^...$`, `(`, `)`, `|`,
// `,`, and clauses). It uses explicit stacks, so nesting costs no native stack; parentheses
// are limited to k_max_depth anyway so that evaluation and rendering recurse boundedly.
class VersionSpec::Parser {
  public:
    Parser(std::string_view text, VersionSpec& out, ParseFailure* failure)
        : m_text(text), m_out(out), m_failure(failure) {}

    bool run() {
        const std::size_t n = m_text.size();
        std::size_t i = 0;
        for (;;) {
            std::size_t j = i;
            while (j < n && is_space(m_text[j]))
                ++j;
            if (j == n)
                break;
            const char c = m_text[j];
            if (c == '^') {
                const std::size_t dollar = m_text.find('$', j + 1);
                if (dollar != std::string_view::npos) {
                    if (!operand(j, dollar + 1))
                        return false;
                    i = dollar + 1;
                    continue;
                }
            }
            if (c == '(' || c == ')' || c == '|' || c == ',') {
                if (!punctuation(c, j))
                    return false;
                i = j + 1;
                continue;
            }
            std::size_t end = j;
            while (end < n && m_text[end] != '(' && m_text[end] != ')' && m_text[end] != '|' &&
                   m_text[end] != ',')
                ++end;
            std::size_t trimmed = end;
            while (trimmed > j && is_space(m_text[trimmed - 1]))
                --trimmed;
            if (!operand(j, trimmed))
                return false;
            i = end;
        }
        if (m_expect_operand) {
            const bool empty = m_operands.empty() && m_ops.empty();
            return fail(n, empty ? "empty version spec" : "expected a version at the end");
        }
        while (!m_ops.empty()) {
            if (m_ops.back().op == '(')
                return fail(m_ops.back().offset, "unmatched '('");
            reduce();
        }
        m_out.m_root = m_operands.back();
        return true;
    }

  private:
    struct PendingOp {
        char op;
        std::size_t offset;
    };

    bool fail(std::size_t offset, std::string reason) {
        if (m_failure != nullptr) {
            m_failure->offset = offset;
            m_failure->reason = std::move(reason);
        }
        return false;
    }

    bool punctuation(char c, std::size_t at) {
        if (c == '(') {
            if (!m_expect_operand)
                return fail(at, "expected ',' or '|' before '('");
            if (++m_depth > k_max_depth)
                return fail(at, "parentheses nested deeper than 64");
            m_ops.push_back({c, at});
            return true;
        }
        if (m_expect_operand)
            return fail(at, std::string("expected a version before '") + c + "'");
        if (c == ')') {
            while (!m_ops.empty() && m_ops.back().op != '(')
                reduce();
            if (m_ops.empty())
                return fail(at, "unmatched ')'");
            m_ops.pop_back();
            --m_depth;
            return true;
        }
        // ',' binds tighter than '|': reduce pending ANDs (and ORs before a new OR).
        while (!m_ops.empty() && (m_ops.back().op == ',' || (c == '|' && m_ops.back().op == '|')))
            reduce();
        m_ops.push_back({c, at});
        m_expect_operand = true;
        return true;
    }

    // Joins the two top operands with the top operator, flattening runs of the same operator
    // as conda's treeify does: ('|', ('|', a, b), c) becomes ('|', a, b, c).
    void reduce() {
        const NodeKind kind = m_ops.back().op == ',' ? NodeKind::all_of : NodeKind::any_of;
        m_ops.pop_back();
        const std::uint32_t r = m_operands.back();
        m_operands.pop_back();
        const std::uint32_t l = m_operands.back();
        m_operands.pop_back();
        auto& nodes = m_out.m_nodes;
        std::uint32_t joined = l;
        if (nodes[l].kind != kind) {
            joined = static_cast<std::uint32_t>(nodes.size());
            nodes.push_back(Node{kind, 0, {l}});
        }
        if (nodes[r].kind == kind) {
            const std::vector<std::uint32_t> kids = std::move(nodes[r].children);
            nodes[joined].children.insert(nodes[joined].children.end(), kids.begin(), kids.end());
        } else {
            nodes[joined].children.push_back(r);
        }
        m_operands.push_back(joined);
    }

    bool operand(std::size_t begin, std::size_t end) {
        if (!m_expect_operand)
            return fail(begin, "expected ',' or '|' before " + describe(m_text[begin]));
        Clause clause;
        if (!parse_clause(begin, end, clause))
            return false;
        auto& out = m_out;
        out.m_clauses.push_back(std::move(clause));
        out.m_nodes.push_back(
            Node{NodeKind::clause, static_cast<std::uint32_t>(out.m_clauses.size() - 1), {}});
        m_operands.push_back(static_cast<std::uint32_t>(out.m_nodes.size() - 1));
        m_expect_operand = false;
        return true;
    }

    bool version_at(std::size_t begin, std::string_view text, std::optional<CondaVersion>& out) {
        ParseFailure failure;
        out = CondaVersion::try_parse(text, &failure);
        return out.has_value() || fail(begin + failure.offset, failure.reason);
    }

    bool parse_operator(std::size_t begin, std::string_view s, Clause& clause) {
        std::size_t op_len = 0;
        const std::string_view two = s.substr(0, 2);
        if ((two == "==" || two == "!=" || two == "<=" || two == ">=" || two == "~=") &&
            s.size() > 2 && !is_operator_char(s[2])) {
            op_len = 2;
        } else if ((s[0] == '=' || s[0] == '<' || s[0] == '>') && s.size() > 1 &&
                   !is_operator_char(s[1])) {
            op_len = 1;
        } else if (s == "==" || s == "!=" || s == "<=" || s == ">=" || s == "~=" || s == "=" ||
                   s == "<" || s == ">") {
            return fail(begin + s.size(), "missing version after '" + std::string(s) + "'");
        } else {
            return fail(begin, "invalid operator");
        }
        const std::string_view op = s.substr(0, op_len);
        std::string_view rest = s.substr(op_len);
        for (std::size_t k = 0; k < rest.size(); ++k) {
            if (is_space(rest[k]))
                return fail(begin + op_len + k, "unexpected space in a version clause");
        }
        const bool dot_star = rest.size() >= 2 && rest.substr(rest.size() - 2) == ".*";
        if (op == "==")
            clause.op = Op::eq, clause.exact = true;
        else if (op == "!=")
            clause.op = dot_star ? Op::not_starts_with : Op::ne;
        else if (op == "<=")
            clause.op = Op::le;
        else if (op == ">=")
            clause.op = Op::ge;
        else if (op == "<")
            clause.op = Op::lt;
        else if (op == ">")
            clause.op = Op::gt;
        else if (op == "=")
            clause.op = Op::starts_with;
        else
            clause.op = Op::compatible;
        if (dot_star) {
            if (clause.op == Op::compatible)
                return fail(begin, "'~=' cannot be combined with '.*'");
            // conda drops the '.*' after every other operator; after '==' and '<' it warns that
            // it is superfluous, so '==1.7.*' means '==1.7' (mamba reads it as '1.7.*').
            rest.remove_suffix(2);
        }
        if (!version_at(begin + op_len, rest, clause.version))
            return false;
        if (clause.op == Op::compatible) {
            // conda: >=X and startswith(X without its last '.'-component); conda raises at match
            // time when nothing is left ('~=1'), so it is rejected here (mamba accepts it).
            const std::string norm = clause.version->normalized();
            const std::size_t dot = norm.rfind('.');
            if (dot == std::string::npos)
                return fail(begin, "'~=' needs a version with at least two components");
            ParseFailure failure;
            clause.prefix =
                CondaVersion::try_parse(std::string_view(norm).substr(0, dot), &failure);
            if (!clause.prefix)
                return fail(begin + op_len, "invalid '~=' version: " + failure.reason);
        }
        return true;
    }

    bool parse_clause(std::size_t begin, std::size_t end, Clause& clause) {
        const std::string_view s = m_text.substr(begin, end - begin);
        clause.text = std::string(s);
        if (s.front() == '^' || s.back() == '$') {
            if (s.size() < 2 || s.front() != '^' || s.back() != '$')
                return fail(begin, "a regex must start with '^' and end with '$'");
            ParseFailure failure;
            clause.matcher = StringMatcher::try_parse(s, &failure);
            if (!clause.matcher)
                return fail(begin + failure.offset, failure.reason);
            clause.op = Op::regex;
            return true;
        }
        if (is_operator_char(s.front()))
            return parse_operator(begin, s, clause);
        if (s == "*") {
            clause.op = Op::any;
            return true;
        }
        const std::size_t last_non_star = s.find_last_not_of('*');
        if (last_non_star != std::string_view::npos &&
            s.substr(0, last_non_star).find('*') != std::string_view::npos) {
            // A '*' inside: conda turns the clause into a regex ('1.*.1' -> ^1\..*\.1$).
            for (std::size_t k = 0; k < s.size(); ++k) {
                if (!is_glob_char(s[k]))
                    return fail(begin + k,
                                "invalid character " + describe(s[k]) + " in a version glob");
            }
            ParseFailure failure;
            clause.matcher = StringMatcher::try_parse(s, &failure);
            if (!clause.matcher)
                return fail(begin + failure.offset, failure.reason);
            clause.op = Op::glob;
            return true;
        }
        if (s.back() == '*') {
            // 'X.*' and 'X*' mean "starts with X". conda rewrites 'X*' as 'X.*' in its string
            // form; the text is kept as written here, since '**' rewritten as '*.*' would read
            // back as a glob.
            const bool dot_star = s.size() >= 2 && s.substr(s.size() - 2) == ".*";
            const std::string_view prefix = s.substr(0, s.size() - (dot_star ? 2 : 1));
            clause.op = Op::starts_with;
            return version_at(begin, prefix, clause.version);
        }
        if (s.find('@') != std::string_view::npos) {
            clause.op = Op::exact_text;  // conda's exact string match for legacy '@' versions
            clause.exact = true;
            return true;
        }
        clause.op = Op::eq;
        clause.exact = true;
        return version_at(begin, s, clause.version);
    }

    std::string_view m_text;
    VersionSpec& m_out;
    ParseFailure* m_failure;
    std::vector<std::uint32_t> m_operands;
    std::vector<PendingOp> m_ops;
    bool m_expect_operand = true;
    int m_depth = 0;
};

std::optional<VersionSpec> VersionSpec::try_parse(std::string_view text, ParseFailure* failure) {
    VersionSpec spec;
    Parser parser(text, spec, failure);
    if (!parser.run())
        return std::nullopt;
    spec.m_text = std::string(text);
    return spec;
}

VersionSpec VersionSpec::parse(std::string_view text) {
    ParseFailure failure;
    auto spec = try_parse(text, &failure);
    if (!spec)
        util::throw_parse_error("version spec", text, failure.offset, failure.reason);
    return std::move(*spec);
}

bool VersionSpec::test(const Clause& clause, const CondaVersion& v) {
    switch (clause.op) {
        case Op::any:
            return true;
        case Op::eq:
            return v == *clause.version;
        case Op::ne:
            return v != *clause.version;
        case Op::lt:
            return v < *clause.version;
        case Op::le:
            return v <= *clause.version;
        case Op::gt:
            return v > *clause.version;
        case Op::ge:
            return v >= *clause.version;
        case Op::starts_with:
            return v.starts_with(*clause.version);
        case Op::not_starts_with:
            return !v.starts_with(*clause.version);
        case Op::compatible:
            return v >= *clause.version && v.starts_with(*clause.prefix);
        case Op::glob:
        case Op::regex:
            return clause.matcher->matches(util::trim(v.str()));
        case Op::exact_text:
            return util::trim(v.str()) == clause.text;
    }
    return false;
}

bool VersionSpec::eval(std::uint32_t index, const CondaVersion& version) const {
    const Node& node = m_nodes[index];
    switch (node.kind) {
        case NodeKind::clause:
            return test(m_clauses[node.clause], version);
        case NodeKind::all_of:
            for (const std::uint32_t kid : node.children) {
                if (!eval(kid, version))
                    return false;
            }
            return true;
        case NodeKind::any_of:
            for (const std::uint32_t kid : node.children) {
                if (eval(kid, version))
                    return true;
            }
            return false;
    }
    return false;
}

bool VersionSpec::contains(const CondaVersion& version) const {
    return !m_nodes.empty() && eval(m_root, version);
}

void VersionSpec::render(std::uint32_t index, bool in_and, int depth, std::string& out) const {
    const Node& node = m_nodes[index];
    if (node.kind == NodeKind::clause) {
        out += m_clauses[node.clause].text;
        return;
    }
    const bool is_or = node.kind == NodeKind::any_of;
    const bool wrap = is_or ? (in_and || depth > 0) : (depth > 0 && !in_and);
    if (wrap)
        out += '(';
    for (std::size_t k = 0; k < node.children.size(); ++k) {
        if (k > 0)
            out += is_or ? '|' : ',';
        render(node.children[k], !is_or, depth + 1, out);
    }
    if (wrap)
        out += ')';
}

std::string VersionSpec::normalized() const {
    std::string out;
    if (!m_nodes.empty())
        render(m_root, false, 0, out);
    return out;
}

bool VersionSpec::is_exact() const {
    return !m_nodes.empty() && m_nodes[m_root].kind == NodeKind::clause &&
           m_clauses[m_nodes[m_root].clause].exact;
}

bool VersionSpec::matches_all() const {
    return !m_nodes.empty() && m_nodes[m_root].kind == NodeKind::clause &&
           m_clauses[m_nodes[m_root].clause].op == Op::any;
}

}  // namespace gpuenv::core::spec
