#include <gpuenv/core/env/conda_record.hpp>

#include <gpuenv/core/env/record_json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>
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

// conda's TimestampField treats anything up to 9999-12-31T23:59:59Z as seconds.
constexpr std::int64_t k_max_seconds_timestamp = 253402300799;

// -------------------------------------------------------------------------------------------
// Python metadata anchors among files[].

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Returns the anchor a files[] entry belongs to, or an empty view. Old micromamba records
// written on Windows separate with '\', so both separators count.
std::string_view python_anchor(std::string_view path) {
    // One pass over the characters: this runs for every one of tens of thousands of files.
    std::size_t start = 0;
    std::string_view previous;
    for (std::size_t i = 0; i < path.size(); ++i) {
        const char c = path[i];
        if (c != '/' && c != '\\')
            continue;
        const auto component = path.substr(start, i - start);
        if (ends_with(component, ".dist-info") || ends_with(component, ".egg-info"))
            return path.substr(0, i);
        if (component == "EGG-INFO" && ends_with(previous, ".egg"))
            return path.substr(0, start - 1);
        previous = component;
        start = i + 1;
    }
    // A single-file egg-info (distutils' install_egg_info) is its own anchor.
    return ends_with(path.substr(start), ".egg-info") ? path : std::string_view{};
}

void add_anchor(std::string_view anchor, std::vector<std::string>& anchors) {
    // The files of one dist-info are usually adjacent, so this skips most duplicates early;
    // the rest go at the final sort and unique.
    if (!anchors.empty() && anchors.back().size() == anchor.size()) {
        bool same = true;
        for (std::size_t i = 0; i < anchor.size() && same; ++i) {
            const char c = anchor[i] == '\\' ? '/' : anchor[i];
            same = anchors.back()[i] == c;
        }
        if (same)
            return;
    }
    std::string normalized(anchor);
    std::replace(normalized.begin(), normalized.end(), '\\', '/');
    anchors.push_back(std::move(normalized));
}

// -------------------------------------------------------------------------------------------
// Tolerant readers for the value of a known field: null and wrong types leave the target
// untouched, and only invalid JSON is an error. The cursor checks every value it reads or
// skips, so the values of other fields (paths_data, link, ...) are checked too.

struct Number {
    bool is_integer = false;
    std::int64_t integer = 0;
    double real = 0.0;
};

std::optional<Number> parse_numeric_string(std::string_view text) {
    text = util::trim(text);
    const char* first = text.data();
    const char* last = text.data() + text.size();
    Number number;
    if (auto [end, ec] = std::from_chars(first, last, number.integer);
        ec == std::errc() && end == last) {
        number.is_integer = true;
        return number;
    }
    if (auto [end, ec] = std::from_chars(first, last, number.real);
        ec == std::errc() && end == last && std::isfinite(number.real)) {
        return number;
    }
    return std::nullopt;
}

// Reads a number, or a string holding one ("build_number": "3"); `out` stays empty otherwise.
void read_number(Cursor& c, Type type, std::optional<Number>& out) {
    if (type == Type::string) {
        out = parse_numeric_string(c.read_string());
        return;
    }
    if (type != Type::number) {
        c.skip();
        return;
    }
    const std::string_view literal = c.read_number();
    if (const auto integer = json::to_int64(literal)) {
        out = Number{true, *integer, 0.0};
    } else if (const auto real = json::to_double(literal)) {
        out = Number{false, 0, *real};  // a fraction, or past int64
    }
    // A number past double's range is ignored.
}

std::optional<std::int64_t> to_int64(double real) {
    // 2^63 is exactly representable; anything at or past it does not fit.
    constexpr double k_limit = 9223372036854775808.0;
    if (!(real < k_limit && real >= -k_limit))
        return std::nullopt;
    return static_cast<std::int64_t>(real);
}

void read_int(Cursor& c, Type type, std::int64_t& out) {
    std::optional<Number> number;
    read_number(c, type, number);
    if (!number)
        return;
    if (number->is_integer) {
        out = number->integer;
    } else if (auto integer = to_int64(number->real)) {
        out = *integer;
    }
}

