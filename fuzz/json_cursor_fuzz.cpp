// Fuzzes gpuenv's JSON cursor against nlohmann::json as the oracle: both must agree on what
// is JSON, and for what is, the values the cursor reads must equal nlohmann's. The one known
// differences: a number past double's range (1e999) is JSON to the cursor, not to nlohmann;
// and nlohmann takes a NUL byte between tokens for the end of the text, so texts with one are
// only run, not compared.
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <gpuenv/util/json_cursor.hpp>

namespace {

using gpuenv::util::json::Cursor;
using gpuenv::util::json::Type;

// Bounded so that nesting nlohmann accepts does not overflow this recursion; deeper values are
// skipped (and still checked) instead.
nlohmann::json build(Cursor& c, int depth) {
    if (depth > 64) {
        c.skip();
        return "deep";
    }
    switch (c.peek()) {
        case Type::object: {
            nlohmann::json out = nlohmann::json::object();
            c.enter_object();
            for (std::string_view key; c.next_field(key);) {
                const std::string name(key);
                out[name] = build(c, depth + 1);  // the last duplicate wins, as in nlohmann
            }
            return out;
        }
        case Type::array: {
            nlohmann::json out = nlohmann::json::array();
            c.enter_array();
            while (c.next_element())
                out.push_back(build(c, depth + 1));
            return out;
        }
        case Type::string:
            return std::string(c.read_string());
        case Type::number: {
            const std::string_view literal = c.read_number();
            if (const auto integer = gpuenv::util::json::to_int64(literal))
                return *integer;
            if (const auto real = gpuenv::util::json::to_double(literal))
                return *real;
            return "out of range";
        }
        case Type::boolean:
            return c.read_bool();
        case Type::null:
            c.read_null();
            return nullptr;
    }
    return {};
}

bool deep_or_huge(const nlohmann::json& value, int depth) {
    if (depth > 64 || value == "deep" || value == "out of range")
        return true;
    if (value.is_structured()) {
        for (const auto& item : value)
            if (deep_or_huge(item, depth + 1))
                return true;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    bool skipped_ok = true;
    try {
        Cursor c(text);
        c.skip();
        c.finish();
    } catch (const gpuenv::util::json::SyntaxError& e) {
        skipped_ok = false;
        if (e.offset() > text.size())
            __builtin_trap();  // an error must point inside the text or at its end
    }
    nlohmann::json oracle;
    bool oracle_ok = true;
    bool out_of_range = false;
    try {
        oracle = nlohmann::json::parse(text);
    } catch (const nlohmann::json::out_of_range&) {
        oracle_ok = false;
        out_of_range = true;  // 1e999: JSON by the grammar, refused by nlohmann
    } catch (const nlohmann::json::exception&) {
        oracle_ok = false;
    }
    if (text.find('\0') != std::string_view::npos)
        return 0;
    if (skipped_ok != oracle_ok && !(skipped_ok && out_of_range))
        __builtin_trap();  // the cursor and nlohmann disagree on whether this is JSON
    if (!skipped_ok)
        return 0;
    Cursor c(text);
    const nlohmann::json built = build(c, 0);
    c.finish();
    if (oracle_ok && !deep_or_huge(built, 0) && built != oracle)
        __builtin_trap();  // the cursor read other values than nlohmann
    return 0;
}
