// The tokenizer `doctor --scan` matches Python statements with (python_tokens.hpp): its
// scanning of names, numbers, strings, operators and indentation, and the token queries the
// rule's matching uses.

#include <gpuenv/core/doctor/python_tokens.hpp>

#include <algorithm>
#include <array>

namespace gpuenv::core::doctor {

namespace {

bool is_string_prefix(std::string_view name) {
    return name.size() <= 2 && std::all_of(name.begin(), name.end(), [](char c) {
               return std::string_view("rRbBuUfFtT").find(c) != std::string_view::npos;
           });
}

int indentation(std::string_view prefix) {
    int column = 0;
    for (const char c : prefix)
        column = c == '\t' ? (column / 8 + 1) * 8 : column + 1;
    return column;
}

}  // namespace

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}

void Tokenizer::run(std::string_view text, int first_line) {
    m_text = text;
    m_line = first_line;
    std::size_t i = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
    m_line_begin = i;
    while (i < text.size()) {
        const char c = text[i];
        if (c == '\n') {
            if (m_depth == 0 && !m_line_start) {
                m_out.push_back({TokenKind::newline, {}, m_line, 0, 0});
                m_line_start = true;
            }
            ++i;
            new_line(i);
        } else if (c == '\\' && i + 1 < text.size() &&
                   (text[i + 1] == '\n' || text[i + 1] == '\r')) {
            i = text.find('\n', i);
            i = i == std::string_view::npos ? text.size() : i + 1;
            new_line(i);
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
            ++i;
        } else if (c == '#') {
            i = std::min(text.find('\n', i), text.size());
        } else if (c == '"' || c == '\'') {
            i = string(i, i);
        } else if (is_name_char(c) && !(c >= '0' && c <= '9')) {
            std::size_t end = i;
            while (end < text.size() && is_name_char(text[end]))
                ++end;
            const std::string_view name = text.substr(i, end - i);
            if (end < text.size() && (text[end] == '"' || text[end] == '\'') &&
                is_string_prefix(name)) {
                i = string(i, end);
            } else {
                emit(TokenKind::name, name, i);
                i = end;
            }
        } else if ((c >= '0' && c <= '9') ||
                   (c == '.' && i + 1 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '9')) {
            std::size_t end = i + 1;
            while (end < text.size() && (is_name_char(text[end]) || text[end] == '.'))
                ++end;
            emit(TokenKind::number, text.substr(i, end - i), i);
            i = end;
        } else {
            i = punctuation(i);
        }
    }
    if (!m_line_start)
        m_out.push_back({TokenKind::newline, {}, m_line, 0, 0});
}

void Tokenizer::new_line(std::size_t begin) {
    ++m_line;
    m_line_begin = begin;
}

// Notes that a token starts at `start`: the first one of a logical line sets its
// indentation, which closes the function bodies it is not inside.
void Tokenizer::begin(std::size_t start) {
    if (!m_line_start)
        return;
    m_line_start = false;
    m_indent = indentation(m_text.substr(m_line_begin, start - m_line_begin));
    while (!m_scopes.empty() && m_indent <= m_scopes.back().indent)
        m_scopes.pop_back();
}

void Tokenizer::push(TokenKind kind, std::string_view text, int line) {
    m_out.push_back({kind, text, line, m_depth, m_scopes.empty() ? 0 : m_scopes.back().id});
    if (kind == TokenKind::name && text == "def")
        m_scopes.push_back({m_indent, ++m_next_scope});
}

void Tokenizer::emit(TokenKind kind, std::string_view text, std::size_t start) {
    begin(start);
    push(kind, text, m_line);
}

bool Tokenizer::triple_at(std::size_t i, char q) const {
    return i + 2 < m_text.size() && m_text[i] == q && m_text[i + 1] == q && m_text[i + 2] == q;
}

// Reads a string literal whose prefix starts at `start` and quote at `quote`; returns the
// offset after it. An unterminated one-line string ends at the line's end, as Python's
// error would.
std::size_t Tokenizer::string(std::size_t start, std::size_t quote) {
    const char q = m_text[quote];
    const bool triple = triple_at(quote, q);
    const std::size_t open = quote + (triple ? 3 : 1);
    const int line = m_line;
    begin(start);
    std::size_t i = open;
    while (i < m_text.size()) {
        const char c = m_text[i];
        if (c == '\\' && i + 1 < m_text.size()) {
            if (m_text[i + 1] == '\n')
                new_line(i + 2);
            i += 2;
        } else if (c == '\n') {
            if (!triple)
                break;
            ++i;
            new_line(i);
        } else if (c == q && (!triple || triple_at(i, q))) {
            push(TokenKind::string, m_text.substr(open, i - open), line);
            return i + (triple ? 3 : 1);
        } else {
            ++i;
        }
    }
    push(TokenKind::string, m_text.substr(open, i - open), line);
    return i;
}

std::size_t Tokenizer::punctuation(std::size_t i) {
    static constexpr std::array<std::string_view, 24> k_operators = {
        "**=", "//=", ">>=", "<<=", "...", "==", "!=", "<=", ">=", ":=", "->", "+=",
        "-=",  "*=",  "/=",  "%=",  "&=",  "|=", "^=", "@=", "**", "//", "<<", ">>",
    };
    for (const std::string_view op : k_operators) {
        if (m_text.substr(i, op.size()) == op) {
            emit(TokenKind::op, op, i);
            return i + op.size();
        }
    }
    const char c = m_text[i];
    if (c == ')' || c == ']' || c == '}')
        m_depth = std::max(0, m_depth - 1);
    emit(TokenKind::op, m_text.substr(i, 1), i);
    if (c == '(' || c == '[' || c == '{')
        ++m_depth;
    return i + 1;
}

bool is_token(const std::vector<Token>& tokens, std::size_t i, TokenKind kind,
              std::string_view text) {
    return i < tokens.size() && tokens[i].kind == kind && tokens[i].text == text;
}

bool is_op(const std::vector<Token>& tokens, std::size_t i, std::string_view text) {
    return is_token(tokens, i, TokenKind::op, text);
}

bool is_name(const std::vector<Token>& tokens, std::size_t i, std::string_view text) {
    return is_token(tokens, i, TokenKind::name, text);
}

std::string read_dotted(const std::vector<Token>& tokens, std::size_t& i) {
    std::string name;
    while (i < tokens.size() && tokens[i].kind == TokenKind::name) {
        name += tokens[i].text;
        ++i;
        if (!is_op(tokens, i, ".") || i + 1 >= tokens.size() ||
            tokens[i + 1].kind != TokenKind::name)
            break;
        name += '.';
        ++i;
    }
    return name;
}

}  // namespace gpuenv::core::doctor
