#include <gpuenv/core/env/record_paths.hpp>

#include <gpuenv/core/env/record_json.hpp>

#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::env {
namespace {

namespace json = util::json;
using json::Cursor;
using json::Type;
using record_json::error_prefix;
using record_json::throw_syntax_error;

// Names a field in messages; built only when a message is, since records hold tens of
// thousands of fields.
struct FieldName {
    FieldName(std::string_view base_name, std::size_t element = SIZE_MAX,
              std::string_view field = {})
        : base(base_name), index(element), key(field) {}

    std::string_view base;  // "\"files\"", "files", "paths_data.paths"
    std::size_t index;      // the element's index, or SIZE_MAX
    std::string_view key;   // the field within the element, or ""

    [[nodiscard]] std::string str() const {
        std::string name(base);
        if (index != SIZE_MAX)
            name += "[" + std::to_string(index) + "]";
        if (!key.empty())
            name += "." + std::string(key);
        return name;
    }
};

void assign(std::string& out, std::string_view text) {
    out.assign(text);
}

void assign(std::string_view& out, std::string_view text) {
    out = text;
}

// Walks one record into a RecordPaths (owning) or a RecordPathsView (viewing the text and the
// cursor's storage). Syntax errors throw json::SyntaxError (the caller locates them); values
// of the wrong type throw gpuenv::Error at once, located by the value's position in the text.
template <typename Record>
class Reader {
  public:
    using Entry = typename decltype(Record::paths)::value_type;
    using Text = decltype(Record::name);

    Reader(Cursor& cursor, const std::filesystem::path& file) : m_c(cursor), m_file(file) {}

    void record(Record& out);

  private:
    Cursor& m_c;
    const std::filesystem::path& m_file;

    [[noreturn]] void fail_at(std::size_t offset, const std::string& message) const;
    // Checks a field's type: returns true for null (the field is then left as is); for any
    // type but `wanted`, throws naming the field.
    bool absent_or(Type wanted, const FieldName& name, std::string_view what) const;
    [[noreturn]] void wrong_type(const FieldName& name, std::string_view wanted, Type found) const;

