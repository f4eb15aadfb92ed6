#include <gpuenv/core/env/record_paths.hpp>

#include <gpuenv/core/env/record_json.hpp>

#include <array>
#include <cctype>
#include <cstdint>
#include <string>
#include <utility>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::env {
namespace {

namespace od = simdjson::ondemand;
using record_json::check_null;
using record_json::error_prefix;
using record_json::is_json_number;
using record_json::throw_syntax_error;
using record_json::type_name;
using simdjson::error_code;

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

// Walks one parsed record into a RecordPaths (owning) or a RecordPathsView (viewing the
// parser's buffers). Syntax errors come back as simdjson error codes (the caller turns
// them into a located message); values of the wrong type throw at once, located by the
// value's position in the text.
template <typename Record>
class Reader {
  public:
    using Entry = typename decltype(Record::paths)::value_type;
    using Text = decltype(Record::name);

    Reader(std::string_view text, const std::filesystem::path& file) : m_text(text), m_file(file) {}

    error_code record(od::document& doc, Record& out);

  private:
    std::string_view m_text;
    const std::filesystem::path& m_file;

    [[noreturn]] void fail_at(const char* where, const std::string& message) const;
    // Checks a field's type: an error for invalid JSON; `absent` for a real null (the field
    // is then left as is); for any type but `wanted`, throws naming the field.
    error_code expect(od::value& value, od::json_type wanted, const FieldName& name,
                      std::string_view what, bool& absent) const;
    [[noreturn]] void wrong_type(od::value& value, const FieldName& name, std::string_view wanted,
                                 od::json_type found) const;

