// A saved `gpuenv list --json` (docs/json-schema.md, gpuenv.list/1) read back as a lock:
// what an environment held when it was listed. Fields the document may gain within major 1
// are ignored; a field of the wrong type is an error naming its place in the document.
#include <gpuenv/core/lock/format_parts.hpp>

#include <nlohmann/json.hpp>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::lock::detail {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using env::DirectUrl;

constexpr std::string_view k_schema_prefix = "gpuenv.list/";

class DocReader {
  public:
    explicit DocReader(const fs::path& path) : m_path(path) {}

    [[noreturn]] void fail(const std::string& where, std::string_view message) const {
        fail_at(m_path, 0, 0, where + ": " + std::string(message));
    }

    // Returns the member or nullptr when absent or null.
    const Json* member(const Json& object, const char* key) const {
        const auto it = object.find(key);
        return it == object.end() || it->is_null() ? nullptr : &*it;
    }

    std::string string(const Json& object, const char* key, const std::string& where) const {
        const Json* value = member(object, key);
        if (value == nullptr)
            return {};
        if (!value->is_string())
            fail(where + "." + key, "expected a string");
        return value->get<std::string>();
    }

    std::int64_t integer(const Json& object, const char* key, const std::string& where) const {
        const Json* value = member(object, key);
        if (value == nullptr)
            return 0;
        if (value->is_number_integer())
            return value->get<std::int64_t>();
        fail(where + "." + key, "expected an integer");
    }

    bool boolean(const Json& object, const char* key, const std::string& where) const {
        const Json* value = member(object, key);
        if (value == nullptr)
            return false;
        if (!value->is_boolean())
            fail(where + "." + key, "expected true or false");
        return value->get<bool>();
    }

    std::vector<std::string> strings(const Json& object, const char* key,
                                     const std::string& where) const {
        std::vector<std::string> out;
        const Json* value = member(object, key);
        if (value == nullptr)
            return out;
        if (!value->is_array())
            fail(where + "." + key, "expected a list of strings");
        for (const auto& item : *value) {
            if (!item.is_string())
                fail(where + "." + key, "expected a list of strings");
            out.push_back(item.get<std::string>());
        }
        return out;
    }

    const Json* object(const Json& parent, const char* key, const std::string& where) const {
        const Json* value = member(parent, key);
        if (value != nullptr && !value->is_object())
            fail(where + "." + key, "expected an object");
        return value;
    }

  private:
    const fs::path& m_path;
};

DirectUrl read_direct_url(const DocReader& doc, const Json& j, const std::string& where) {
    DirectUrl u;
    u.url = doc.string(j, "url", where);
    const std::string kind = doc.string(j, "kind", where);
    if (kind == "dir") {
        u.kind = DirectUrl::Kind::dir;
    } else if (kind == "vcs") {
        u.kind = DirectUrl::Kind::vcs;
    } else if (kind == "archive" || kind.empty()) {
        u.kind = DirectUrl::Kind::archive;
    } else {
        doc.fail(where + ".kind", "expected dir, vcs or archive, not '" + kind + "'");
    }
    u.editable = doc.boolean(j, "editable", where);
    u.vcs = doc.string(j, "vcs", where);
    u.commit_id = doc.string(j, "commit_id", where);
    u.requested_revision = doc.string(j, "requested_revision", where);
    u.archive_hash = doc.string(j, "archive_hash", where);
    u.subdirectory = doc.string(j, "subdirectory", where);
    return u;
}

