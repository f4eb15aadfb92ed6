#include <gpuenv/core/spec/string_matcher.hpp>

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <limits>
#include <vector>

#include <gpuenv/util/parse_error.hpp>

namespace gpuenv::core::spec {
namespace {

unsigned char lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c - 'A' + 'a') : c;
}
bool is_alnum(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr int k_max_regex_depth = 64;        // nested groups
constexpr int k_max_repeat = 1000;           // {n,m} bounds
constexpr std::size_t k_max_program = 8192;  // NFA instructions after expanding {n,m}

using ByteSet = std::bitset<256>;

// The parsed form of a regex; `kids` hold the operands of concat, alt and repeat.
struct Node {
    enum class Type : std::uint8_t { empty, byte, any, set, bol, eol, concat, alt, repeat };
    Type type = Type::empty;
    unsigned char byte = 0;
    std::uint32_t set = 0;
    int min = 0;
    int max = 0;  // -1: unbounded
    std::vector<Node> kids;
};

}  // namespace

namespace detail {

// A compiled regex: a Thompson NFA run as a Pike VM without captures, so a search costs
// O(subject x program) and never recurses or backtracks. Always case-insensitive (CEP 29).
class Regex {
  public:
    static std::shared_ptr<const Regex> compile(std::string_view pattern, ParseFailure* failure);
    [[nodiscard]] bool search(std::string_view subject) const;

  private:
    enum class Op : std::uint8_t { byte, any, set, split, jump, bol, eol, match };
    struct Inst {
        Op op = Op::match;
        unsigned char byte = 0;
        std::uint32_t x = 0;  // split/jump target, or set index
        std::uint32_t y = 0;  // second split target
    };

    class Parser;
    bool emit(const Node& node);
    std::size_t push(Op op, std::uint32_t x = 0, unsigned char byte = 0);

    std::vector<Inst> m_code;
    std::vector<ByteSet> m_sets;
    bool m_anchored = false;
};

// Recursive descent over the pattern; the depth is bounded by k_max_regex_depth groups.
class Regex::Parser {
  public:
    Parser(std::string_view pattern, std::vector<ByteSet>& sets, ParseFailure* failure)
        : m_p(pattern), m_sets(sets), m_failure(failure) {}

    bool parse(Node& out) {
        if (!alternation(out))
            return false;
        if (m_i < m_p.size())
            return fail(m_i, "unbalanced parenthesis");
        return true;
    }

  private:
    bool fail(std::size_t offset, std::string reason) {
        if (m_failure != nullptr) {
            m_failure->offset = offset;
            m_failure->reason = std::move(reason);
        }
        return false;
    }
    [[nodiscard]] bool at_end() const { return m_i >= m_p.size(); }
    [[nodiscard]] unsigned char peek(std::size_t ahead = 0) const {
        return m_i + ahead < m_p.size() ? static_cast<unsigned char>(m_p[m_i + ahead]) : 0;
    }

    bool alternation(Node& out) {
        Node first;
        if (!concatenation(first))
            return false;
        if (at_end() || peek() != '|') {
            out = std::move(first);
            return true;
        }
        out.type = Node::Type::alt;
        out.kids.push_back(std::move(first));
        while (!at_end() && peek() == '|') {
            ++m_i;
            Node next;
            if (!concatenation(next))
                return false;
            out.kids.push_back(std::move(next));
        }
        return true;
    }

    bool concatenation(Node& out) {
        out.type = Node::Type::concat;
        while (!at_end() && peek() != '|' && peek() != ')') {
            Node atom_node;
            if (!atom(atom_node))
                return false;
            if (!quantifiers(atom_node))
                return false;
            out.kids.push_back(std::move(atom_node));
        }
        return true;
    }

    // Reads "{n}", "{n,}", "{,m}" or "{n,m}" at m_i; anything else is a literal '{' (as in Python).
    bool counted(int& min, int& max, std::size_t& end, bool& too_large) const {
        std::size_t j = m_i + 1;
        auto digits = [&](int& value) {
            const std::size_t begin = j;
            long long v = 0;
            while (j < m_p.size() && m_p[j] >= '0' && m_p[j] <= '9') {
                v = std::min<long long>(v * 10 + (m_p[j] - '0'), 1000000);
                ++j;
            }
            value = static_cast<int>(v);
            too_large = too_large || v > k_max_repeat;
            return j > begin;
        };
        const bool has_min = digits(min);
        if (!has_min)
            min = 0;
        if (j < m_p.size() && m_p[j] == ',') {
            ++j;
            if (!digits(max))
                max = -1;
        } else {
            if (!has_min)
                return false;
            max = min;
        }
        if (j >= m_p.size() || m_p[j] != '}')
            return false;
        end = j + 1;
        return true;
    }

