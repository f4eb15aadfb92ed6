#include <gtest/gtest.h>

#include <algorithm>

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/env/inventory_json.hpp>
#include <support/conda_prefix_builder.hpp>
#include <support/python_dist_builder.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::env {
namespace {

namespace fs = std::filesystem;
using test::CondaPackageSpec;
using test::CondaPrefixBuilder;
using test::CondaWriter;
using test::PythonDistSpec;
using test::TempDir;

const std::string k_sp = "lib/python3.11/site-packages";

// Returns the files a conda package carrying this distribution lists, prefix-relative.
std::vector<std::string> conda_files_of(const PythonDistSpec& dist) {
    std::vector<std::string> files;
    for (const auto& f : test::dist_info_files(dist))
        files.push_back(k_sp + "/" + f);
    return files;
}

// Installs a Python package the way conda does: its dist-info on disk, owned by a record.
void add_conda_python_package(CondaPrefixBuilder& builder, const std::string& conda_name,
                              const PythonDistSpec& dist, CondaWriter = CondaWriter::conda) {
    test::write_dist_info(builder.prefix() / k_sp, dist);
    CondaPackageSpec spec;
    spec.name = conda_name;
    spec.version = dist.version;
    spec.build = "py311_0";
    spec.files = conda_files_of(dist);
    builder.add_package(spec);
}

const Package& find(const Inventory& inv, const std::string& name, PackageKind kind) {
    const auto it = std::find_if(inv.packages.begin(), inv.packages.end(), [&](const Package& p) {
        return p.name == name && p.kind == kind;
    });
    if (it == inv.packages.end())
        throw std::runtime_error("no package " + name);
    return *it;
}

Inventory inventory_of(const fs::path& prefix) {
    return read_inventory(open_prefix(prefix));
}

}  // namespace

TEST(Inventory, CondaOwnedDistributionIsOnePackage) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    add_conda_python_package(builder, "numpy", {"numpy", "1.26.4", "conda"});
    const auto inv = inventory_of(builder.prefix());
    ASSERT_EQ(inv.packages.size(), 1U) << to_json(inv).dump(2);
    const auto& numpy = inv.packages[0];
    EXPECT_EQ(numpy.kind, PackageKind::conda);
    EXPECT_EQ(numpy.installer, "conda");
    EXPECT_EQ(numpy.channel, "conda-forge");
    ASSERT_TRUE(numpy.dist.has_value());
    EXPECT_EQ(numpy.dist->version, "1.26.4");
    EXPECT_FALSE(numpy.shadowed_by.has_value());
    EXPECT_TRUE(inv.warnings.empty());
}

TEST(Inventory, CondaPackageOwnsDistributionOfAnotherName) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    add_conda_python_package(builder, "pyyaml", {"PyYAML", "6.0.1", "conda"});
    const auto inv = inventory_of(builder.prefix());
    ASSERT_EQ(inv.packages.size(), 1U);
    EXPECT_EQ(inv.packages[0].name, "pyyaml");
    EXPECT_EQ(inv.packages[0].dist->name, "PyYAML");
}

TEST(Inventory, PipUpgradeOverCondaPackageIsShadowingWithBothVersions) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    const PythonDistSpec conda_numpy{"numpy", "1.26.4", "conda"};
    add_conda_python_package(builder, "numpy", conda_numpy);
    // `pip install -U numpy`: pip removes conda's dist-info and writes its own.
    fs::remove_all(builder.prefix() / k_sp / test::dist_info_name(conda_numpy));
    PythonDistSpec pip_numpy{"numpy", "2.0.0", "pip"};
    pip_numpy.requested = true;
    test::write_dist_info(builder.prefix() / k_sp, pip_numpy);

    const auto inv = inventory_of(builder.prefix());
    ASSERT_EQ(inv.packages.size(), 2U);
    const auto& conda = inv.packages[0];
    const auto& pip = inv.packages[1];
    EXPECT_EQ(conda.kind, PackageKind::conda);
    EXPECT_EQ(pip.kind, PackageKind::pypi);
    EXPECT_FALSE(conda.dist.has_value());
    ASSERT_TRUE(conda.shadowed_by.has_value());
    EXPECT_EQ(conda.shadowed_by->version, "2.0.0");
    EXPECT_EQ(conda.shadowed_by->installer, "pip");
    ASSERT_TRUE(pip.shadows.has_value());
    EXPECT_EQ(pip.shadows->version, "1.26.4");
    EXPECT_EQ(pip.shadows->build, "py311_0");
    EXPECT_EQ(pip.shadows->channel, "conda-forge");
    EXPECT_TRUE(pip.requested);
}

