#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv {

std::string Diagnostic::to_string() const {
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
