// Fuzzes `doctor --scan`: the bytes as a .py file and as a notebook (.ipynb) in a directory
// of their own; any content gives findings or warnings, never a crash or an exception.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <gpuenv/core/doctor/doctor.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace fs = std::filesystem;
    namespace doctor = gpuenv::core::doctor;
    static const fs::path dir = [] {
        std::string pattern = (fs::temp_directory_path() / "gpuenv-scan-fuzz-XXXXXX").string();
        return fs::path(::mkdtemp(pattern.data()));
    }();
    // The scan skips files that never name the variable: name it, so the tokenizer runs.
    std::string text(reinterpret_cast<const char*>(data), size);
    text += "\n# CUDA_VISIBLE_DEVICES\n";
    for (const char* name : {"a.py", "b.ipynb"}) {
        std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << text;
    }
    std::ofstream(dir / "c.ipynb", std::ios::binary | std::ios::trunc)
        << R"({"cells": [{"cell_type": "code", "source": )"
        << nlohmann::json(std::string(reinterpret_cast<const char*>(data), size))
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
        << "}]}";
    doctor::DoctorInput input;
    input.scan_dirs = {dir};
    doctor::DoctorReport report;
    doctor::check_sources(input, report);
    return 0;
}
