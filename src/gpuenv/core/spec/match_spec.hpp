#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/spec/conda_version.hpp>
#include <gpuenv/core/spec/package_info.hpp>
#include <gpuenv/core/spec/string_matcher.hpp>
#include <gpuenv/core/spec/version_spec.hpp>

namespace gpuenv::core::spec {

/// Lists the record fields a MatchSpec can name in its brackets (conda's FIELD_NAMES plus
/// `sha256` and the repodata v3 keys `when`, `extras`, `flags`).
enum class MatchField : std::uint8_t {
    channel,
    subdir,
    name,
    version,
    build,
    build_number,
    track_features,
    features,
    url,
    md5,
    sha256,
    license,
    license_family,
    fn,
    when,
    extras,
    flags,
};

/// Counts the MatchField values.
inline constexpr std::size_t k_match_field_count = 17;

/// Returns the bracket key of a field ("build_number").
[[nodiscard]] std::string_view match_field_name(MatchField field);

/// Returns the field a bracket key names, or nullopt for an unknown key.
[[nodiscard]] std::optional<MatchField> match_field_from_name(std::string_view key);

/// Tells whether a subdir is one conda knows ("linux-64", "noarch", ...).
[[nodiscard]] bool is_known_subdir(std::string_view subdir);

/// Represents a MatchSpec (CEP 29), parsed as conda parses it:
/// `(channel(/subdir):(namespace):)name(version(build))([key=value, ...])`, plus `#` comments,
/// an ignored ` if ...` suffix, legacy `feature@` specs, and package URLs or paths ending in
/// .conda/.tar.bz2. Bracket values override positional ones, except `name`.
class MatchSpec {
  public:
    /// Limits the length of a spec.
    static constexpr std::size_t k_max_length = 16384;
    /// Limits the length of a package name (CEP 26).
    static constexpr std::size_t k_max_name_length = 64;

    /// Parses a spec; throws gpuenv::Error(ExitCode::usage) with the offset into `text`.
    static MatchSpec parse(std::string_view text);

    /// Parses a spec, or returns nullopt and fills `failure` (when given) instead of throwing.
    static std::optional<MatchSpec> try_parse(std::string_view text,
                                              ParseFailure* failure = nullptr);

    /// Tells whether the package satisfies every field the spec constrains.
    [[nodiscard]] bool matches(const PackageInfo& package) const;

    /// Returns the text as given.
    [[nodiscard]] const std::string& str() const { return m_text; }

    /// Returns the package name pattern, lowercased; "*" when any name matches.
    [[nodiscard]] const std::string& name() const { return m_name; }

    /// Returns the channel as given, without a trailing subdir; nullopt when unconstrained.
    [[nodiscard]] const std::optional<std::string>& channel() const {
        return m_values[index(MatchField::channel)];
    }

    /// Returns the subdir constraint; nullopt when unconstrained.
    [[nodiscard]] const std::optional<std::string>& subdir() const {
        return m_values[index(MatchField::subdir)];
    }

    /// Returns the version spec; nullopt when unconstrained.
    [[nodiscard]] const std::optional<VersionSpec>& version() const { return m_version; }

    /// Returns the build string pattern; nullopt when unconstrained.
    [[nodiscard]] const std::optional<std::string>& build() const {
        return m_values[index(MatchField::build)];
    }

    /// Returns the raw value of any field (the version as sanitized, e.g. "1.8*" for "=1.8").
    [[nodiscard]] const std::optional<std::string>& get(MatchField field) const {
        return m_values[index(field)];
    }

    /// Tells whether the spec constrains nothing but an exact name ("numpy").
    [[nodiscard]] bool is_name_only() const;

    /// Returns the canonical form (CEP 29 appendix A, conda's str(MatchSpec)):
    /// "conda-forge/linux-64::numpy==1.26.4=py311_0", "numpy[version='>=1.21,<2']".
    [[nodiscard]] std::string to_string() const;

  private:
    struct BuildNumber {
        enum class Op : std::uint8_t { any, eq, ne, lt, le, gt, ge, regex };
        Op op = Op::any;
        std::int64_t value = 0;
        std::optional<StringMatcher> regex;
        [[nodiscard]] bool matches(std::int64_t number) const;
    };

    struct ChannelMatcher {
        std::string value;  // a name or a URL, without trailing subdir or slash
        bool is_url = false;
        std::optional<StringMatcher> pattern;  // for globs and regexes
        [[nodiscard]] bool matches(const PackageInfo& package) const;
    };

    class Parser;

    static constexpr std::size_t index(MatchField field) { return static_cast<std::size_t>(field); }

    std::string m_text;
    std::string m_name = "*";
    std::optional<StringMatcher> m_name_matcher;  // absent for "*"
    std::array<std::optional<std::string>, k_match_field_count> m_values;
    std::array<std::optional<StringMatcher>, k_match_field_count> m_matchers;
    std::optional<VersionSpec> m_version;
    std::optional<BuildNumber> m_build_number;
    std::optional<ChannelMatcher> m_channel;
    std::optional<std::vector<std::string>> m_track_features;
    std::optional<std::vector<std::string>> m_features;
};

}  // namespace gpuenv::core::spec