TEST(Inventory, PipTorchOverCondaPytorchIsShadowing) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    const PythonDistSpec conda_torch{"torch", "2.0.1", "conda"};
    add_conda_python_package(builder, "pytorch", conda_torch);
    fs::remove_all(builder.prefix() / k_sp / test::dist_info_name(conda_torch));
    test::write_dist_info(builder.prefix() / k_sp, {"torch", "2.1.0", "pip"});
    const auto inv = inventory_of(builder.prefix());
    const auto& pip = find(inv, "torch", PackageKind::pypi);
    ASSERT_TRUE(pip.shadows.has_value());
    EXPECT_EQ(pip.shadows->name, "pytorch");
    EXPECT_EQ(pip.shadows->version, "2.0.1");
    EXPECT_TRUE(find(inv, "pytorch", PackageKind::conda).shadowed_by.has_value());
}

TEST(Inventory, ShadowingMatchesNamesInNormalizedForm) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    builder.add_package({.name = "typing_extensions", .version = "4.8.0", .build = "pyha770c72_0"});
    test::write_dist_info(builder.prefix() / k_sp, {"Typing.Extensions", "4.12.0", "uv"});
    const auto inv = inventory_of(builder.prefix());
    const auto& ext = find(inv, "Typing.Extensions", PackageKind::pypi);
    ASSERT_TRUE(ext.shadows.has_value());
    EXPECT_EQ(ext.shadows->name, "typing_extensions");
    EXPECT_EQ(ext.installer, "uv");
}

TEST(Inventory, VendoredMetadataInsideAPackageIsNotADistribution) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    // setuptools >= 70 vendors packaging with its dist-info inside its own package.
    add_conda_python_package(builder, "setuptools", {"setuptools", "75.1.0", "conda"});
    builder.add_package(
        {.name = "setuptools-vendor",
         .version = "1",
         .build = "0",
         .files = {k_sp + "/setuptools/_vendor/packaging-24.1.dist-info/METADATA"}});
    test::write_dist_info(builder.prefix() / k_sp, {"packaging", "24.2", "pip"});
    const auto inv = inventory_of(builder.prefix());
    const auto& packaging = find(inv, "packaging", PackageKind::pypi);
    EXPECT_FALSE(packaging.shadows.has_value()) << packaging.shadows->name;
}

TEST(Inventory, ExternalDistributionsAreAttributedToTheirInstaller) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    const auto sp = builder.prefix() / k_sp;
    test::write_dist_info(sp, {"a-pip", "1", "pip"});
    test::write_dist_info(sp, {"b-uv", "1", "uv"});
    test::write_dist_info(sp, {"c-pixi", "1", "uv-pixi"});
    test::write_dist_info(sp, {"d-none", "1", ""});
    test::write_dist_info(sp, {"e-upper", "1", "PIP"});
    const auto inv = inventory_of(builder.prefix());
    ASSERT_EQ(inv.packages.size(), 5U);
    EXPECT_EQ(inv.packages[0].installer, "pip");
    EXPECT_EQ(inv.packages[1].installer, "uv");
    EXPECT_EQ(inv.packages[2].installer, "uv-pixi");
    EXPECT_EQ(inv.packages[3].installer, "unknown");
    EXPECT_EQ(inv.packages[4].installer, "pip");
    for (const auto& p : inv.packages)
        EXPECT_EQ(p.kind, PackageKind::pypi);
}

