#include <gpuenv/core/verify/file_check.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <iterator>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

#include <gpuenv/core/verify/early_file_check.hpp>
#include <gpuenv/core/verify/file_check_judge.hpp>
#include <gpuenv/core/verify/file_check_plan.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>
#include <gpuenv/util/sha256.hpp>

namespace gpuenv::core::verify {
namespace {

namespace fs = std::filesystem;
using file_check_detail::Check;
using file_check_detail::HashJob;
using file_check_detail::Judge;
using file_check_detail::PackagePlan;
using file_check_detail::PlanState;
using file_check_detail::RecordText;
using file_check_detail::SharedRow;

// -------------------------------------------------------------------------------------------
// Running work on several threads: a shared list and an atomic cursor; each thread makes its
// own State (a hashing buffer, a record reader) once, reuses it, and hands it to `done` after
// its last item.

template <typename State, typename Work, typename Done>
void run_parallel(std::size_t count, unsigned jobs, std::size_t chunk, Work work, Done done) {
    std::atomic<std::size_t> cursor{0};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto loop = [&] {
        try {
            State state;
            for (;;) {
                const std::size_t begin = cursor.fetch_add(chunk, std::memory_order_relaxed);
                if (begin >= count)
                    break;
                for (std::size_t i = begin; i < std::min(count, begin + chunk); ++i)
                    work(i, state);
            }
            done(state);
        } catch (...) {
            const std::lock_guard lock(failure_mutex);
            if (!failure)
                failure = std::current_exception();
            cursor.store(count, std::memory_order_relaxed);
        }
    };
    const std::size_t chunks = (count + chunk - 1) / chunk;
    const auto threads = static_cast<unsigned>(std::min<std::size_t>(jobs, chunks));
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t)
        pool.emplace_back(loop);
    loop();
    for (auto& thread : pool)
        thread.join();
    if (failure)
        std::rethrow_exception(failure);
}

template <typename State, typename Work>
void run_parallel(std::size_t count, unsigned jobs, std::size_t chunk, Work work) {
    run_parallel<State>(count, jobs, chunk, std::move(work), [](State& /*state*/) {});
}

// Hashes every file whose content is compared, each path once, largest first so that the
// threads finish together; at most `jobs` files are open at a time.
std::vector<HashJob> hash_files(const std::vector<Check*>& checks, const fs::path& prefix,
                                unsigned jobs, util::Progress& progress) {
    std::vector<HashJob> hashes;
    std::unordered_map<std::string_view, std::uint32_t> by_path;
    std::uint64_t total = 0;
    for (Check* check : checks) {
        Check& c = *check;
        if (!file_check_detail::wants_hash(c))
            continue;
        const auto [it, added] = by_path.emplace(c.path, static_cast<std::uint32_t>(hashes.size()));
        if (added) {
            const auto size = static_cast<std::uint64_t>(std::max<std::int64_t>(c.found_size, 0));
            hashes.push_back({prefix / c.path, size, std::nullopt, {}});
            total += size;
        }
        c.hash_job = it->second;
    }
    std::vector<std::uint32_t> order(hashes.size());
    for (std::uint32_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::uint32_t a, std::uint32_t b) { return hashes[a].size > hashes[b].size; });
    progress.start("hashing", total);
    run_parallel<std::vector<char>>(order.size(), jobs, 1,
                                    [&](std::size_t i, std::vector<char>& buffer) {
                                        HashJob& job = hashes[order[i]];
                                        job.digest = util::sha256_file(job.full, buffer, job.error);
                                        progress.advance(job.size);
                                    });
    progress.finish();
    return hashes;
}

// The external distributions, planned first: they are few, and their RECORD rows (by path)
// are what conda files altered by pip are attributed to.
struct Externals {
    std::vector<PackagePlan> plans;
    std::unordered_multimap<std::string_view, SharedRow> shared;
};

