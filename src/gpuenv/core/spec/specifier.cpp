#include <gpuenv/core/spec/specifier.hpp>

#include <algorithm>
#include <unordered_set>

#include <gpuenv/util/parse_error.hpp>

namespace gpuenv::core::spec {
namespace {

struct OperatorSpelling {
    std::string_view text;
    SpecifierOperator op;
};

// In the order packaging's pattern tries them ("==" before "===": it backtracks to "===").
constexpr OperatorSpelling k_operators[] = {
    {"~=", SpecifierOperator::compatible},    {"==", SpecifierOperator::equal},
    {"!=", SpecifierOperator::not_equal},     {"<=", SpecifierOperator::less_equal},
    {">=", SpecifierOperator::greater_equal}, {"<", SpecifierOperator::less},
    {">", SpecifierOperator::greater},        {"===", SpecifierOperator::arbitrary},
};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_digit_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::size_t skip_python_space(std::string_view s, std::size_t pos) {
    while (const std::size_t n = python_space_length(s.substr(pos)))
        pos += n;
    return pos;
}

// Returns the length of an arbitrary ("===") version at the start of `s`: anything up to
// whitespace, ';' or ')'.
std::size_t arbitrary_length(std::string_view s) {
    std::size_t n = 0;
    while (n < s.size() && s[n] != ';' && s[n] != ')' && python_space_length(s.substr(n)) == 0)
        ++n;
    return n;
}

// Formats a version as packaging.utils.canonicalize_version does: like normalized(), but
// with trailing ".0" release components dropped when `strip_trailing_zero`.
std::string canonical_version(const Pep440Version& v, bool strip_trailing_zero) {
    std::string out;
    if (!v.epoch().is_zero())
        out += v.epoch().str() + '!';
    std::size_t count = v.release().size();
    while (strip_trailing_zero && count > 1 && v.release()[count - 1].is_zero())
        --count;
    for (std::size_t i = 0; i < count; ++i) {
        if (i > 0)
            out += '.';
        out += v.release()[i].str();
    }
    if (v.pre()) {
        const PreReleaseKind kind = v.pre()->kind;
        out += kind == PreReleaseKind::a ? "a" : kind == PreReleaseKind::b ? "b" : "rc";
        out += v.pre()->number.str();
    }
    if (v.post())
        out += ".post" + v.post()->str();
    if (v.dev())
        out += ".dev" + v.dev()->str();
    if (v.has_local())
        out += '+' + v.local();
    return out;
}

// canonicalize_version on a string: texts that are not versions are returned unchanged.
std::string canonical_text(std::string_view text, bool strip_trailing_zero) {
    if (const auto v = Pep440Version::try_parse(text))
        return canonical_version(*v, strip_trailing_zero);
    return std::string(text);
}

// Splits like packaging's _version_split: on '.', and "1rc2" into "1", "rc2".
std::vector<std::string> version_split(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = text.find('.', start);
        const std::string_view item = text.substr(
            start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        std::size_t digits = 0;
        while (digits < item.size() && is_digit(item[digits]))
            ++digits;
        std::size_t label = digits;
        if (label < item.size() && (item[label] == 'a' || item[label] == 'b' || item[label] == 'c'))
            ++label;
        else if (item.substr(label, 2) == "rc")
            label += 2;
        if (digits > 0 && label > digits && label < item.size() &&
            is_digit_token(item.substr(label))) {
            out.emplace_back(item.substr(0, digits));
            out.emplace_back(item.substr(digits));
        } else {
            out.emplace_back(item);
        }
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    return out;
}

bool is_suffix_token(std::string_view token) {
    for (const std::string_view prefix : {"dev", "a", "b", "rc", "post"}) {
        if (token.substr(0, prefix.size()) == prefix)
            return true;
    }
    return false;
}

// The prefix "~=V" also requires: V's release without its last component, cut from the text
// as written the way packaging cuts it.
std::string compatible_prefix(std::string_view text) {
    std::vector<std::string> tokens = version_split(text);
    std::size_t keep = 0;
    while (keep < tokens.size() && !is_suffix_token(tokens[keep]))
        ++keep;
    if (keep > 0)
        --keep;
    std::string out;
    for (std::size_t i = 0; i < keep; ++i) {
        if (i > 0)
            out += '.';
        out += tokens[i];
    }
    return out;
}

}  // namespace

std::string_view operator_text(SpecifierOperator op) noexcept {
    for (const auto& spelling : k_operators) {
        if (spelling.op == op)
            return spelling.text;
    }
    return "";
}

void Specifier::set_prefix(std::string_view prefix) {
    m_prefix_tokens = version_split(canonical_text(prefix, false));
    m_prefix_numeric = true;
    for (const std::string& token : m_prefix_tokens) {
        // Only canonical numbers compare like numbers: packaging compares the tokens as text.
        if (!is_digit_token(token) || (token.size() > 1 && token[0] == '0')) {
            m_prefix_numeric = false;
            m_prefix_numbers.clear();
            return;
        }
        m_prefix_numbers.push_back(Pep440Number::from_digits(token));
    }
}

bool Specifier::prefix_matches(const Pep440Version& v) const {
    const std::size_t n = m_prefix_numbers.size();
    if (m_prefix_numeric) {
        // packaging pads the version's leading numeric tokens with zeros up to the prefix's
        // length; "1!2" has none, so it becomes "0", "1!2" and matches only all-zero prefixes.
        if (!v.epoch().is_zero()) {
            return std::all_of(m_prefix_numbers.begin(), m_prefix_numbers.end(),
                               [](const Pep440Number& x) { return x.is_zero(); });
        }
        static const Pep440Number zero;
        for (std::size_t i = 0; i < n; ++i) {
            if ((i < v.release().size() ? v.release()[i] : zero) != m_prefix_numbers[i])
                return false;
        }
        return true;
    }
    // The general case, token by token as packaging does it.
    const std::vector<std::string> tokens = version_split(canonical_version(v, true));
    const auto leading_digits = [](const std::vector<std::string>& t) {
        std::size_t i = 0;
        while (i < t.size() && is_digit_token(t[i]))
            ++i;
        return i;
    };
    const std::size_t have = leading_digits(tokens);
    const std::size_t want = leading_digits(m_prefix_tokens);
    std::vector<std::string> padded(tokens.begin(), tokens.begin() + static_cast<long>(have));
    if (want > have)
        padded.insert(padded.end(), want - have, "0");
    padded.insert(padded.end(), tokens.begin() + static_cast<long>(have), tokens.end());
    if (padded.size() < m_prefix_tokens.size())
        return false;
    return std::equal(m_prefix_tokens.begin(), m_prefix_tokens.end(), padded.begin());
}

bool Specifier::equals(const Pep440Version& v) const {
    if (m_wildcard)
        return prefix_matches(v);
    // A clause without a local label ignores the candidate's.
    if (!m_version->has_local())
        return v.compare_public(*m_version) == 0;
    return v == *m_version;
}

bool Specifier::matches(const Pep440Version& v) const {
    switch (m_op) {
        case SpecifierOperator::equal:
            return equals(v);
        case SpecifierOperator::not_equal:
            return !equals(v);
        case SpecifierOperator::less_equal:
            return v.compare_public(*m_version) <= 0;
        case SpecifierOperator::greater_equal:
            return v.compare_public(*m_version) >= 0;
        case SpecifierOperator::compatible:
            return v.compare_public(*m_version) >= 0 && prefix_matches(v);
        case SpecifierOperator::less:
            // "<V" excludes pre-releases of V itself unless V is one.
            if (!(v < *m_version))
                return false;
            return m_version->is_prerelease() || !v.is_prerelease() || !v.has_same_base(*m_version);
        case SpecifierOperator::greater:
            // ">V" excludes post-releases of V unless V is one, and V's local versions.
            if (!(v > *m_version))
                return false;
            if (!m_version->is_postrelease() && v.is_postrelease() && v.has_same_base(*m_version))
                return false;
            return !(v.has_local() && v.has_same_base(*m_version));
        case SpecifierOperator::arbitrary:
            return v.normalized() == ascii_lower(m_text);
    }
    return false;
}

bool Specifier::contains(const Pep440Version& v, PreReleases pre) const {
    const bool allowed =
        pre == PreReleases::allow || (pre == PreReleases::by_rule && m_allows_prereleases);
    if (v.is_prerelease() && !allowed)
        return false;
    return matches(v);
}

std::string Specifier::str() const {
    return std::string(operator_text(m_op)) + m_text;
}

// Reads the version of an "===" clause: anything but whitespace, ';' and ')'.
bool Specifier::read_arbitrary(std::string_view rest, std::size_t base, SpecParseFailure& failure) {
    const std::size_t n = arbitrary_length(rest);
    if (n < rest.size()) {
        failure = {base + n, rest[n] == ';' || rest[n] == ')'
                                 ? "unexpected character in an arbitrary version"
                                 : "unexpected whitespace in an arbitrary version"};
        return false;
    }
    m_version = Pep440Version::try_parse(rest);
    m_allows_prereleases = m_version && m_version->is_prerelease();
    m_key = "=== " + canonical_text(rest, true);
    return true;
}

// Reads the "V.*" of "==V.*" or "!=V.*": V is an epoch and a release, nothing more.
bool Specifier::read_wildcard(std::string_view rest, std::size_t base, SpecParseFailure& failure) {
    const std::string_view core = rest.substr(0, rest.size() - 2);
    const auto extent = scan_pep440(core);
    if (!extent) {
        SpecParseFailure inner;
        (void)Pep440Version::try_parse(core, inner);
        failure = {base + inner.offset, inner.reason};
        return false;
    }
    if (extent->release_end != core.size()) {
        failure = {base + extent->release_end, "'.*' may only follow the release segment"};
        return false;
    }
    m_version = Pep440Version::try_parse(core);
    m_wildcard = true;
    set_prefix(core);
    m_key = std::string(operator_text(m_op)) + ' ' + std::string(rest);
    return true;
}

// Reads the version of any other clause, with the operator's own restrictions.
bool Specifier::read_version(std::string_view rest, std::size_t base, SpecParseFailure& failure) {
    SpecParseFailure inner;
    auto v = Pep440Version::try_parse(rest, inner);
    if (!v) {
        failure = {base + inner.offset, inner.reason};
        return false;
    }
    const auto extent = scan_pep440(rest);
    if (m_op != SpecifierOperator::equal && m_op != SpecifierOperator::not_equal &&
        v->has_local()) {
        failure = {base + extent->local_begin,
                   "a local version label is only allowed with == and !="};
        return false;
    }
    if (m_op == SpecifierOperator::compatible) {
        if (v->release().size() < 2) {
            failure = {base + extent->release_end,
                       "'~=' needs a version with at least two release components"};
            return false;
        }
        set_prefix(compatible_prefix(rest));
    }
    m_allows_prereleases = v->is_prerelease() && m_op != SpecifierOperator::not_equal &&
                           m_op != SpecifierOperator::less && m_op != SpecifierOperator::greater;
    m_key = std::string(operator_text(m_op)) + ' ' +
            canonical_version(*v, m_op != SpecifierOperator::compatible);
    m_version = std::move(v);
    return true;
}

std::optional<Specifier> Specifier::try_parse(std::string_view text,
                                              SpecParseFailure& failure) noexcept {
    const std::string_view s = strip_python_space(text);
    const std::size_t lead = static_cast<std::size_t>(s.data() - text.data());
    Specifier spec;
    std::size_t op_size = 0;
    if (s.substr(0, 3) == "===") {
        spec.m_op = SpecifierOperator::arbitrary;
        op_size = 3;
    } else {
        for (const auto& spelling : k_operators) {
            if (s.substr(0, spelling.text.size()) == spelling.text) {
                spec.m_op = spelling.op;
                op_size = spelling.text.size();
                break;
            }
        }
    }
    if (op_size == 0) {
        failure = {lead, "expected an operator (~=, ==, !=, <=, >=, <, >, ===)"};
        return std::nullopt;
    }
    const std::size_t pos = skip_python_space(s, op_size);
    const std::string_view rest = s.substr(pos);
    spec.m_text = std::string(rest);
    const bool equality =
        spec.m_op == SpecifierOperator::equal || spec.m_op == SpecifierOperator::not_equal;
    bool ok = false;
    if (spec.m_op == SpecifierOperator::arbitrary)
        ok = spec.read_arbitrary(rest, lead + pos, failure);
    else if (equality && rest.size() >= 2 && rest.substr(rest.size() - 2) == ".*")
        ok = spec.read_wildcard(rest, lead + pos, failure);
    else
        ok = spec.read_version(rest, lead + pos, failure);
    if (!ok)
        return std::nullopt;
    return spec;
}

Specifier Specifier::parse(std::string_view text) {
    SpecParseFailure failure;
    auto spec = try_parse(text, failure);
    if (!spec)
        util::throw_parse_error("PEP 440 specifier", text, failure.offset, failure.reason);
    return std::move(*spec);
}

std::size_t Specifier::match_length(std::string_view text) noexcept {
    for (const auto& spelling : k_operators) {
        if (text.substr(0, spelling.text.size()) != spelling.text)
            continue;
        const std::size_t pos = skip_python_space(text, spelling.text.size());
        const std::string_view rest = text.substr(pos);
        if (spelling.op == SpecifierOperator::arbitrary)
            return pos + arbitrary_length(rest);
        const auto extent = scan_pep440(rest);
        if (!extent)
            continue;
        switch (spelling.op) {
            case SpecifierOperator::equal:
            case SpecifierOperator::not_equal:
                if (rest.substr(extent->release_end, 2) == ".*")
                    return pos + extent->release_end + 2;
                return pos + extent->end;
            case SpecifierOperator::compatible:
                if (extent->release_count < 2)
                    continue;
                return pos + extent->local_begin;
            default:
                return pos + extent->local_begin;
        }
    }
    return 0;
}

std::optional<SpecifierSet> SpecifierSet::try_parse(std::string_view text,
                                                    SpecParseFailure& failure) noexcept {
    SpecifierSet set;
    std::unordered_set<std::string> keys;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = text.find(',', start);
        const std::string_view piece = text.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        const std::string_view stripped = strip_python_space(piece);
        if (!stripped.empty()) {
            const std::size_t offset = static_cast<std::size_t>(stripped.data() - text.data());
            SpecParseFailure inner;
            auto spec = Specifier::try_parse(stripped, inner);
            if (!spec) {
                failure = {offset + inner.offset, inner.reason};
                return std::nullopt;
            }
            // packaging keeps a set: the first of two clauses with the same key stays.
            if (keys.insert(spec->canonical_key()).second)
                set.m_specs.push_back(std::move(*spec));
        }
        if (comma == std::string_view::npos)
            break;
        start = comma + 1;
    }
    return set;
}

SpecifierSet SpecifierSet::parse(std::string_view text) {
    SpecParseFailure failure;
    auto set = try_parse(text, failure);
    if (!set)
        util::throw_parse_error("PEP 440 specifier", text, failure.offset, failure.reason);
    return std::move(*set);
}

bool SpecifierSet::allows_prereleases(PreReleases pre) const noexcept {
    if (pre != PreReleases::by_rule)
        return pre == PreReleases::allow;
    return std::any_of(m_specs.begin(), m_specs.end(),
                       [](const Specifier& s) { return s.allows_prereleases(); });
}

bool SpecifierSet::contains(const Pep440Version& v, PreReleases pre) const {
    if (v.is_prerelease() && !allows_prereleases(pre))
        return false;
    return std::all_of(m_specs.begin(), m_specs.end(),
                       [&](const Specifier& s) { return s.contains(v, PreReleases::allow); });
}

bool SpecifierSet::contains(std::string_view version, PreReleases pre) const {
    if (const auto v = Pep440Version::try_parse(version))
        return contains(*v, pre);
    const std::string wanted = ascii_lower(strip_python_space(version));
    return std::all_of(m_specs.begin(), m_specs.end(), [&](const Specifier& s) {
        return s.op() == SpecifierOperator::arbitrary && ascii_lower(s.version_text()) == wanted;
    });
}

std::string SpecifierSet::str() const {
    std::vector<std::string> parts;
    parts.reserve(m_specs.size());
    for (const Specifier& s : m_specs)
        parts.push_back(s.str());
    std::sort(parts.begin(), parts.end());
    std::string out;
    for (const std::string& part : parts) {
        if (!out.empty())
            out += ',';
        out += part;
    }
    return out;
}

}  // namespace gpuenv::core::spec
