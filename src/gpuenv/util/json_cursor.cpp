#include <gpuenv/util/json_cursor.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <gpuenv/util/text.hpp>

namespace gpuenv::util::json {
namespace {

constexpr std::size_t k_failed = static_cast<std::size_t>(-1);

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

// Characters that run on from a literal or a number: "truex" and "3x" are one bad token, not
// a good one followed by garbage.
bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
           c == '.' || c == '+' || c == '-';
}

// Returns the end of the number that starts at `pos` by JSON's grammar, or k_failed.
std::size_t number_end(std::string_view s, std::size_t pos) {
    const auto digits = [&] {
        const std::size_t start = pos;
        while (pos < s.size() && is_digit(s[pos]))
            ++pos;
        return pos > start;
    };
    if (pos < s.size() && s[pos] == '-')
        ++pos;
    if (pos < s.size() && s[pos] == '0') {
        ++pos;
    } else if (!digits()) {
        return k_failed;
    }
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        if (!digits())
            return k_failed;
    }
    if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
        ++pos;
        if (pos < s.size() && (s[pos] == '+' || s[pos] == '-'))
            ++pos;
        if (!digits())
            return k_failed;
    }
    return pos;
}

// Returns the offset of the first byte at or after `pos` that a string scan must look at:
// '"', '\\', a control character or a non-ASCII byte. Sixteen bytes at a time where SSE2 is
// there (every x86-64): paths and hashes, most of a conda record, are long plain runs.
std::size_t find_special(std::string_view s, std::size_t pos) {
    const char* data = s.data();
    const std::size_t size = s.size();
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i high3 = _mm_set1_epi8(static_cast<char>(0xE0));
    const __m128i zero = _mm_setzero_si128();
    while (pos + 16 <= size) {
        const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + pos));
        const __m128i control = _mm_cmpeq_epi8(_mm_and_si128(chunk, high3), zero);
        const __m128i stop = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)), control);
        // movemask of the chunk itself gives the bytes with the high bit: non-ASCII.
        const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(stop)) |
                              static_cast<unsigned>(_mm_movemask_epi8(chunk));
        if (mask != 0)
            return pos + static_cast<std::size_t>(__builtin_ctz(mask));
        pos += 16;
    }
#endif
    while (pos < size) {
        const auto c = static_cast<unsigned char>(data[pos]);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
            return pos;
        ++pos;
    }
    return size;
}

// Returns the length of the well-formed UTF-8 sequence at `pos` (whose first byte is not
// ASCII), or 0: no overlong forms, no surrogates, nothing past U+10FFFF.
std::size_t utf8_length(std::string_view s, std::size_t pos) {
    const auto byte = [&](std::size_t i) {
        return pos + i < s.size() ? static_cast<unsigned char>(s[pos + i]) : 0U;
    };
    const unsigned c0 = byte(0);
    std::size_t length = 0;
    unsigned low = 0x80;
    unsigned high = 0xBF;
    if (c0 >= 0xC2 && c0 <= 0xDF) {
        length = 2;
    } else if (c0 == 0xE0) {
        length = 3;
        low = 0xA0;
    } else if ((c0 >= 0xE1 && c0 <= 0xEC) || c0 == 0xEE || c0 == 0xEF) {
        length = 3;
    } else if (c0 == 0xED) {
        length = 3;
        high = 0x9F;
    } else if (c0 == 0xF0) {
        length = 4;
        low = 0x90;
    } else if (c0 >= 0xF1 && c0 <= 0xF3) {
        length = 4;
    } else if (c0 == 0xF4) {
        length = 4;
        high = 0x8F;
    } else {
        return 0;
    }
    const unsigned c1 = byte(1);
    if (c1 < low || c1 > high)
        return 0;
    for (std::size_t i = 2; i < length; ++i) {
        const unsigned c = byte(i);
        if (c < 0x80 || c > 0xBF)
            return 0;
    }
    return length;
}

