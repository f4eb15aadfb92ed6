#pragma once

#include <atomic>
#include <exception>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gpuenv/core/env/prefix.hpp>
#include <gpuenv/core/verify/file_check.hpp>
#include <gpuenv/core/verify/finding.hpp>

namespace gpuenv::core::verify {

/// Holds what the early check found for one conda record file.
struct EarlyRecordResult {
    Findings findings;    ///< named after the record's file; check_files renames them
    bool python = false;  ///< planned as noarch:python
    bool redo = false;    ///< not planned: it needs the inventory (see CondaPlanned)
};

/// Checks the files of a conda prefix's records in the background (quick level only), from
/// conda-meta alone, so that the stat work overlaps with reading the inventory; check_files
/// finishes it, planning again on the calling side whatever the inventory sees differently.
class EarlyFileCheck {
  public:
    /// Starts checking on `options.jobs` threads (0 = all cores) when the level is quick and
    /// the prefix a conda one; otherwise (or when conda-meta cannot be listed) does nothing.
    EarlyFileCheck(const env::Prefix& prefix, const FileCheckOptions& options);
    /// Stops the threads and waits for them.
    ~EarlyFileCheck();
    EarlyFileCheck(const EarlyFileCheck&) = delete;
    EarlyFileCheck& operator=(const EarlyFileCheck&) = delete;

    /// Waits for the threads and rethrows what one threw.
    void finish();
    /// Returns the result for a record file, or null when it was not checked early; only
    /// after finish().
    [[nodiscard]] EarlyRecordResult* result(const std::filesystem::path& record_file);
    /// Returns the prefix the check was started for.
    [[nodiscard]] const std::filesystem::path& prefix() const { return m_prefix; }

  private:
    void work();
    void stop();
    void join();

    std::filesystem::path m_prefix;
    std::vector<std::filesystem::path> m_records;
    std::vector<EarlyRecordResult> m_results;
    std::unordered_map<std::string, std::size_t> m_index;  // record file -> m_results
    int m_prefix_fd = -1;
    std::atomic<std::size_t> m_cursor{0};
    std::mutex m_failure_mutex;
    std::exception_ptr m_failure;
    std::vector<std::thread> m_threads;
};

}  // namespace gpuenv::core::verify
