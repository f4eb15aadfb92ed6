#include <gpuenv/core/env/target_env.hpp>

#include <sys/utsname.h>

#include <algorithm>

namespace gpuenv::core::env {
namespace {

struct PlatformValues {
    const char* sys_platform;
    const char* platform_system;
    const char* os_name;
};

// Maps a conda subdir's OS to the values Python reports there.
PlatformValues platform_of(std::string_view os) {
    if (os == "osx")
        return {"darwin", "Darwin", "posix"};
    if (os == "win")
        return {"win32", "Windows", "nt"};
    return {"linux", "Linux", "posix"};
}

// Maps a conda subdir's architecture to platform.machine() there.
std::string machine_of(std::string_view os, std::string_view arch) {
    if (arch == "64")
        return os == "win" ? "AMD64" : "x86_64";
    if (arch == "32")
        return os == "win" ? "x86" : "i686";
    if (arch == "arm64")
        return os == "osx" ? "arm64" : "aarch64";
    return std::string(arch);  // aarch64, ppc64le, s390x, armv7l
}

}  // namespace

spec::MarkerEnvironment marker_environment(const Inventory& inventory) {
    spec::MarkerEnvironment env;
    env.python_version = inventory.prefix.python_version;
    env.python_full_version = env.python_version.empty() ? "" : env.python_version + ".0";
    std::string subdir;
    const auto python = std::find_if(
        inventory.packages.begin(), inventory.packages.end(),
        [](const Package& p) { return p.kind == PackageKind::conda && p.name == "python"; });
    if (python != inventory.packages.end()) {
        env.python_full_version = python->version;
        const auto dot = python->version.find('.', python->version.find('.') + 1);
        env.python_version = python->version.substr(0, dot);
        subdir = python->record->subdir;
        if (python->build.find("pypy") != std::string::npos) {
            env.implementation_name = "pypy";
            env.platform_python_implementation = "PyPy";
        }
    }
    env.implementation_version = env.python_full_version;
    if (!subdir.empty() && subdir != "noarch") {
        const auto dash = subdir.find('-');
        const std::string_view os = std::string_view(subdir).substr(0, dash);
        const auto values = platform_of(os);
        env.sys_platform = values.sys_platform;
        env.platform_system = values.platform_system;
        env.os_name = values.os_name;
        env.platform_machine = machine_of(
            os, dash == std::string::npos ? "" : std::string_view(subdir).substr(dash + 1));
        return env;
    }
    // Not a conda environment: its Python runs on this machine.
    utsname u{};
    if (::uname(&u) == 0) {
        env.platform_machine = u.machine;
        env.platform_release = u.release;
        env.platform_version = u.version;
    }
    env.sys_platform = "linux";
    env.platform_system = "Linux";
    env.os_name = "posix";
    return env;
}

spec::PackageInfo package_info(const Package& package) {
    spec::PackageInfo info;
    info.name = package.name;
    info.version = package.version;
    info.build = package.build;
    info.channel = package.channel;
    if (package.record) {
        const auto& r = *package.record;
        info.build_number = r.build_number;
        info.channel_url = r.channel;
        info.subdir = r.subdir;
        info.fn = r.fn;
        info.url = r.url;
        info.md5 = r.md5;
        info.sha256 = r.sha256;
    }
    return info;
}

}  // namespace gpuenv::core::env
