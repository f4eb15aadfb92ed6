// Slurm hostlist expressions. Behaviour follows Slurm's src/common/hostlist.c (hostlist_create
// and hostlist_ranged_string): top-level items are separated by ',' or whitespace; a bracket
// group holds comma-separated numbers and lo-hi ranges; each range is zero-padded to the
// written width of its low bound; several groups form a cartesian product, the first group
// varying slowest; duplicates are kept. Deliberate differences are marked "[gpuenv]":
// text after the last ']' ("node[1-3]-ib") is accepted, as ClusterShell and Flux do, where
// Slurm refuses it; an unclosed '[' and a stray ']' are errors, where Slurm takes the item as
// a literal name.
#include <gpuenv/core/fleet/hostlist.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <unordered_set>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/parse_error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::fleet {
namespace {

// 18 digits always fit in 64 bits; Slurm's strtoul would saturate silently instead.
constexpr std::size_t k_max_digits = 18;
constexpr std::uint64_t k_saturated = std::numeric_limits<std::uint64_t>::max();

// What the expansion may still produce. Slurm caps one range at 64K hosts (MAX_RANGE, 16K in
// older releases) and the ranges in one bracket at 64K (MAX_RANGES), with no total cap; the
// product of several groups multiplies, so gpuenv caps the whole result instead: 1,000,000
// names is beyond any cluster built so far, and with the byte cap stays under ~100 MiB.
struct Budget {
    std::uint64_t hosts = k_max_hosts;
    std::uint64_t bytes = k_max_host_bytes;
};

struct Range {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
    std::size_t width = 0;  // written width of lo: every value is zero-padded to it
};

struct Group {
    std::vector<Range> ranges;
    std::uint64_t count = 0;     // names it yields, saturated
    std::size_t max_digits = 0;  // longest value it writes
};

// One top-level item: literals[0] group[0] literals[1] ... group[n-1] literals[n].
struct Token {
    std::size_t start = 0;
    std::vector<std::string> literals{std::string()};
    std::vector<Group> groups;
};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
    if (a != 0 && b > k_saturated / a)
        return k_saturated;
    return a * b;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return b > k_saturated - a ? k_saturated : a + b;
}

std::uint64_t to_number(std::string_view digits) {
    std::uint64_t value = 0;
    for (const char c : digits)
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    return value;
}

void append_padded(std::string& out, std::uint64_t value, std::size_t width) {
    const std::string digits = std::to_string(value);
    if (digits.size() < width)
        out.append(width - digits.size(), '0');
    out += digits;
}

std::string padded(std::uint64_t value, std::size_t width) {
    std::string out;
    append_padded(out, value, width);
    return out;
}

class Parser {
  public:
    explicit Parser(std::string_view text) : m_text(text) {}

    [[noreturn]] void fail(std::size_t offset, std::string_view reason) const {
        util::throw_parse_error("hostlist", m_text, offset, reason);
    }

    // Returns the next non-empty top-level item, or false at the end. Empty items ("a,,b")
    // are skipped, as Slurm's tokenizer does.
    bool next(Token& token) {
        while (m_pos < m_text.size() && (m_text[m_pos] == ',' || is_space(m_text[m_pos])))
            ++m_pos;
        if (m_pos == m_text.size())
            return false;
        token = Token{};
        token.start = m_pos;
        while (m_pos < m_text.size()) {
            const char c = m_text[m_pos];
            if (c == ',' || is_space(c))
                break;
            if (c == ']')
                fail(m_pos, "']' without a matching '['");
            if (c == '[') {
                token.groups.push_back(parse_group());
                token.literals.emplace_back();
                continue;
            }
            token.literals.back() += c;
            ++m_pos;
        }
        return true;
    }

  private:
    // Parses "[...]" at m_pos and leaves m_pos after the ']'.
    Group parse_group() {
        const std::size_t open = m_pos++;
        Group group;
        while (true) {
            const std::size_t start = m_pos;
            while (m_pos < m_text.size() && m_text[m_pos] != ',' && m_text[m_pos] != ']') {
                if (m_text[m_pos] == '[')
                    fail(m_pos, "nested '[' inside a bracket group");
                ++m_pos;
            }
            if (m_pos == m_text.size())
                fail(open, "'[' is never closed");
            const Range range = parse_range(start, m_pos);
            group.count = saturating_add(group.count, range.hi - range.lo + 1);
            group.max_digits =
                std::max({group.max_digits, range.width, std::to_string(range.hi).size()});
            group.ranges.push_back(range);
            if (m_text[m_pos++] == ']')
                return group;
        }
    }

