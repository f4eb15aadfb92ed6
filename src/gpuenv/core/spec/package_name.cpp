#include <gpuenv/core/spec/package_name.hpp>

namespace gpuenv::core::spec {

std::string normalize_pypi_name(std::string_view name) {
    std::string out;
    out.reserve(name.size());
    bool in_separator_run = false;
    for (const char c : name) {
        if (c == '-' || c == '_' || c == '.') {
            if (!in_separator_run)
                out += '-';
            in_separator_run = true;
            continue;
        }
        in_separator_run = false;
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return out;
}

}  // namespace gpuenv::core::spec
