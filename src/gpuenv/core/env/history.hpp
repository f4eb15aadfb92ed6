#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/util/diagnostic.hpp>

namespace gpuenv::core::env {

/// Holds one `==> date <==` block of conda-meta/history.
struct HistoryRevision {
    std::string date;                       ///< as written between the arrows
    std::string command;                    ///< the `# cmd:` line's value
    std::string tool;                       ///< "conda 25.1.2" from `# conda version: ...`
    std::vector<std::string> linked;        ///< `+channel/subdir::name-version-build` lines
    std::vector<std::string> unlinked;      ///< `-...` lines
    std::vector<std::string> update_specs;  ///< update/install/create specs
    std::vector<std::string> remove_specs;  ///< remove/uninstall specs
    std::vector<std::string> neutered_specs;
    int line = 0;  ///< line of the header
};

/// Holds the parsed history of an environment.
struct History {
    std::vector<HistoryRevision> revisions;
    gpuenv::Diagnostics warnings;  ///< spec lists that could not be parsed (line given)
};

/// Parses conda-meta/history as conda's History.parse does, accepting conda's single-quoted
/// Python list repr, micromamba's double-quoted lists and the old comma-separated form.
[[nodiscard]] History parse_history(std::string_view text, const std::filesystem::path& path);

/// Reads a prefix's conda-meta/history (an empty History when the file is absent).
[[nodiscard]] History read_history(const std::filesystem::path& prefix);

/// Replays the revisions as conda's get_requested_specs_map does: update specs add or
/// replace the spec for their name, remove specs drop it. Returns package name -> spec.
[[nodiscard]] std::map<std::string, std::string> requested_specs_map(const History& history);

}  // namespace gpuenv::core::env
