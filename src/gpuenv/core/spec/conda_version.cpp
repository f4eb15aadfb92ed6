#include <gpuenv/core/spec/conda_version.hpp>

#include <algorithm>
#include <limits>

#include <gpuenv/util/parse_error.hpp>

namespace gpuenv::core::spec {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// The characters conda's version_check_re allows after lowercasing.
bool is_version_char(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || c == '*' || c == '.' || c == '+' || c == '!' ||
           c == '_';
}

// Folds a character of a text run as conda compares it: lowercased, and '-' read as '_'
// (a valid version only keeps a '-' where conda turned every '-' into '_').
char fold(char c) {
    return c == '-' ? '_' : lower(c);
}

std::string describe(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
        static constexpr char k_hex[] = "0123456789abcdef";
        return std::string("byte 0x") + k_hex[u >> 4] + k_hex[u & 15];
    }
    return std::string("'") + c + "'";
}

}  // namespace

// Splits a version into atoms; mirrors conda's VersionOrder constructor step by step so that the
// same strings are accepted and rejected, with the offset of the offending character.
struct CondaVersion::Parser {
    Parser(CondaVersion& version, ParseFailure* failed) : out(version), failure(failed) {}

    std::string_view v;  // the trimmed text
    std::size_t lead = 0;
    char norm[k_max_length] = {};
    CondaVersion& out;
    ParseFailure* failure;

    bool fail(std::size_t offset, std::string reason) {
        if (failure != nullptr) {
            failure->offset = lead + offset;
            failure->reason = std::move(reason);
        }
        return false;
    }

    bool number(std::size_t begin, std::size_t end, std::uint32_t& value) {
        std::uint64_t n = 0;
        for (std::size_t i = begin; i < end; ++i) {
            n = n * 10 + static_cast<std::uint64_t>(norm[i] - '0');
            if (n > k_max_number)
                return fail(begin, "number larger than 2147483647");
        }
        value = static_cast<std::uint32_t>(n);
        return true;
    }

    void push(Kind kind, std::uint32_t value, std::size_t begin, std::size_t end, bool& first) {
        Atom atom;
        atom.kind = kind;
        atom.number = value;
        atom.text_offset = static_cast<std::uint8_t>(begin);
        atom.text_length = static_cast<std::uint8_t>(end - begin);
        atom.segment_start = first;
        first = false;
        out.m_atoms.push_back(atom);
    }

    // Adds one segment: runs of digits, of '*' and of other characters, with a 0 in front
    // when it starts with a letter (conda keeps numbers and strings in phase that way).
    bool segment(std::size_t begin, std::size_t end) {
        if (begin == end)
            return fail(begin, "empty version component");
        bool first = true;
        if (!is_digit(norm[begin]))
            push(Kind::number, 0, begin, begin, first);
        std::size_t i = begin;
        while (i < end) {
            std::size_t j = i + 1;
            if (is_digit(norm[i])) {
                while (j < end && is_digit(norm[j]))
                    ++j;
                std::uint32_t value = 0;
                if (!number(i, j, value))
                    return false;
                push(Kind::number, value, i, j, first);
            } else if (norm[i] == '*') {
                while (j < end && norm[j] == '*')
                    ++j;
                push(Kind::text, 0, i, j, first);
            } else {
                while (j < end && !is_digit(norm[j]) && norm[j] != '*')
                    ++j;
                const std::string_view run(norm + i, j - i);
                const Kind kind = run == "dev"    ? Kind::dev
                                  : run == "post" ? Kind::post
                                                  : Kind::text;
                push(kind, 0, i, j, first);
            }
            i = j;
        }
        return true;
    }

