#pragma once

// Python source as tokens, for `doctor --scan` (source_scan.cpp). A small tokenizer separates
// code from comments and strings, so a docstring showing an idiom is not code, and records for
// each token its line, bracket depth and enclosing `def`. It is not a full Python tokenizer: it
// keeps what matching statements on tokens needs, and never fails on malformed text.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gpuenv::core::doctor {

/// Tells what a token is.
enum class TokenKind {
    name,
    string,   ///< text is the literal's contents, without prefix and quotes
    op,       ///< punctuation and operators, "==" and "=" apart
    newline,  ///< the end of a logical line
    number,
    magic,  ///< a notebook's `%env CUDA_VISIBLE_DEVICES=...`: text is the value
};

/// Holds one token; its text points into the source it was read from.
struct Token {
    TokenKind kind = TokenKind::op;
    std::string_view text;
    int line = 0;   ///< line in the scanned unit (a file, or a notebook's code cells in order)
    int depth = 0;  ///< bracket depth
    int scope = 0;  ///< 0 for module-level code, else the `def` whose body holds the token
};

/// Returns whether `c` can be part of a Python name: an ASCII letter, digit or underscore, or
/// any byte of a non-ASCII character.
[[nodiscard]] bool is_name_char(char c);

/// Splits Python text into tokens. Comments vanish and a string becomes one token, however
/// many lines it spans, so neither can look like code.
class Tokenizer {
  public:
    /// Creates a tokenizer that appends to `out` and numbers each `def` it meets from
    /// `next_scope` on, so scope ids stay unique across several runs (a notebook's cells).
    Tokenizer(std::vector<Token>& out, int& next_scope) : m_out(out), m_next_scope(next_scope) {}

    /// Tokenizes `text`, whose first line is line `first_line` of the scanned unit, and ends
    /// with a newline token unless the text ends a logical line already.
    void run(std::string_view text, int first_line);

  private:
    struct Scope {
        int indent = 0;
        int id = 0;
    };

    void new_line(std::size_t begin);
    void begin(std::size_t start);
    void push(TokenKind kind, std::string_view text, int line);
    void emit(TokenKind kind, std::string_view text, std::size_t start);
    [[nodiscard]] bool triple_at(std::size_t i, char q) const;
    std::size_t string(std::size_t start, std::size_t quote);
    std::size_t punctuation(std::size_t i);

    std::vector<Token>& m_out;
    int& m_next_scope;
    std::string_view m_text;
    int m_line = 1;
    std::size_t m_line_begin = 0;
    int m_depth = 0;
    bool m_line_start = true;
    int m_indent = 0;
    std::vector<Scope> m_scopes;
};

/// Returns whether token `i` exists and is of `kind` with `text`.
[[nodiscard]] bool is_token(const std::vector<Token>& tokens, std::size_t i, TokenKind kind,
                            std::string_view text);

/// Returns whether token `i` is the operator `text`.
[[nodiscard]] bool is_op(const std::vector<Token>& tokens, std::size_t i, std::string_view text);

/// Returns whether token `i` is the name `text`.
[[nodiscard]] bool is_name(const std::vector<Token>& tokens, std::size_t i, std::string_view text);

/// Reads a dotted name ("torch.utils.data") from token `i` and moves `i` past it; "" when
/// token `i` is not a name.
[[nodiscard]] std::string read_dotted(const std::vector<Token>& tokens, std::size_t& i);

}  // namespace gpuenv::core::doctor
