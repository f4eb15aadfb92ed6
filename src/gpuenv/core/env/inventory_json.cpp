#include <gpuenv/core/env/inventory_json.hpp>

namespace gpuenv::core::env {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

std::string relative_to(const fs::path& path, const fs::path& prefix) {
    const auto rel = path.lexically_relative(prefix);
    if (rel.empty() || *rel.begin() == "..")
        return path.generic_string();
    return rel.generic_string();
}

Json peer_json(const ShadowPeer& peer) {
    Json j;
    j["name"] = peer.name;
    j["version"] = peer.version;
    if (!peer.build.empty())
        j["build"] = peer.build;
    if (!peer.channel.empty())
        j["channel"] = peer.channel;
    j["installer"] = peer.installer;
    return j;
}

Json direct_url_json(const DirectUrl& u) {
    Json j;
    j["url"] = u.url;
    j["kind"] = u.kind == DirectUrl::Kind::dir   ? "dir"
                : u.kind == DirectUrl::Kind::vcs ? "vcs"
                                                 : "archive";
    j["editable"] = u.editable;
    if (!u.vcs.empty())
        j["vcs"] = u.vcs;
    if (!u.commit_id.empty())
        j["commit_id"] = u.commit_id;
    if (!u.requested_revision.empty())
        j["requested_revision"] = u.requested_revision;
    if (!u.archive_hash.empty())
        j["archive_hash"] = u.archive_hash;
    if (!u.subdirectory.empty())
        j["subdirectory"] = u.subdirectory;
    return j;
}

Json dist_json(const PythonDist& d, const Prefix& prefix) {
    Json j;
    j["name"] = d.name;
    j["normalized_name"] = d.normalized_name;
    j["version"] = d.version;
    j["format"] = to_string(d.format);
    j["metadata"] = relative_to(d.metadata_path, prefix.path);
    j["installer"] = d.installer;
    j["requested"] = d.requested;
    if (d.direct_url)
        j["direct_url"] = direct_url_json(*d.direct_url);
    return j;
}

Json record_json(const CondaRecord& r, const Prefix& prefix) {
    Json j;
    j["record"] = relative_to(r.record_path, prefix.path);
    j["build_number"] = r.build_number;
    j["channel_url"] = r.channel;
    j["subdir"] = r.subdir;
    j["fn"] = r.fn;
    j["url"] = r.url;
    j["md5"] = r.md5;
    j["sha256"] = r.sha256;
    j["size"] = r.size;
    j["timestamp"] = r.timestamp;
    j["noarch"] = r.noarch;
    j["depends"] = r.depends;
    j["constrains"] = r.constrains;
    j["requested_specs"] = r.requested_specs;
    j["file_count"] = r.file_count;
    return j;
}

}  // namespace

Json to_json(const Package& p, const Prefix& prefix) {
    Json j;
    j["name"] = p.name;
    j["version"] = p.version;
    j["build"] = p.build;
    j["channel"] = p.channel;
    j["kind"] = to_string(p.kind);
    j["installer"] = p.installer;
    j["requested"] = p.requested;
    if (p.record)
        j["conda"] = record_json(*p.record, prefix);
    if (p.dist)
        j["python"] = dist_json(*p.dist, prefix);
    if (p.shadows)
        j["shadows"] = peer_json(*p.shadows);
    if (p.shadowed_by)
        j["shadowed_by"] = peer_json(*p.shadowed_by);
    return j;
}

Json to_json(const gpuenv::Diagnostics& warnings) {
    Json out = Json::array();
    for (const auto& w : warnings) {
        Json j;
        j["path"] = w.path;
        if (w.line > 0)
            j["line"] = w.line;
        if (w.column > 0)
            j["column"] = w.column;
        j["message"] = w.message;
        out.push_back(std::move(j));
    }
    return out;
}

Json to_json(const Inventory& inventory) {
    Json j;
    j["schema"] = k_list_schema;
    j["prefix"] = inventory.prefix.path.string();
    j["kind"] = to_string(inventory.prefix.kind);
    j["python_version"] = inventory.prefix.python_version;
    Json site_packages = Json::array();
    for (const auto& sp : inventory.prefix.site_packages)
        site_packages.push_back(relative_to(sp, inventory.prefix.path));
    j["site_packages"] = std::move(site_packages);
    j["counts"] = {{"total", inventory.packages.size()},
                   {"conda", inventory.conda_count()},
                   {"pypi", inventory.pypi_count()}};
    Json packages = Json::array();
    for (const auto& p : inventory.packages)
        packages.push_back(to_json(p, inventory.prefix));
    j["packages"] = std::move(packages);
    j["warnings"] = to_json(inventory.warnings);
    return j;
}

}  // namespace gpuenv::core::env
