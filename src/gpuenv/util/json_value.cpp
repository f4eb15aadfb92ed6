#include <gpuenv/util/json_value.hpp>

#include <charconv>
#include <cstdint>
#include <string>
#include <system_error>

namespace gpuenv::util::json {
namespace {

std::optional<std::uint64_t> to_uint64(std::string_view literal) {
    std::uint64_t value = 0;
    const char* last = literal.data() + literal.size();
    const auto [end, ec] = std::from_chars(literal.data(), last, value);
    if (ec != std::errc() || end != last)
        return std::nullopt;
    return value;
}

template <typename Json>
Json number(Cursor& c) {
    const std::size_t at = c.offset();
    const std::string_view literal = c.read_number();
    if (!literal.starts_with('-')) {
        if (const auto value = to_uint64(literal))
            return *value;
    } else if (const auto value = to_int64(literal)) {
        return *value;
    }
    if (const auto value = to_double(literal))
        return *value;
    throw SyntaxError(at, "number out of range '" + std::string(literal) + "'");
}

template <typename Json>
Json value(Cursor& c, int depth) {
    const Type type = c.peek();
    if ((type == Type::object || type == Type::array) && depth >= k_max_depth) {
        throw SyntaxError(c.offset(),
                          "nesting deeper than " + std::to_string(k_max_depth) + " levels");
    }
    switch (type) {
        case Type::object: {
            Json out = Json::object();
            c.enter_object();
            for (std::string_view key; c.next_field(key);)
                out[std::string(key)] = value<Json>(c, depth + 1);
            return out;
        }
        case Type::array: {
            Json out = Json::array();
            c.enter_array();
            while (c.next_element())
                out.push_back(value<Json>(c, depth + 1));
            return out;
        }
        case Type::string:
            return std::string(c.read_string());
        case Type::number:
            return number<Json>(c);
        case Type::boolean:
            return c.read_bool();
        case Type::null:
            c.read_null();
            return nullptr;
    }
    return nullptr;
}

template <typename Json>
Json parse(std::string_view text) {
    Cursor c(text);
    Json out = value<Json>(c, 0);
    c.finish();
    return out;
}

}  // namespace

nlohmann::json parse_value(std::string_view text) {
    return parse<nlohmann::json>(text);
}

nlohmann::ordered_json parse_ordered_value(std::string_view text) {
    return parse<nlohmann::ordered_json>(text);
}

}  // namespace gpuenv::util::json
