#include <gpuenv/core/spec/pep440.hpp>

#include <algorithm>
#include <limits>

#include <gpuenv/util/parse_error.hpp>

namespace gpuenv::core::spec {
namespace {

static_assert(sizeof(std::uintptr_t) == 8, "Pep440Number keeps 60-bit values in a pointer word");

constexpr std::size_t k_max_small_digits = 18;  // 10^18 - 1 still fits after a one-bit shift
constexpr std::uint64_t k_small_limit = 1'000'000'000'000'000'000ULL;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_alnum(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_separator(char c) {
    return c == '-' || c == '_' || c == '.';
}

char to_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Returns whether `word` (lowercase) starts `s` at `pos`, ignoring ASCII case.
bool starts_with_word(std::string_view s, std::size_t pos, std::string_view word) {
    if (s.size() - pos < word.size())
        return false;
    for (std::size_t i = 0; i < word.size(); ++i) {
        if (to_lower(s[pos + i]) != word[i])
            return false;
    }
    return true;
}

std::size_t digits_end(std::string_view s, std::size_t pos) {
    while (pos < s.size() && is_digit(s[pos]))
        ++pos;
    return pos;
}

Pep440Number number_or_zero(std::string_view digits) {
    return digits.empty() ? Pep440Number() : Pep440Number::from_digits(digits);
}

// Longest spellings first: the anchored pattern backtracks to them, and a shorter one
// ("a" of "alpha") would leave letters nothing else can match.
constexpr std::string_view k_pre_words[] = {"alpha", "a", "beta", "b", "preview", "pre", "rc", "c"};
constexpr PreReleaseKind k_pre_kinds[] = {
    PreReleaseKind::a,  PreReleaseKind::a,  PreReleaseKind::b,  PreReleaseKind::b,
    PreReleaseKind::rc, PreReleaseKind::rc, PreReleaseKind::rc, PreReleaseKind::rc};
constexpr std::string_view k_post_words[] = {"post", "rev", "r"};
constexpr std::string_view k_dev_words[] = {"dev"};

// Compares release segments as if the shorter one were padded with zeros.
std::strong_ordering compare_release(std::span<const Pep440Number> a,
                                     std::span<const Pep440Number> b) noexcept {
    const std::size_t common = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < common; ++i) {
        if (const auto c = a[i] <=> b[i]; c != 0)
            return c;
    }
    for (std::size_t i = common; i < a.size(); ++i) {
        if (!a[i].is_zero())
            return std::strong_ordering::greater;
    }
    for (std::size_t i = common; i < b.size(); ++i) {
        if (!b[i].is_zero())
            return std::strong_ordering::less;
    }
    return std::strong_ordering::equal;
}

}  // namespace

namespace detail {

// Parses packaging's version pattern greedily from the start of `s`, which for this grammar
// is also what the anchored pattern accepts. Fills `out` when given. Returns false when no
// version starts at `s`; `hint` then (or when the match stops early) says where and why.
class Pep440Scanner {
  public:
    Pep440Scanner(std::string_view s, Pep440Version* out) : m_s(s), m_out(out) {}

    bool run(Pep440Extent& extent, SpecParseFailure& hint);

  private:
    // Reads an optional separator, one of `words`, an optional separator and optional digits;
    // returns the index of the word found (the position moves only then) or -1.
    template <std::size_t N>
    int labelled(const std::string_view (&words)[N], std::string_view& digits);

    void scan_release(Pep440Extent& extent);
    void scan_suffixes();
    void scan_local(SpecParseFailure& hint);

