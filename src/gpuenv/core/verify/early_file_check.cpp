#include <gpuenv/core/verify/early_file_check.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include <gpuenv/core/env/conda_record.hpp>
#include <gpuenv/core/verify/file_check_judge.hpp>
#include <gpuenv/core/verify/file_check_plan.hpp>
#include <gpuenv/util/error.hpp>

namespace gpuenv::core::verify {

using file_check_detail::PackagePlan;
using file_check_detail::PlanState;

// Any failure here only means nothing is checked early: check_files then checks every record
// itself and reports the failure as it always did.
EarlyFileCheck::EarlyFileCheck(const env::Prefix& prefix, const FileCheckOptions& options)
    : m_prefix(prefix.path) {
    if (options.level != FileCheck::quick || prefix.kind != env::PrefixKind::conda)
        return;
    try {
        m_records = env::list_conda_records(prefix.path);
    } catch (const Error&) {
        return;
    }
    m_prefix_fd = ::open(prefix.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (m_prefix_fd < 0 || m_records.empty())
        return;
    m_results.resize(m_records.size());
    for (std::size_t i = 0; i < m_records.size(); ++i)
        m_index.emplace(m_records[i].string(), i);
    const unsigned jobs =
        options.jobs != 0 ? options.jobs : std::max(1U, std::thread::hardware_concurrency());
    const auto threads = static_cast<unsigned>(std::min<std::size_t>(jobs, m_records.size()));
    try {
        for (unsigned t = 0; t < threads; ++t)
            m_threads.emplace_back([this] { work(); });
    } catch (...) {
        stop();
        throw;
    }
}

EarlyFileCheck::~EarlyFileCheck() {
    stop();
    if (m_prefix_fd >= 0)
        ::close(m_prefix_fd);
}

void EarlyFileCheck::stop() {
    m_cursor.store(m_records.size(), std::memory_order_relaxed);
    join();
}

void EarlyFileCheck::join() {
    for (auto& thread : m_threads) {
        if (thread.joinable())
            thread.join();
    }
}

// Each record is planned without the inventory (its own noarch; no default site-packages)
// and judged without the external distributions: check_files attributes altered files after.
void EarlyFileCheck::work() {
    try {
        PlanState state;
        PackagePlan plan;
        const std::vector<PackagePlan> no_externals;
        const std::vector<file_check_detail::HashJob> no_hashes;
        const std::unordered_multimap<std::string_view, file_check_detail::SharedRow> no_rows;
        const file_check_detail::Judge judge{no_externals, no_hashes, no_rows, FileCheck::quick};
        for (;;) {
            const std::size_t i = m_cursor.fetch_add(1, std::memory_order_relaxed);
            if (i >= m_records.size())
                break;
            EarlyRecordResult& result = m_results[i];
            plan.owner.package = m_records[i].stem().string();
            const auto planned = file_check_detail::plan_conda_file(
                m_records[i], m_prefix, "", "", file_check_detail::RecordText::borrowed, state,
                plan);
            result.python = planned.python;
            result.redo = planned.needs_site;
            if (result.redo)
                continue;
            for (auto& c : plan.checks)
                state.inspector.inspect(m_prefix_fd, c, FileCheck::quick);
            judge.judge_plan(plan, result.findings);
        }
    } catch (...) {
        const std::lock_guard lock(m_failure_mutex);
        if (!m_failure)
            m_failure = std::current_exception();
        m_cursor.store(m_records.size(), std::memory_order_relaxed);
    }
}

void EarlyFileCheck::finish() {
    join();
    if (m_failure)
        std::rethrow_exception(m_failure);
}

EarlyRecordResult* EarlyFileCheck::result(const std::filesystem::path& record_file) {
    const auto it = m_index.find(record_file.string());
    return it == m_index.end() ? nullptr : &m_results[it->second];
}

}  // namespace gpuenv::core::verify