    bool check_characters() {
        const std::size_t n = v.size();
        for (std::size_t i = 0; i < n; ++i)
            norm[i] = lower(v[i]);
        auto first_bad = [&] {
            for (std::size_t i = 0; i < n; ++i) {
                if (!is_version_char(norm[i]))
                    return i;
            }
            return n;
        };
        std::size_t bad = first_bad();
        if (bad == n)
            return true;
        const std::string_view all(norm, n);
        const bool has_underscore = all.find('_') != std::string_view::npos;
        if (all.find('-') != std::string_view::npos && !has_underscore) {
            std::replace(norm, norm + n, '-', '_');
            bad = first_bad();
            if (bad == n)
                return true;
        }
        if (v[bad] == '-')
            return fail(bad, "invalid character '-' (a version with '_' cannot also use '-')");
        return fail(bad, "invalid character " + describe(v[bad]));
    }

    bool run(std::string_view text) {
        std::size_t b = 0;
        std::size_t e = text.size();
        while (b < e && is_space(text[b]))
            ++b;
        while (e > b && is_space(text[e - 1]))
            --e;
        lead = b;
        v = text.substr(b, e - b);
        if (v.empty())
            return fail(0, "empty version");
        if (v.size() > k_max_length)
            return fail(k_max_length, "version longer than 64 characters");
        if (b > std::numeric_limits<std::uint32_t>::max())
            return fail(0, "too much leading whitespace");
        if (!check_characters())
            return false;
        const std::string_view all(norm, v.size());
        out.m_lead = static_cast<std::uint32_t>(b);
        out.m_atoms.reserve(v.size() + 2);

        // Epoch: "N!" or an implicit 0.
        std::size_t start = 0;
        const std::size_t bang = all.find('!');
        bool first = true;
        if (bang != std::string_view::npos) {
            const std::size_t second = all.find('!', bang + 1);
            if (second != std::string_view::npos)
                return fail(second, "duplicated epoch separator '!'");
            for (std::size_t i = 0; i < bang; ++i) {
                if (!is_digit(all[i]))
                    return fail(i, "epoch must be an integer");
            }
            if (bang == 0)
                return fail(0, "epoch must be an integer");
            std::uint32_t value = 0;
            if (!number(0, bang, value))
                return false;
            push(Kind::number, value, 0, bang, first);
            start = bang + 1;
        } else {
            push(Kind::number, 0, 0, 0, first);
        }

        // Local version: after a single '+'.
        const std::size_t plus = all.find('+', start);
        if (plus != std::string_view::npos) {
            const std::size_t second = all.find('+', plus + 1);
            if (second != std::string_view::npos)
                return fail(second, "duplicated local version separator '+'");
        }
        const std::size_t main_end = plus == std::string_view::npos ? all.size() : plus;
        if (main_end == start) {
            return fail(start, plus != std::string_view::npos
                                   ? "missing version before local version separator '+'"
                                   : "missing version after epoch");
        }

        // Main version: split at '.' and '_', a trailing '_' stays on the last component
        // (the openssl convention: 1.0.1_ < 1.0.1a).
        std::size_t segments = 1;
        const bool trailing = all[main_end - 1] == '_';
        const std::size_t split_end = main_end - (trailing ? 1 : 0);
        for (std::size_t pos = start;;) {
            std::size_t cut = pos;
            while (cut < split_end && all[cut] != '.' && all[cut] != '_')
                ++cut;
            const bool last = cut == split_end;
            if (!segment(pos, last ? main_end : cut))
                return false;
            ++segments;
            if (last)
                break;
            pos = cut + 1;
        }
        out.m_main_segments = static_cast<std::uint8_t>(segments);
        out.m_main_atoms = static_cast<std::uint8_t>(out.m_atoms.size());

        if (plus != std::string_view::npos) {
            std::size_t local = 0;
            for (std::size_t pos = plus + 1;;) {
                std::size_t cut = pos;
                while (cut < all.size() && all[cut] != '.' && all[cut] != '_')
                    ++cut;
                if (!segment(pos, cut))
                    return false;
                ++local;
                if (cut == all.size())
                    break;
                pos = cut + 1;
            }
            out.m_local_segments = static_cast<std::uint8_t>(local);
        }
        return true;
    }
};