    std::string_view m_s;
    Pep440Version* m_out;
    std::size_t m_pos = 0;
};

template <std::size_t N>
int Pep440Scanner::labelled(const std::string_view (&words)[N], std::string_view& digits) {
    std::size_t pos = m_pos;
    if (pos < m_s.size() && is_separator(m_s[pos]))
        ++pos;
    for (std::size_t i = 0; i < N; ++i) {
        if (!starts_with_word(m_s, pos, words[i]))
            continue;
        pos += words[i].size();
        if (pos < m_s.size() && is_separator(m_s[pos]))
            ++pos;
        const std::size_t end = digits_end(m_s, pos);
        digits = m_s.substr(pos, end - pos);
        m_pos = end;
        return static_cast<int>(i);
    }
    return -1;
}

void Pep440Scanner::scan_release(Pep440Extent& extent) {
    // Count first so that the components are stored once, inline or in one allocation.
    std::size_t count = 1;
    std::size_t end = digits_end(m_s, m_pos);
    while (end + 1 < m_s.size() && m_s[end] == '.' && is_digit(m_s[end + 1])) {
        end = digits_end(m_s, end + 1);
        ++count;
    }
    if (m_out != nullptr) {
        Pep440Number* slots = m_out->m_release_inline;
        if (count > Pep440Version::k_inline_release) {
            m_out->m_release_heap.resize(count);
            slots = m_out->m_release_heap.data();
        }
        m_out->m_release_size = static_cast<std::uint32_t>(count);
        std::size_t pos = m_pos;
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t e = digits_end(m_s, pos);
            slots[i] = Pep440Number::from_digits(m_s.substr(pos, e - pos));
            pos = e + 1;
        }
    }
    m_pos = end;
    extent.release_end = end;
    extent.release_count = count;
}

void Pep440Scanner::scan_suffixes() {
    std::string_view digits;
    if (const int i = labelled(k_pre_words, digits); i >= 0 && m_out != nullptr) {
        m_out->m_has_pre = true;
        m_out->m_pre_kind = k_pre_kinds[i];
        m_out->m_pre_number = number_or_zero(digits);
    }
    bool post = false;
    if (m_pos + 1 < m_s.size() && m_s[m_pos] == '-' && is_digit(m_s[m_pos + 1])) {
        const std::size_t e = digits_end(m_s, m_pos + 1);
        digits = m_s.substr(m_pos + 1, e - m_pos - 1);
        m_pos = e;
        post = true;
    } else {
        post = labelled(k_post_words, digits) >= 0;
    }
    if (post && m_out != nullptr) {
        m_out->m_has_post = true;
        m_out->m_post = number_or_zero(digits);
    }
    if (labelled(k_dev_words, digits) >= 0 && m_out != nullptr) {
        m_out->m_has_dev = true;
        m_out->m_dev = number_or_zero(digits);
    }
}

void Pep440Scanner::scan_local(SpecParseFailure& hint) {
    if (m_pos >= m_s.size() || m_s[m_pos] != '+')
        return;
    if (m_pos + 1 >= m_s.size() || !is_alnum(m_s[m_pos + 1])) {
        hint = {m_pos + 1, "expected a local version label after '+'"};
        return;
    }
    std::size_t pos = m_pos + 1;
    while (true) {
        const std::size_t begin = pos;
        while (pos < m_s.size() && is_alnum(m_s[pos]))
            ++pos;
        if (m_out != nullptr) {
            const std::string_view part = m_s.substr(begin, pos - begin);
            LocalSegment segment;
            if (std::all_of(part.begin(), part.end(), is_digit)) {
                segment.is_number = true;
                segment.number = Pep440Number::from_digits(part);
            } else {
                segment.text.reserve(part.size());
                for (const char c : part)
                    segment.text += to_lower(c);
            }
            m_out->m_local.push_back(std::move(segment));
        }
        if (pos + 1 < m_s.size() && is_separator(m_s[pos]) && is_alnum(m_s[pos + 1])) {
            ++pos;
            continue;
        }
        break;
    }
    if (pos < m_s.size() && is_separator(m_s[pos]))
        hint = {pos + 1, "expected a letter or digit after the separator"};
    m_pos = pos;
}

bool Pep440Scanner::run(Pep440Extent& extent, SpecParseFailure& hint) {
    if (m_pos < m_s.size() && to_lower(m_s[m_pos]) == 'v')
        ++m_pos;
    const std::size_t end = digits_end(m_s, m_pos);
    if (end == m_pos) {
        hint = {m_pos, "expected a digit"};
        return false;
    }
    if (end < m_s.size() && m_s[end] == '!') {
        if (end + 1 < m_s.size() && is_digit(m_s[end + 1])) {
            if (m_out != nullptr)
                m_out->m_epoch = Pep440Number::from_digits(m_s.substr(m_pos, end - m_pos));
            m_pos = end + 1;
        } else {
            // The pattern backtracks: no epoch, the digits are the release, '!' is left over.
            hint = {end + 1, "expected a digit after '!'"};
        }
    }
    scan_release(extent);
    scan_suffixes();
    extent.local_begin = m_pos;
    scan_local(hint);
    extent.end = m_pos;
    if (m_pos < m_s.size() && hint.reason.empty()) {
        hint = {m_pos, static_cast<unsigned char>(m_s[m_pos]) >= 0x80
                           ? "unexpected non-ASCII character"
                           : "unexpected character"};
    }
    return true;
}

}  // namespace detail

Pep440Number::Pep440Number(std::uint64_t value) {
    if (value < k_small_limit) {
        m_bits = static_cast<std::uintptr_t>(value) << 1;
    } else {
        *this = from_digits(std::to_string(value));
    }
}

