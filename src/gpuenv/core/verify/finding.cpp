#include <gpuenv/core/verify/finding.hpp>

namespace gpuenv::core::verify {

const char* to_string(FindingKind kind) {
    switch (kind) {
        case FindingKind::missing:
            return "missing";
        case FindingKind::extra:
            return "extra";
        case FindingKind::version:
            return "version";
        case FindingKind::build:
            return "build";
        case FindingKind::channel:
            return "channel";
        case FindingKind::installer:
            return "installer";
        case FindingKind::content:
            return "content";
        case FindingKind::env_var:
            return "env_var";
        case FindingKind::platform:
            return "platform";
        case FindingKind::spec_missing:
            return "spec_missing";
        case FindingKind::spec_unsatisfied:
            return "spec_unsatisfied";
        case FindingKind::wrong_installer:
            return "wrong_installer";
        case FindingKind::spec_unchecked:
            return "spec_unchecked";
        case FindingKind::missing_file:
            return "missing_file";
        case FindingKind::wrong_type:
            return "wrong_type";
        case FindingKind::size_mismatch:
            return "size_mismatch";
        case FindingKind::modified_file:
            return "modified_file";
        case FindingKind::unreadable_file:
            return "unreadable_file";
        case FindingKind::record_files_gone:
            return "record_files_gone";
        case FindingKind::dependency_missing:
            return "dependency_missing";
        case FindingKind::dependency_unsatisfied:
            return "dependency_unsatisfied";
        case FindingKind::constraint_violated:
            return "constraint_violated";
        case FindingKind::shadowed:
            return "shadowed";
        case FindingKind::duplicate:
            return "duplicate";
    }
    return "unknown";
}

}  // namespace gpuenv::core::verify