    template <typename Out>
    void string_field(const FieldName& name, Out& out, bool numbers_too = false);
    void files(std::vector<Text>& out);
    void paths_data(Record& out);
    void path_entry(std::size_t index, Entry& out);
    void size_field(const FieldName& name, std::int64_t& out);
    void bool_field(const FieldName& name, bool& out);
};

template <typename Record>
void Reader<Record>::fail_at(std::size_t offset, const std::string& message) const {
    const auto lc = util::line_column(m_c.text(), offset);
    throw Error(ExitCode::not_found, error_prefix(m_file) + "line " + std::to_string(lc.line) +
                                         ", column " + std::to_string(lc.column) + ": " + message);
}

// The cursor is at the value (after peek()).
template <typename Record>
void Reader<Record>::wrong_type(const FieldName& name, std::string_view wanted, Type found) const {
    fail_at(m_c.offset(), name.str() + " must be " + std::string(wanted) + ", found " +
                              std::string(json::type_name(found)));
}

template <typename Record>
bool Reader<Record>::absent_or(Type wanted, const FieldName& name, std::string_view what) const {
    const Type type = m_c.peek();
    if (type == Type::null) {
        m_c.read_null();
        return true;
    }
    if (type != wanted)
        wrong_type(name, what, type);
    return false;
}

// Reads a string (null leaves `out` as is); `numbers_too` takes a number by its literal text,
// as conda_record.cpp does for "version": 2.
template <typename Record>
template <typename Out>
void Reader<Record>::string_field(const FieldName& name, Out& out, bool numbers_too) {
    const Type type = m_c.peek();
    if (type == Type::null) {
        m_c.read_null();
        return;
    }
    if (type == Type::number && numbers_too) {
        assign(out, m_c.read_number());
        return;
    }
    if (type != Type::string)
        wrong_type(name, "a string", type);
    assign(out, m_c.read_string());
}

template <typename Record>
void Reader<Record>::files(std::vector<Text>& out) {
    if (absent_or(Type::array, {"\"files\""}, "an array of strings"))
        return;
    m_c.enter_array();
    for (std::size_t index = 0; m_c.next_element(); ++index) {
        if (const Type type = m_c.peek(); type != Type::string)
            wrong_type({"files", index}, "a string", type);
        out.emplace_back(m_c.read_string());
    }
}

template <typename Record>
void Reader<Record>::path_entry(std::size_t index, Entry& out) {
    const FieldName entry{"paths_data.paths", index};
    if (const Type type = m_c.peek(); type != Type::object)
        wrong_type(entry, "an object", type);
    const std::size_t start = m_c.offset();
    m_c.enter_object();
    bool has_path = false;
    for (std::string_view key; m_c.next_field(key);) {
        const FieldName name{"paths_data.paths", index, key};
        if (key == "_path") {
            if (const Type type = m_c.peek(); type != Type::string)
                wrong_type(name, "a string", type);
            string_field(name, out.path);
            has_path = true;
        } else if (key == "path_type") {
            std::string_view text;
            string_field(name, text);
            out.type = parse_path_type(text);
        } else if (key == "sha256") {
            string_field(name, out.sha256);
        } else if (key == "sha256_in_prefix") {
            string_field(name, out.sha256_in_prefix);
        } else if (key == "prefix_placeholder") {
            string_field(name, out.prefix_placeholder);
        } else if (key == "file_mode") {
            string_field(name, out.file_mode);
        } else if (key == "size_in_bytes") {
            size_field(name, out.size_in_bytes);
        } else if (key == "no_link") {
            bool_field(name, out.no_link);
        }
        // Other keys (inode_paths, original_path, ...) are skipped by the next read.
    }
    if (!has_path)
        fail_at(start, entry.str() + " has no \"_path\"");
}

template <typename Record>
void Reader<Record>::size_field(const FieldName& name, std::int64_t& out) {
    if (absent_or(Type::number, name, "a non-negative integer"))
        return;
    const std::size_t at = m_c.offset();
    const auto size = json::to_int64(m_c.read_number());
    if (!size || *size < 0)
        fail_at(at, name.str() + " must be a non-negative integer");
    out = *size;
}

template <typename Record>
void Reader<Record>::bool_field(const FieldName& name, bool& out) {
    if (!absent_or(Type::boolean, name, "a boolean"))
        out = m_c.read_bool();
}

template <typename Record>
void Reader<Record>::paths_data(Record& out) {
    if (absent_or(Type::object, {"\"paths_data\""}, "an object"))
        return;
    m_c.enter_object();
    for (std::string_view key; m_c.next_field(key);) {
        if (key == "paths_version") {
            if (const Type type = m_c.peek(); type != Type::number)
                wrong_type({"paths_data.paths_version"}, "an integer", type);
            const std::size_t at = m_c.offset();
            const auto version = json::to_int64(m_c.read_number());
            if (!version || *version < 0 || *version > 1000)
                fail_at(at, "paths_data.paths_version must be a small non-negative integer");
            out.paths_version = static_cast<int>(*version);
        } else if (key == "paths") {
            if (const Type type = m_c.peek(); type != Type::array)
                wrong_type({"paths_data.paths"}, "an array", type);
            m_c.enter_array();
            for (std::size_t index = 0; m_c.next_element(); ++index)
                path_entry(index, out.paths.emplace_back());
        }
    }
}

template <typename Record>
void Reader<Record>::record(Record& out) {
    if (const Type type = m_c.peek(); type != Type::object)
        record_json::throw_not_an_object(m_file, m_c, type);
    m_c.enter_object();
    Text package_type;
    Text build_string;
    for (std::string_view key; m_c.next_field(key);) {
        if (key == "name") {
            string_field({"\"name\""}, out.name, true);
        } else if (key == "version") {
            string_field({"\"version\""}, out.version, true);
        } else if (key == "build") {
            string_field({"\"build\""}, out.build, true);
        } else if (key == "build_string") {
            string_field({"\"build_string\""}, build_string, true);
        } else if (key == "noarch") {
            if (m_c.peek() == Type::boolean) {
                // Records from before conda 4.3 wrote "noarch": true for generic packages.
                out.noarch = m_c.read_bool() ? "generic" : "";
            } else {
                string_field({"\"noarch\""}, out.noarch);
            }
        } else if (key == "package_type") {
            string_field({"\"package_type\""}, package_type);
        } else if (key == "files") {
            files(out.files);
        } else if (key == "paths_data") {
            paths_data(out);
        }
    }
    m_c.finish();
    if (out.build.empty())
        out.build = std::move(build_string);
    if (out.noarch.empty() && package_type == "noarch_python")
        out.noarch = "python";
    if (out.noarch.empty() && package_type == "noarch_generic")
        out.noarch = "generic";
}

// Parses `text` into `out`, which starts empty; the cursor must outlive a view's strings.
template <typename Record>
void parse(Cursor& cursor, const std::filesystem::path& record_file, Record& out) {
    Reader<Record> reader(cursor, record_file);
    try {
        reader.record(out);
    } catch (const json::SyntaxError& error) {
        throw_syntax_error(record_file, cursor.text(), error);
    }
}

// Reads a file into `text`.
void read_text(const std::filesystem::path& record_file, std::string& text) {
    std::string error;
    if (!util::read_file_into(record_file, text, error))
        throw Error(ExitCode::not_found, error_prefix(record_file) + error);
}

}  // namespace

