#pragma once

#include <string>
#include <variant>
#include <vector>

#include <gpuenv/core/env/inventory.hpp>
#include <gpuenv/core/spec/match_spec.hpp>
#include <gpuenv/core/spec/requirement.hpp>

namespace gpuenv::core::env {

/// Selects packages by `gpuenv list --match` specs: a MatchSpec tests conda packages, and
/// `pip:REQ` (PEP 508) tests Python distributions, those a conda package owns included.
/// A package is kept when any spec matches; an empty filter keeps everything.
class PackageFilter {
  public:
    /// Parses the specs; throws gpuenv::Error(usage) pointing at the offending character.
    [[nodiscard]] static PackageFilter parse(const std::vector<std::string>& specs);

    /// Returns whether the package matches, evaluating markers for the given environment.
    [[nodiscard]] bool matches(const Package& package, const spec::MarkerEnvironment& env) const;

    /// Returns whether no spec was given.
    [[nodiscard]] bool empty() const { return m_specs.empty(); }

  private:
    std::vector<std::variant<spec::MatchSpec, spec::Requirement>> m_specs;
};

/// Keeps the packages of an inventory that match the filter, in order.
void apply_filter(Inventory& inventory, const PackageFilter& filter);

}  // namespace gpuenv::core::env