// Returns the offset of the first character at or after `pos` that is not JSON whitespace.
// Pretty-printed records indent every line: the run of spaces after a newline is skipped
// sixteen bytes at a time.
inline std::size_t skip_spaces(std::string_view s, std::size_t pos) {
    while (pos < s.size()) {
        const char c = s[pos];
        if (static_cast<unsigned char>(c) > ' ' || !is_space(c))
            return pos;
        ++pos;
#if defined(__SSE2__)
        if (c == '\n' && pos + 16 <= s.size()) {
            const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + pos));
            const auto spaces =
                static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, _mm_set1_epi8(' '))));
            pos += spaces == 0xFFFF ? 16 : static_cast<std::size_t>(__builtin_ctz(~spaces));
        }
#endif
    }
    return pos;
}

// Skips the value at `pos` on the common path: strings without escapes or non-ASCII bytes,
// nesting up to 64 levels. Returns where the value ends, or k_failed for anything else (an
// error, or a rare construct); the caller then runs the full skip from the same place, which
// says exactly what is wrong. Everything lives in locals so that the loop stays in registers:
// skipping paths_data is most of reading a conda record.
std::size_t fast_skip(std::string_view s, std::size_t pos) {
    const std::size_t size = s.size();
    bool in_object[64];
    int depth = 0;
    const auto whitespace = [&] { pos = skip_spaces(s, pos); };
    const auto string = [&] {  // at the opening quote
        pos = find_special(s, pos + 1);
        if (pos >= size || s[pos] != '"')
            return false;
        ++pos;
        return true;
    };
    const auto word_ends = [&] { return pos >= size || !is_word_char(s[pos]); };
    bool want_key = false;
    for (;;) {
        whitespace();
        if (pos >= size)
            return k_failed;
        if (want_key) {
            if (s[pos] != '"' || !string())
                return k_failed;
            whitespace();
            if (pos >= size || s[pos] != ':')
                return k_failed;
            ++pos;
            want_key = false;
            continue;
        }
        // A value.
        const char c = s[pos];
        if (c == '{' || c == '[') {
            ++pos;
            whitespace();
            if (pos < size && s[pos] == (c == '{' ? '}' : ']')) {
                ++pos;
            } else {
                if (depth == 64)
                    return k_failed;
                in_object[depth++] = c == '{';
                want_key = c == '{';
                continue;
            }
        } else if (c == '"') {
            if (!string())
                return k_failed;
        } else if (c == '-' || is_digit(c)) {
            pos = number_end(s, pos);
            if (pos == k_failed || !word_ends())
                return k_failed;
        } else {
            const std::string_view literal = c == 't' ? "true" : c == 'f' ? "false" : "null";
            if (s.substr(pos, literal.size()) != literal)
                return k_failed;
            pos += literal.size();
            if (!word_ends())
                return k_failed;
        }
        // After a value: close what ends here, or go on to the next member.
        for (;;) {
            if (depth == 0)
                return pos;
            whitespace();
            if (pos >= size)
                return k_failed;
            const bool object = in_object[depth - 1];
            if (s[pos] == ',') {
                ++pos;
                want_key = object;
                break;
            }
            if (s[pos] != (object ? '}' : ']'))
                return k_failed;
            ++pos;
            --depth;
        }
    }
}

std::string hex_byte(unsigned char c) {
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "0x%02X", c);
    return buffer;
}

// Reads the four hex digits after "\u" at `pos`; returns the code unit or -1.
long hex4(std::string_view s, std::size_t pos) {
    if (pos + 4 > s.size())
        return -1;
    long value = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        const int digit = hex_value(s[pos + i]);
        if (digit < 0)
            return -1;
        value = value * 16 + digit;
    }
    return value;
}

bool is_high_surrogate(long unit) {
    return unit >= 0xD800 && unit <= 0xDBFF;
}

bool is_low_surrogate(long unit) {
    return unit >= 0xDC00 && unit <= 0xDFFF;
}

}  // namespace

