// Fuzzes gpuenv's JSON cursor against nlohmann::json as the oracle: both must agree on what
// is JSON, and for what is, util::json::parse_value (the cursor building nlohmann's tree) must
// give what nlohmann's own parser gives. Known differences, not compared: a number past
// double's range (1e999) is JSON to the cursor's grammar and an error to both parsers; nesting
// past parse_value's limit; and nlohmann takes a NUL byte between tokens for the end of the
// text, so texts with one are only run.
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <gpuenv/util/json_value.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace json = gpuenv::util::json;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    bool skipped_ok = true;
    try {
        json::Cursor c(text);
        c.skip();
        c.finish();
    } catch (const json::SyntaxError& e) {
        skipped_ok = false;
        if (e.offset() > text.size())
            __builtin_trap();  // an error must point inside the text or at its end
    }
    nlohmann::json built;
    bool built_ok = true;
    bool limit = false;  // out of range, or too deep: refused by parse_value alone
    try {
        built = json::parse_value(text);
    } catch (const json::SyntaxError& e) {
        built_ok = false;
        const std::string_view what = e.what();
        limit = what.starts_with("number out of range") || what.starts_with("nesting deeper");
    }
    if (built_ok != skipped_ok && !limit)
        __builtin_trap();  // skipping and reading disagree on whether this is JSON
    if (text.find('\0') != std::string_view::npos)
        return 0;
    nlohmann::json oracle;
    bool oracle_ok = true;
    bool oracle_range = false;
    try {
        oracle = nlohmann::json::parse(text);
    } catch (const nlohmann::json::out_of_range&) {
        oracle_ok = false;
        oracle_range = true;
    } catch (const nlohmann::json::exception&) {
        oracle_ok = false;
    }
    if (skipped_ok != oracle_ok && !(skipped_ok && oracle_range))
        __builtin_trap();  // the cursor and nlohmann disagree on whether this is JSON
    if (built_ok && oracle_ok && built != oracle)
        __builtin_trap();  // the cursor read other values than nlohmann
    return 0;
}
