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

// conda's TimestampField treats anything up to 9999-12-31T23:59:59Z as seconds.
constexpr std::int64_t k_max_seconds_timestamp = 253402300799;

// -------------------------------------------------------------------------------------------
// Reading the file into the reused padded buffer.

// Grows the buffer to hold at least `wanted` bytes, keeping the first `kept` bytes; the
// buffer never shrinks, so its size is bounded by the largest record read so far.
bool reserve(simdjson::padded_string& buffer, std::size_t kept, std::size_t wanted) {
    if (buffer.size() >= wanted)
        return true;
    simdjson::padded_string bigger(std::max(wanted, buffer.size() * 2));
    if (bigger.data() == nullptr)
        return false;
    if (kept > 0)
        std::memcpy(bigger.data(), buffer.data(), kept);
    buffer = std::move(bigger);
    return true;
}

// Reads a whole file into `buffer`; returns 0 and sets `length`, or an errno value.
int read_padded(const std::filesystem::path& path, simdjson::padded_string& buffer,
                std::size_t& length) {
    length = 0;
    const util::FdGuard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        return errno;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    // One byte more than the size, so that reaching end-of-file needs no reallocation.
    const std::size_t expected = st.st_size > 0 ? static_cast<std::size_t>(st.st_size) : 0;
    if (!reserve(buffer, 0, std::max<std::size_t>(expected + 1, 4096)))
        return ENOMEM;
    while (true) {
        if (length == buffer.size() && !reserve(buffer, length, length * 2))
            return ENOMEM;
        const ssize_t n = ::read(fd.get(), buffer.data() + length, buffer.size() - length);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            break;
        length += static_cast<std::size_t>(n);
    }
    // The padding after the text may hold bytes of an earlier, longer record.
    std::memset(buffer.data() + length, 0, simdjson::SIMDJSON_PADDING);
    return 0;
}

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
// untouched, and only invalid JSON is an error. simdjson's On-Demand API checks a scalar
// only when it is converted, so the readers check the scalars they do not use; values of
// other fields (paths_data, link, ...) are skipped with only their structure checked.

// Checks a value that goes unused; arrays and objects are left to the iterator's skip.
error_code check_unused(od::value value, od::json_type type) {
    switch (type) {
        case od::json_type::boolean: {
            bool flag = false;
            return value.get_bool().get(flag);
        }
        case od::json_type::null:
            return check_null(value);
        case od::json_type::number:
            return is_json_number(util::trim(value.raw_json_token())) ? simdjson::SUCCESS
                                                                      : simdjson::NUMBER_ERROR;
        case od::json_type::string: {
            std::string_view text;
            return value.get_string().get(text);
        }
        case od::json_type::array:
        case od::json_type::object:
            return simdjson::SUCCESS;
    }
    return simdjson::SUCCESS;
}

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
error_code read_number(od::value value, od::json_type type, std::optional<Number>& out) {
    if (type == od::json_type::string) {
        std::string_view text;
        if (auto err = value.get_string().get(text))
            return err;
        out = parse_numeric_string(text);
        return simdjson::SUCCESS;
    }
    if (type != od::json_type::number)
        return check_unused(value, type);
    Number number;
    if (value.get_int64().get(number.integer) == simdjson::SUCCESS) {
        number.is_integer = true;
        out = number;
    } else if (value.get_double().get(number.real) == simdjson::SUCCESS) {
        if (std::isfinite(number.real))
            out = number;  // a fraction, or past int64
    } else if (!is_json_number(util::trim(value.raw_json_token()))) {
        return simdjson::NUMBER_ERROR;
    }
    return simdjson::SUCCESS;  // a well-formed number past double's range is ignored
}

std::optional<std::int64_t> to_int64(double real) {
    // 2^63 is exactly representable; anything at or past it does not fit.
    constexpr double k_limit = 9223372036854775808.0;
    if (!(real < k_limit && real >= -k_limit))
        return std::nullopt;
    return static_cast<std::int64_t>(real);
}

