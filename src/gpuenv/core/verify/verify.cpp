#include <gpuenv/core/verify/verify.hpp>

#include <algorithm>
#include <set>

#include <gpuenv/core/verify/diff.hpp>

namespace gpuenv::core::verify {
namespace {

bool counts_as_drift(const Finding& f) {
    return f.kind != FindingKind::spec_unchecked;
}

}  // namespace

bool VerifyResult::drift() const {
    for (const Findings* group : {&lock, &spec, &files, &consistency}) {
        if (std::any_of(group->begin(), group->end(), counts_as_drift))
            return true;
    }
    return false;
}

VerifyResult verify(const env::Inventory& inventory, const VerifyRequest& request,
                    util::Progress& progress) {
    VerifyResult result;
    if (request.lock) {
        // The installed side is read without RECORD hashes when the lock has none to compare.
        const auto installed = lock::lock_from_inventory(inventory, request.lock->fields.hashes
                                                                        ? lock::HashRecords::yes
                                                                        : lock::HashRecords::no);
        result.warnings.insert(result.warnings.end(), installed.warnings.begin(),
                               installed.warnings.end());
        const auto d = diff(*request.lock, installed);
        result.lock = findings_from_diff(d);
        for (const auto& note : d.notes)
            result.warnings.push_back({request.lock->source, 0, 0, note});
    }
    if (request.spec)
        result.spec = check_spec(inventory, *request.spec);
    // Consistency first: with an early file check, it overlaps with that check's stat work.
    result.consistency = request.consistency != nullptr
                             ? *request.consistency
                             : check_consistency(inventory, result.warnings);
    if (request.files.level != FileCheck::none)
        result.files = check_files(inventory, request.files, progress, request.early_files);
    // A record whose files are all gone is reported once, by the file check when it ran.
    std::set<std::string> gone;
    for (const auto& f : result.files) {
        if (f.kind == FindingKind::record_files_gone)
            gone.insert(f.package);
    }
    std::erase_if(result.consistency, [&](const Finding& f) {
        return f.kind == FindingKind::record_files_gone && gone.count(f.package) > 0;
    });
    return result;
}

}  // namespace gpuenv::core::verify
