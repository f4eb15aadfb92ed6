#include <gpuenv/util/table.hpp>

#include <algorithm>
#include <stdexcept>

namespace gpuenv::util {

Table::Table(std::vector<std::string> headers) : m_headers(std::move(headers)) {}

void Table::add_row(std::vector<std::string> cells) {
    if (cells.size() > m_headers.size())
        throw std::logic_error("table row has too many cells");
    cells.resize(m_headers.size());
    m_rows.push_back(std::move(cells));
}

std::size_t display_width(const std::string& s) {
    // Count bytes that do not continue a UTF-8 sequence.
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string Table::render() const {
    std::vector<std::size_t> widths(m_headers.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], display_width(row[i]));
    };
    measure(m_headers);
    for (const auto& row : m_rows)
        measure(row);

    std::string out;
    auto emit = [&](const std::vector<std::string>& row) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size())
                line.append(widths[i] - display_width(row[i]) + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line;
        out += '\n';
    };
    emit(m_headers);
    for (const auto& row : m_rows)
        emit(row);
    return out;
}

}  // namespace gpuenv::util
