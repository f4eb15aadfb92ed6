#include <support/sample_env.hpp>

#include <support/temp_dir.hpp>

namespace gpuenv::test {

void add_conda_python_package(CondaPrefixBuilder& builder, const std::string& conda_name,
                              const PythonDistSpec& dist, const std::string& build,
                              std::vector<std::string> depends) {
    write_dist_info(builder.prefix() / k_sample_site_packages, dist);
    CondaPackageSpec spec;
    spec.name = conda_name;
    spec.version = dist.version;
    spec.build = build;
    spec.depends = std::move(depends);
    spec.requested = dist.requested;
    for (const auto& f : dist_info_files(dist))
        spec.files.push_back(k_sample_site_packages + "/" + f);
    builder.add_package(spec);
}

CondaPrefixBuilder write_sample_env(const std::filesystem::path& prefix, CondaWriter writer) {
    CondaPrefixBuilder builder(prefix, writer);
    CondaPackageSpec python;
    python.name = "python";
    python.version = "3.11.8";
    python.build = "hab00c5b_0_cpython";
    python.depends = {"libzlib >=1.2.13,<2.0a0"};
    python.files = {"bin/python3.11", "lib/python3.11/os.py"};
    python.requested = true;
    builder.add_package(python);

    CondaPackageSpec zlib;
    zlib.name = "libzlib";
    zlib.version = "1.3.1";
    zlib.build = "h4ab18f5_1";
    zlib.files = {"lib/libz.so.1.3.1"};
    builder.add_package(zlib);

    PythonDistSpec numpy{"numpy", "1.26.4", "conda"};
    numpy.requested = true;
    numpy.files = {"numpy/__init__.py", "numpy/core.py"};
    add_conda_python_package(builder, "numpy", numpy, "py311h64a7726_0",
                             {"python >=3.11,<3.12.0a0", "libzlib >=1.2.13,<2.0a0"});

    PythonDistSpec idna{"idna", "3.6", "pip"};
    idna.files = {"idna/__init__.py"};
    write_dist_info(prefix / k_sample_site_packages, idna);

    PythonDistSpec requests{"requests", "2.31.0", "pip"};
    requests.requested = true;
    requests.files = {"requests/__init__.py"};
    requests.metadata_extra =
        "Requires-Dist: idna<4,>=2.5\nRequires-Dist: PySocks!=1.5.7,>=1.5.6; extra == \"socks\"\n";
    write_dist_info(prefix / k_sample_site_packages, requests);

    builder.add_history_line("==> 2024-03-01 10:00:00 <==");
    builder.add_history_line("# cmd: /opt/conda/bin/conda create -n sample python=3.11 numpy=1.26");
    builder.add_history_line("# conda version: 24.1.2");
    builder.add_history_line("+conda-forge/linux-64::python-3.11.8-hab00c5b_0_cpython");
    builder.add_history_line("# update specs: ['python=3.11', 'numpy=1.26']");
    write_file(prefix / "conda-meta" / "state", R"({"env_vars": {"MY_VAR": "on"}})");
    return builder;
}

}  // namespace gpuenv::test
