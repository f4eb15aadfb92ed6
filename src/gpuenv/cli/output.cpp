#include <gpuenv/cli/output.hpp>

#include <cstdio>

#include <fmt/core.h>

#include <gpuenv/util/atomic_write.hpp>

namespace gpuenv::cli {

void print_warnings(const gpuenv::Diagnostics& warnings) {
    for (const auto& w : warnings)
        fmt::print(stderr, "gpuenv: warning: {}\n", w.to_string());
}

void print_json(const nlohmann::ordered_json& document) {
    // Invalid UTF-8 in metadata is replaced rather than aborting the whole listing.
    print_text(document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
    print_text("\n");
}

void print_text(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace gpuenv::cli

namespace gpuenv::cli {

void write_result(const std::string& target, std::string_view text) {
    if (target == "-") {
        print_text(text);
        return;
    }
    util::write_file_atomic(target, text);
}

}  // namespace gpuenv::cli
