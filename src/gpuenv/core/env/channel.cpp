#include <gpuenv/core/env/channel.hpp>

#include <algorithm>
#include <array>
#include <string_view>

#include <gpuenv/util/text.hpp>

namespace gpuenv::core::env {

namespace {

// Returns whether a path segment names a platform subdir: noarch or <os>-<arch>.
bool is_subdir_like(std::string_view segment) {
    if (segment == "noarch")
        return true;
    const auto dash = segment.find('-');
    if (dash == std::string_view::npos)
        return false;
    constexpr std::array<std::string_view, 7> k_oses{"linux", "osx", "win",    "emscripten",
                                                     "wasi",  "zos", "freebsd"};
    const auto os = segment.substr(0, dash);
    const auto arch = segment.substr(dash + 1);
    return std::find(k_oses.begin(), k_oses.end(), os) != k_oses.end() && !arch.empty() &&
           std::all_of(arch.begin(), arch.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
           });
}

// Drops the trailing slashes and a trailing subdir segment, never the "//" of a scheme.
void strip_subdir(std::string& channel, std::string_view subdir) {
    while (!channel.empty() && channel.back() == '/')
        channel.pop_back();
    const auto slash = channel.rfind('/');
    if (slash == std::string::npos || slash == 0 || channel[slash - 1] == '/')
        return;
    const std::string_view segment = std::string_view(channel).substr(slash + 1);
    if ((!subdir.empty() && segment == subdir) || is_subdir_like(segment))
        channel.resize(slash);
}

// Removes credentials ("user:password@") and a "/t/<token>" segment pair from a URL.
void strip_secrets(std::string& url, std::size_t authority_start) {
    const auto path_start = url.find('/', authority_start);
    const auto at = url.rfind('@', path_start == std::string::npos ? url.size() : path_start);
    if (at != std::string::npos && at >= authority_start) {
        url.erase(authority_start, at + 1 - authority_start);
    }
    const auto path = url.find('/', authority_start);
    if (path == std::string::npos)
        return;
    const auto token = url.find("/t/", path);
    if (token == std::string::npos)
        return;
    const auto token_end = url.find('/', token + 3);
    url.erase(token, token_end == std::string::npos ? std::string::npos : token_end - token);
}

}  // namespace

std::string channel_display_name(const CondaRecord& record) {
    std::string channel = record.channel;
    if (channel.empty()) {
        // Only the download URL is known: its directory is <channel>/<subdir>.
        const auto slash = record.url.rfind('/');
        if (slash == std::string::npos)
            return {};
        channel = record.url.substr(0, slash);
    }
    strip_subdir(channel, record.subdir);
    const auto scheme_end = channel.find("://");
    if (scheme_end == std::string::npos)
        return channel;
    const std::size_t authority = scheme_end + 3;
    strip_secrets(channel, authority);
    const std::string scheme = util::to_lower(std::string_view(channel).substr(0, scheme_end));
    if (scheme != "https" && scheme != "http")
        return channel;
    const auto path_start = channel.find('/', authority);
    if (path_start == std::string::npos || path_start + 1 >= channel.size())
        return channel;
    const std::string host =
        util::to_lower(std::string_view(channel).substr(authority, path_start - authority));
    const std::string path = channel.substr(path_start + 1);
    if (host == "conda.anaconda.org")
        return path;
    if ((host == "repo.anaconda.com" || host == "repo.continuum.io") && path.starts_with("pkgs/")) {
        return path;
    }
    return channel;
}

}  // namespace gpuenv::core::env
