// A saved `gpuenv list --json` (docs/json-schema.md, gpuenv.list/1) read back as a lock:
// what an environment held when it was listed. Fields the document may gain within major 1
// are ignored; a field of the wrong type is an error naming its place in the document and the
// line and column of its value.
//
// Read with util::json::Cursor, forward only and with no tree built: `fleet check` reads one
// such document per node (361 KB for a 600-package environment). Each object's members are
// read in document order into locals, and what depends on several of them (a package's `kind`
// decides what its `python` and `conda` give) is decided once the object has been read. A key
// given twice: the last one wins, as in most JSON readers (the earlier value is read, then
// replaced).
#include <gpuenv/core/lock/format_parts.hpp>

#include <optional>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/json_cursor.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::lock::detail {
namespace {

namespace fs = std::filesystem;
namespace json = util::json;
using env::DirectUrl;

constexpr std::string_view k_schema_prefix = "gpuenv.list/";

// A value's place in the document as errors name it ("packages[3].conda.size"), made into a
// string only when an error names it.
struct Place {
    const Place* parent = nullptr;
    std::string_view key;  // a member's name; empty for an array element
    std::size_t index = 0;

    [[nodiscard]] Place member(std::string_view name) const { return {this, name, 0}; }
    [[nodiscard]] Place element(std::size_t i) const { return {this, {}, i}; }

    [[nodiscard]] std::string str() const {
        std::string out = parent ? parent->str() : std::string();
        if (key.empty())
            return out + "[" + std::to_string(index) + "]";
        if (!out.empty())
            out += '.';
        return out.append(key);
    }
};

// Reads the value the cursor is at, failing with its place, line and column when it has the
// wrong type. Null reads as empty, as an absent member does.
class DocReader {
  public:
    DocReader(std::string_view text, const fs::path& path)
        : m_text(text), m_cursor(text), m_path(path) {}

    [[nodiscard]] json::Cursor& cursor() { return m_cursor; }

    [[noreturn]] void fail(const Place& place, std::size_t offset, std::string_view message) const {
        const util::LineColumn at = util::line_column(m_text, offset);
        fail_at(m_path, at.line, at.column, place.str() + ": " + std::string(message));
    }

    // Fails at the value the cursor is at (after peek(), its first character).
    [[noreturn]] void fail_here(const Place& place, std::string_view message) const {
        fail(place, m_cursor.offset(), message);
    }

    // Returns the offset of the next value's first character.
    std::size_t value_offset() {
        (void)m_cursor.peek();
        return m_cursor.offset();
    }

    // Returns the next value's type; a null is consumed.
    json::Type peek() {
        const json::Type type = m_cursor.peek();
        if (type == json::Type::null)
            m_cursor.read_null();
        return type;
    }

    // The view lasts as long as the reader (it points into the text or the cursor's storage).
    std::string_view string(const Place& place) {
        const json::Type type = peek();
        if (type == json::Type::string)
            return m_cursor.read_string();
        if (type != json::Type::null)
            fail_here(place, "expected a string");
        return {};
    }

    std::int64_t integer(const Place& place) {
        const json::Type type = peek();
        if (type == json::Type::null)
            return 0;
        if (type != json::Type::number)
            fail_here(place, "expected an integer");
        const std::size_t at = m_cursor.offset();
        const std::string_view literal = m_cursor.read_number();
        if (const auto value = json::to_int64(literal))
            return *value;
        // An integer past int64 is named rather than wrapped; 3.5, 1e3 and 1e999 are no integer.
        if (literal.find_first_of(".eE") == std::string_view::npos)
            fail(place, at, "integer out of range: " + std::string(literal));
        fail(place, at, "expected an integer");
    }

    bool boolean(const Place& place) {
        const json::Type type = peek();
        if (type == json::Type::boolean)
            return m_cursor.read_bool();
        if (type != json::Type::null)
            fail_here(place, "expected true or false");
        return false;
    }

