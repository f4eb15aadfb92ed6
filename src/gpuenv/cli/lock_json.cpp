#include <gpuenv/cli/lock_json.hpp>

namespace gpuenv::cli {

nlohmann::ordered_json to_json(const core::lock::LockedPackage& p) {
    nlohmann::ordered_json j;
    j["name"] = p.name;
    j["manager"] = core::lock::to_string(p.manager);
    j["version"] = p.version;
    if (p.manager == core::lock::Manager::conda) {
        j["build"] = p.build;
        j["channel"] = p.channel;
        if (!p.sha256.empty())
            j["sha256"] = p.sha256;
    }
    j["installer"] = p.installer;
    if (!p.record_sha256.empty())
        j["record_sha256"] = p.record_sha256;
    return j;
}

nlohmann::ordered_json to_json(const core::verify::Finding& f, const char* check) {
    nlohmann::ordered_json j;
    j["check"] = check;
    j["kind"] = core::verify::to_string(f.kind);
    j["package"] = f.package;
    j["expected"] = f.expected;
    j["found"] = f.found;
    if (!f.path.empty())
        j["path"] = f.path;
    if (!f.detail.empty())
        j["detail"] = f.detail;
    return j;
}

std::string describe(const core::lock::LockedPackage& p) {
    if (p.manager == core::lock::Manager::conda) {
        std::string s = p.version;
        if (!p.build.empty())
            s += " " + p.build;
        if (!p.channel.empty())
            s += " (" + p.channel + ")";
        return s;
    }
    return p.installer.empty() ? p.version : p.version + " (" + p.installer + ")";
}

}  // namespace gpuenv::cli
