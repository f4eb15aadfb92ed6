#pragma once

#include <string>
#include <vector>

namespace gpuenv::util {

/// Renders rows of text as left-aligned columns separated by two spaces, like `conda list`.
class Table {
  public:
    /// Creates a table with the given column headers.
    explicit Table(std::vector<std::string> headers);

    /// Appends one row; missing cells are empty, extra cells are an error.
    void add_row(std::vector<std::string> cells);

    /// Returns the number of data rows.
    [[nodiscard]] std::size_t size() const { return m_rows.size(); }

    /// Renders the header line and the rows, each line ending in '\n'; trailing blanks trimmed.
    [[nodiscard]] std::string render() const;

  private:
    std::vector<std::string> m_headers;
    std::vector<std::vector<std::string>> m_rows;
};

/// Returns the number of terminal columns a UTF-8 string takes (one per code point).
[[nodiscard]] std::size_t display_width(const std::string& s);

}  // namespace gpuenv::util