Externals plan_externals(const std::vector<const env::Package*>& packages, const fs::path& prefix,
                         unsigned jobs) {
    Externals ext;
    ext.plans.resize(packages.size());
    run_parallel<std::string>(packages.size(), jobs, 4, [&](std::size_t i, std::string& text) {
        file_check_detail::plan_pypi(*packages[i], prefix, text, ext.plans[i]);
    });
    for (std::size_t i = 0; i < ext.plans.size(); ++i) {
        const auto owner = static_cast<std::uint32_t>(i);
        for (auto& c : ext.plans[i].checks) {
            c.owner = owner;
            ext.shared.emplace(c.path, SharedRow{owner, c.sha, c.size});
        }
    }
    return ext;
}

// What the file check needs to know, shared by every thread.
struct Context {
    const fs::path& prefix;
    int prefix_fd;
    std::string site_packages;
    std::vector<const env::Package*> conda;
    Externals externals;
    unsigned jobs;
};

void inspect_plan(const Context& ctx, PackagePlan& plan, FileCheck level, PlanState& state) {
    for (auto& c : plan.checks)
        state.inspector.inspect(ctx.prefix_fd, c, level);
}

// What the early check already found for the records it could check without the inventory.
struct EarlyPart {
    Findings findings;  ///< still to be attributed to external distributions
    std::uint64_t units = 0;
};

// Takes the early check's result for every record it planned as the inventory would have
// (same noarch:python reading; site-packages not needed), renaming its findings after the
// inventory's package; the other records are left in ctx.conda for check_quick.
EarlyPart take_early(Context& ctx, EarlyFileCheck& early) {
    EarlyPart part;
    early.finish();
    if (early.prefix() != ctx.prefix)
        return part;
    std::vector<const env::Package*> rest;
    for (const auto* package : ctx.conda) {
        const auto& record = *package->record;
        EarlyRecordResult* result = early.result(record.record_path);
        const bool python =
            record.noarch.empty() ? result && result->python : record.noarch == "python";
        if (!result || result->redo || result->python != python) {
            rest.push_back(package);
            continue;
        }
        for (auto& f : result->findings) {
            f.package = package->name;
            part.findings.push_back(std::move(f));
        }
        part.units += record.file_count;
    }
    ctx.conda = std::move(rest);
    return part;
}

// Quick mode keeps no more than one conda record per thread: each is read (viewing the
// reader's buffers), inspected, judged and dropped. Progress counts the files records list.
Findings check_quick(Context& ctx, EarlyPart early, util::Progress& progress) {
    auto& ext = ctx.externals.plans;
    std::uint64_t total = early.units;
    for (const auto& plan : ext)
        total += plan.units;
    for (const auto* package : ctx.conda)
        total += package->record->file_count;
    progress.start("checking", total);
    progress.advance(early.units);
    const std::vector<HashJob> no_hashes;
    const Judge judge{ext, no_hashes, ctx.externals.shared, FileCheck::quick};
    // The early check judged without the external distributions; in quick mode only a size
    // mismatch is attributed to one.
    for (auto& f : early.findings) {
        if (f.kind == FindingKind::size_mismatch) {
            f.detail = judge.attribution(f.path, file_check_detail::k_conda_owner, nullptr,
                                         std::stoll(f.found));
        }
    }
    struct State {
        PlanState planning;
        PackagePlan plan;
        Findings findings;
    };
    Findings findings = std::move(early.findings);
    std::mutex findings_mutex;
    run_parallel<State>(
        ext.size() + ctx.conda.size(), ctx.jobs, 1,
        [&](std::size_t i, State& state) {
            PackagePlan* plan = &state.plan;
            if (i < ext.size()) {
                plan = &ext[i];
            } else {
                file_check_detail::plan_conda(*ctx.conda[i - ext.size()], ctx.prefix,
                                              ctx.site_packages, RecordText::borrowed,
                                              state.planning, state.plan);
            }
            inspect_plan(ctx, *plan, FileCheck::quick, state.planning);
            judge.judge_plan(*plan, state.findings);
            progress.advance(plan->units);
        },
        [&](State& state) {
            const std::lock_guard lock(findings_mutex);
            std::move(state.findings.begin(), state.findings.end(), std::back_inserter(findings));
        });
    progress.finish();
    return findings;
}