void Pep440Number::copy_big() {
    m_bits = reinterpret_cast<std::uintptr_t>(new std::string(big())) | 1U;
}

void Pep440Number::free_big() noexcept {
    delete &big();
}

Pep440Number& Pep440Number::operator=(const Pep440Number& other) {
    if (this != &other)
        *this = Pep440Number(other);
    return *this;
}

Pep440Number& Pep440Number::operator=(Pep440Number&& other) noexcept {
    if (this != &other) {
        if (is_big())
            free_big();
        m_bits = other.m_bits;
        other.m_bits = 0;
    }
    return *this;
}

const std::string& Pep440Number::big() const noexcept {
    return *reinterpret_cast<const std::string*>(m_bits & ~std::uintptr_t{1});
}

Pep440Number Pep440Number::from_digits(std::string_view digits) {
    std::size_t first = 0;
    while (first + 1 < digits.size() && digits[first] == '0')
        ++first;
    digits.remove_prefix(first);
    Pep440Number n;
    if (digits.size() > k_max_small_digits) {
        n.m_bits = reinterpret_cast<std::uintptr_t>(new std::string(digits)) | 1U;
        return n;
    }
    std::uint64_t value = 0;
    for (const char c : digits)
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    n.m_bits = static_cast<std::uintptr_t>(value) << 1;
    return n;
}

std::string Pep440Number::str() const {
    return is_big() ? big() : std::to_string(m_bits >> 1);
}