std::string_view type_name(Type type) {
    switch (type) {
        case Type::object:
            return "an object";
        case Type::array:
            return "an array";
        case Type::string:
            return "a string";
        case Type::number:
            return "a number";
        case Type::boolean:
            return "a boolean";
        case Type::null:
            return "null";
    }
    return "a value";
}

std::string describe(std::string_view text, const SyntaxError& error) {
    const LineColumn at = line_column(text, error.offset());
    return "line " + std::to_string(at.line) + ", column " + std::to_string(at.column) + ": " +
           error.what();
}

Cursor::Cursor(std::string_view text) : m_text(text) {
    if (m_text.starts_with("\xEF\xBB\xBF"))
        m_pos = 3;
}

void Cursor::fail(std::size_t at, const std::string& reason) const {
    throw SyntaxError(at, reason);
}

std::string Cursor::found() const {
    if (m_pos >= m_text.size())
        return "the end of the text";
    const auto c = static_cast<unsigned char>(m_text[m_pos]);
    if (c > 0x20 && c < 0x7F)
        return std::string("'") + static_cast<char>(c) + "'";
    return "byte " + hex_byte(c);
}

void Cursor::fail_found(std::string_view expected) const {
    fail(m_pos, "expected " + std::string(expected) + ", found " + found());
}

void Cursor::skip_whitespace_run() {
    m_pos = skip_spaces(m_text, m_pos);
}

// A token that starts no value: a word is a bad literal ("tru", "None", "NaN"), anything else
// an unexpected character.
namespace {
std::string word_at(std::string_view s, std::size_t pos) {
    std::size_t end = pos;
    while (end < s.size() && end - pos < 32 && is_word_char(s[end]))
        ++end;
    std::string word(s.substr(pos, end - pos));
    if (end < s.size() && is_word_char(s[end]))
        word += "...";
    return word;
}
}  // namespace

bool Cursor::scan_string(std::size_t& begin, std::size_t& end) {
    const std::size_t quote = m_pos;
    bool escaped = false;
    std::size_t pos = m_pos + 1;
    begin = pos;
    for (;;) {
        pos = find_special(m_text, pos);
        if (pos >= m_text.size())
            fail(quote, "unterminated string");
        const auto c = static_cast<unsigned char>(m_text[pos]);
        if (c == '"')
            break;
        if (c == '\\') {
            escaped = true;
            if (pos + 1 >= m_text.size())
                fail(quote, "unterminated string");
            const char e = m_text[pos + 1];
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                e == 't') {
                pos += 2;
                continue;
            }
            if (e != 'u') {
                const auto shown = static_cast<unsigned char>(e);
                fail(pos, shown > 0x20 && shown < 0x7F
                              ? std::string("invalid escape '\\") + e + "' in a string"
                              : "invalid escape (backslash and byte " + hex_byte(shown) +
                                    ") in a string");
            }
            const long unit = hex4(m_text, pos + 2);
            if (unit < 0)
                fail(pos, "invalid \\u escape in a string (four hex digits expected)");
            if (is_low_surrogate(unit))
                fail(pos, "lone low surrogate \\u" + std::string(m_text.substr(pos + 2, 4)) +
                              " in a string");
            if (is_high_surrogate(unit)) {
                const bool paired = pos + 12 <= m_text.size() && m_text[pos + 6] == '\\' &&
                                    m_text[pos + 7] == 'u' &&
                                    is_low_surrogate(hex4(m_text, pos + 8));
                if (!paired)
                    fail(pos, "high surrogate \\u" + std::string(m_text.substr(pos + 2, 4)) +
                                  " not followed by a low surrogate in a string");
                pos += 12;
                continue;
            }
            pos += 6;
            continue;
        }
        if (c < 0x20)
            fail(pos, "unescaped control character " + hex_byte(c) + " in a string");
        const std::size_t length = utf8_length(m_text, pos);
        if (length == 0)
            fail(pos, "invalid UTF-8 (byte " + hex_byte(c) + ") in a string");
        pos += length;
    }
    end = pos;
    m_pos = pos + 1;
    return escaped;
}

