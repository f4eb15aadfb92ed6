#include <support/python_dist_builder.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <support/temp_dir.hpp>

namespace gpuenv::test {
namespace {

namespace fs = std::filesystem;

// One file of a distribution: its path relative to site-packages and its content.
struct FileEntry {
    std::string path;
    std::string content;
};

std::string package_file_content(const PythonDistSpec& spec, const std::string& file) {
    return "# " + file + " from " + spec.name + " " + spec.version + "\n";
}

// Quotes a RECORD field as Python's csv module does when it holds a separator or a quote.
std::string csv_field(const std::string& field) {
    if (field.find_first_of(",\"\r\n") == std::string::npos)
        return field;
    std::string out = "\"";
    for (const char c : field) {
        if (c == '"')
            out += '"';
        out += c;
    }
    return out + "\"";
}

// Lists the files of a dist-info install, RECORD excluded, sorted by path as pip sorts RECORD.
std::vector<FileEntry> dist_info_entries(const PythonDistSpec& spec) {
    const std::string dir = dist_info_name(spec) + "/";
    std::vector<FileEntry> entries;
    for (const std::string& file : spec.files) {
        entries.push_back({file, package_file_content(spec, file)});
    }
    for (const std::string& script : spec.scripts) {
        entries.push_back(
            {"../../../bin/" + script, "#!/usr/bin/python3\n# console script " + script + "\n"});
    }
    entries.push_back({dir + "METADATA", core_metadata(spec)});
    entries.push_back({dir + "WHEEL",
                       "Wheel-Version: 1.0\nGenerator: gpuenv-test\nRoot-Is-Purelib: true\n"
                       "Tag: py3-none-any\n"});
    if (!spec.installer.empty())
        entries.push_back({dir + "INSTALLER", spec.installer + "\n"});
    if (spec.requested)
        entries.push_back({dir + "REQUESTED", ""});
    if (spec.direct_url_json)
        entries.push_back({dir + "direct_url.json", *spec.direct_url_json});
    std::sort(entries.begin(), entries.end(),
              [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
    return entries;
}

// Returns where CPython 3.11 caches the bytecode of a .py file ("" for other files).
std::string pyc_of(const std::string& file) {
    if (!file.ends_with(".py"))
        return {};
    const auto slash = file.rfind('/');
    const std::string dir = slash == std::string::npos ? "" : file.substr(0, slash + 1);
    const std::string stem = file.substr(dir.size(), file.size() - dir.size() - 3);
    return dir + "__pycache__/" + stem + ".cpython-311.pyc";
}

std::string record_text(const std::vector<FileEntry>& entries, const std::string& record_path,
                        bool listed_pyc) {
    std::vector<std::string> rows;
    rows.reserve(entries.size() + 1);
    for (const FileEntry& entry : entries) {
        rows.push_back(csv_field(entry.path) + "," + record_hash(entry.content) + "," +
                       std::to_string(entry.content.size()));
        if (const std::string pyc = pyc_of(entry.path); listed_pyc && !pyc.empty())
            rows.push_back(csv_field(pyc) + ",,");
    }
    rows.push_back(csv_field(record_path) + ",,");
    std::sort(rows.begin(), rows.end());
    std::string out;
    for (const std::string& row : rows)
        out += row + "\n";
    return out;
}

void write_package_files(const fs::path& root, const PythonDistSpec& spec) {
    for (const std::string& file : spec.files) {
        write_file(root / file, package_file_content(spec, file));
    }
}

std::string egg_base_name(const PythonDistSpec& spec) {
    return wheel_escape(spec.name) + "-" + spec.version;
}

}  // namespace

std::string wheel_escape(std::string_view name) {
    std::string out;
    bool in_run = false;
    for (const char c : name) {
        const bool separator = c == '-' || c == '_' || c == '.';
        if (separator && !in_run)
            out += '_';
        if (!separator)
            out += c;
        in_run = separator;
    }
    return out;
}

std::string core_metadata(const PythonDistSpec& spec) {
    return "Metadata-Version: 2.1\nName: " + spec.name + "\nVersion: " + spec.version + "\n" +
           "Summary: test distribution " + spec.name + "\n" + spec.metadata_extra + "\n" +
           "A distribution written by gpuenv's tests.\n";
}

std::string record_hash(std::string_view content) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    if (EVP_Digest(content.data(), content.size(), digest, &digest_size, EVP_sha256(), nullptr) !=
        1) {
        throw std::runtime_error("EVP_Digest failed");
    }
    // EVP_EncodeBlock writes 4 characters per 3 bytes and a terminating NUL.
    std::string encoded((digest_size + 2) / 3 * 4 + 1, '\0');
    const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), digest,
                                       static_cast<int>(digest_size));
    encoded.resize(static_cast<std::size_t>(length));
    while (!encoded.empty() && encoded.back() == '=')
        encoded.pop_back();
    std::replace(encoded.begin(), encoded.end(), '+', '-');
    std::replace(encoded.begin(), encoded.end(), '/', '_');
    return "sha256=" + encoded;
}

std::string dist_info_name(const PythonDistSpec& spec) {
    return wheel_escape(spec.name) + "-" + spec.version + ".dist-info";
}

std::vector<std::string> dist_info_files(const PythonDistSpec& spec) {
    std::vector<std::string> files;
    for (const FileEntry& entry : dist_info_entries(spec))
        files.push_back(entry.path);
    files.push_back(dist_info_name(spec) + "/RECORD");
    std::sort(files.begin(), files.end());
    return files;
}

fs::path write_dist_info(const fs::path& site_packages, const PythonDistSpec& spec) {
    const std::vector<FileEntry> entries = dist_info_entries(spec);
    for (const FileEntry& entry : entries)
        write_file(site_packages / entry.path, entry.content);
    const std::string record_path = dist_info_name(spec) + "/RECORD";
    write_file(site_packages / record_path, record_text(entries, record_path, spec.listed_pyc));
    return site_packages / dist_info_name(spec);
}

fs::path write_egg_info_dir(const fs::path& site_packages, const PythonDistSpec& spec) {
    fs::path dir = site_packages / (egg_base_name(spec) + ".egg-info");
    write_package_files(site_packages, spec);
    write_file(dir / "PKG-INFO", core_metadata(spec));
    // setuptools lists installed files relative to the egg-info directory.
    std::string installed_files;
    for (const std::string& file : spec.files)
        installed_files += "../" + file + "\n";
    write_file(dir / "installed-files.txt", installed_files);
    if (!spec.installer.empty())
        write_file(dir / "INSTALLER", spec.installer + "\n");
    return dir;
}

fs::path write_egg_info_file(const fs::path& site_packages, const PythonDistSpec& spec) {
    fs::path file = site_packages / (egg_base_name(spec) + ".egg-info");
    write_package_files(site_packages, spec);
    write_file(file, core_metadata(spec));
    return file;
}

fs::path write_egg(const fs::path& site_packages, const PythonDistSpec& spec) {
    fs::path dir = site_packages / (egg_base_name(spec) + "-py3.egg");
    write_package_files(dir, spec);
    write_file(dir / "EGG-INFO" / "PKG-INFO", core_metadata(spec));
    return dir;
}

}  // namespace gpuenv::test
