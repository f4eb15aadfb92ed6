#include <support/conda_prefix_builder.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <utility>

#include <gpuenv/util/file.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string digest_hex(std::string_view data, const EVP_MD* md) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &size, md, nullptr) != 1) {
        throw std::runtime_error("EVP_Digest failed");
    }
    constexpr std::string_view k_hex = "0123456789abcdef";
    std::string out;
    out.reserve(std::size_t{size} * 2);
    for (unsigned int i = 0; i < size; ++i) {
        out += k_hex[digest[i] >> 4];
        out += k_hex[digest[i] & 0x0f];
    }
    return out;
}

std::string build_of(const CondaPackageSpec& spec) {
    return spec.build.empty() ? "h0000000_" + std::to_string(spec.build_number) : spec.build;
}

std::string dist_name(const CondaPackageSpec& spec) {
    return spec.name + "-" + spec.version + "-" + build_of(spec);
}

// Returns the channel URL without subdir or trailing slash.
std::string channel_base(const CondaPackageSpec& spec) {
    std::string base = spec.channel.find("://") == std::string::npos
                           ? "https://conda.anaconda.org/" + spec.channel
                           : spec.channel;
    while (!base.empty() && base.back() == '/')
        base.pop_back();
    return base;
}

// Returns what a file of the package holds (or will hold once add_package writes it).
std::string content_of(const fs::path& prefix, const CondaPackageSpec& spec,
                       const std::string& file) {
    if (const auto it = spec.contents.find(file); it != spec.contents.end())
        return it->second;
    if (fs::is_regular_file(prefix / file))
        return util::read_file(prefix / file);
    return spec.name + " " + spec.version + ": " + file + "\n";
}

// conda keeps the package-relative source path in paths_data for noarch: python packages
// (reference/conda.md 1.3), while files[] has the real prefix path.
std::string conda_noarch_source_path(const std::string& file) {
    const auto site = file.find("site-packages/");
    if (site != std::string::npos && (file.starts_with("lib/") || file.starts_with("Lib/"))) {
        return file.substr(site);
    }
    for (const std::string_view scripts : {"bin/", "Scripts/"}) {
        if (file.starts_with(scripts))
            return "python-scripts/" + file.substr(scripts.size());
    }
    return file;
}

// conda-build's padded placeholder (255 characters in real records; shorter here).
constexpr std::string_view k_placeholder =
    "/home/builder/conda-bld/demo_1700000000/_h_env_placehold";

json path_entry(CondaWriter writer, const CondaPackageSpec& spec, const std::string& file,
                const std::string& content) {
    const bool noarch_python = spec.noarch == "python";
    if (writer == CondaWriter::conda && noarch_python && file.ends_with(".pyc")) {
        // conda compiles these after linking and records no hashes for them.
        return {{"_path", file}, {"path_type", "pyc_file"}};
    }
    const auto shipped = spec.shipped.find(file);
    const std::string& as_shipped = shipped != spec.shipped.end() ? shipped->second : content;
    const std::string shipped_sha = sha256_hex(as_shipped);
    json entry = {{"_path", file},
                  {"path_type", "hardlink"},
                  {"sha256", shipped_sha},
                  {"size_in_bytes", as_shipped.size()}};
    const std::string in_prefix = sha256_hex(content);
    const bool patched = shipped != spec.shipped.end();
    switch (writer) {
        case CondaWriter::conda:
            if (noarch_python)
                entry["_path"] = conda_noarch_source_path(file);
            entry["sha256_in_prefix"] = in_prefix;
            if (patched) {
                entry["prefix_placeholder"] = k_placeholder;
                entry["file_mode"] = "text";
            }
            break;
        case CondaWriter::micromamba:
            // micromamba always writes sha256_in_prefix and never the placeholder.
            entry["sha256_in_prefix"] = in_prefix;
            break;
        case CondaWriter::rattler:
            // rattler writes sha256_in_prefix only when it differs.
            if (in_prefix != shipped_sha)
                entry["sha256_in_prefix"] = in_prefix;
            if (patched) {
                entry["prefix_placeholder"] = k_placeholder;
                entry["file_mode"] = "text";
            }
            break;
    }
    return entry;
}

// Returns the content a symlink of the package points at, or nullopt when it dangles.
std::optional<std::string> link_target_content(const fs::path& prefix, const CondaPackageSpec& spec,
                                               const std::string& link, const std::string& text) {
    const fs::path target = (fs::path(link).parent_path() / text).lexically_normal();
    const std::string relative = target.generic_string();
    if (std::find(spec.files.begin(), spec.files.end(), relative) != spec.files.end())
        return content_of(prefix, spec, relative);
    if (fs::is_regular_file(prefix / target))
        return util::read_file(prefix / target);
    return std::nullopt;
}

// Records a softlink: conda writes the target content's sha256 and size only; micromamba also
// sha256_in_prefix of the content (of no bytes when dangling); rattler sha256_in_prefix of the
// link text.
json softlink_entry(CondaWriter writer, const fs::path& prefix, const CondaPackageSpec& spec,
                    const std::string& link, const std::string& text) {
    json entry = {{"_path", link}, {"path_type", "softlink"}};
    const auto content = link_target_content(prefix, spec, link, text);
    if (content) {
        entry["sha256"] = sha256_hex(*content);
        entry["size_in_bytes"] = content->size();
    }
    switch (writer) {
        case CondaWriter::conda:
            break;
        case CondaWriter::micromamba:
            entry["sha256_in_prefix"] = sha256_hex(content ? *content : std::string());
            break;
        case CondaWriter::rattler:
            entry["sha256_in_prefix"] = sha256_hex(text);
            break;
    }
    return entry;
}