void Cursor::scan_number() {
    const std::size_t end = number_end(m_text, m_pos);
    if (end == k_failed || (end < m_text.size() && is_word_char(m_text[end])))
        fail(m_pos, "invalid number '" + word_at(m_text, m_pos) + "'");
    m_pos = end;
}

void Cursor::scan_literal(std::string_view word) {
    const std::size_t end = m_pos + word.size();
    if (m_text.substr(m_pos, word.size()) != word ||
        (end < m_text.size() && is_word_char(m_text[end]))) {
        fail(m_pos, "invalid literal '" + word_at(m_text, m_pos) + "'");
    }
    m_pos = end;
}

void Cursor::scan_key() {
    if (!at('"'))
        fail_found("a key in double quotes");
    std::size_t begin = 0;
    std::size_t end = 0;
    scan_string(begin, end);
    skip_whitespace();
    if (!at(':'))
        fail_found("':' after a key");
    ++m_pos;
}

Type Cursor::peek() {
    skip_whitespace();
    if (m_pos >= m_text.size())
        fail_found("a value");
    const char c = m_text[m_pos];
    const std::size_t start = m_pos;
    switch (c) {
        case '{':
            return Type::object;
        case '[':
            return Type::array;
        case '"':
            return Type::string;
        case 't':
            scan_literal("true");
            m_pos = start;
            return Type::boolean;
        case 'f':
            scan_literal("false");
            m_pos = start;
            return Type::boolean;
        case 'n':
            scan_literal("null");
            m_pos = start;
            return Type::null;
        default:
            break;
    }
    if (c == '-' || is_digit(c)) {
        scan_number();
        m_pos = start;
        return Type::number;
    }
    if (is_word_char(c))
        fail(m_pos, "invalid literal '" + word_at(m_text, m_pos) + "'");
    fail_found("a value");
}

void Cursor::skip_unread() {
    if (m_pending)
        skip();
}

void Cursor::enter_object() {
    skip_whitespace();
    if (!at('{'))
        fail_found("an object");
    ++m_pos;
    m_first = true;
    m_pending = false;
}

// Moves past the separator before a container's next member: returns false (consuming
// `close`) at the container's end.
bool Cursor::next_member(char close, const char* expected) {
    skip_unread();
    skip_whitespace();
    const bool first = m_first;
    m_first = false;
    if (at(close)) {
        ++m_pos;
        return false;
    }
    if (!first) {
        if (!at(','))
            fail_found(expected);
        ++m_pos;
        skip_whitespace();
    }
    return true;
}

bool Cursor::next_field(std::string_view& key) {
    if (!next_member('}', "',' or '}' after an object member"))
        return false;
    if (!at('"'))
        fail_found("a key in double quotes");
    key = read_string();
    skip_whitespace();
    if (!at(':'))
        fail_found("':' after a key");
    ++m_pos;
    m_pending = true;
    return true;
}

void Cursor::enter_array() {
    skip_whitespace();
    if (!at('['))
        fail_found("an array");
    ++m_pos;
    m_first = true;
    m_pending = false;
}

bool Cursor::next_element() {
    if (!next_member(']', "',' or ']' after an array element"))
        return false;
    m_pending = true;
    return true;
}

std::string_view Cursor::read_string() {
    skip_whitespace();
    if (!at('"'))
        fail_found("a string");
    m_pending = false;
    std::size_t begin = 0;
    std::size_t end = 0;
    if (!scan_string(begin, end))
        return m_text.substr(begin, end - begin);
    // Escapes were checked by the scan; decode them into storage that outlives the call.
    std::string& out = m_unescaped.emplace_back();
    out.reserve(end - begin);
    for (std::size_t i = begin; i < end;) {
        const char c = m_text[i];
        if (c != '\\') {
            out += c;
            ++i;
            continue;
        }
        const char e = m_text[i + 1];
        switch (e) {
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                auto code = static_cast<std::uint32_t>(hex4(m_text, i + 2));
                if (is_high_surrogate(code)) {
                    const auto low = static_cast<std::uint32_t>(hex4(m_text, i + 8));
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                }
                append_utf8(out, code);
                i += 6;
                continue;
            }
            default:  // '"', '\\' and '/' stand for themselves
                out += e;
                break;
        }
        i += 2;
    }
    return out;
}