std::optional<CondaVersion> CondaVersion::try_parse(std::string_view text, ParseFailure* failure) {
    CondaVersion version;
    Parser parser(version, failure);
    if (!parser.run(text))
        return std::nullopt;
    version.m_text = std::string(text);
    return version;
}

CondaVersion CondaVersion::parse(std::string_view text) {
    ParseFailure failure;
    auto version = try_parse(text, &failure);
    if (!version)
        util::throw_parse_error("conda version", text, failure.offset, failure.reason);
    return std::move(*version);
}

std::string CondaVersion::normalized() const {
    std::string out;
    std::size_t b = m_lead;
    std::size_t e = m_text.size();
    while (e > b && is_space(m_text[e - 1]))
        --e;
    out.reserve(e - b);
    for (std::size_t i = b; i < e; ++i)
        out += lower(m_text[i]);
    if (out.find('_') == std::string::npos)
        std::replace(out.begin(), out.end(), '-', '_');
    return out;
}

std::uint32_t CondaVersion::epoch() const {
    return m_atoms.empty() ? 0 : m_atoms.front().number;
}

CondaVersion::Part CondaVersion::main_part() const {
    return Part{0, m_main_atoms, m_main_segments};
}

CondaVersion::Part CondaVersion::local_part() const {
    return Part{m_main_atoms, m_atoms.size(), m_local_segments};
}

std::size_t CondaVersion::segment_end(const Part& part, std::size_t begin) const {
    if (begin >= part.end_atom)
        return begin;
    std::size_t end = begin + 1;
    while (end < part.end_atom && !m_atoms[end].segment_start)
        ++end;
    return end;
}

std::string_view CondaVersion::text_of(const Atom& atom) const {
    if (atom.kind == Kind::dev)
        return "DEV";  // conda upper-cases 'dev' so it sorts below every other string
    return std::string_view(m_text).substr(m_lead + atom.text_offset, atom.text_length);
}

namespace {

// Compares two text runs as Python compares conda's lowercased strings.
int compare_text(std::string_view a, bool a_dev, std::string_view b, bool b_dev) {
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const char x = a_dev ? a[i] : fold(a[i]);
        const char y = b_dev ? b[i] : fold(b[i]);
        if (x != y)
            return static_cast<unsigned char>(x) < static_cast<unsigned char>(y) ? -1 : 1;
    }
    return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

}  // namespace

// A null atom is conda's fill value 0. Strings sort below numbers; 'post' is infinity.
int CondaVersion::compare_atoms(const CondaVersion& a, const Atom* x, const CondaVersion& b,
                                const Atom* y) {
    const auto is_text = [](const Atom* atom) {
        return atom != nullptr && (atom->kind == Kind::text || atom->kind == Kind::dev);
    };
    const bool xt = is_text(x);
    const bool yt = is_text(y);
    if (xt && yt)
        return compare_text(a.text_of(*x), x->kind == Kind::dev, b.text_of(*y),
                            y->kind == Kind::dev);
    if (xt)
        return -1;
    if (yt)
        return 1;
    const bool xp = x != nullptr && x->kind == Kind::post;
    const bool yp = y != nullptr && y->kind == Kind::post;
    if (xp || yp)
        return xp == yp ? 0 : (xp ? 1 : -1);
    const std::uint32_t xv = x != nullptr ? x->number : 0;
    const std::uint32_t yv = y != nullptr ? y->number : 0;
    return xv == yv ? 0 : (xv < yv ? -1 : 1);
}

