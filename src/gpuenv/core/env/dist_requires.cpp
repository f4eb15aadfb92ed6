#include <gpuenv/core/env/dist_requires.hpp>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;

// Splits text into lines without their line ending.
std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        lines.push_back(line);
        pos = end + 1;
    }
    return lines;
}

}  // namespace

std::vector<std::string> parse_requires_dist(std::string_view metadata) {
    std::vector<std::string> requires_dist;
    std::string* current = nullptr;
    for (const auto line : lines_of(metadata)) {
        if (line.empty())
            break;  // the body (description) starts after the first empty line
        if (line.front() == ' ' || line.front() == '\t') {
            if (current != nullptr) {
                *current += ' ';
                *current += util::trim(line);
            }
            continue;
        }
        current = nullptr;
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            break;
        if (util::iequals(util::trim(line.substr(0, colon)), "Requires-Dist")) {
            requires_dist.emplace_back(util::trim(line.substr(colon + 1)));
            current = &requires_dist.back();
        }
    }
    return requires_dist;
}

std::vector<std::string> parse_requires_txt(std::string_view text) {
    std::vector<std::string> out;
    std::string extra;
    std::string marker;
    for (auto line : lines_of(text)) {
        line = util::trim(line);
        if (line.empty() || line.front() == '#')
            continue;
        if (line.front() == '[' && line.back() == ']') {
            const std::string_view section = line.substr(1, line.size() - 2);
            const auto colon = section.find(':');
            extra = std::string(util::trim(section.substr(0, colon)));
            marker = colon == std::string_view::npos
                         ? std::string()
                         : std::string(util::trim(section.substr(colon + 1)));
            continue;
        }
        std::string requirement(line);
        std::string condition;
        if (!extra.empty())
            condition = "extra == \"" + extra + "\"";
        if (!marker.empty())
            condition = condition.empty() ? marker : "(" + marker + ") and " + condition;
        if (!condition.empty())
            requirement += "; " + condition;
        out.push_back(std::move(requirement));
    }
    return out;
}

std::vector<std::string> read_requires_dist(const PythonDist& dist, Diagnostics& warnings) {
    fs::path file;
    bool requires_txt = false;
    switch (dist.format) {
        case DistFormat::dist_info:
            file = dist.metadata_path / "METADATA";
            break;
        case DistFormat::egg_info_dir:
            file = dist.metadata_path / "requires.txt";
            requires_txt = true;
            break;
        case DistFormat::egg:
            file = dist.metadata_path / "EGG-INFO" / "requires.txt";
            requires_txt = true;
            break;
        case DistFormat::egg_info_file:
            file = dist.metadata_path;  // PKG-INFO style; may carry Requires-Dist
            break;
    }
    if (requires_txt && !util::exists(file))
        return {};
    std::string text;
    std::string error;
    if (!util::read_file_into(file, text, error)) {
        warnings.push_back({file.string(), 0, 0, "cannot read requirements: " + error});
        return {};
    }
    return requires_txt ? parse_requires_txt(text) : parse_requires_dist(text);
}

}  // namespace gpuenv::core::env