void read_timestamp(Cursor& c, Type type, std::int64_t& out) {
    std::optional<Number> number;
    read_number(c, type, number);
    if (!number)
        return;
    if (number->is_integer) {
        const std::int64_t t = number->integer;
        if (t > k_max_seconds_timestamp) {
            out = t;
        } else if (t >= std::numeric_limits<std::int64_t>::min() / 1000) {
            out = t * 1000;
        }
        return;
    }
    const double t = number->real;
    const double ms = t <= static_cast<double>(k_max_seconds_timestamp) ? t * 1000.0 : t;
    if (auto integer = to_int64(std::round(ms)))
        out = *integer;
}

// Reads a string; a number is taken by its literal text ("version": 2 reads as "2").
void read_string(Cursor& c, Type type, std::string& out) {
    if (type == Type::string) {
        out.assign(c.read_string());
    } else if (type == Type::number) {
        out.assign(c.read_number());
    } else {
        c.skip();
    }
}

// Calls on_string for each string of an array and on_any for every element; returns whether
// the value was an array.
template <typename OnString, typename OnAny>
bool for_each_element(Cursor& c, Type type, OnString on_string, OnAny on_any) {
    if (type != Type::array) {
        c.skip();
        return false;
    }
    c.enter_array();
    while (c.next_element()) {
        on_any();
        if (c.peek() == Type::string)
            on_string(c.read_string());
    }
    return true;
}

void read_string_list(Cursor& c, Type type, std::vector<std::string>& out, bool& is_array) {
    std::vector<std::string> list;
    if (for_each_element(
            c, type, [&](std::string_view text) { list.emplace_back(text); }, [] {})) {
        is_array = true;
        out = std::move(list);
    }
}

// Counts files[] and collects anchors without keeping the paths.
void scan_files(Cursor& c, Type type, CondaRecord& record) {
    std::size_t count = 0;
    std::vector<std::string> anchors;
    const bool is_array = for_each_element(
        c, type,
        [&](std::string_view path) {
            const auto anchor = python_anchor(path);
            if (!anchor.empty())
                add_anchor(anchor, anchors);
        },
        [&] { ++count; });
    if (is_array) {
        record.file_count = count;
        record.python_anchors = std::move(anchors);
    }
}

// -------------------------------------------------------------------------------------------
// The record's fields.

// Holds fields whose meaning depends on other fields, resolved once all are read.
struct Pending {
    std::string build_string;
    std::string package_type;
    std::optional<std::string> noarch;  // set when "noarch" was a string or a bool
    std::string requested_spec;
    std::vector<std::string> requested_specs;
    bool has_requested_specs = false;
};

struct StringField {
    std::string_view key;
    std::string CondaRecord::*member;
};

constexpr std::array k_string_fields{
    StringField{"name", &CondaRecord::name},
    StringField{"version", &CondaRecord::version},
    StringField{"build", &CondaRecord::build},
    StringField{"channel", &CondaRecord::channel},
    StringField{"subdir", &CondaRecord::subdir},
    StringField{"fn", &CondaRecord::fn},
    StringField{"url", &CondaRecord::url},
    StringField{"md5", &CondaRecord::md5},
    StringField{"sha256", &CondaRecord::sha256},
    StringField{"python_site_packages_path", &CondaRecord::python_site_packages_path},
};

void read_noarch(Cursor& c, Type type, Pending& pending) {
    if (type == Type::boolean) {
        // Records from before conda 4.3 wrote "noarch": true for generic noarch packages.
        pending.noarch = c.read_bool() ? "generic" : "";
    } else if (type == Type::string) {
        const std::string_view text = c.read_string();
        if (text == "python" || text == "generic" || text.empty())
            pending.noarch = text;
    }
    // Anything else is skipped by the next field's read.
}

void read_field(std::string_view key, Cursor& c, CondaRecord& record, Pending& pending) {
    const Type type = c.peek();
    for (const auto& field : k_string_fields) {
        if (key == field.key) {
            read_string(c, type, record.*field.member);
            return;
        }
    }
    bool is_array = false;
    if (key == "files") {
        scan_files(c, type, record);
    } else if (key == "depends") {
        read_string_list(c, type, record.depends, is_array);
    } else if (key == "constrains") {
        read_string_list(c, type, record.constrains, is_array);
    } else if (key == "requested_specs") {
        read_string_list(c, type, pending.requested_specs, pending.has_requested_specs);
    } else if (key == "build_number") {
        read_int(c, type, record.build_number);
    } else if (key == "size") {
        read_int(c, type, record.size);
    } else if (key == "timestamp") {
        read_timestamp(c, type, record.timestamp);
    } else if (key == "build_string") {
        read_string(c, type, pending.build_string);
    } else if (key == "noarch") {
        read_noarch(c, type, pending);
    } else if (key == "package_type") {
        read_string(c, type, pending.package_type);
    } else if (key == "requested_spec") {
        read_string(c, type, pending.requested_spec);
    }
    // Anything else (paths_data, link, ...) is skipped, checked, by the next field's read.
}