PathType parse_path_type(std::string_view text) {
    static constexpr std::array<std::pair<std::string_view, PathType>, 8> k_types{{
        {"hardlink", PathType::hardlink},
        {"softlink", PathType::softlink},
        {"directory", PathType::directory},
        {"pyc_file", PathType::pyc_file},
        {"unix_python_entry_point", PathType::unix_python_entry_point},
        {"windows_python_entry_point_script", PathType::windows_python_entry_point_script},
        {"windows_python_entry_point_exe", PathType::windows_python_entry_point_exe},
        {"linked_package_record", PathType::linked_package_record},
    }};
    for (const auto& [name, type] : k_types) {
        if (text == name)
            return type;
    }
    return PathType::hardlink;
}

RecordPaths parse_record_paths(std::string_view json, const std::filesystem::path& record_file) {
    Cursor cursor(json);
    RecordPaths out;
    parse(cursor, record_file, out);
    return out;
}

RecordPaths read_record_paths(const std::filesystem::path& record_file) {
    RecordPathsReader reader;
    return reader.read(record_file);
}

struct RecordPathsReader::Impl {
    std::string buffer;
    std::optional<Cursor> cursor;  // holds the unescaped strings the view points into
    RecordPathsView view;
};

RecordPathsReader::RecordPathsReader() : m_impl(std::make_unique<Impl>()) {}

RecordPathsReader::~RecordPathsReader() = default;

RecordPaths RecordPathsReader::read(const std::filesystem::path& record_file) {
    read_text(record_file, m_impl->buffer);
    Cursor cursor(m_impl->buffer);
    RecordPaths out;
    parse(cursor, record_file, out);
    return out;
}

const RecordPathsView& RecordPathsReader::view(const std::filesystem::path& record_file) {
    RecordPathsView& out = m_impl->view;
    out.files.clear();  // keeps the capacity, so a reader reused across records stops allocating
    out.paths.clear();
    out.name = out.version = out.build = out.noarch = {};
    out.paths_version = 0;
    m_impl->cursor.reset();
    read_text(record_file, m_impl->buffer);
    parse(m_impl->cursor.emplace(m_impl->buffer), record_file, out);
    return out;
}

std::string map_noarch_path(std::string_view path, std::string_view noarch,
                            std::string_view site_packages) {
    constexpr std::string_view k_site = "site-packages/";
    constexpr std::string_view k_scripts = "python-scripts/";
    if (noarch == "python") {
        if (path.starts_with(k_site)) {
            std::string out(site_packages);
            while (!out.empty() && out.back() == '/')
                out.pop_back();
            return out + "/" + std::string(path.substr(k_site.size()));
        }
        if (path.starts_with(k_scripts))
            return "bin/" + std::string(path.substr(k_scripts.size()));
    }
    return std::string(path);
}

}  // namespace gpuenv::core::env
