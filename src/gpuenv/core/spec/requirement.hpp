#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/spec/marker.hpp>
#include <gpuenv/core/spec/specifier.hpp>

namespace gpuenv::core::spec {

/// Holds one PEP 508 dependency specifier: `name [extras] (specifiers | @ url) ; marker`.
struct Requirement {
    std::string name;                 ///< as written
    std::string normalized_name;      ///< PEP 503 form
    std::vector<std::string> extras;  ///< PEP 503 form, sorted, without duplicates
    SpecifierSet specifier;
    std::string url;  ///< for `name @ url`, else empty
    std::optional<Marker> marker;

    /// Parses one PEP 508 line as packaging.requirements.Requirement does (comments are not
    /// part of PEP 508 and are rejected, URLs are checked like packaging checks them); throws
    /// gpuenv::Error (usage) pointing at the offending character.
    [[nodiscard]] static Requirement parse(std::string_view text);

    /// Returns whether an installed distribution satisfies the requirement: same PEP 503 name,
    /// the version contained with pre-releases allowed (as pip check does), and the marker
    /// true in `env` (a false marker means the requirement does not apply: false).
    [[nodiscard]] bool matches(std::string_view dist_name, std::string_view version,
                               const MarkerEnvironment& env) const;

    /// Returns the requirement as packaging prints it (`name[a,b]<2,>=1; os_name == "nt"`).
    [[nodiscard]] std::string str() const;
};

}  // namespace gpuenv::core::spec
