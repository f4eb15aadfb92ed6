#include <gpuenv/core/env/dist_record.hpp>

#include <charconv>
#include <string>
#include <system_error>
#include <utility>

#include <gpuenv/util/error.hpp>

namespace gpuenv::core::env {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, int line, const std::string& reason) {
    throw Error(ExitCode::not_found, "cannot read RECORD " + path.string() + ": line " +
                                         std::to_string(line) + ": " + reason);
}

// Splits CSV rows the way Python's csv module reads what csv.writer wrote (the excel dialect,
// not strict): a field that starts with '"' runs to the next lone '"', with "" standing for a
// quote and newlines allowed inside; characters after the closing quote join the field.
class CsvReader {
  public:
    CsvReader(std::string_view text, const std::filesystem::path& path)
        : m_text(text), m_path(path) {}

    // Reads the next row into `fields`; returns false at the end of the text.
    bool next(std::vector<std::string>& fields, int& row_line) {
        fields.clear();
        if (m_pos >= m_text.size())
            return false;
        row_line = m_line;
        std::string field;
        while (true) {
            if (m_pos >= m_text.size()) {
                fields.push_back(std::move(field));
                return true;
            }
            const char c = m_text[m_pos];
            if (c == '"' && field.empty() && !m_after_quote) {
                read_quoted(field, row_line);
                m_after_quote = true;
                continue;
            }
            if (c == ',') {
                fields.push_back(std::move(field));
                field.clear();
                m_after_quote = false;
                ++m_pos;
                continue;
            }
            if (c == '\n' || c == '\r') {
                ++m_pos;
                if (c == '\r' && m_pos < m_text.size() && m_text[m_pos] == '\n')
                    ++m_pos;
                ++m_line;
                m_after_quote = false;
                fields.push_back(std::move(field));
                return true;
            }
            field.push_back(c);
            ++m_pos;
        }
    }

  private:
    std::string_view m_text;
    const std::filesystem::path& m_path;
    std::size_t m_pos = 0;
    int m_line = 1;
    bool m_after_quote = false;

    void read_quoted(std::string& field, int row_line) {
        ++m_pos;  // the opening quote
        while (true) {
            if (m_pos >= m_text.size())
                fail(m_path, row_line, "unterminated quoted field");
            const char c = m_text[m_pos++];
            if (c == '"') {
                if (m_pos < m_text.size() && m_text[m_pos] == '"') {
                    field.push_back('"');
                    ++m_pos;
                    continue;
                }
                return;
            }
            if (c == '\n')
                ++m_line;
            field.push_back(c);
        }
    }
};

std::int64_t parse_size(std::string_view text, const std::filesystem::path& path, int line) {
    std::int64_t size = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, size);
    if (ec != std::errc() || ptr != end || size < 0 || text.front() == '-')
        fail(path, line, "invalid size '" + std::string(text) + "'");
    return size;
}

}  // namespace

std::vector<RecordRow> parse_dist_record(std::string_view text, const std::filesystem::path& path) {
    std::vector<RecordRow> rows;
    CsvReader reader(text, path);
    std::vector<std::string> fields;
    int line = 0;
    while (reader.next(fields, line)) {
        // csv.reader gives an empty row for a blank line; importlib.metadata and pip skip it.
        if (fields.size() == 1 && fields[0].empty())
            continue;
        if (fields.size() > 3) {
            fail(path, line,
                 "expected path,hash,size, found " + std::to_string(fields.size()) + " fields");
        }
        RecordRow row;
        row.line = line;
        row.path = std::move(fields[0]);
        if (row.path.empty())
            fail(path, line, "empty path");
        // importlib.metadata accepts rows of one or two fields (the rest default to none).
        if (fields.size() >= 2 && !fields[1].empty()) {
            const auto eq = fields[1].find('=');
            if (eq == std::string::npos || eq == 0)
                fail(path, line, "hash '" + fields[1] + "' is not <algorithm>=<digest>");
            row.hash_algorithm = fields[1].substr(0, eq);
            row.hash = fields[1].substr(eq + 1);
        }
        if (fields.size() == 3 && !fields[2].empty())
            row.size = parse_size(fields[2], path, line);
        rows.push_back(std::move(row));
    }
    return rows;
}

}  // namespace gpuenv::core::env