    template <typename Out>
    error_code string_field(od::value value, const FieldName& name, Out& out,
                            bool numbers_too = false);
    error_code files(od::value value, std::vector<Text>& out);
    error_code paths_data(od::value value, Record& out);
    error_code path_entry(od::value value, std::size_t index, Entry& out);
    error_code size_field(od::value value, const FieldName& name, std::int64_t& out);
    error_code bool_field(od::value value, const FieldName& name, bool& out);
};

template <typename Record>
void Reader<Record>::fail_at(const char* where, const std::string& message) const {
    std::size_t offset = 0;
    if (where >= m_text.data() && where <= m_text.data() + m_text.size())
        offset = static_cast<std::size_t>(where - m_text.data());
    const auto lc = util::line_column(m_text, offset);
    throw Error(ExitCode::not_found, error_prefix(m_file) + "line " + std::to_string(lc.line) +
                                         ", column " + std::to_string(lc.column) + ": " + message);
}

template <typename Record>
void Reader<Record>::wrong_type(od::value& value, const FieldName& name, std::string_view wanted,
                                od::json_type found) const {
    fail_at(value.raw_json_token().data(), name.str() + " must be " + std::string(wanted) +
                                               ", found " + std::string(type_name(found)));
}

template <typename Record>
error_code Reader<Record>::expect(od::value& value, od::json_type wanted, const FieldName& name,
                                  std::string_view what, bool& absent) const {
    od::json_type type{};
    if (auto err = value.type().get(type))
        return err;
    absent = type == od::json_type::null;
    if (absent)
        return check_null(value);
    if (type != wanted)
        wrong_type(value, name, what, type);
    return simdjson::SUCCESS;
}

// Reads a string (null leaves `out` as is); `numbers_too` takes a number by its literal text,
// as conda_record.cpp does for "version": 2.
template <typename Record>
template <typename Out>
error_code Reader<Record>::string_field(od::value value, const FieldName& name, Out& out,
                                        bool numbers_too) {
    od::json_type type{};
    if (auto err = value.type().get(type))
        return err;
    if (type == od::json_type::null)
        return check_null(value);
    if (type == od::json_type::number && numbers_too) {
        const std::string_view literal = util::trim(value.raw_json_token());
        if (!is_json_number(literal))
            return simdjson::NUMBER_ERROR;
        assign(out, literal);
        return simdjson::SUCCESS;
    }
    if (type != od::json_type::string)
        wrong_type(value, name, "a string", type);
    std::string_view text;
    if (auto err = value.get_string().get(text))
        return err;
    assign(out, text);
    return simdjson::SUCCESS;
}

template <typename Record>
error_code Reader<Record>::files(od::value value, std::vector<Text>& out) {
    bool absent = false;
    if (auto err =
            expect(value, od::json_type::array, {"\"files\""}, "an array of strings", absent);
        err || absent)
        return err;
    od::array array;
    if (auto err = value.get_array().get(array))
        return err;
    std::size_t count = 0;
    if (auto err = array.count_elements().get(count))
        return err;
    out.reserve(count);
    std::size_t index = 0;
    for (auto element : array) {
        od::value item;
        if (auto err = element.get(item))
            return err;
        od::json_type item_type{};
        if (auto err = item.type().get(item_type))
            return err;
        if (item_type != od::json_type::string) {
            wrong_type(item, {"files", index}, "a string", item_type);
        }
        std::string_view text;
        if (auto err = item.get_string().get(text))
            return err;
        out.emplace_back(text);
        ++index;
    }
    return simdjson::SUCCESS;
}

template <typename Record>
error_code Reader<Record>::path_entry(od::value value, std::size_t index, Entry& out) {
    const FieldName entry{"paths_data.paths", index};
    od::json_type type{};
    if (auto err = value.type().get(type))
        return err;
    if (type != od::json_type::object)
        wrong_type(value, entry, "an object", type);
    const char* start = value.raw_json_token().data();
    od::object object;
    if (auto err = value.get_object().get(object))
        return err;
    bool has_path = false;
    for (auto field : object) {
        std::string_view key;
        if (auto err = field.unescaped_key().get(key))
            return err;
        od::value v;
        if (auto err = field.value().get(v))
            return err;
        const FieldName name{"paths_data.paths", index, key};
        error_code err = simdjson::SUCCESS;
        if (key == "_path") {
            od::json_type t{};
            if ((err = v.type().get(t)))
                return err;
            if (t != od::json_type::string)
                wrong_type(v, name, "a string", t);
            err = string_field(v, name, out.path);
            has_path = true;
        } else if (key == "path_type") {
            std::string_view text;
            err = string_field(v, name, text);
            out.type = parse_path_type(text);
        } else if (key == "sha256") {
            err = string_field(v, name, out.sha256);
        } else if (key == "sha256_in_prefix") {
            err = string_field(v, name, out.sha256_in_prefix);
        } else if (key == "prefix_placeholder") {
            err = string_field(v, name, out.prefix_placeholder);
        } else if (key == "file_mode") {
            err = string_field(v, name, out.file_mode);
        } else if (key == "size_in_bytes") {
            err = size_field(v, name, out.size_in_bytes);
        } else if (key == "no_link") {
            err = bool_field(v, name, out.no_link);
        }
        // Other keys (inode_paths, original_path, ...) are skipped by the iterator.
        if (err)
            return err;
    }
    if (!has_path)
        fail_at(start, entry.str() + " has no \"_path\"");
    return simdjson::SUCCESS;
}

template <typename Record>
error_code Reader<Record>::size_field(od::value value, const FieldName& name, std::int64_t& out) {
    bool absent = false;
    if (auto err = expect(value, od::json_type::number, name, "a non-negative integer", absent);
        err || absent)
        return err;
    const char* at = value.raw_json_token().data();
    std::int64_t size = 0;
    if (value.get_int64().get(size) != simdjson::SUCCESS || size < 0)
        fail_at(at, name.str() + " must be a non-negative integer");
    out = size;
    return simdjson::SUCCESS;
}

template <typename Record>
error_code Reader<Record>::bool_field(od::value value, const FieldName& name, bool& out) {
    bool absent = false;
    if (auto err = expect(value, od::json_type::boolean, name, "a boolean", absent); err || absent)
        return err;
    return value.get_bool().get(out);
}

template <typename Record>
error_code Reader<Record>::paths_data(od::value value, Record& out) {
    bool absent = false;
    if (auto err = expect(value, od::json_type::object, {"\"paths_data\""}, "an object", absent);
        err || absent)
        return err;
    od::object object;
    if (auto err = value.get_object().get(object))
        return err;
    for (auto field : object) {
        std::string_view key;
        if (auto err = field.unescaped_key().get(key))
            return err;
        od::value v;
        if (auto err = field.value().get(v))
            return err;
        if (key == "paths_version") {
            od::json_type t{};
            if (auto err = v.type().get(t))
                return err;
            if (t != od::json_type::number)
                wrong_type(v, {"paths_data.paths_version"}, "an integer", t);
            const char* at = v.raw_json_token().data();
            std::int64_t version = 0;
            if (v.get_int64().get(version) != simdjson::SUCCESS || version < 0 || version > 1000)
                fail_at(at, "paths_data.paths_version must be a small non-negative integer");
            out.paths_version = static_cast<int>(version);
        } else if (key == "paths") {
            od::json_type t{};
            if (auto err = v.type().get(t))
                return err;
            if (t != od::json_type::array)
                wrong_type(v, {"paths_data.paths"}, "an array", t);
            od::array array;
            if (auto err = v.get_array().get(array))
                return err;
            std::size_t count = 0;
            if (auto err = array.count_elements().get(count))
                return err;
            out.paths.reserve(count);
            std::size_t index = 0;
            for (auto element : array) {
                od::value item;
                if (auto err = element.get(item))
                    return err;
                if (auto err = path_entry(item, index, out.paths.emplace_back()))
                    return err;
                ++index;
            }
        }
    }
    return simdjson::SUCCESS;
}

template <typename Record>
error_code Reader<Record>::record(od::document& doc, Record& out) {
    od::json_type type{};
    if (auto err = doc.type().get(type))
        return err;
    if (type != od::json_type::object) {
        // On-Demand has not checked the rest of the text; a syntax error comes first.
        if (!nlohmann::json::accept(m_text))
            return simdjson::TAPE_ERROR;
        throw Error(ExitCode::not_found, error_prefix(m_file) +
                                             "expected a JSON object at the top level, found " +
                                             std::string(type_name(type)));
    }
    od::object object;
    if (auto err = doc.get_object().get(object))
        return err;
    Text package_type;
    Text build_string;
    for (auto field : object) {
        std::string_view key;
        if (auto err = field.unescaped_key().get(key))
            return err;
        od::value v;
        if (auto err = field.value().get(v))
            return err;
        error_code err = simdjson::SUCCESS;
        if (key == "name") {
            err = string_field(v, {"\"name\""}, out.name, true);
        } else if (key == "version") {
            err = string_field(v, {"\"version\""}, out.version, true);
        } else if (key == "build") {
            err = string_field(v, {"\"build\""}, out.build, true);
        } else if (key == "build_string") {
            err = string_field(v, {"\"build_string\""}, build_string, true);
        } else if (key == "noarch") {
            od::json_type t{};
            if ((err = v.type().get(t)) == simdjson::SUCCESS) {
                if (t == od::json_type::boolean) {
                    // Records from before conda 4.3 wrote "noarch": true for generic packages.
                    bool flag = false;
                    err = v.get_bool().get(flag);
                    out.noarch = flag ? "generic" : "";
                } else {
                    err = string_field(v, {"\"noarch\""}, out.noarch);
                }
            }
        } else if (key == "package_type") {
            err = string_field(v, {"\"package_type\""}, package_type);
        } else if (key == "files") {
            err = files(v, out.files);
        } else if (key == "paths_data") {
            err = paths_data(v, out);
        }
        if (err)
            return err;
    }
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS)
        return simdjson::TRAILING_CONTENT;
    if (out.build.empty())
        out.build = std::move(build_string);
    if (out.noarch.empty() && package_type == "noarch_python")
        out.noarch = "python";
    if (out.noarch.empty() && package_type == "noarch_generic")
        out.noarch = "generic";
    return simdjson::SUCCESS;
}

