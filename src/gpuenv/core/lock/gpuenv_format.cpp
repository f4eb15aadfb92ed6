// gpuenv's own lock: YAML written by hand in a fixed key order (equal input, equal bytes),
// every string double-quoted so that no YAML reader takes 1.10 for a number or `no` for a
// boolean; read back with yaml-cpp.
#include <gpuenv/core/lock/format_parts.hpp>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv::core::lock::detail {
namespace {

namespace fs = std::filesystem;
using env::DirectUrl;

constexpr std::string_view k_header = "# gpuenv lock: verify with `gpuenv verify --lock <file>`\n";
constexpr int k_major_version = 1;

class Writer {
  public:
    void key(int indent, std::string_view name) {
        m_out.append(static_cast<std::size_t>(indent), ' ');
        m_out += name;
        m_out += ":\n";
    }
    void string(int indent, std::string_view name, std::string_view value) {
        raw(indent, name, yaml_quote(value));
    }
    void raw(int indent, std::string_view name, std::string_view value) {
        m_out.append(static_cast<std::size_t>(indent), ' ');
        m_out += name;
        m_out += ": ";
        m_out += value;
        m_out += '\n';
    }
    void boolean(int indent, std::string_view name, bool value) {
        raw(indent, name, value ? "true" : "false");
    }
    void integer(int indent, std::string_view name, std::int64_t value) {
        raw(indent, name, std::to_string(value));
    }
    // Writes `name:` and the list below it, or `name: []` when empty.
    void strings(int indent, std::string_view name, const std::vector<std::string>& values) {
        if (values.empty()) {
            raw(indent, name, "[]");
            return;
        }
        key(indent, name);
        for (const auto& v : values) {
            m_out.append(static_cast<std::size_t>(indent) + 2, ' ');
            m_out += "- ";
            m_out += yaml_quote(v);
            m_out += '\n';
        }
    }
    // Starts a list item: the first key goes on the dash line.
    void item(int indent) {
        m_out.append(static_cast<std::size_t>(indent), ' ');
        m_out += "- ";
        m_pending_item = true;
    }
    void text(std::string_view s) { m_out += s; }
    [[nodiscard]] std::string& out() { return m_out; }

    // Writes a key of a list item at `indent` (the item's content column).
    void item_string(int indent, std::string_view name, std::string_view value) {
        if (m_pending_item) {
            m_pending_item = false;
            m_out += name;
            m_out += ": ";
            m_out += yaml_quote(value);
            m_out += '\n';
            return;
        }
        string(indent, name, value);
    }

  private:
    std::string m_out;
    bool m_pending_item = false;
};

const char* kind_name(DirectUrl::Kind kind) {
    switch (kind) {
        case DirectUrl::Kind::dir:
            return "dir";
        case DirectUrl::Kind::vcs:
            return "vcs";
        case DirectUrl::Kind::archive:
            break;
    }
    return "archive";
}

void write_direct_url(Writer& w, int indent, const DirectUrl& u) {
    w.key(indent, "direct_url");
    const int in = indent + 2;
    w.string(in, "url", u.url);
    w.raw(in, "kind", kind_name(u.kind));
    if (u.editable)
        w.boolean(in, "editable", true);
    const std::pair<std::string_view, const std::string*> optional[] = {
        {"vcs", &u.vcs},
        {"commit_id", &u.commit_id},
        {"requested_revision", &u.requested_revision},
        {"archive_hash", &u.archive_hash},
        {"subdirectory", &u.subdirectory},
    };
    for (const auto& [name, value] : optional) {
        if (!value->empty())
            w.string(in, name, *value);
    }
}

void write_conda(Writer& w, const LockedPackage& p) {
    constexpr int in = 4;
    w.item(2);
    w.item_string(in, "name", p.name);
    w.string(in, "version", p.version);
    w.string(in, "build", p.build);
    w.integer(in, "build_number", p.build_number);
    w.string(in, "channel", p.channel);
    w.string(in, "subdir", p.subdir);
    w.string(in, "url", p.url);
    w.string(in, "md5", p.md5);
    w.string(in, "sha256", p.sha256);
    w.integer(in, "size", p.size);
    w.strings(in, "depends", p.depends);
    w.boolean(in, "requested", p.requested);
    if (!p.python_name.empty()) {
        w.key(in, "python");
        w.string(in + 2, "name", p.python_name);
        w.string(in + 2, "version", p.python_version);
        w.string(in + 2, "record_sha256", p.record_sha256);
    }
}

void write_pypi(Writer& w, const LockedPackage& p) {
    constexpr int in = 4;
    w.item(2);
    w.item_string(in, "name", p.name);
    w.string(in, "version", p.version);
    w.string(in, "installer", p.installer);
    w.boolean(in, "requested", p.requested);
    if (p.direct_url)
        write_direct_url(w, in, *p.direct_url);
    if (!p.pypi_sha256.empty())
        w.string(in, "sha256", p.pypi_sha256);
    w.string(in, "record_sha256", p.record_sha256);
    if (!p.depends.empty())
        w.strings(in, "depends", p.depends);
}

// ---- reading ----

class LockReader {
  public:
    LockReader(const fs::path& path, LockedEnv& env) : m_yaml(path, env.warnings), m_env(env) {}

