#include <gpuenv/util/parse_error.hpp>

#include <algorithm>

namespace gpuenv::util {
namespace {

constexpr std::size_t k_max_shown = 80;  // characters of the input shown around the offset

// Replaces control characters so the caret line stays aligned and the terminal safe.
std::string printable(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '?';
    }
    return out;
}

}  // namespace

std::string format_parse_error(std::string_view what, std::string_view text, std::size_t offset,
                               std::string_view reason) {
    offset = std::min(offset, text.size());
    std::size_t start = 0;
    if (text.size() > k_max_shown && offset > k_max_shown / 2) {
        start = std::min(offset - k_max_shown / 2, text.size() - k_max_shown);
    }
    const std::string_view shown = text.substr(start, k_max_shown);
    const std::string lead = start > 0 ? "..." : "";
    const std::string tail = start + shown.size() < text.size() ? "..." : "";
    std::string message = "invalid " + std::string(what) + " '" + lead + printable(shown) + tail +
                          "': column " + std::to_string(offset + 1) + ": " + std::string(reason);
    message += "\n  " + lead + printable(shown) + tail + "\n  ";
    message.append(lead.size() + (offset - start), ' ');
    message += '^';
    return message;
}

void throw_parse_error(std::string_view what, std::string_view text, std::size_t offset,
                       std::string_view reason, ExitCode code) {
    throw Error(code, format_parse_error(what, text, offset, reason));
}

}  // namespace gpuenv::util
