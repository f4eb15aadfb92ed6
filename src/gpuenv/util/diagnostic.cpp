#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv {

std::string Diagnostic::to_string() const {
    if (path.empty())
        return message;  // about the operation, not a file (a format that cannot hold X)
    std::string out = path;
    if (line > 0) {
        out += ':' + std::to_string(line);
        if (column > 0)
            out += ':' + std::to_string(column);
    }
    out += ": ";
    out += message;
    return out;
}

}  // namespace gpuenv