error_code read_int(od::value value, od::json_type type, std::int64_t& out) {
    std::optional<Number> number;
    if (auto err = read_number(value, type, number))
        return err;
    if (!number)
        return simdjson::SUCCESS;
    if (number->is_integer) {
        out = number->integer;
    } else if (auto integer = to_int64(number->real)) {
        out = *integer;
    }
    return simdjson::SUCCESS;
}

error_code read_timestamp(od::value value, od::json_type type, std::int64_t& out) {
    std::optional<Number> number;
    if (auto err = read_number(value, type, number))
        return err;
    if (!number)
        return simdjson::SUCCESS;
    if (number->is_integer) {
        const std::int64_t t = number->integer;
        if (t > k_max_seconds_timestamp) {
            out = t;
        } else if (t >= std::numeric_limits<std::int64_t>::min() / 1000) {
            out = t * 1000;
        }
        return simdjson::SUCCESS;
    }
    const double t = number->real;
    const double ms = t <= static_cast<double>(k_max_seconds_timestamp) ? t * 1000.0 : t;
    if (auto integer = to_int64(std::round(ms)))
        out = *integer;
    return simdjson::SUCCESS;
}

// Reads a string; a number is taken by its literal text ("version": 2 reads as "2").
error_code read_string(od::value value, od::json_type type, std::string& out) {
    if (type == od::json_type::string) {
        std::string_view text;
        if (auto err = value.get_string().get(text))
            return err;
        out.assign(text);
        return simdjson::SUCCESS;
    }
    if (type == od::json_type::number) {
        const std::string_view literal = util::trim(value.raw_json_token());
        if (!is_json_number(literal))
            return simdjson::NUMBER_ERROR;
        out.assign(literal);
        return simdjson::SUCCESS;
    }
    return check_unused(value, type);
}

// Calls on_string for each string of an array and on_any for every element; returns
// whether the value was an array through `is_array`.
template <typename OnString, typename OnAny>
error_code for_each_element(od::value value, od::json_type type, bool& is_array, OnString on_string,
                            OnAny on_any) {
    if (type != od::json_type::array)
        return check_unused(value, type);
    od::array array;
    if (auto err = value.get_array().get(array))
        return err;
    is_array = true;
    for (auto element : array) {
        od::value item;
        if (auto err = element.get(item))
            return err;
        on_any();
        od::json_type item_type{};
        if (auto err = item.type().get(item_type))
            return err;
        if (item_type != od::json_type::string) {
            if (auto err = check_unused(item, item_type))
                return err;
            continue;
        }
        std::string_view text;
        if (auto err = item.get_string().get(text))
            return err;
        on_string(text);
    }
    return simdjson::SUCCESS;
}

error_code read_string_list(od::value value, od::json_type type, std::vector<std::string>& out,
                            bool& is_array) {
    std::vector<std::string> list;
    if (auto err = for_each_element(
            value, type, is_array, [&](std::string_view text) { list.emplace_back(text); },
            [] {})) {
        return err;
    }
    if (is_array)
        out = std::move(list);
    return simdjson::SUCCESS;
}