    void read(std::string_view text) {
        const YAML::Node root = m_yaml.load(text);
        if (!root.IsMap())
            m_yaml.fail(root, "expected a gpuenv lock: a mapping starting with version: 1");
        bool has_version = false;
        for (const auto& entry : root) {
            const std::string key = m_yaml.string(entry.first, "a key");
            const YAML::Node& value = entry.second;
            if (key == "version") {
                check_version(value);
                has_version = true;
            } else if (key == "platform") {
                m_env.platform = m_yaml.string(value, "platform");
            } else if (key == "name") {
                m_env.name = m_yaml.string(value, "name");
            } else if (key == "fingerprint") {
                m_env.fingerprint = m_yaml.string(value, "fingerprint");
            } else if (key == "channels") {
                m_env.channels = m_yaml.strings(value, "channels");
            } else if (key == "env_vars") {
                read_env_vars(value);
            } else if (key == "conda") {
                read_list(value, "conda", Manager::conda);
            } else if (key == "pypi") {
                read_list(value, "pypi", Manager::pypi);
            } else {
                m_yaml.warn(entry.first, "unknown key '" + key + "' is ignored");
            }
        }
        if (!has_version)
            m_yaml.fail(root, "not a gpuenv lock: no version key");
    }

  private:
    void check_version(const YAML::Node& value) {
        const std::string version = m_yaml.string(value, "version");
        const std::string major = version.substr(0, version.find('.'));
        if (major != std::to_string(k_major_version)) {
            m_yaml.fail(value, "unsupported gpuenv lock version '" + version +
                                   "' (this gpuenv reads version " +
                                   std::to_string(k_major_version) + ")");
        }
    }

    void read_env_vars(const YAML::Node& value) {
        m_yaml.expect_map(value, "env_vars", true);
        if (value.IsNull())
            return;
        for (const auto& var : value) {
            m_env.env_vars[m_yaml.string(var.first, "a variable name")] =
                m_yaml.string(var.second, "a variable value");
        }
    }

    void read_list(const YAML::Node& list, std::string_view what, Manager manager) {
        m_yaml.expect_list(list, what, true);
        if (list.IsNull())
            return;
        for (const auto& item : list) {
            m_yaml.expect_map(item, std::string("a ") + std::string(what) + " package");
            LockedPackage p;
            p.manager = manager;
            if (manager == Manager::conda) {
                p.installer = "conda";
                read_conda(item, p);
            } else {
                read_pypi(item, p);
            }
            if (p.name.empty())
                m_yaml.fail(item, std::string("a ") + std::string(what) + " package has no name");
            p.key = spec::normalize_pypi_name(p.name);
            m_env.packages.push_back(std::move(p));
        }
    }

    // Reads the keys both managers share; returns false for a key it does not know.
    bool read_common(const std::string& key, const YAML::Node& value, LockedPackage& p) {
        if (key == "name") {
            p.name = m_yaml.string(value, "name");
        } else if (key == "version") {
            p.version = m_yaml.string(value, "version");
        } else if (key == "requested") {
            p.requested = m_yaml.boolean(value, "requested");
        } else if (key == "depends") {
            p.depends = m_yaml.strings(value, "depends");
        } else if (key == "record_sha256") {
            p.record_sha256 = m_yaml.string(value, "record_sha256");
        } else {
            return false;
        }
        return true;
    }

    void read_conda(const YAML::Node& item, LockedPackage& p) {
        for (const auto& entry : item) {
            const std::string key = m_yaml.string(entry.first, "a key");
            const YAML::Node& value = entry.second;
            // A conda package's RECORD hash belongs to its distribution, under python:.
            if (key != "record_sha256" && read_common(key, value, p))
                continue;
            if (key == "build") {
                p.build = m_yaml.string(value, "build");
            } else if (key == "build_number") {
                p.build_number = m_yaml.integer(value, "build_number");
            } else if (key == "channel") {
                p.channel = m_yaml.string(value, "channel");
            } else if (key == "subdir") {
                p.subdir = m_yaml.string(value, "subdir");
            } else if (key == "url") {
                p.url = m_yaml.string(value, "url");
            } else if (key == "md5") {
                p.md5 = m_yaml.string(value, "md5");
            } else if (key == "sha256") {
                p.sha256 = m_yaml.string(value, "sha256");
            } else if (key == "size") {
                p.size = m_yaml.integer(value, "size");
            } else if (key == "python") {
                read_python(value, p);
            } else {
                m_yaml.warn(entry.first, "unknown key '" + key + "' is ignored");
            }
        }
    }