TEST(Inventory, DebianDistPackagesWithoutInstallerAreDebian) {
    TempDir dir;
    const auto sp = dir / "usr/lib/python3/dist-packages";
    test::write_egg_info_dir(sp, {"six", "1.16.0", ""});
    test::write_dist_info(sp, {"pip", "23.0.1", ""});
    const auto inv = inventory_of(dir / "usr");
    EXPECT_EQ(inv.prefix.kind, PrefixKind::python);
    ASSERT_EQ(inv.packages.size(), 2U);
    EXPECT_EQ(inv.packages[0].installer, "debian");
    EXPECT_EQ(inv.packages[1].installer, "debian");
}

TEST(Inventory, EveryRecordWriterGivesTheSameList) {
    std::vector<std::vector<std::string>> lists;
    for (const auto writer : {CondaWriter::conda, CondaWriter::micromamba, CondaWriter::rattler}) {
        TempDir dir;
        CondaPrefixBuilder builder(dir / "env", writer);
        builder.add_package({.name = "python",
                             .version = "3.11.9",
                             .build = "h0_0_cpython",
                             .python_site_packages_path = k_sp});
        add_conda_python_package(builder, "requests", {"requests", "2.31.0", "conda"}, writer);
        test::write_dist_info(builder.prefix() / k_sp, {"rich", "13.7.0", "pip"});
        const auto inv = inventory_of(builder.prefix());
        std::vector<std::string> rows;
        for (const auto& p : inv.packages) {
            rows.push_back(p.name + " " + p.version + " " + p.build + " " + p.channel + " " +
                           p.installer + " " + to_string(p.kind));
        }
        EXPECT_TRUE(inv.warnings.empty());
        lists.push_back(rows);
    }
    ASSERT_EQ(lists[0].size(), 3U);
    EXPECT_EQ(lists[0][0], "python 3.11.9 h0_0_cpython conda-forge conda conda");
    EXPECT_EQ(lists[0][1], "requests 2.31.0 py311_0 conda-forge conda conda");
    EXPECT_EQ(lists[0][2], "rich 13.7.0   pip pypi");
    EXPECT_EQ(lists[0], lists[1]);
    EXPECT_EQ(lists[0], lists[2]);
}

TEST(Inventory, InstallerCondaWithoutAnchorIsOwnedBySameNameAndVersion) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    // An old record whose files[] does not list the metadata directory.
    builder.add_package({.name = "six", .version = "1.16.0", .build = "py_0"});
    test::write_egg_info_dir(builder.prefix() / k_sp, {"six", "1.16.0", "conda"});
    const auto inv = inventory_of(builder.prefix());
    ASSERT_EQ(inv.packages.size(), 1U);
    EXPECT_TRUE(inv.packages[0].dist.has_value());
}

TEST(Inventory, BrokenRecordAndMetadataAreWarningsAndTheRestIsListed) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    builder.add_package({.name = "zlib", .version = "1.3.1", .build = "h0_0"});
    test::write_file(builder.prefix() / "conda-meta/broken-1.0-0.json",
                     "{\n  \"name\": \"broken\",\n  \"version\"\n}");
    test::write_file(builder.prefix() / k_sp / "bad-1.0.dist-info/METADATA",
                     "Metadata-Version: 2.1\nName: bad\n\n");
    test::write_dist_info(builder.prefix() / k_sp, {"good", "1.0", "pip"});
    const auto inv = inventory_of(builder.prefix());
    ASSERT_EQ(inv.packages.size(), 2U);
    EXPECT_EQ(inv.packages[0].name, "good");
    EXPECT_EQ(inv.packages[1].name, "zlib");
    ASSERT_EQ(inv.warnings.size(), 2U);
    const auto& record_warning = inv.warnings[0];
    EXPECT_EQ(record_warning.path, (builder.prefix() / "conda-meta/broken-1.0-0.json").string());
    EXPECT_EQ(record_warning.line, 4);
    EXPECT_GT(record_warning.column, 0);
    EXPECT_NE(inv.warnings[1].message.find("Version"), std::string::npos)
        << inv.warnings[1].to_string();
}