// Counts files[] and collects anchors without keeping the paths.
error_code scan_files(od::value value, od::json_type type, CondaRecord& record) {
    std::size_t count = 0;
    std::vector<std::string> anchors;
    bool is_array = false;
    if (auto err = for_each_element(
            value, type, is_array,
            [&](std::string_view path) {
                const auto anchor = python_anchor(path);
                if (!anchor.empty())
                    add_anchor(anchor, anchors);
            },
            [&] { ++count; })) {
        return err;
    }
    if (is_array) {
        record.file_count = count;
        record.python_anchors = std::move(anchors);
    }
    return simdjson::SUCCESS;
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

error_code read_noarch(od::value value, od::json_type type, Pending& pending) {
    if (type == od::json_type::boolean) {
        // Records from before conda 4.3 wrote "noarch": true for generic noarch packages.
        bool flag = false;
        if (auto err = value.get_bool().get(flag))
            return err;
        pending.noarch = flag ? "generic" : "";
        return simdjson::SUCCESS;
    }
    if (type == od::json_type::string) {
        std::string_view text;
        if (auto err = value.get_string().get(text))
            return err;
        if (text == "python" || text == "generic" || text.empty())
            pending.noarch = text;
        return simdjson::SUCCESS;
    }
    return check_unused(value, type);
}

error_code read_field(std::string_view key, od::value value, CondaRecord& record,
                      Pending& pending) {
    od::json_type type{};
    if (auto err = value.type().get(type))
        return err;
    for (const auto& field : k_string_fields) {
        if (key == field.key)
            return read_string(value, type, record.*field.member);
    }
    bool is_array = false;
    if (key == "files")
        return scan_files(value, type, record);
    if (key == "depends")
        return read_string_list(value, type, record.depends, is_array);
    if (key == "constrains")
        return read_string_list(value, type, record.constrains, is_array);
    if (key == "requested_specs") {
        return read_string_list(value, type, pending.requested_specs, pending.has_requested_specs);
    }
    if (key == "build_number")
        return read_int(value, type, record.build_number);
    if (key == "size")
        return read_int(value, type, record.size);
    if (key == "timestamp")
        return read_timestamp(value, type, record.timestamp);
    if (key == "build_string")
        return read_string(value, type, pending.build_string);
    if (key == "noarch")
        return read_noarch(value, type, pending);
    if (key == "package_type")
        return read_string(value, type, pending.package_type);
    if (key == "requested_spec")
        return read_string(value, type, pending.requested_spec);
    // Anything else (paths_data, link, ...) is skipped by the object iterator unread.
    return simdjson::SUCCESS;
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
    od::parser parser;
    simdjson::padded_string buffer;

    // Parses the buffer's first `length` bytes; returns simdjson's error for invalid JSON and
    // throws for valid JSON that is not a record.
    error_code parse(const std::filesystem::path& path, std::size_t length, CondaRecord& record);
};

error_code CondaRecordReader::Impl::parse(const std::filesystem::path& path, std::size_t length,
                                          CondaRecord& record) {
    const simdjson::padded_string_view view(buffer.data(), length,
                                            buffer.size() + simdjson::SIMDJSON_PADDING);
    od::document doc;
    if (auto err = parser.iterate(view).get(doc))
        return err;
    od::json_type type{};
    if (auto err = doc.type().get(type))
        return err;
    if (type != od::json_type::object) {
        // On-Demand has not checked the rest of the text; a syntax error comes first.
        if (!nlohmann::json::accept(std::string_view(buffer.data(), length))) {
            return simdjson::TAPE_ERROR;
        }
        throw Error(ExitCode::not_found, error_prefix(path) +
                                             "expected a JSON object at the top level, found " +
                                             std::string(type_name(type)));
    }
    od::object object;
    if (auto err = doc.get_object().get(object))
        return err;
    Pending pending;
    for (auto field : object) {
        std::string_view key;
        if (auto err = field.unescaped_key().get(key))
            return err;
        if (auto err = read_field(key, field.value(), record, pending))
            return err;
    }
    // A document fully consumed has no current location; anything left is trailing content.
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
        return simdjson::TRAILING_CONTENT;
    }
    resolve(pending, record);
    return simdjson::SUCCESS;
}

CondaRecordReader::CondaRecordReader() : m_impl(std::make_unique<Impl>()) {}

CondaRecordReader::~CondaRecordReader() = default;

CondaRecord CondaRecordReader::read(const std::filesystem::path& record_file) {
    std::size_t length = 0;
    if (const int err = read_padded(record_file, m_impl->buffer, length); err != 0) {
        throw Error(ExitCode::not_found, error_prefix(record_file) + std::strerror(err));
    }
    CondaRecord record;
    if (auto err = m_impl->parse(record_file, length, record)) {
        throw_syntax_error(record_file, std::string_view(m_impl->buffer.data(), length), err);
    }
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