// Parses text that already has simdjson's padding after its `length` bytes into `out`, which
// starts empty.
template <typename Record>
void parse_padded(od::parser& parser, const char* data, std::size_t length, std::size_t capacity,
                  const std::filesystem::path& record_file, Record& out) {
    const std::string_view text(data, length);
    od::document doc;
    Reader<Record> reader(text, record_file);
    error_code err = parser.iterate(simdjson::padded_string_view(data, length, capacity)).get(doc);
    if (!err)
        err = reader.record(doc, out);
    if (err)
        throw_syntax_error(record_file, text, err);
}

// Reads a file into `text` followed by simdjson's padding; returns the file's length.
std::size_t read_padded(const std::filesystem::path& record_file, std::string& text) {
    std::string error;
    if (!util::read_file_into(record_file, text, error))
        throw Error(ExitCode::not_found, error_prefix(record_file) + error);
    const std::size_t length = text.size();
    text.resize(length + simdjson::SIMDJSON_PADDING, '\0');
    return length;
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
    std::string padded;
    padded.reserve(json.size() + simdjson::SIMDJSON_PADDING);
    padded.assign(json);
    padded.resize(json.size() + simdjson::SIMDJSON_PADDING, '\0');
    od::parser parser;
    RecordPaths out;
    parse_padded(parser, padded.data(), json.size(), padded.size(), record_file, out);
    return out;
}

RecordPaths read_record_paths(const std::filesystem::path& record_file) {
    RecordPathsReader reader;
    return reader.read(record_file);
}

struct RecordPathsReader::Impl {
    od::parser parser;
    std::string buffer;
    RecordPathsView view;
};

RecordPathsReader::RecordPathsReader() : m_impl(std::make_unique<Impl>()) {}

RecordPathsReader::~RecordPathsReader() = default;

RecordPaths RecordPathsReader::read(const std::filesystem::path& record_file) {
    const std::size_t length = read_padded(record_file, m_impl->buffer);
    RecordPaths out;
    parse_padded(m_impl->parser, m_impl->buffer.data(), length, m_impl->buffer.size(), record_file,
                 out);
    return out;
}

const RecordPathsView& RecordPathsReader::view(const std::filesystem::path& record_file) {
    RecordPathsView& out = m_impl->view;
    out.files.clear();  // keeps the capacity, so a reader reused across records stops allocating
    out.paths.clear();
    out.name = out.version = out.build = out.noarch = {};
    out.paths_version = 0;
    const std::size_t length = read_padded(record_file, m_impl->buffer);
    parse_padded(m_impl->parser, m_impl->buffer.data(), length, m_impl->buffer.size(), record_file,
                 out);
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
