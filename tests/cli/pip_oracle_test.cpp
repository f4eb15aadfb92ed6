// Oracle tests: on real Python installations that nobody on this project wrote, `gpuenv list`
// must agree with `pip list` on every name and version.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include <gpuenv/core/spec/package_name.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/process.hpp>
#include <support/run_gpuenv.hpp>

namespace gpuenv {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using NameVersions =
    std::map<std::string, std::pair<std::string, std::string>>;  // key -> (name, version)

// Returns pip's view of one site-packages directory, keyed by PEP 503 name.
std::optional<NameVersions> pip_list(const std::string& python, const fs::path& site_packages) {
    const auto result =
        test::run_command({python, "-m", "pip", "list", "--format=json",
                           "--disable-pip-version-check", "--path", site_packages.string()},
                          {{{"PIP_NO_INPUT", "1"}}});
    if (result.exit_code != 0)
        return std::nullopt;
    NameVersions out;
    for (const auto& entry : Json::parse(result.out)) {
        const std::string name = entry.at("name");
        out[core::spec::normalize_pypi_name(name)] = {name, entry.at("version")};
    }
    return out;
}

// Returns gpuenv's view of the packages found in one site-packages directory of a prefix.
NameVersions gpuenv_list(const fs::path& prefix, const fs::path& site_packages) {
    const auto result = test::run_gpuenv({"list", "--json", "-p", prefix.string()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const auto doc = Json::parse(result.out);
    const std::string wanted = site_packages.lexically_relative(prefix).generic_string();
    NameVersions out;
    for (const auto& p : doc.at("packages")) {
        if (!p.contains("python"))
            continue;
        const std::string metadata = p.at("python").at("metadata");
        if (fs::path(metadata).parent_path().generic_string() != wanted)
            continue;
        // pip lists a distribution as its metadata says, whoever installed it.
        out[p.at("python").at("normalized_name")] = {p.at("python").at("name"),
                                                     p.at("python").at("version")};
    }
    return out;
}

void expect_same(const NameVersions& pip, const NameVersions& ours) {
    for (const auto& [key, nv] : pip) {
        const auto it = ours.find(key);
        if (it == ours.end()) {
            ADD_FAILURE() << "gpuenv misses " << nv.first << " " << nv.second;
            continue;
        }
        EXPECT_EQ(it->second.first, nv.first) << "name of " << key;
        EXPECT_EQ(it->second.second, nv.second) << "version of " << key;
    }
    for (const auto& [key, nv] : ours) {
        EXPECT_TRUE(pip.count(key) == 1)
            << "gpuenv lists " << nv.first << " " << nv.second << " that pip does not";
    }
}

}  // namespace

TEST(PipOracle, PythonOnPathAgreesWithPipList) {
    const std::string python =
        util::find_on_path("python3", std::getenv("PATH") != nullptr ? std::getenv("PATH") : "");
    if (python.empty())
        GTEST_SKIP() << "no python3 on PATH";
    const auto info = util::run_capture(
        {python, "-c",
         "import sys, site; print(sys.prefix); print('\\n'.join(site.getsitepackages()))"},
        std::chrono::seconds(30));
    ASSERT_TRUE(info && info->exit_status == 0);
    std::istringstream lines(info->out);
    std::string prefix;
    std::getline(lines, prefix);
    int compared = 0;
    for (std::string sp; std::getline(lines, sp);) {
        if (!util::is_directory(sp))
            continue;
        const auto pip = pip_list(python, sp);
        if (!pip)
            GTEST_SKIP() << python << " has no working pip module";
        SCOPED_TRACE(sp);
        expect_same(*pip, gpuenv_list(prefix, sp));
        compared += static_cast<int>(pip->size());
    }
    EXPECT_GT(compared, 0) << "no distributions compared under " << prefix;
}

TEST(PipOracle, DebianDistPackagesAgreesWithPipList) {
    const fs::path dist_packages = "/usr/lib/python3/dist-packages";
    if (!util::is_directory(dist_packages))
        GTEST_SKIP() << "no Debian dist-packages on this machine";
    if (!util::is_regular_file("/usr/bin/python3"))
        GTEST_SKIP() << "no /usr/bin/python3";
    const auto pip = pip_list("/usr/bin/python3", dist_packages);
    if (!pip)
        GTEST_SKIP() << "Debian's python3 has no pip (apt-get install python3-pip)";
    ASSERT_FALSE(pip->empty());
    expect_same(*pip, gpuenv_list("/usr", dist_packages));
}

}  // namespace gpuenv