std::optional<std::uint64_t> Pep440Number::to_uint64() const noexcept {
    if (!is_big())
        return m_bits >> 1;
    std::uint64_t value = 0;
    for (const char c : big()) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
            return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

std::strong_ordering Pep440Number::compare_big(const Pep440Number& a,
                                               const Pep440Number& b) noexcept {
    if (a.is_big() != b.is_big())
        return a.is_big() ? std::strong_ordering::greater : std::strong_ordering::less;
    if (a.big().size() != b.big().size())
        return a.big().size() <=> b.big().size();
    return a.big().compare(b.big()) <=> 0;
}

std::strong_ordering operator<=>(const LocalSegment& a, const LocalSegment& b) noexcept {
    if (a.is_number != b.is_number)
        return a.is_number ? std::strong_ordering::greater : std::strong_ordering::less;
    if (a.is_number)
        return a.number <=> b.number;
    return a.text.compare(b.text) <=> 0;
}

std::optional<Pep440Version> Pep440Version::try_parse(std::string_view text,
                                                      SpecParseFailure& failure) noexcept {
    const std::string_view stripped = strip_python_space(text);
    const std::size_t lead = static_cast<std::size_t>(stripped.data() - text.data());
    if (stripped.empty()) {
        failure = {lead, "empty version"};
        return std::nullopt;
    }
    std::optional<Pep440Version> v(std::in_place);
    detail::Pep440Scanner scanner(stripped, &*v);
    Pep440Extent extent;
    SpecParseFailure hint;
    if (!scanner.run(extent, hint) || extent.end != stripped.size()) {
        failure = {lead + hint.offset, hint.reason};
        return std::nullopt;
    }
    return v;
}

std::optional<Pep440Version> Pep440Version::try_parse(std::string_view text) noexcept {
    SpecParseFailure failure;
    return try_parse(text, failure);
}

Pep440Version Pep440Version::parse(std::string_view text) {
    SpecParseFailure failure;
    auto v = try_parse(text, failure);
    if (!v)
        util::throw_parse_error("PEP 440 version", text, failure.offset, failure.reason);
    return std::move(*v);
}

std::optional<PreRelease> Pep440Version::pre() const {
    if (!m_has_pre)
        return std::nullopt;
    return PreRelease{m_pre_kind, m_pre_number};
}

std::optional<Pep440Number> Pep440Version::post() const {
    return m_has_post ? std::optional<Pep440Number>(m_post) : std::nullopt;
}

std::optional<Pep440Number> Pep440Version::dev() const {
    return m_has_dev ? std::optional<Pep440Number>(m_dev) : std::nullopt;
}

std::string Pep440Version::normalized() const {
    std::string out;
    if (!m_epoch.is_zero())
        out += m_epoch.str() + '!';
    const auto components = release();
    for (std::size_t i = 0; i < components.size(); ++i) {
        if (i > 0)
            out += '.';
        out += components[i].str();
    }
    if (m_has_pre) {
        out += m_pre_kind == PreReleaseKind::a ? "a" : m_pre_kind == PreReleaseKind::b ? "b" : "rc";
        out += m_pre_number.str();
    }
    if (m_has_post)
        out += ".post" + m_post.str();
    if (m_has_dev)
        out += ".dev" + m_dev.str();
    if (!m_local.empty())
        out += '+' + local();
    return out;
}

std::string Pep440Version::local() const {
    std::string out;
    for (std::size_t i = 0; i < m_local.size(); ++i) {
        if (i > 0)
            out += '.';
        out += m_local[i].is_number ? m_local[i].number.str() : m_local[i].text;
    }
    return out;
}

Pep440Version Pep440Version::public_version() const {
    Pep440Version v = *this;
    v.m_local.clear();
    return v;
}

Pep440Version Pep440Version::base_version() const {
    Pep440Version v;
    v.m_epoch = m_epoch;
    v.m_release_size = m_release_size;
    std::copy(std::begin(m_release_inline), std::end(m_release_inline), v.m_release_inline);
    v.m_release_heap = m_release_heap;
    return v;
}

std::strong_ordering Pep440Version::compare_public(const Pep440Version& other) const noexcept {
    if (const auto c = m_epoch <=> other.m_epoch; c != 0)
        return c;
    if (const auto c = compare_release(release(), other.release()); c != 0)
        return c;
    // The pre-release key: a dev release without pre or post sorts before every pre-release
    // of its release (-1), a final release after them (+1).
    const auto pre_rank = [](const Pep440Version& v) {
        return v.m_has_pre ? 0 : (!v.m_has_post && v.m_has_dev) ? -1 : 1;
    };
    const int ra = pre_rank(*this);
    const int rb = pre_rank(other);
    if (ra != rb)
        return ra <=> rb;
    if (ra == 0) {
        if (const auto c = m_pre_kind <=> other.m_pre_kind; c != 0)
            return c;
        if (const auto c = m_pre_number <=> other.m_pre_number; c != 0)
            return c;
    }
    if (m_has_post != other.m_has_post)
        return m_has_post ? std::strong_ordering::greater : std::strong_ordering::less;
    if (const auto c = m_post <=> other.m_post; c != 0)
        return c;
    if (m_has_dev != other.m_has_dev)
        return m_has_dev ? std::strong_ordering::less : std::strong_ordering::greater;
    return m_dev <=> other.m_dev;
}

bool Pep440Version::has_same_base(const Pep440Version& other) const noexcept {
    return m_epoch == other.m_epoch && compare_release(release(), other.release()) == 0;
}

std::strong_ordering operator<=>(const Pep440Version& a, const Pep440Version& b) noexcept {
    if (const auto c = a.compare_public(b); c != 0)
        return c;
    // A version without a local label sorts before any with one; labels compare segment by
    // segment, a shorter label first when it is a prefix of the longer.
    return std::lexicographical_compare_three_way(a.m_local.begin(), a.m_local.end(),
                                                  b.m_local.begin(), b.m_local.end());
}

std::optional<Pep440Extent> scan_pep440(std::string_view text) noexcept {
    detail::Pep440Scanner scanner(text, nullptr);
    Pep440Extent extent;
    SpecParseFailure hint;
    if (!scanner.run(extent, hint))
        return std::nullopt;
    return extent;
}

std::size_t python_space_length(std::string_view s) noexcept {
    if (s.empty())
        return 0;
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    if ((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20))
        return 1;
    if (c == 0xc2 && s.size() >= 2 && (b(1) == 0x85 || b(1) == 0xa0))
        return 2;
    if (s.size() < 3)
        return 0;
    const unsigned c1 = b(1);
    const unsigned c2 = b(2);
    // U+1680; U+2000-U+200A, U+2028, U+2029, U+202F; U+205F; U+3000.
    const bool space = (c == 0xe1 && c1 == 0x9a && c2 == 0x80) ||
                       (c == 0xe2 && c1 == 0x80 &&
                        ((c2 >= 0x80 && c2 <= 0x8a) || c2 == 0xa8 || c2 == 0xa9 || c2 == 0xaf)) ||
                       (c == 0xe2 && c1 == 0x81 && c2 == 0x9f) ||
                       (c == 0xe3 && c1 == 0x80 && c2 == 0x80);
    return space ? 3 : 0;
}

std::size_t python_space_length_back(std::string_view s) noexcept {
    for (const std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{3}}) {
        if (s.size() >= n && python_space_length(s.substr(s.size() - n)) == n)
            return n;
    }
    return 0;
}

std::string_view strip_python_space(std::string_view text) noexcept {
    while (const std::size_t n = python_space_length(text))
        text.remove_prefix(n);
    while (const std::size_t n = python_space_length_back(text))
        text.remove_suffix(n);
    return text;
}

}  // namespace gpuenv::core::spec