std::string_view Cursor::read_number() {
    skip_whitespace();
    if (m_pos >= m_text.size() || (m_text[m_pos] != '-' && !is_digit(m_text[m_pos])))
        fail_found("a number");
    m_pending = false;
    const std::size_t start = m_pos;
    scan_number();
    return m_text.substr(start, m_pos - start);
}

bool Cursor::read_bool() {
    skip_whitespace();
    m_pending = false;
    if (at('t')) {
        scan_literal("true");
        return true;
    }
    if (at('f')) {
        scan_literal("false");
        return false;
    }
    fail_found("true or false");
}

void Cursor::read_null() {
    skip_whitespace();
    m_pending = false;
    if (!at('n'))
        fail_found("null");
    scan_literal("null");
}

void Cursor::skip() {
    m_pending = false;
    if (const std::size_t end = fast_skip(m_text, m_pos); end != k_failed) {
        m_pos = end;
        return;
    }
    m_stack.clear();
    for (;;) {
        // One value; a container that opens is pushed, and its first member read next.
        skip_whitespace();
        if (m_pos >= m_text.size())
            fail_found("a value");
        const char c = m_text[m_pos];
        if (c == '{' || c == '[') {
            ++m_pos;
            skip_whitespace();
            const char close = c == '{' ? '}' : ']';
            if (at(close)) {
                ++m_pos;
            } else {
                m_stack.push_back(c);
                if (c == '{')
                    scan_key();
                continue;
            }
        } else if (c == '"') {
            std::size_t begin = 0;
            std::size_t end = 0;
            scan_string(begin, end);
        } else if (c == 't') {
            scan_literal("true");
        } else if (c == 'f') {
            scan_literal("false");
        } else if (c == 'n') {
            scan_literal("null");
        } else if (c == '-' || is_digit(c)) {
            scan_number();
        } else {
            (void)peek();  // fails, naming what was found
        }
        // After a value: close the containers that end here, or go on to the next member.
        for (;;) {
            if (m_stack.empty())
                return;
            skip_whitespace();
            const bool object = m_stack.back() == '{';
            const char next = m_pos < m_text.size() ? m_text[m_pos] : '\0';
            if (next == ',') {
                ++m_pos;
                if (object) {
                    skip_whitespace();
                    scan_key();
                }
                break;
            }
            if (next == (object ? '}' : ']') && m_pos < m_text.size()) {
                ++m_pos;
                m_stack.pop_back();
                continue;
            }
            fail_found(object ? "',' or '}' after an object member"
                              : "',' or ']' after an array element");
        }
    }
}

void Cursor::finish() {
    skip_whitespace();
    if (m_pos < m_text.size())
        fail(m_pos, "extra data after the JSON value");
}

std::optional<std::int64_t> to_int64(std::string_view literal) {
    std::int64_t value = 0;
    const char* last = literal.data() + literal.size();
    const auto [end, ec] = std::from_chars(literal.data(), last, value);
    if (ec != std::errc() || end != last)
        return std::nullopt;
    return value;
}

std::optional<double> to_double(std::string_view literal) {
    double value = 0;
    const char* last = literal.data() + literal.size();
    const auto [end, ec] = std::from_chars(literal.data(), last, value);
    if (ec == std::errc::result_out_of_range && end == last) {
        // Too small for a double is zero (1e-999); too large has no value (1e999).
        const std::size_t exponent = literal.find_first_of("eE");
        if (exponent != std::string_view::npos && exponent + 1 < literal.size() &&
            literal[exponent + 1] == '-')
            return 0.0;
        return std::nullopt;
    }
    if (ec != std::errc() || end != last || !std::isfinite(value))
        return std::nullopt;
    return value;
}

bool is_number(std::string_view text) {
    return !text.empty() && number_end(text, 0) == text.size();
}

}  // namespace gpuenv::util::json