    bool quantifier_here(int& min, int& max, std::size_t& end, bool& too_large) const {
        switch (peek()) {
            case '*':
                min = 0, max = -1, end = m_i + 1;
                return !at_end();
            case '+':
                min = 1, max = -1, end = m_i + 1;
                return !at_end();
            case '?':
                min = 0, max = 1, end = m_i + 1;
                return !at_end();
            case '{':
                return !at_end() && counted(min, max, end, too_large);
            default:
                return false;
        }
    }

    bool quantifiers(Node& node) {
        int min = 0;
        int max = 0;
        std::size_t end = 0;
        bool too_large = false;
        if (!quantifier_here(min, max, end, too_large))
            return true;
        if (node.type == Node::Type::bol || node.type == Node::Type::eol)
            return fail(m_i, "nothing to repeat");
        if (too_large)
            return fail(m_i, "repeat count larger than 1000");
        if (max >= 0 && max < min)
            return fail(m_i, "min repeat greater than max repeat");
        m_i = end;
        if (!at_end() && peek() == '?')
            ++m_i;  // lazy: the same language
        if (quantifier_here(min, max, end, too_large))
            return fail(m_i, "multiple repeat");
        Node repeat;
        repeat.type = Node::Type::repeat;
        repeat.min = min;
        repeat.max = max;
        repeat.kids.push_back(std::move(node));
        node = std::move(repeat);
        return true;
    }

    static void add_other_case(ByteSet& set) {
        for (int c = 'a'; c <= 'z'; ++c) {
            if (set[static_cast<std::size_t>(c)] || set[static_cast<std::size_t>(c - 'a' + 'A')]) {
                set.set(static_cast<std::size_t>(c));
                set.set(static_cast<std::size_t>(c - 'a' + 'A'));
            }
        }
    }

    // Reads an escape after '\': a class (\d \w \s and their negations) or one byte.
    bool escape(ByteSet& set, int& single) {
        if (at_end())
            return fail(m_i - 1, "trailing backslash");
        const unsigned char c = peek();
        ++m_i;
        single = -1;
        set.reset();
        switch (c) {
            case 'd':
            case 'D':
                for (int d = '0'; d <= '9'; ++d)
                    set.set(static_cast<std::size_t>(d));
                break;
            case 'w':
            case 'W':
                for (int d = 0; d < 256; ++d) {
                    if (is_alnum(static_cast<unsigned char>(d)) || d == '_')
                        set.set(static_cast<std::size_t>(d));
                }
                break;
            case 's':
            case 'S':
                for (const char s : {' ', '\t', '\n', '\r', '\f', '\v'})
                    set.set(static_cast<unsigned char>(s));
                break;
            case 't':
                single = '\t';
                return true;
            case 'n':
                single = '\n';
                return true;
            case 'r':
                single = '\r';
                return true;
            case 'f':
                single = '\f';
                return true;
            case 'v':
                single = '\v';
                return true;
            default:
                if (is_alnum(c))
                    return fail(m_i - 2,
                                std::string("unsupported escape '\\") + static_cast<char>(c) + "'");
                single = c;
                return true;
        }
        if (c == 'D' || c == 'W' || c == 'S')
            set.flip();
        return true;
    }

    bool char_class(Node& out) {
        const std::size_t open = m_i - 1;
        ByteSet set;
        bool negate = false;
        if (peek() == '^' && !at_end()) {
            negate = true;
            ++m_i;
        }
        bool first = true;
        for (;;) {
            if (at_end())
                return fail(open, "unterminated character class");
            unsigned char c = peek();
            if (c == ']' && !first) {
                ++m_i;
                break;
            }
            first = false;
            ++m_i;
            int lo = c;
            if (c == '\\') {
                ByteSet escaped;
                if (!escape(escaped, lo))
                    return false;
                if (lo < 0) {
                    set |= escaped;
                    continue;
                }
            }
            if (peek() == '-' && m_i + 1 < m_p.size() && m_p[m_i + 1] != ']') {
                const std::size_t range_at = m_i;
                ++m_i;
                int hi = peek();
                ++m_i;
                if (hi == '\\') {
                    ByteSet escaped;
                    if (!escape(escaped, hi))
                        return false;
                    if (hi < 0)
                        return fail(range_at, "bad character range");
                }
                if (hi < lo)
                    return fail(range_at, "bad character range");
                for (int b = lo; b <= hi; ++b)
                    set.set(static_cast<std::size_t>(b));
            } else {
                set.set(static_cast<std::size_t>(lo));
            }
        }
        add_other_case(set);
        if (negate)
            set.flip();
        out.type = Node::Type::set;
        out.set = static_cast<std::uint32_t>(m_sets.size());
        m_sets.push_back(set);
        return true;
    }

