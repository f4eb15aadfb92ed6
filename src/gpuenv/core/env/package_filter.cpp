#include <gpuenv/core/env/package_filter.hpp>

#include <algorithm>

#include <gpuenv/core/env/target_env.hpp>

namespace gpuenv::core::env {

PackageFilter PackageFilter::parse(const std::vector<std::string>& specs) {
    PackageFilter filter;
    for (const auto& text : specs) {
        constexpr std::string_view k_pip = "pip:";
        if (text.compare(0, k_pip.size(), k_pip) == 0) {
            filter.m_specs.emplace_back(
                spec::Requirement::parse(std::string_view(text).substr(k_pip.size())));
        } else {
            filter.m_specs.emplace_back(spec::MatchSpec::parse(text));
        }
    }
    return filter;
}

bool PackageFilter::matches(const Package& package, const spec::MarkerEnvironment& env) const {
    if (m_specs.empty())
        return true;
    return std::any_of(m_specs.begin(), m_specs.end(), [&](const auto& s) {
        if (const auto* match_spec = std::get_if<spec::MatchSpec>(&s)) {
            return package.kind == PackageKind::conda && match_spec->matches(package_info(package));
        }
        const auto& requirement = std::get<spec::Requirement>(s);
        return package.dist && requirement.matches(package.dist->name, package.dist->version, env);
    });
}

void apply_filter(Inventory& inventory, const PackageFilter& filter) {
    if (filter.empty())
        return;
    const auto env = marker_environment(inventory);
    std::erase_if(inventory.packages, [&](const Package& p) { return !filter.matches(p, env); });
}

}  // namespace gpuenv::core::env