// Adds the fields whose form depends on the writer.
void add_writer_fields(CondaWriter writer, const CondaPackageSpec& spec, json& record) {
    const std::string base = channel_base(spec);
    switch (writer) {
        case CondaWriter::conda:
            record["channel"] = base + "/" + spec.subdir;
            record["requested_spec"] = spec.requested ? spec.name : "None";
            record["features"] = "";
            record["track_features"] = "";
            if (!spec.noarch.empty())
                record["package_type"] = "noarch_" + spec.noarch;
            break;
        case CondaWriter::micromamba:
            record["channel"] = base + "/" + spec.subdir;
            record["requested_spec"] = spec.requested ? spec.name : "";
            record["build_string"] = build_of(spec);
            break;
        case CondaWriter::rattler:
            record["channel"] = base + "/";
            if (spec.requested)
                record["requested_specs"] = json::array({spec.name});
            break;
    }
}

}  // namespace

std::string sha256_hex(std::string_view data) {
    return digest_hex(data, EVP_sha256());
}

CondaPrefixBuilder::CondaPrefixBuilder(std::filesystem::path prefix, CondaWriter writer)
    : m_prefix(std::move(prefix)), m_writer(writer) {
    const fs::path history = m_prefix / "conda-meta" / "history";
    if (!fs::exists(history))
        write_file(history, "");
}

json CondaPrefixBuilder::record_json(const CondaPackageSpec& spec) const {
    const std::string build = build_of(spec);
    const std::string fn = dist_name(spec) + ".conda";
    const fs::path cache = m_prefix.parent_path() / "pkgs" / dist_name(spec);
    json paths = json::array();
    std::vector<std::string> files = spec.files;
    std::size_t size = 0;
    for (const auto& file : spec.files) {
        const std::string content = content_of(m_prefix, spec, file);
        size += content.size();
        paths.push_back(path_entry(m_writer, spec, file, content));
    }
    for (const auto& [link, text] : spec.symlinks) {
        paths.push_back(softlink_entry(m_writer, m_prefix, spec, link, text));
        files.push_back(link);
    }
    for (const auto& entry_point : spec.entry_points) {
        paths.push_back({{"_path", entry_point}, {"path_type", "unix_python_entry_point"}});
        files.push_back(entry_point);
    }
    for (const auto& directory : spec.directories) {
        paths.push_back({{"_path", directory}, {"path_type", "directory"}});
        files.push_back(directory);
    }
    json record = {
        {"name", spec.name},
        {"version", spec.version},
        {"build", build},
        {"build_number", spec.build_number},
        {"subdir", spec.subdir},
        {"fn", fn},
        {"url", channel_base(spec) + "/" + spec.subdir + "/" + fn},
        {"md5", digest_hex(fn, EVP_md5())},
        {"sha256", sha256_hex(fn)},
        {"size", size},
        {"timestamp", spec.timestamp},
        {"license", "BSD-3-Clause"},
        {"depends", spec.depends},
        {"constrains", spec.constrains},
        {"files", files},
        {"paths_data", {{"paths", std::move(paths)}, {"paths_version", 1}}},
        {"link", {{"source", cache.string()}, {"type", 1}}},
        {"extracted_package_dir", cache.string()},
        {"package_tarball_full_path", cache.string() + ".conda"},
    };
    if (!spec.noarch.empty())
        record["noarch"] = spec.noarch;
    if (!spec.python_site_packages_path.empty()) {
        record["python_site_packages_path"] = spec.python_site_packages_path;
    }
    add_writer_fields(m_writer, spec, record);
    record.merge_patch(spec.extra);
    return record;
}

std::filesystem::path CondaPrefixBuilder::add_package(const CondaPackageSpec& spec) {
    if (spec.create_files == CreateFiles::yes) {
        for (const auto& file : spec.files) {
            const auto it = spec.contents.find(file);
            if (it != spec.contents.end()) {
                write_file(m_prefix / file, it->second);
            } else if (!fs::exists(fs::symlink_status(m_prefix / file))) {
                write_file(m_prefix / file, content_of(m_prefix, spec, file));
            }
        }
        for (const auto& [link, text] : spec.symlinks) {
            const fs::path path = m_prefix / link;
            if (fs::exists(fs::symlink_status(path)))
                continue;
            fs::create_directories(path.parent_path());
            fs::create_symlink(text, path);
        }
        for (const auto& entry_point : spec.entry_points) {
            if (!fs::exists(fs::symlink_status(m_prefix / entry_point))) {
                write_file(m_prefix / entry_point, "#!" + (m_prefix / "bin/python").string() +
                                                       "\n# entry point of " + spec.name + "\n");
            }
        }
        for (const auto& directory : spec.directories)
            fs::create_directories(m_prefix / directory);
    }
    const fs::path record_path = m_prefix / "conda-meta" / (dist_name(spec) + ".json");
    write_file(record_path, record_json(spec).dump(2));
    return record_path;
}

void CondaPrefixBuilder::add_history_line(std::string_view line) {
    std::ofstream out(m_prefix / "conda-meta" / "history", std::ios::binary | std::ios::app);
    if (!out)
        throw std::runtime_error("cannot append to " + m_prefix.string());
    out << line << '\n';
}

}  // namespace gpuenv::test