    // Parses "N" or "LO-HI" in m_text[start, end).
    Range parse_range(std::size_t start, std::size_t end) const {
        if (start == end)
            fail(start, "empty range");
        const std::string_view element = m_text.substr(start, end - start);
        const std::size_t dash = element.find('-');
        const std::string_view lo = element.substr(0, dash);
        const std::size_t lo_end = start + lo.size();
        check_number(lo, start, "a number");
        Range range;
        range.width = lo.size();
        range.lo = to_number(lo);
        range.hi = range.lo;
        if (dash == std::string_view::npos)
            return range;
        // [gpuenv] Slurm reads "5-" as 5; an open end is more likely a typo, so it is refused.
        const std::string_view hi = element.substr(dash + 1);
        check_number(hi, lo_end + 1, "a number after '-'");
        range.hi = to_number(hi);
        if (range.hi < range.lo)
            fail(start, "range " + std::string(element) + " ends before it starts");
        return range;
    }

    void check_number(std::string_view digits, std::size_t offset, std::string_view what) const {
        if (digits.empty())
            fail(offset, "expected " + std::string(what));
        for (std::size_t i = 0; i < digits.size(); ++i) {
            if (!is_digit(digits[i]))
                fail(offset + i, "expected " + std::string(what) + " in a bracket group");
        }
        if (digits.size() > k_max_digits)
            fail(offset, "number longer than " + std::to_string(k_max_digits) + " digits");
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
};

// Takes a token's names and bytes from the budget before anything is allocated.
void charge(const Parser& parser, const Token& token, Budget& budget) {
    std::uint64_t count = 1;
    std::uint64_t length = 0;
    for (const std::string& literal : token.literals)
        length += literal.size();
    for (const Group& group : token.groups) {
        count = saturating_mul(count, group.count);
        length = saturating_add(length, group.max_digits);
    }
    if (count > budget.hosts) {
        parser.fail(token.start, "expands to more than " + std::to_string(k_max_hosts) + " hosts");
    }
    const std::uint64_t bytes = saturating_mul(count, length);
    if (bytes > budget.bytes) {
        parser.fail(token.start, "expands to more than " + std::to_string(k_max_host_bytes >> 20) +
                                     " MiB of host names");
    }
    budget.hosts -= count;
    budget.bytes -= bytes;
}

// Writes a token's names, the last group varying fastest (Slurm expands the groups before
// the last one as prefixes, outermost first). Iterative: the group count is unbounded.
void expand_token(const Token& token, std::vector<std::string>& out) {
    const std::size_t n = token.groups.size();
    std::vector<std::size_t> range_at(n, 0);
    std::vector<std::uint64_t> value(n);
    for (std::size_t g = 0; g < n; ++g)
        value[g] = token.groups[g].ranges.front().lo;
    while (true) {
        std::string name = token.literals[0];
        for (std::size_t g = 0; g < n; ++g) {
            append_padded(name, value[g], token.groups[g].ranges[range_at[g]].width);
            name += token.literals[g + 1];
        }
        out.push_back(std::move(name));
        std::size_t g = n;
        while (g > 0) {
            --g;
            const std::vector<Range>& ranges = token.groups[g].ranges;
            if (value[g] < ranges[range_at[g]].hi) {
                ++value[g];
                break;
            }
            if (range_at[g] + 1 < ranges.size()) {
                value[g] = ranges[++range_at[g]].lo;
                break;
            }
            range_at[g] = 0;
            value[g] = ranges.front().lo;
            if (g == 0)
                return;
        }
        if (n == 0)
            return;
    }
}

void expand_into(std::string_view expression, Budget& budget, std::vector<std::string>& out) {
    Parser parser(expression);
    Token token;
    while (parser.next(token)) {
        charge(parser, token, budget);
        expand_token(token, out);
    }
}

std::vector<std::string> parse_host_file_into(std::string_view text, std::string_view label,
                                              Budget& budget) {
    std::vector<std::string> hosts;
    std::size_t line_number = 0;
    for (const std::string_view raw : util::split(text, '\n')) {
        ++line_number;
        std::string_view line = raw.substr(0, raw.find('#'));
        line = util::trim(line);
        if (line.empty())
            continue;
        try {
            expand_into(line, budget, hosts);
        } catch (const Error& error) {
            throw error.with_context(std::string(label) + ":" + std::to_string(line_number));
        }
    }
    return hosts;
}

// A name's trailing run of digits, the only numeric field Slurm's hostlist compresses on.
struct Numbered {
    std::string_view prefix;
    std::string_view digits;  // empty when the name does not end in a usable number
};

Numbered split_number(std::string_view host) {
    std::size_t start = host.size();
    while (start > 0 && is_digit(host[start - 1]))
        --start;
    const std::size_t digits = host.size() - start;
    if (digits == 0 || digits > k_max_digits)
        return {host, {}};
    return {host.substr(0, start), host.substr(start)};
}

void check_host_name(std::string_view host) {
    if (host.empty())
        throw Error(ExitCode::usage, "cannot compress an empty host name");
    for (const char c : host) {
        if (c == '[' || c == ']' || c == ',' || is_space(c)) {
            throw Error(ExitCode::usage, "cannot compress host name '" + std::string(host) +
                                             "': it holds '[', ']', ',' or whitespace");
        }
    }
}

// Consecutive names sharing a prefix, as bracket elements ("01-16", "20").
class Run {
  public:
    bool open() const { return m_open; }
    bool same_prefix(std::string_view prefix) const { return m_open && prefix == m_prefix; }