    bool atom(Node& out) {
        const unsigned char c = peek();
        ++m_i;
        switch (c) {
            case '(': {
                const std::size_t open = m_i - 1;
                if (peek() == '?') {
                    if (peek(1) != ':')
                        return fail(open,
                                    "unsupported group syntax '(?' (lookaround, named "
                                    "groups and inline flags are not supported)");
                    m_i += 2;
                }
                if (++m_depth > k_max_regex_depth)
                    return fail(open, "groups nested deeper than 64");
                if (!alternation(out))
                    return false;
                if (at_end() || peek() != ')')
                    return fail(open, "missing ')'");
                ++m_i;
                --m_depth;
                return true;
            }
            case '[':
                return char_class(out);
            case '.':
                out.type = Node::Type::any;
                return true;
            case '^':
                out.type = Node::Type::bol;
                return true;
            case '$':
                out.type = Node::Type::eol;
                return true;
            case '*':
            case '+':
            case '?':
                return fail(m_i - 1, "nothing to repeat");
            case '\\': {
                ByteSet set;
                int single = -1;
                if (!escape(set, single))
                    return false;
                if (single >= 0) {
                    out.type = Node::Type::byte;
                    out.byte = lower(static_cast<unsigned char>(single));
                    return true;
                }
                out.type = Node::Type::set;
                out.set = static_cast<std::uint32_t>(m_sets.size());
                m_sets.push_back(set);
                return true;
            }
            default:
                out.type = Node::Type::byte;
                out.byte = lower(c);
                return true;
        }
    }

    std::string_view m_p;
    std::vector<ByteSet>& m_sets;
    ParseFailure* m_failure;
    std::size_t m_i = 0;
    int m_depth = 0;
};

std::size_t Regex::push(Op op, std::uint32_t x, unsigned char byte) {
    Inst inst;
    inst.op = op;
    inst.x = x;
    inst.byte = byte;
    m_code.push_back(inst);
    return m_code.size() - 1;
}

// Emits the NFA; false when the program would exceed k_max_program instructions.
bool Regex::emit(const Node& node) {
    if (m_code.size() > k_max_program)
        return false;
    const auto here = [&] { return static_cast<std::uint32_t>(m_code.size()); };
    switch (node.type) {
        case Node::Type::empty:
            return true;
        case Node::Type::byte:
            push(Op::byte, 0, node.byte);
            return true;
        case Node::Type::any:
            push(Op::any);
            return true;
        case Node::Type::set:
            push(Op::set, node.set);
            return true;
        case Node::Type::bol:
            push(Op::bol);
            return true;
        case Node::Type::eol:
            push(Op::eol);
            return true;
        case Node::Type::concat:
            for (const Node& kid : node.kids) {
                if (!emit(kid))
                    return false;
            }
            return true;
        case Node::Type::alt: {
            std::vector<std::size_t> jumps;
            const std::size_t last = node.kids.size() - 1;
            for (std::size_t k = 0; k < last; ++k) {
                const std::size_t split = push(Op::split, here() + 1);
                if (!emit(node.kids[k]))
                    return false;
                jumps.push_back(push(Op::jump));
                m_code[split].y = here();
            }
            if (!emit(node.kids[last]))
                return false;
            for (const std::size_t j : jumps)
                m_code[j].x = here();
            return true;
        }
        case Node::Type::repeat: {
            const Node& kid = node.kids.front();
            for (int r = 0; r < node.min; ++r) {
                if (!emit(kid))
                    return false;
            }
            if (node.max < 0) {
                const std::size_t loop = push(Op::split, here() + 1);
                if (!emit(kid))
                    return false;
                push(Op::jump, static_cast<std::uint32_t>(loop));
                m_code[loop].y = here();
                return m_code.size() <= k_max_program;
            }
            std::vector<std::size_t> splits;
            for (int r = node.min; r < node.max; ++r) {
                splits.push_back(push(Op::split, here() + 1));
                if (!emit(kid))
                    return false;
            }
            for (const std::size_t s : splits)
                m_code[s].y = here();
            return m_code.size() <= k_max_program;
        }
    }
    return true;
}

std::shared_ptr<const Regex> Regex::compile(std::string_view pattern, ParseFailure* failure) {
    auto regex = std::make_shared<Regex>();
    Node root;
    Parser parser(pattern, regex->m_sets, failure);
    if (!parser.parse(root))
        return nullptr;
    if (!regex->emit(root) || regex->m_code.size() >= k_max_program) {
        if (failure != nullptr) {
            failure->offset = 0;
            failure->reason = "regex too complex";
        }
        return nullptr;
    }
    regex->push(Op::match);
    regex->m_anchored = regex->m_code.front().op == Op::bol;
    return regex;
}

bool Regex::search(std::string_view subject) const {
    const std::size_t n = subject.size();
    constexpr std::uint32_t k_unseen = std::numeric_limits<std::uint32_t>::max();
    std::vector<std::uint32_t> mark(m_code.size(), k_unseen);
    std::vector<std::uint32_t> current;
    std::vector<std::uint32_t> next;
    std::vector<std::uint32_t> stack;
    current.reserve(m_code.size());
    next.reserve(m_code.size());

    // Follows jumps, splits and assertions from `start`; collects the consuming instructions.
    const auto add = [&](std::vector<std::uint32_t>& list, std::uint32_t start, std::size_t pos) {
        const auto generation = static_cast<std::uint32_t>(pos);
        stack.push_back(start);
        bool matched = false;
        while (!stack.empty()) {
            const std::uint32_t pc = stack.back();
            stack.pop_back();
            if (mark[pc] == generation)
                continue;
            mark[pc] = generation;
            const Inst& inst = m_code[pc];
            switch (inst.op) {
                case Op::jump:
                    stack.push_back(inst.x);
                    break;
                case Op::split:
                    stack.push_back(inst.y);
                    stack.push_back(inst.x);
                    break;
                case Op::bol:
                    if (pos == 0)
                        stack.push_back(pc + 1);
                    break;
                case Op::eol:
                    if (pos == n)
                        stack.push_back(pc + 1);
                    break;
                case Op::match:
                    matched = true;
                    break;
                default:
                    list.push_back(pc);
                    break;
            }
        }
        return matched;
    };

    for (std::size_t pos = 0;; ++pos) {
        if ((pos == 0 || !m_anchored) && add(current, 0, pos))
            return true;
        if (pos == n || (current.empty() && m_anchored))
            return false;
        const auto c = static_cast<unsigned char>(subject[pos]);
        next.clear();
        for (const std::uint32_t pc : current) {
            const Inst& inst = m_code[pc];
            bool ok = false;
            switch (inst.op) {
                case Op::byte:
                    ok = lower(c) == inst.byte;
                    break;
                case Op::any:
                    ok = c != '\n';
                    break;
                case Op::set:
                    ok = m_sets[inst.x][c];
                    break;
                default:
                    break;
            }
            if (ok && add(next, pc + 1, pos + 1))
                return true;
        }
        current.swap(next);
    }
}

}  // namespace detail

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

