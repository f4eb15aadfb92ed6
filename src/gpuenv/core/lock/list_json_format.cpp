// A saved `gpuenv list --json` (docs/json-schema.md, gpuenv.list/1) read back as a lock:
// what an environment held when it was listed. Fields the document may gain within major 1
// are ignored; a field of the wrong type is an error naming its place in the document.
#include <gpuenv/core/lock/format_parts.hpp>

#include <optional>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::lock::detail {
namespace {

namespace fs = std::filesystem;
using Element = simdjson::dom::element;
using env::DirectUrl;

constexpr std::string_view k_schema_prefix = "gpuenv.list/";

// Reads members of simdjson DOM elements, failing with the place in the document when a
// member has the wrong type. Absent and null members read as empty.
class DocReader {
  public:
    explicit DocReader(const fs::path& path) : m_path(path) {}

    [[noreturn]] void fail(const std::string& where, std::string_view message) const {
        fail_at(m_path, 0, 0, where + ": " + std::string(message));
    }

    // Returns the member, or nothing when absent or null.
    static std::optional<Element> member(Element object, const char* key) {
        Element value;
        if (object.at_key(key).get(value) != simdjson::SUCCESS || value.is_null())
            return std::nullopt;
        return value;
    }

    std::string string(Element object, const char* key, const std::string& where) const {
        const auto value = member(object, key);
        if (!value)
            return {};
        std::string_view text;
        if (value->get_string().get(text) != simdjson::SUCCESS)
            fail(where + "." + key, "expected a string");
        return std::string(text);
    }

    std::int64_t integer(Element object, const char* key, const std::string& where) const {
        const auto value = member(object, key);
        if (!value)
            return 0;
        std::int64_t number = 0;
        if (value->get_int64().get(number) == simdjson::SUCCESS)
            return number;
        if (std::uint64_t big = 0; value->get_uint64().get(big) == simdjson::SUCCESS)
            fail(where + "." + key, "integer out of range: " + std::to_string(big));
        fail(where + "." + key, "expected an integer");
    }

    bool boolean(Element object, const char* key, const std::string& where) const {
        const auto value = member(object, key);
        if (!value)
            return false;
        bool flag = false;
        if (value->get_bool().get(flag) != simdjson::SUCCESS)
            fail(where + "." + key, "expected true or false");
        return flag;
    }

    std::vector<std::string> strings(Element object, const char* key,
                                     const std::string& where) const {
        std::vector<std::string> out;
        const auto value = member(object, key);
        if (!value)
            return out;
        simdjson::dom::array items;
        if (value->get_array().get(items) != simdjson::SUCCESS)
            fail(where + "." + key, "expected a list of strings");
        out.reserve(items.size());
        for (const Element item : items) {
            std::string_view text;
            if (item.get_string().get(text) != simdjson::SUCCESS)
                fail(where + "." + key, "expected a list of strings");
            out.emplace_back(text);
        }
        return out;
    }

    std::optional<Element> object(Element parent, const char* key, const std::string& where) const {
        const auto value = member(parent, key);
        if (value && !value->is_object())
            fail(where + "." + key, "expected an object");
        return value;
    }

  private:
    const fs::path& m_path;
};

DirectUrl read_direct_url(const DocReader& doc, Element j, const std::string& where) {
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

LockedPackage read_package(const DocReader& doc, Element j, const std::string& where) {
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
    const auto python = doc.object(j, "python", where);
    if (kind == "conda") {
        p.manager = Manager::conda;
        p.key = spec::normalize_pypi_name(p.name);
        p.build = doc.string(j, "build", where);
        p.channel = doc.string(j, "channel", where);
        if (const auto c = doc.object(j, "conda", where)) {
            const std::string in = where + ".conda";
            p.build_number = doc.integer(*c, "build_number", in);
            p.subdir = doc.string(*c, "subdir", in);
            p.url = doc.string(*c, "url", in);
            p.md5 = doc.string(*c, "md5", in);
            p.sha256 = doc.string(*c, "sha256", in);
            p.size = doc.integer(*c, "size", in);
            p.depends = doc.strings(*c, "depends", in);
        }
        if (python) {
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
    if (python) {
        const std::string in = where + ".python";
        if (const auto u = doc.object(*python, "direct_url", in)) {
            p.direct_url = read_direct_url(doc, *u, in + ".direct_url");
            if (p.direct_url->archive_hash.starts_with("sha256="))
                p.pypi_sha256 = p.direct_url->archive_hash.substr(7);
        }
    }
    return p;
}

// Returns nlohmann's reason without its "[json.exception...] " tag and, for a parse error,
// without the "parse error at line L, column C: " that the caller says its own way.
std::string parse_error_reason(const nlohmann::json::exception& error) {
    std::string_view what = error.what();
    if (const std::size_t tag = what.find("] ");
        what.starts_with("[json.exception.") && tag != std::string_view::npos)
        what.remove_prefix(tag + 2);
    if (const std::size_t colon = what.find(": ");
        what.starts_with("parse error") && colon != std::string_view::npos)
        what.remove_prefix(colon + 2);
    return std::string(what);
}

// Fails for a document simdjson rejected. simdjson gives no position, so nlohmann parses it
// again to name the line and column (only on this error path); where nlohmann accepts what
// simdjson refused (nesting past simdjson's depth limit), simdjson's reason stands.
[[noreturn]] void fail_invalid_json(std::string_view text, const fs::path& path,
                                    simdjson::error_code code) {
    try {
        [[maybe_unused]] const auto ignored = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& error) {
        const auto at = util::line_column(text, error.byte > 0 ? error.byte - 1 : 0);
        fail_at(path, at.line, at.column, "invalid JSON: " + parse_error_reason(error));
    } catch (const nlohmann::json::exception& error) {
        // A number out of range (1e999) is not a parse_error and carries no position.
        fail_at(path, 0, 0, "invalid JSON: " + parse_error_reason(error));
    }
    std::string reason = simdjson::error_message(code);
    if (!reason.empty() && reason.back() == '.')
        reason.pop_back();
    fail_at(path, 0, 0, "invalid JSON: " + reason);
}

}  // namespace

// simdjson's DOM parser rather than nlohmann's: `fleet check` reads one such document per node
// (361 KB for a 600-package environment), and nlohmann's parse was most of its time.
LockedEnv parse_list_json_lock(std::string_view text, const fs::path& path) {
    check_size(text, path);
    if (text.starts_with("\xEF\xBB\xBF"))
        text.remove_prefix(3);  // a UTF-8 byte order mark, which nlohmann skipped too
    // One parser per thread keeps its buffers from one node's document to the next.
    thread_local simdjson::dom::parser parser;
    Element root;
    if (const auto code = parser.parse(text.data(), text.size()).get(root))
        fail_invalid_json(text, path, code);
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
    if (const auto packages = DocReader::member(root, "packages")) {
        simdjson::dom::array items;
        if (packages->get_array().get(items) != simdjson::SUCCESS)
            doc.fail("packages", "expected a list");
        env.packages.reserve(items.size());
        std::size_t i = 0;
        for (const Element item : items)
            env.packages.push_back(
                read_package(doc, item, "packages[" + std::to_string(i++) + "]"));
    }
    simdjson::dom::array warnings;
    if (const auto value = DocReader::member(root, "warnings");
        value && value->get_array().get(warnings) == simdjson::SUCCESS) {
        // The listing's own problems: records and distributions it could not read.
        std::size_t i = 0;
        for (const Element w : warnings) {
            const std::string where = "warnings[" + std::to_string(i++) + "]";
            if (!w.is_object())
                continue;
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