LockedPackage read_package(const DocReader& doc, const Json& j, const std::string& where) {
    if (!j.is_object())
        doc.fail(where, "expected an object");
    LockedPackage p;
    p.name = doc.string(j, "name", where);
    p.version = doc.string(j, "version", where);
    if (p.name.empty())
        doc.fail(where + ".name", "a package needs a name");
    p.installer = doc.string(j, "installer", where);
    p.requested = doc.boolean(j, "requested", where);
    const std::string kind = doc.string(j, "kind", where);
    const Json* python = doc.object(j, "python", where);
    if (kind == "conda") {
        p.manager = Manager::conda;
        p.key = spec::normalize_pypi_name(p.name);
        p.build = doc.string(j, "build", where);
        p.channel = doc.string(j, "channel", where);
        if (const Json* c = doc.object(j, "conda", where)) {
            const std::string in = where + ".conda";
            p.build_number = doc.integer(*c, "build_number", in);
            p.subdir = doc.string(*c, "subdir", in);
            p.url = doc.string(*c, "url", in);
            p.md5 = doc.string(*c, "md5", in);
            p.sha256 = doc.string(*c, "sha256", in);
            p.size = doc.integer(*c, "size", in);
            p.depends = doc.strings(*c, "depends", in);
        }
        if (python != nullptr) {
            const std::string in = where + ".python";
            p.python_name = doc.string(*python, "normalized_name", in);
            if (p.python_name.empty())
                p.python_name = spec::normalize_pypi_name(doc.string(*python, "name", in));
            p.python_version = doc.string(*python, "version", in);
        }
        return p;
    }
    if (kind != "pypi")
        doc.fail(where + ".kind", "expected conda or pypi, not '" + kind + "'");
    p.manager = Manager::pypi;
    p.key = spec::normalize_pypi_name(p.name);
    if (python != nullptr) {
        const std::string in = where + ".python";
        if (const Json* u = doc.object(*python, "direct_url", in)) {
            p.direct_url = read_direct_url(doc, *u, in + ".direct_url");
            if (p.direct_url->archive_hash.starts_with("sha256="))
                p.pypi_sha256 = p.direct_url->archive_hash.substr(7);
        }
    }
    return p;
}

// Returns nlohmann's reason without its "[json.exception...] parse error at ..." prefix.
std::string parse_error_reason(const Json::exception& error) {
    const std::string_view what = error.what();
    const std::size_t colon = what.find(": ");
    return std::string(colon == std::string_view::npos ? what : what.substr(colon + 2));
}

}  // namespace

LockedEnv parse_list_json_lock(std::string_view text, const fs::path& path) {
    check_size(text, path);
    Json root;
    try {
        root = Json::parse(text);
    } catch (const Json::parse_error& error) {
        const auto at = util::line_column(text, error.byte > 0 ? error.byte - 1 : 0);
        fail_at(path, at.line, at.column, "invalid JSON: " + parse_error_reason(error));
    } catch (const Json::exception& error) {
        // A number out of range (1e999) is not a parse_error and carries no position.
        fail_at(path, 0, 0, "invalid JSON: " + parse_error_reason(error));
    }
    const DocReader doc(path);
    if (!root.is_object())
        fail_at(path, 0, 0, "expected a `gpuenv list --json` document (a JSON object)");
    const std::string schema = doc.string(root, "schema", "document");
    if (!schema.starts_with(k_schema_prefix)) {
        fail_at(
            path, 0, 0,
            "not a `gpuenv list --json` document: schema '" + schema + "' is not gpuenv.list/1");
    }
    const std::string version = schema.substr(k_schema_prefix.size());
    if (version.substr(0, version.find('.')) != "1") {
        fail_at(path, 0, 0,
                "unsupported schema '" + schema + "' (this gpuenv reads gpuenv.list/1)");
    }
    LockedEnv env;
    env.fields.env_vars = false;
    if (const Json* packages = doc.member(root, "packages")) {
        if (!packages->is_array())
            doc.fail("packages", "expected a list");
        for (std::size_t i = 0; i < packages->size(); ++i) {
            env.packages.push_back(
                read_package(doc, (*packages)[i], "packages[" + std::to_string(i) + "]"));
        }
    }
    if (const Json* warnings = doc.member(root, "warnings"); warnings && warnings->is_array()) {
        // The listing's own problems: records and distributions it could not read.
        for (std::size_t i = 0; i < warnings->size(); ++i) {
            const Json& w = (*warnings)[i];
            if (!w.is_object())
                continue;
            const std::string where = "warnings[" + std::to_string(i) + "]";
            env.warnings.push_back({doc.string(w, "path", where),
                                    static_cast<int>(doc.integer(w, "line", where)),
                                    static_cast<int>(doc.integer(w, "column", where)),
                                    doc.string(w, "message", where)});
        }
    }
    env.platform = platform_of(env.packages);
    env.channels = channels_by_use(env.packages);
    return env;
}

}  // namespace gpuenv::core::lock::detail