bool glob_match(std::string_view pattern, std::string_view subject) {
    std::size_t p = 0;
    std::size_t s = 0;
    std::size_t star = std::string_view::npos;
    std::size_t mark = 0;
    while (s < subject.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = s;
        } else if (p < pattern.size() && lower(static_cast<unsigned char>(pattern[p])) ==
                                             lower(static_cast<unsigned char>(subject[s]))) {
            ++p;
            ++s;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            s = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

std::optional<StringMatcher> StringMatcher::try_parse(std::string_view pattern,
                                                      ParseFailure* failure) {
    StringMatcher matcher;
    matcher.m_pattern = std::string(pattern);
    if (pattern.size() >= 2 && pattern.front() == '^' && pattern.back() == '$') {
        if (pattern.size() > k_max_regex_length) {
            if (failure != nullptr)
                *failure = ParseFailure{k_max_regex_length, "regex longer than 256 characters"};
            return std::nullopt;
        }
        matcher.m_kind = Kind::regex;
        matcher.m_regex = detail::Regex::compile(pattern, failure);
        if (matcher.m_regex == nullptr)
            return std::nullopt;
    } else if (pattern.find('*') != std::string_view::npos) {
        if (pattern.size() > k_max_glob_length) {
            if (failure != nullptr)
                *failure = ParseFailure{k_max_glob_length, "glob longer than 1024 characters"};
            return std::nullopt;
        }
        matcher.m_kind = Kind::glob;
    }
    return matcher;
}

StringMatcher StringMatcher::parse(std::string_view pattern) {
    ParseFailure failure;
    auto matcher = try_parse(pattern, &failure);
    if (!matcher)
        util::throw_parse_error("string pattern", pattern, failure.offset, failure.reason);
    return std::move(*matcher);
}

bool StringMatcher::matches(std::string_view subject) const {
    switch (m_kind) {
        case Kind::exact:
            return equals_ignoring_case(m_pattern, subject);
        case Kind::glob:
            return subject.size() <= k_max_subject_length && glob_match(m_pattern, subject);
        case Kind::regex:
            return subject.size() <= k_max_subject_length && m_regex->search(subject);
    }
    return false;
}

bool StringMatcher::matches_all() const {
    return m_kind == Kind::glob && m_pattern.find_first_not_of('*') == std::string::npos;
}

}  // namespace gpuenv::core::spec