bool is_requested_spec(std::string_view spec) {
    return !spec.empty() && spec != "None";
}

void resolve(Pending& pending, CondaRecord& record) {
    if (record.build.empty())
        record.build = std::move(pending.build_string);
    if (pending.noarch) {
        record.noarch = std::move(*pending.noarch);
    } else if (pending.package_type == "noarch_python") {
        record.noarch = "python";
    } else if (pending.package_type == "noarch_generic") {
        record.noarch = "generic";
    }
    if (pending.has_requested_specs) {
        for (auto& spec : pending.requested_specs) {
            if (is_requested_spec(spec))
                record.requested_specs.push_back(std::move(spec));
        }
    } else if (is_requested_spec(pending.requested_spec)) {
        record.requested_specs.push_back(std::move(pending.requested_spec));
    }
    std::sort(record.python_anchors.begin(), record.python_anchors.end());
    record.python_anchors.erase(
        std::unique(record.python_anchors.begin(), record.python_anchors.end()),
        record.python_anchors.end());
}

}  // namespace

// -------------------------------------------------------------------------------------------

struct CondaRecordReader::Impl {
    std::string buffer;  // reused: its capacity is that of the largest record read so far

    // Parses `buffer`; throws for invalid JSON and for valid JSON that is not a record.
    void parse(const std::filesystem::path& path, CondaRecord& record);
};

void CondaRecordReader::Impl::parse(const std::filesystem::path& path, CondaRecord& record) {
    Cursor c(buffer);
    try {
        if (const Type type = c.peek(); type != Type::object)
            record_json::throw_not_an_object(path, c, type);
        c.enter_object();
        Pending pending;
        for (std::string_view key; c.next_field(key);)
            read_field(key, c, record, pending);
        c.finish();
        resolve(pending, record);
    } catch (const json::SyntaxError& error) {
        throw_syntax_error(path, buffer, error);
    }
}

CondaRecordReader::CondaRecordReader() : m_impl(std::make_unique<Impl>()) {}

CondaRecordReader::~CondaRecordReader() = default;

CondaRecord CondaRecordReader::read(const std::filesystem::path& record_file) {
    std::string error;
    if (!util::read_file_into(record_file, m_impl->buffer, error))
        throw Error(ExitCode::not_found, error_prefix(record_file) + error);
    CondaRecord record;
    m_impl->parse(record_file, record);
    const std::array<std::pair<const char*, const std::string*>, 3> required{
        {{"name", &record.name}, {"version", &record.version}, {"build", &record.build}}};
    for (const auto& [key, value] : required) {
        if (value->empty()) {
            throw Error(ExitCode::not_found, error_prefix(record_file) + "missing \"" + key + "\"");
        }
    }
    record.record_path = record_file;
    return record;
}

// -------------------------------------------------------------------------------------------

std::vector<std::filesystem::path> list_conda_records(const std::filesystem::path& prefix) {
    namespace fs = std::filesystem;
    const fs::path meta = prefix / "conda-meta";
    std::vector<fs::path> records;
    std::error_code ec;
    fs::directory_iterator it(meta, ec);
    if (ec) {
        if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) {
            return records;
        }
        throw Error(ExitCode::not_found, "cannot list " + meta.string() + ": " + ec.message());
    }
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        std::error_code status_ec;
        const auto status = it->symlink_status(status_ec);
        if (status_ec)
            continue;  // removed while listing
        if (!fs::is_regular_file(status) && !fs::is_symlink(status))
            continue;
        const std::string name = it->path().filename().string();
        if (name.size() > 5 && name.ends_with(".json"))
            records.push_back(it->path());
    }
    if (ec) {
        throw Error(ExitCode::not_found, "cannot list " + meta.string() + ": " + ec.message());
    }
    std::sort(records.begin(), records.end());
    return records;
}

}  // namespace gpuenv::core::env
