#include <gpuenv/core/env/record_json.hpp>

#include <gpuenv/util/error.hpp>

namespace gpuenv::core::env::record_json {

std::string error_prefix(const std::filesystem::path& path) {
    return "cannot read conda record " + path.string() + ": ";
}

void throw_syntax_error(const std::filesystem::path& path, std::string_view text,
                        const util::json::SyntaxError& error) {
    throw Error(ExitCode::not_found, error_prefix(path) + util::json::describe(text, error));
}

void throw_not_an_object(const std::filesystem::path& path, util::json::Cursor& cursor,
                         util::json::Type type) {
    cursor.skip();
    cursor.finish();
    throw Error(ExitCode::not_found, error_prefix(path) +
                                         "expected a JSON object at the top level, found " +
                                         std::string(util::json::type_name(type)));
}

}  // namespace gpuenv::core::env::record_json
