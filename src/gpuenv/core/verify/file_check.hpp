#pragma once

#include <filesystem>
#include <vector>

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/verify/finding.hpp>
#include <gpuenv/util/progress.hpp>

namespace gpuenv::core::verify {

class EarlyFileCheck;

/// Names how deeply installed files are checked.
enum class FileCheck {
    none,   ///< no file checks
    quick,  ///< existence, type and size (where the recorded size is meaningful)
    full,   ///< quick plus content hashes
};

/// Holds the options of a file check.
struct FileCheckOptions {
    FileCheck level = FileCheck::quick;
    unsigned jobs = 0;  ///< hashing threads; 0 = all cores
};

/// Checks every file the environment's conda records (paths_data, else files[]) and external
/// distributions (RECORD) list, honouring the writer differences of reference/conda.md 1.3 and
/// 11: noarch:python paths, sha256_in_prefix vs sha256, prefix-replaced files (no size check),
/// softlink hash conventions of conda/micromamba/rattler, generated entry points and .pyc
/// (existence only; missing .pyc is not reported, as conda doctor does). Distributions owned by
/// conda records are checked through the record, not their RECORD (conda regenerates entry
/// points). A conda file altered by an external distribution whose RECORD lists the same path
/// with the found hash is reported with that distribution in `detail`. Also reports records
/// whose files are all gone. Hashing runs on `jobs` threads with at most that many files in
/// flight; progress counts files (quick) or bytes (full). Distributions installed by Debian
/// are not checked (dpkg owns their files). `early`, when given, is a check of the conda
/// records started before the inventory was read: its results are used where they apply.
[[nodiscard]] Findings check_files(const env::Inventory& inventory, const FileCheckOptions& options,
                                   util::Progress& progress, EarlyFileCheck* early = nullptr);

}  // namespace gpuenv::core::verify