// Compares the first `max_segments` segments of two parts, padding missing segments and
// missing atoms with 0 as conda's zip_longest does.
int CondaVersion::compare_parts(const CondaVersion& a, Part pa, const CondaVersion& b, Part pb,
                                std::size_t max_segments) {
    std::size_t ia = pa.first_atom;
    std::size_t ib = pb.first_atom;
    const std::size_t n = std::min(std::max(pa.segments, pb.segments), max_segments);
    for (std::size_t s = 0; s < n; ++s) {
        const std::size_t ea = a.segment_end(pa, ia);
        const std::size_t eb = b.segment_end(pb, ib);
        const std::size_t la = ea - ia;
        const std::size_t lb = eb - ib;
        for (std::size_t j = 0; j < std::max(la, lb); ++j) {
            const Atom* x = j < la ? &a.m_atoms[ia + j] : nullptr;
            const Atom* y = j < lb ? &b.m_atoms[ib + j] : nullptr;
            if (const int c = compare_atoms(a, x, b, y); c != 0)
                return c;
        }
        ia = ea;
        ib = eb;
    }
    return 0;
}

int CondaVersion::compare(const CondaVersion& a, const CondaVersion& b) {
    constexpr std::size_t all = std::numeric_limits<std::size_t>::max();
    if (const int c = compare_parts(a, a.main_part(), b, b.main_part(), all); c != 0)
        return c;
    return compare_parts(a, a.local_part(), b, b.local_part(), all);
}

std::weak_ordering operator<=>(const CondaVersion& a, const CondaVersion& b) {
    const int c = CondaVersion::compare(a, b);
    return c < 0 ? std::weak_ordering::less
                 : (c > 0 ? std::weak_ordering::greater : std::weak_ordering::equivalent);
}

bool operator==(const CondaVersion& a, const CondaVersion& b) {
    return CondaVersion::compare(a, b) == 0;
}

// conda's VersionOrder.startswith: with a local prefix the main versions must be equal and the
// test moves to the local parts; then all segments but the prefix's last are equal (padded),
// and in that last segment all atoms but its last are equal while its last atom is a string
// prefix (for text) or equal (for numbers).
bool CondaVersion::starts_with(const CondaVersion& prefix) const {
    constexpr std::size_t all = std::numeric_limits<std::size_t>::max();
    Part t1 = main_part();
    Part t2 = prefix.main_part();
    if (prefix.has_local()) {
        if (compare_parts(*this, t1, prefix, t2, all) != 0)
            return false;
        t1 = local_part();
        t2 = prefix.local_part();
    }
    const std::size_t nt = t2.segments - 1;
    if (compare_parts(*this, t1, prefix, t2, nt) != 0)
        return false;
    std::size_t b1 = t1.first_atom;
    std::size_t b2 = t2.first_atom;
    for (std::size_t s = 0; s < nt; ++s) {
        b1 = segment_end(t1, b1);
        b2 = prefix.segment_end(t2, b2);
    }
    const std::size_t len1 = segment_end(t1, b1) - b1;
    const std::size_t len2 = prefix.segment_end(t2, b2) - b2;
    const std::size_t k = len2 - 1;
    for (std::size_t j = 0; j < k; ++j) {
        const Atom* x = j < len1 ? &m_atoms[b1 + j] : nullptr;
        if (compare_atoms(*this, x, prefix, &prefix.m_atoms[b2 + j]) != 0)
            return false;
    }
    const Atom* c1 = k < len1 ? &m_atoms[b1 + k] : nullptr;
    const Atom& c2 = prefix.m_atoms[b2 + k];
    const auto is_text = [](const Atom* atom) {
        return atom != nullptr && (atom->kind == Kind::text || atom->kind == Kind::dev);
    };
    if (is_text(&c2)) {
        if (!is_text(c1))
            return false;
        const std::string_view t = text_of(*c1);
        const std::string_view p = prefix.text_of(c2);
        if (t.size() < p.size())
            return false;
        return compare_text(t.substr(0, p.size()), c1->kind == Kind::dev, p,
                            c2.kind == Kind::dev) == 0;
    }
    return !is_text(c1) && compare_atoms(*this, c1, prefix, &c2) == 0;
}

}  // namespace gpuenv::core::spec
