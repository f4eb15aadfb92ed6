#pragma once

// A forward-only JSON reader: the caller walks the document in order, reading the values it
// wants and skipping the rest, with no tree built. Every byte is checked against RFC 8259
// (strings must be UTF-8), skipped values included, and a syntax error names the offset of
// the character that makes the text invalid.
//
// gpuenv's own, so that no shared C++ library but libstdc++ is needed and libstdc++ can be
// linked statically: every command, and every `gpuenv run`, starts ~1.4 ms faster.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gpuenv::util::json {

enum class Type { object, array, string, number, boolean, null };

/// Names a type as messages do: "an object", "an array", "a string", "a number", "a boolean",
/// "null".
[[nodiscard]] std::string_view type_name(Type type);

/// Thrown for text that is not JSON. offset() is the byte offset of the character that makes
/// it invalid (the start of a bad token, or the end of a truncated text).
class SyntaxError : public std::runtime_error {
  public:
    SyntaxError(std::size_t offset, const std::string& reason)
        : std::runtime_error(reason), m_offset(offset) {}
    [[nodiscard]] std::size_t offset() const { return m_offset; }

  private:
    std::size_t m_offset;
};

/// Returns "line L, column C: REASON" for a syntax error in `text`.
[[nodiscard]] std::string describe(std::string_view text, const SyntaxError& error);

/// Walks one JSON text. Methods that read a value throw SyntaxError when the text there is
/// not JSON; the caller is expected to call them in an order the document allows (peek()
/// says what comes next).
///
///     Cursor c(text);
///     c.enter_object();
///     for (std::string_view key; c.next_field(key);)
///         if (key == "name") name = c.read_string();   // other values are skipped
///     c.finish();
class Cursor {
  public:
    /// The text must outlive the cursor and the views it returns. A leading UTF-8 byte order
    /// mark is skipped, as Python's utf-8-sig codec and nlohmann::json do.
    explicit Cursor(std::string_view text);

    /// Returns the type of the next value, without consuming it.
    [[nodiscard]] Type peek();
    /// Returns the offset of the next token (after peek(), the start of the value).
    [[nodiscard]] std::size_t offset() const { return m_pos; }
    [[nodiscard]] std::string_view text() const { return m_text; }

    /// Consumes '{'; then next_field() yields each key until it returns false at '}'.
    void enter_object();
    /// Moves to the next member of the object entered last: returns false at its end, else
    /// sets `key` and leaves the cursor at the member's value. A value left unread is skipped.
    bool next_field(std::string_view& key);
    /// Consumes '['; then next_element() returns true before each element, false at ']'.
    void enter_array();
    bool next_element();

    /// Returns a string's value, unescaped. The view points into the text, or for a string
    /// with escapes into storage the cursor keeps until it is destroyed.
    std::string_view read_string();
    /// Returns a number's literal text (checked against JSON's grammar); see to_int64 and
    /// to_double.
    std::string_view read_number();
    bool read_bool();
    void read_null();
    /// Skips the next value, whatever its type, checking all of it.
    void skip();
    /// Checks that only whitespace is left.
    void finish();

  private:
    std::string_view m_text;
    std::size_t m_pos = 0;
    bool m_first = false;    // the container just entered has had no member yet
    bool m_pending = false;  // next_field/next_element left a value unread
    std::string m_stack;     // skip()'s open containers
    std::deque<std::string> m_unescaped;

    [[noreturn]] void fail(std::size_t at, const std::string& reason) const;
    [[noreturn]] void fail_found(std::string_view expected) const;
    [[nodiscard]] std::string found() const;
    // Inline, since most calls find a token at once; the run of whitespace is the .cpp's.
    void skip_whitespace() {
        if (m_pos < m_text.size() && static_cast<unsigned char>(m_text[m_pos]) > ' ')
            return;
        skip_whitespace_run();
    }
    void skip_whitespace_run();
    // Consumes a string from its opening quote; returns whether it holds escapes.
    bool scan_string(std::size_t& begin, std::size_t& end);
    void scan_number();
    void scan_literal(std::string_view word);
    void scan_key();
    void skip_unread();
    bool next_member(char close, const char* expected);
    [[nodiscard]] bool at(char c) const { return m_pos < m_text.size() && m_text[m_pos] == c; }
};

/// Returns a number literal's value when it is an integer that fits int64 ("3", "-0"; not
/// "3.0" or "3e2").
[[nodiscard]] std::optional<std::int64_t> to_int64(std::string_view literal);
/// Returns a number literal's value, or nothing when it is past double's range ("1e999").
[[nodiscard]] std::optional<double> to_double(std::string_view literal);
/// Returns whether `text` is a number by JSON's grammar.
[[nodiscard]] bool is_number(std::string_view text);

}  // namespace gpuenv::util::json