TEST(Inventory, LargeEnvironmentReadOnTwoThreadsKeepsOrderAndWarnings) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    for (int i = 0; i < 300; ++i) {
        builder.add_package(
            {.name = "pkg" + std::to_string(1000 + i), .version = "1.0", .build = "0"});
    }
    test::write_file(builder.prefix() / "conda-meta/pkg1100-bad.json", "[");
    test::write_file(builder.prefix() / "conda-meta/pkg1250-bad.json", "{");
    const auto inv = inventory_of(builder.prefix());
    ASSERT_EQ(inv.packages.size(), 300U);
    for (int i = 0; i < 300; ++i)
        EXPECT_EQ(inv.packages[static_cast<std::size_t>(i)].name, "pkg" + std::to_string(1000 + i));
    ASSERT_EQ(inv.warnings.size(), 2U);
    EXPECT_NE(inv.warnings[0].path.find("pkg1100-bad"), std::string::npos);
    EXPECT_NE(inv.warnings[1].path.find("pkg1250-bad"), std::string::npos);
}

TEST(Inventory, PythonSitePackagesPathFromThePythonRecordIsScanned) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    builder.add_package({.name = "python",
                         .version = "3.13.0",
                         .build = "h0_cp313t",
                         .python_site_packages_path = "custom/site"});
    test::write_dist_info(builder.prefix() / "custom/site", {"attrs", "23.1.0", "pip"});
    const auto inv = inventory_of(builder.prefix());
    EXPECT_EQ(find(inv, "attrs", PackageKind::pypi).version, "23.1.0");
}

TEST(Inventory, RealCondaEnvironmentOwnsItsPipAndListsWheelsAsExternal) {
    const fs::path env = GPUENV_REAL_FIXTURES "/conda-tests/envpy313tosx_whl";
    const auto inv = inventory_of(env);
    EXPECT_TRUE(inv.warnings.empty()) << inv.warnings[0].to_string();
    // conda's noarch:python pip record lists its dist-info in files[] (real prefix paths).
    const auto& pip = find(inv, "pip", PackageKind::conda);
    ASSERT_TRUE(pip.dist.has_value());
    EXPECT_EQ(pip.dist->version, "25.0.1");
    EXPECT_EQ(pip.channel, "conda-forge");
    for (const auto& p : inv.packages) {
        if (p.kind == PackageKind::pypi) {
            EXPECT_FALSE(p.shadows.has_value()) << p.name;
        }
    }
    EXPECT_GT(inv.pypi_count(), 0U);
    EXPECT_EQ(inv.conda_count(), 16U);
}

TEST(InventoryJson, CarriesSchemaCountsAndRelativePaths) {
    TempDir dir;
    CondaPrefixBuilder builder(dir / "env");
    add_conda_python_package(builder, "numpy", {"numpy", "1.26.4", "conda"});
    test::write_dist_info(
        builder.prefix() / k_sp,
        {.name = "mypkg",
         .version = "0.1",
         .installer = "pip",
         .requested = true,
         .direct_url_json = R"({"url": "file:///src/mypkg", "dir_info": {"editable": true}})"});
    const auto j = to_json(inventory_of(builder.prefix()));
    EXPECT_EQ(j["schema"], "gpuenv.list/1");
    EXPECT_EQ(j["kind"], "conda");
    EXPECT_EQ(j["counts"]["total"], 2);
    EXPECT_EQ(j["site_packages"][0], k_sp);
    const auto& mypkg = j["packages"][0];
    EXPECT_EQ(mypkg["kind"], "pypi");
    EXPECT_EQ(mypkg["python"]["metadata"], k_sp + "/mypkg-0.1.dist-info");
    EXPECT_EQ(mypkg["python"]["direct_url"]["editable"], true);
    const auto& numpy = j["packages"][1];
    EXPECT_EQ(numpy["conda"]["record"], "conda-meta/numpy-1.26.4-py311_0.json");
    EXPECT_EQ(numpy["conda"]["channel_url"], "https://conda.anaconda.org/conda-forge/linux-64");
}

}  // namespace gpuenv::core::env