    void strings(const Place& place, std::vector<std::string>& out) {
        out.clear();
        const json::Type type = peek();
        if (type == json::Type::null)
            return;
        if (type != json::Type::array)
            fail_here(place, "expected a list of strings");
        m_cursor.enter_array();
        while (m_cursor.next_element()) {
            if (m_cursor.peek() != json::Type::string)
                fail_here(place, "expected a list of strings");
            out.emplace_back(m_cursor.read_string());
        }
    }

    // Enters an object and returns true; returns false for null.
    bool object(const Place& place) {
        const json::Type type = peek();
        if (type == json::Type::null)
            return false;
        if (type != json::Type::object)
            fail_here(place, "expected an object");
        m_cursor.enter_object();
        return true;
    }

  private:
    std::string_view m_text;
    json::Cursor m_cursor;
    const fs::path& m_path;
};

// Reads python.direct_url, the cursor at its value.
std::optional<DirectUrl> read_direct_url(DocReader& doc, const Place& place) {
    if (!doc.object(place))
        return std::nullopt;
    DirectUrl u;
    std::string_view kind;
    std::size_t kind_at = 0;
    json::Cursor& c = doc.cursor();
    for (std::string_view key; c.next_field(key);) {
        if (key == "url") {
            u.url = doc.string(place.member(key));
        } else if (key == "kind") {
            kind_at = doc.value_offset();
            kind = doc.string(place.member(key));
        } else if (key == "editable") {
            u.editable = doc.boolean(place.member(key));
        } else if (key == "vcs") {
            u.vcs = doc.string(place.member(key));
        } else if (key == "commit_id") {
            u.commit_id = doc.string(place.member(key));
        } else if (key == "requested_revision") {
            u.requested_revision = doc.string(place.member(key));
        } else if (key == "archive_hash") {
            u.archive_hash = doc.string(place.member(key));
        } else if (key == "subdirectory") {
            u.subdirectory = doc.string(place.member(key));
        }
    }
    if (kind == "dir") {
        u.kind = DirectUrl::Kind::dir;
    } else if (kind == "vcs") {
        u.kind = DirectUrl::Kind::vcs;
    } else if (kind == "archive" || kind.empty()) {
        u.kind = DirectUrl::Kind::archive;
    } else {
        doc.fail(place.member("kind"), kind_at,
                 "expected dir, vcs or archive, not '" + std::string(kind) + "'");
    }
    return u;
}

// A package's `python`: the distribution itself (pypi) or the one a conda package owns.
struct PythonPart {
    std::string_view name;
    std::string_view normalized_name;
    std::string_view version;
    std::optional<DirectUrl> direct_url;
};

PythonPart read_python(DocReader& doc, const Place& place) {
    PythonPart python;
    if (!doc.object(place))
        return python;
    json::Cursor& c = doc.cursor();
    for (std::string_view key; c.next_field(key);) {
        if (key == "name") {
            python.name = doc.string(place.member(key));
        } else if (key == "normalized_name") {
            python.normalized_name = doc.string(place.member(key));
        } else if (key == "version") {
            python.version = doc.string(place.member(key));
        } else if (key == "direct_url") {
            python.direct_url = read_direct_url(doc, place.member(key));
        }
    }
    return python;
}

// A conda package's `conda`: its record's fields.
struct CondaPart {
    std::int64_t build_number = 0;
    std::string_view subdir;
    std::string_view url;
    std::string_view md5;
    std::string_view sha256;
    std::int64_t size = 0;
    std::vector<std::string> depends;
};

CondaPart read_conda(DocReader& doc, const Place& place) {
    CondaPart conda;
    if (!doc.object(place))
        return conda;
    json::Cursor& c = doc.cursor();
    for (std::string_view key; c.next_field(key);) {
        if (key == "build_number") {
            conda.build_number = doc.integer(place.member(key));
        } else if (key == "subdir") {
            conda.subdir = doc.string(place.member(key));
        } else if (key == "url") {
            conda.url = doc.string(place.member(key));
        } else if (key == "md5") {
            conda.md5 = doc.string(place.member(key));
        } else if (key == "sha256") {
            conda.sha256 = doc.string(place.member(key));
        } else if (key == "size") {
            conda.size = doc.integer(place.member(key));
        } else if (key == "depends") {
            doc.strings(place.member(key), conda.depends);
        }
    }
    return conda;
}

// What a package's `kind` decides the use of, kept until the whole package has been read.
struct KindParts {
    std::string_view kind;
    std::size_t kind_at = 0;
    std::string_view build;
    std::string_view channel;
    CondaPart conda;
    PythonPart python;
};

// Fills what the kind decides: a conda package takes build, channel, `conda` and the name and
// version of the distribution it owns; a pypi one takes its direct_url. Members the kind does
// not use were still read, and so checked.
void apply_kind(const DocReader& doc, const Place& place, KindParts& parts, LockedPackage& p) {
    if (parts.kind == "conda") {
        p.manager = Manager::conda;
        p.build = parts.build;
        p.channel = parts.channel;
        p.build_number = parts.conda.build_number;
        p.subdir = parts.conda.subdir;
        p.url = parts.conda.url;
        p.md5 = parts.conda.md5;
        p.sha256 = parts.conda.sha256;
        p.size = parts.conda.size;
        p.depends = std::move(parts.conda.depends);
        const PythonPart& python = parts.python;
        p.python_name = python.normalized_name.empty() ? spec::normalize_pypi_name(python.name)
                                                       : std::string(python.normalized_name);
        p.python_version = python.version;
        return;
    }
    if (parts.kind != "pypi")
        doc.fail(place.member("kind"), parts.kind_at,
                 "expected conda or pypi, not '" + std::string(parts.kind) + "'");
    p.manager = Manager::pypi;
    p.direct_url = std::move(parts.python.direct_url);
    if (p.direct_url && p.direct_url->archive_hash.starts_with("sha256="))
        p.pypi_sha256 = p.direct_url->archive_hash.substr(7);
}

// Reads a package into `p`, a default-constructed one (filled in place in the list).
void read_package(DocReader& doc, const Place& place, LockedPackage& p) {
    json::Cursor& c = doc.cursor();
    if (c.peek() != json::Type::object)
        doc.fail_here(place, "expected an object");
    const std::size_t start = c.offset();
    c.enter_object();
    std::size_t name_at = start;  // with no name, "a package needs a name" points at the package
    KindParts parts;
    parts.kind_at = start;
    for (std::string_view key; c.next_field(key);) {
        if (key == "name") {
            name_at = doc.value_offset();
            p.name = doc.string(place.member(key));
        } else if (key == "version") {
            p.version = doc.string(place.member(key));
        } else if (key == "build") {
            parts.build = doc.string(place.member(key));
        } else if (key == "channel") {
            parts.channel = doc.string(place.member(key));
        } else if (key == "kind") {
            parts.kind_at = doc.value_offset();
            parts.kind = doc.string(place.member(key));
        } else if (key == "installer") {
            p.installer = doc.string(place.member(key));
        } else if (key == "requested") {
            p.requested = doc.boolean(place.member(key));
        } else if (key == "conda") {
            parts.conda = read_conda(doc, place.member(key));
        } else if (key == "python") {
            parts.python = read_python(doc, place.member(key));
        }
    }
    if (p.name.empty())
        doc.fail(place.member("name"), name_at, "a package needs a name");
    p.key = spec::normalize_pypi_name(p.name);
    apply_kind(doc, place, parts, p);
}

void read_packages(DocReader& doc, std::vector<LockedPackage>& packages) {
    const Place place{nullptr, "packages"};
    packages.clear();
    const json::Type type = doc.peek();
    if (type == json::Type::null)
        return;
    if (type != json::Type::array)
        doc.fail_here(place, "expected a list");
    json::Cursor& c = doc.cursor();
    c.enter_array();
    for (std::size_t i = 0; c.next_element(); ++i)
        read_package(doc, place.element(i), packages.emplace_back());
}

// The listing's own problems: records and distributions it could not read. Anything but a
// list of objects is passed over.
void read_warnings(DocReader& doc, Diagnostics& warnings) {
    const Place place{nullptr, "warnings"};
    warnings.clear();
    json::Cursor& c = doc.cursor();
    if (c.peek() != json::Type::array)
        return;
    c.enter_array();
    for (std::size_t i = 0; c.next_element(); ++i) {
        if (c.peek() != json::Type::object)
            continue;
        const Place item = place.element(i);
        c.enter_object();
        Diagnostic& w = warnings.emplace_back();
        for (std::string_view key; c.next_field(key);) {
            if (key == "path") {
                w.path = doc.string(item.member(key));
            } else if (key == "line") {
                w.line = static_cast<int>(doc.integer(item.member(key)));
            } else if (key == "column") {
                w.column = static_cast<int>(doc.integer(item.member(key)));
            } else if (key == "message") {
                w.message = doc.string(item.member(key));
            }
        }
    }
}

void check_schema(std::string_view schema, const fs::path& path) {
    if (!schema.starts_with(k_schema_prefix)) {
        fail_at(path, 0, 0,
                "not a `gpuenv list --json` document: schema '" + std::string(schema) +
                    "' is not gpuenv.list/1");
    }
    const std::string_view version = schema.substr(k_schema_prefix.size());
    if (version.substr(0, version.find('.')) != "1") {
        fail_at(
            path, 0, 0,
            "unsupported schema '" + std::string(schema) + "' (this gpuenv reads gpuenv.list/1)");
    }
}

[[noreturn]] void fail_not_an_object(const fs::path& path) {
    fail_at(path, 0, 0, "expected a `gpuenv list --json` document (a JSON object)");
}

LockedEnv read_listing(std::string_view text, const fs::path& path) {
    DocReader doc(text, path);
    json::Cursor& c = doc.cursor();
    if (c.peek() != json::Type::object) {
        c.skip();  // a syntax error anywhere says more than the wrong type does
        c.finish();
        fail_not_an_object(path);
    }
    const Place document{nullptr, "document"};
    std::string_view schema;
    LockedEnv env;
    env.fields.env_vars = false;
    c.enter_object();
    for (std::string_view key; c.next_field(key);) {
        if (key == "schema") {
            schema = doc.string(document.member(key));
        } else if (key == "packages") {
            read_packages(doc, env.packages);
        } else if (key == "warnings") {
            read_warnings(doc, env.warnings);
        }
    }
    c.finish();
    // Only now: the schema may come after `packages`.
    check_schema(schema, path);
    env.platform = platform_of(env.packages);
    env.channels = channels_by_use(env.packages);
    return env;
}

// Fails for what outranks an error read_listing found in a member, which stopped it before the
// end of the text: a syntax error further on, then the schema (which may come later too). Run
// only on that error path, it keeps the order of a parse of the whole text before any member
// is looked at.
void check_before_member_errors(std::string_view text, const fs::path& path) {
    DocReader doc(text, path);
    json::Cursor& c = doc.cursor();
    if (c.peek() != json::Type::object) {
        c.skip();
        c.finish();
        return;
    }
    const Place document{nullptr, "document"};
    std::string_view schema;
    c.enter_object();
    for (std::string_view key; c.next_field(key);) {
        if (key == "schema")
            schema = doc.string(document.member(key));
    }
    c.finish();
    check_schema(schema, path);
}

}  // namespace

LockedEnv parse_list_json_lock(std::string_view text, const fs::path& path) {
    check_size(text, path);
    // The cursor would skip a byte order mark too; taken off here, columns on the first line
    // count from the character after it, as an editor shows them.
    if (text.starts_with("\xEF\xBB\xBF"))
        text.remove_prefix(3);
    try {
        try {
            return read_listing(text, path);
        } catch (const Error&) {
            check_before_member_errors(text, path);
            throw;
        }
    } catch (const json::SyntaxError& error) {
        const util::LineColumn at = util::line_column(text, error.offset());
        fail_at(path, at.line, at.column, std::string("invalid JSON: ") + error.what());
    }
}

}  // namespace gpuenv::core::lock::detail