// Full mode keeps every plan until the files are hashed, so that each path is hashed once
// and the largest files go first; progress counts the bytes hashed.
Findings check_full(Context& ctx, util::Progress& progress) {
    auto& ext = ctx.externals.plans;
    std::vector<PackagePlan> conda(ctx.conda.size());
    run_parallel<PlanState>(
        ext.size() + conda.size(), ctx.jobs, 1, [&](std::size_t i, PlanState& state) {
            PackagePlan* plan = i < ext.size() ? &ext[i] : &conda[i - ext.size()];
            if (i >= ext.size()) {
                file_check_detail::plan_conda(*ctx.conda[i - ext.size()], ctx.prefix,
                                              ctx.site_packages, RecordText::owned, state, *plan);
            }
            inspect_plan(ctx, *plan, FileCheck::full, state);
        });
    std::vector<Check*> checks;
    for (auto* plans : {&ext, &conda}) {
        for (auto& plan : *plans) {
            for (auto& c : plan.checks)
                checks.push_back(&c);
        }
    }
    const auto hashes = hash_files(checks, ctx.prefix, ctx.jobs, progress);
    const Judge judge{ext, hashes, ctx.externals.shared, FileCheck::full};
    Findings findings;
    for (const auto* plans : {&ext, &conda}) {
        for (const auto& plan : *plans)
            judge.judge_plan(plan, findings);
    }
    return findings;
}

}  // namespace

Findings check_files(const env::Inventory& inventory, const FileCheckOptions& options,
                     util::Progress& progress, EarlyFileCheck* early) {
    if (options.level == FileCheck::none)
        return {};
    const fs::path& prefix = inventory.prefix.path;
    const util::FdGuard prefix_fd(::open(prefix.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (prefix_fd.get() < 0) {
        throw Error(ExitCode::not_found,
                    "cannot open " + prefix.string() + ": " + std::strerror(errno));
    }
    const unsigned jobs =
        options.jobs != 0 ? options.jobs : std::max(1U, std::thread::hardware_concurrency());
    Context ctx{
        prefix, prefix_fd.get(), file_check_detail::default_site_packages(inventory), {}, {}, jobs};
    std::vector<const env::Package*> external;
    for (const auto& p : inventory.packages) {
        if (p.kind == env::PackageKind::conda && p.record) {
            ctx.conda.push_back(&p);
        } else if (p.kind == env::PackageKind::pypi && p.installer == "debian") {
            // Debian post-processes a wheel's files after its RECORD was written (dh_strip
            // shrinks .so files, scripts move from scripts-3.x/ to /usr/bin); dpkg owns them,
            // and `dpkg --verify` is the tool that checks them.
            continue;
        } else if (p.kind == env::PackageKind::pypi && p.dist &&
                   p.dist->format == env::DistFormat::dist_info) {
            external.push_back(&p);
        }
    }
    // Planning the external distributions overlaps with the early check's last records.
    ctx.externals = plan_externals(external, prefix, jobs);
    Findings findings;
    if (options.level == FileCheck::quick) {
        EarlyPart part = early ? take_early(ctx, *early) : EarlyPart{};
        findings = check_quick(ctx, std::move(part), progress);
    } else {
        if (early)
            early->finish();
        findings = check_full(ctx, progress);
    }
    std::sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
        return std::tie(a.package, a.path, a.kind, a.expected, a.found, a.detail) <
               std::tie(b.package, b.path, b.kind, b.expected, b.found, b.detail);
    });
    return findings;
}

}  // namespace gpuenv::core::verify