    void read_python(const YAML::Node& value, LockedPackage& p) {
        m_yaml.expect_map(value, "python");
        for (const auto& entry : value) {
            const std::string key = m_yaml.string(entry.first, "a key");
            if (key == "name") {
                p.python_name = m_yaml.string(entry.second, "python name");
            } else if (key == "version") {
                p.python_version = m_yaml.string(entry.second, "python version");
            } else if (key == "record_sha256") {
                p.record_sha256 = m_yaml.string(entry.second, "record_sha256");
            } else {
                m_yaml.warn(entry.first, "unknown key '" + key + "' is ignored");
            }
        }
    }

    void read_pypi(const YAML::Node& item, LockedPackage& p) {
        for (const auto& entry : item) {
            const std::string key = m_yaml.string(entry.first, "a key");
            const YAML::Node& value = entry.second;
            if (read_common(key, value, p))
                continue;
            if (key == "installer") {
                p.installer = m_yaml.string(value, "installer");
            } else if (key == "sha256") {
                p.pypi_sha256 = m_yaml.string(value, "sha256");
            } else if (key == "direct_url") {
                p.direct_url = read_direct_url(value);
            } else {
                m_yaml.warn(entry.first, "unknown key '" + key + "' is ignored");
            }
        }
    }

    DirectUrl read_direct_url(const YAML::Node& value) {
        m_yaml.expect_map(value, "direct_url");
        DirectUrl u;
        for (const auto& entry : value) {
            const std::string key = m_yaml.string(entry.first, "a key");
            const YAML::Node& v = entry.second;
            if (key == "url") {
                u.url = m_yaml.string(v, "url");
            } else if (key == "kind") {
                const std::string kind = m_yaml.string(v, "kind");
                if (kind == "dir") {
                    u.kind = DirectUrl::Kind::dir;
                } else if (kind == "vcs") {
                    u.kind = DirectUrl::Kind::vcs;
                } else if (kind == "archive") {
                    u.kind = DirectUrl::Kind::archive;
                } else {
                    m_yaml.fail(v, "kind must be dir, vcs or archive, not '" + kind + "'");
                }
            } else if (key == "editable") {
                u.editable = m_yaml.boolean(v, "editable");
            } else if (key == "vcs") {
                u.vcs = m_yaml.string(v, "vcs");
            } else if (key == "commit_id") {
                u.commit_id = m_yaml.string(v, "commit_id");
            } else if (key == "requested_revision") {
                u.requested_revision = m_yaml.string(v, "requested_revision");
            } else if (key == "archive_hash") {
                u.archive_hash = m_yaml.string(v, "archive_hash");
            } else if (key == "subdirectory") {
                u.subdirectory = m_yaml.string(v, "subdirectory");
            } else {
                m_yaml.warn(entry.first, "unknown key '" + key + "' is ignored");
            }
        }
        return u;
    }

    YamlReader m_yaml;
    LockedEnv& m_env;
};

}  // namespace

RenderedLock render_gpuenv_lock(const LockedEnv& env) {
    Writer w;
    w.text(k_header);
    w.integer(0, "version", k_major_version);
    w.string(0, "platform", env.platform);
    if (!env.name.empty())
        w.string(0, "name", env.name);
    w.string(0, "fingerprint", env.fingerprint);
    w.strings(0, "channels", env.channels);
    if (env.env_vars.empty()) {
        w.raw(0, "env_vars", "{}");
    } else {
        w.key(0, "env_vars");
        for (const auto& [name, value] : env.env_vars)
            w.text(yaml_map_entry(2, name, value));
    }
    bool any_conda = false;
    bool any_pypi = false;
    for (const auto& p : env.packages)
        (p.manager == Manager::conda ? any_conda : any_pypi) = true;
    if (any_conda) {
        w.key(0, "conda");
        for (const auto& p : env.packages) {
            if (p.manager == Manager::conda)
                write_conda(w, p);
        }
    } else {
        w.raw(0, "conda", "[]");
    }
    if (any_pypi) {
        w.key(0, "pypi");
        for (const auto& p : env.packages) {
            if (p.manager == Manager::pypi)
                write_pypi(w, p);
        }
    } else {
        w.raw(0, "pypi", "[]");
    }
    return {std::move(w.out()), {}};
}

LockedEnv parse_gpuenv_lock(std::string_view text, const fs::path& path) {
    LockedEnv env;
    try {
        LockReader(path, env).read(text);
    } catch (const YAML::Exception& e) {
        fail_at(path, e.mark.is_null() ? 0 : e.mark.line + 1,
                e.mark.is_null() ? 0 : e.mark.column + 1, e.msg);
    }
    return env;
}

}  // namespace gpuenv::core::lock::detail