    void start(const Numbered& name) {
        m_open = true;
        m_prefix = std::string(name.prefix);
        m_ranges.clear();
        add(name.digits);
    }

    // Extends the last element when the value is next and writes the same way under its width.
    void add(std::string_view digits) {
        const std::uint64_t value = to_number(digits);
        if (!m_ranges.empty()) {
            Range& last = m_ranges.back();
            if (last.hi != k_saturated && value == last.hi + 1 &&
                padded(value, last.width) == digits) {
                last.hi = value;
                return;
            }
        }
        m_ranges.push_back({value, value, digits.size()});
    }

    void flush(std::string& out) {
        if (!m_open)
            return;
        m_open = false;
        if (!out.empty())
            out += ',';
        out += m_prefix;
        if (m_ranges.size() == 1 && m_ranges[0].lo == m_ranges[0].hi) {
            append_padded(out, m_ranges[0].lo, m_ranges[0].width);
            return;
        }
        out += '[';
        for (std::size_t i = 0; i < m_ranges.size(); ++i) {
            const Range& range = m_ranges[i];
            if (i > 0)
                out += ',';
            append_padded(out, range.lo, range.width);
            if (range.hi != range.lo) {
                out += '-';
                append_padded(out, range.hi, range.width);
            }
        }
        out += ']';
    }

  private:
    bool m_open = false;
    std::string m_prefix;
    std::vector<Range> m_ranges;
};

}  // namespace

std::vector<std::string> expand_hostlist(std::string_view expression) {
    Budget budget;
    std::vector<std::string> hosts;
    expand_into(expression, budget, hosts);
    return hosts;
}

std::string compress_hostlist(const std::vector<std::string>& hosts) {
    // Like hostlist_ranged_string: no sorting, so expand(compress(x)) == x for any list of
    // valid names, duplicates and order included. Only the trailing number is ranged, so
    // rack1-node[01-04],rack2-node[01-04] stays two items; every output is valid Slurm syntax
    // (no suffix after a bracket), so it can be handed to srun as is.
    std::string out;
    Run run;
    for (const std::string& host : hosts) {
        check_host_name(host);
        const Numbered name = split_number(host);
        if (name.digits.empty()) {
            run.flush(out);
            if (!out.empty())
                out += ',';
            out += host;
        } else if (run.same_prefix(name.prefix)) {
            run.add(name.digits);
        } else {
            run.flush(out);
            run.start(name);
        }
    }
    run.flush(out);
    return out;
}

std::vector<std::string> parse_host_file(std::string_view text, std::string_view label) {
    Budget budget;
    return parse_host_file_into(text, label, budget);
}

std::vector<std::string> read_host_arguments(const std::vector<std::string>& args) {
    // One budget for all arguments: a thousand "@file"s cannot multiply the bound. Duplicates
    // keep their first occurrence: a node checked twice would be counted twice in the drift
    // matrix, and the order the user gave stays the report's order.
    Budget budget;
    std::vector<std::string> unique;
    std::unordered_set<std::string> seen;
    for (const std::string& arg : args) {
        std::vector<std::string> hosts;
        if (arg.starts_with('@')) {
            const std::string path = arg.substr(1);
            if (path.empty())
                throw Error(ExitCode::usage, "host argument '@' names no file");
            const std::string text = util::read_file(path);
            hosts = parse_host_file_into(text, path, budget);
            if (hosts.empty())
                throw Error(ExitCode::usage, "host file " + path + " names no host");
        } else {
            expand_into(arg, budget, hosts);
            if (hosts.empty())
                throw Error(ExitCode::usage, "host argument '" + arg + "' names no host");
        }
        for (std::string& host : hosts) {
            if (seen.insert(host).second)
                unique.push_back(std::move(host));
        }
    }
    return unique;
}

}  // namespace gpuenv::core::fleet
