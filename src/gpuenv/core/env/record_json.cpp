#include <gpuenv/core/env/record_json.hpp>

#include <cctype>

#include <nlohmann/json.hpp>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::env::record_json {

namespace od = simdjson::ondemand;

std::string error_prefix(const std::filesystem::path& path) {
    return "cannot read conda record " + path.string() + ": ";
}

std::string_view type_name(od::json_type type) {
    switch (type) {
        case od::json_type::array:
            return "an array";
        case od::json_type::object:
            return "an object";
        case od::json_type::number:
            return "a number";
        case od::json_type::string:
            return "a string";
        case od::json_type::boolean:
            return "a boolean";
        case od::json_type::null:
            return "null";
    }
    return "a value";
}

bool is_json_number(std::string_view text) {
    std::size_t i = 0;
    const auto digits = [&] {
        const std::size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9')
            ++i;
        return i > start;
    };
    if (i < text.size() && text[i] == '-')
        ++i;
    if (i < text.size() && text[i] == '0') {
        ++i;
    } else if (!digits()) {
        return false;
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        if (!digits())
            return false;
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-'))
            ++i;
        if (!digits())
            return false;
    }
    return i == text.size();
}

simdjson::error_code check_null(od::value value) {
    bool null = false;
    if (auto err = value.is_null().get(null))
        return err;
    return null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
}

void throw_syntax_error(const std::filesystem::path& path, std::string_view text,
                        simdjson::error_code code) {
    try {
        [[maybe_unused]] const auto ignored = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        // e.byte counts the characters read, so the offending one is at e.byte - 1.
        const auto where = util::line_column(text, e.byte > 0 ? e.byte - 1 : 0);
        std::string_view reason = e.what();
        if (const auto column = reason.find(", column "); column != std::string_view::npos) {
            if (const auto colon = reason.find(": ", column); colon != std::string_view::npos)
                reason.remove_prefix(colon + 2);
        }
        throw Error(ExitCode::not_found, error_prefix(path) + "line " + std::to_string(where.line) +
                                             ", column " + std::to_string(where.column) + ": " +
                                             std::string(reason));
    } catch (const nlohmann::json::exception&) {
        // Not a syntax error nlohmann sees (a number past double's range): simdjson's word stands.
    }
    std::string reason = simdjson::error_message(code);
    // Match gpuenv's messages: lowercase, no trailing period.
    if (!reason.empty())
        reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));
    if (!reason.empty() && reason.back() == '.')
        reason.pop_back();
    throw Error(ExitCode::not_found, error_prefix(path) + reason);
}

}  // namespace gpuenv::core::env::record_json
