#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/spec/pep440.hpp>

namespace gpuenv::core::spec {

/// Says whether pre-releases (and dev releases) may match a specifier.
enum class PreReleases {
    by_rule,  ///< PEP 440's default, as packaging implements it: only when a clause names one
    allow,    ///< always (how installed versions are checked, as pip check does)
    deny,     ///< never
};

/// Lists the PEP 440 comparison operators.
enum class SpecifierOperator {
    compatible,     ///< ~=
    equal,          ///< ==
    not_equal,      ///< !=
    less_equal,     ///< <=
    greater_equal,  ///< >=
    less,           ///< <
    greater,        ///< >
    arbitrary,      ///< ===
};

/// Returns the operator's spelling ("~=", "==", ...).
[[nodiscard]] std::string_view operator_text(SpecifierOperator op) noexcept;

/// Holds one PEP 440 version clause such as ">=1.0", "~=2.2.post3", "==1.4.*" or "===foo".
class Specifier {
  public:
    /// Parses one clause; throws gpuenv::Error (usage) pointing at the offending character.
    [[nodiscard]] static Specifier parse(std::string_view text);

    /// Parses one clause, filling `failure` with where and why when the text is not one.
    [[nodiscard]] static std::optional<Specifier> try_parse(std::string_view text,
                                                            SpecParseFailure& failure) noexcept;

    /// Returns the length of the clause that starts `text` as packaging's requirement tokenizer
    /// reads it (greedy, unanchored), or 0 when none starts there.
    [[nodiscard]] static std::size_t match_length(std::string_view text) noexcept;

    /// Returns the operator.
    [[nodiscard]] SpecifierOperator op() const noexcept { return m_op; }

    /// Returns the version text as written, without surrounding whitespace ("1.4.*", "foo").
    [[nodiscard]] const std::string& version_text() const noexcept { return m_text; }

    /// Returns whether the clause is a prefix match ("==1.4.*", "!=1.4.*").
    [[nodiscard]] bool is_wildcard() const noexcept { return m_wildcard; }

    /// Returns whether the clause lets pre-releases match by default: an inclusive operator
    /// (==, >=, <=, ~=, ===) with a pre-release version.
    [[nodiscard]] bool allows_prereleases() const noexcept { return m_allows_prereleases; }

    /// Returns whether `v` satisfies the clause.
    [[nodiscard]] bool contains(const Pep440Version& v,
                                PreReleases pre = PreReleases::by_rule) const;

    /// Returns the operator followed by the version text (">=1.0").
    [[nodiscard]] std::string str() const;

    /// Returns the key under which packaging considers two clauses the same (">=1.0" and
    /// ">=1.0.0" are).
    [[nodiscard]] const std::string& canonical_key() const noexcept { return m_key; }

  private:
    Specifier() = default;

    bool read_arbitrary(std::string_view rest, std::size_t base, SpecParseFailure& failure);
    bool read_wildcard(std::string_view rest, std::size_t base, SpecParseFailure& failure);
    bool read_version(std::string_view rest, std::size_t base, SpecParseFailure& failure);
    bool matches(const Pep440Version& v) const;
    bool prefix_matches(const Pep440Version& v) const;
    bool equals(const Pep440Version& v) const;
    void set_prefix(std::string_view prefix);

    SpecifierOperator m_op = SpecifierOperator::equal;
    std::string m_text;
    std::string m_key;
    std::optional<Pep440Version> m_version;  // absent only for === with a non-version
    bool m_wildcard = false;
    bool m_allows_prereleases = false;
    // For ==X.*, !=X.* and ~=: the prefix as packaging splits it into tokens, and its numbers
    // when every token is a plain number (the fast path).
    std::vector<std::string> m_prefix_tokens;
    std::vector<Pep440Number> m_prefix_numbers;
    bool m_prefix_numeric = false;
};

/// Holds a comma-separated set of PEP 440 clauses (PEP 440 "version specifiers"); a version
/// matches when it satisfies every clause.
class SpecifierSet {
  public:
    /// Creates the empty set, which every final release matches.
    SpecifierSet() = default;

    /// Parses "", ">=1.0,<2", "~=1.4.5", "==1.2.*", "===foo", "!=1.3.*" and such; throws
    /// gpuenv::Error (usage) pointing at the offending character.
    [[nodiscard]] static SpecifierSet parse(std::string_view text);

    /// Parses a set, filling `failure` with where and why when the text is not one.
    [[nodiscard]] static std::optional<SpecifierSet> try_parse(std::string_view text,
                                                               SpecParseFailure& failure) noexcept;

    /// Returns whether `v` satisfies every clause. With PreReleases::by_rule a pre-release
    /// matches only when some clause allows pre-releases (never for the empty set).
    [[nodiscard]] bool contains(const Pep440Version& v,
                                PreReleases pre = PreReleases::by_rule) const;

    /// Returns whether a version string satisfies every clause. A string that is not a PEP 440
    /// version matches only "===" clauses that spell it (ignoring ASCII case), or the empty set.
    [[nodiscard]] bool contains(std::string_view version,
                                PreReleases pre = PreReleases::by_rule) const;

    /// Returns the clauses, duplicates (same canonical key) removed.
    [[nodiscard]] const std::vector<Specifier>& specifiers() const noexcept { return m_specs; }

    /// Returns whether there are no clauses.
    [[nodiscard]] bool empty() const noexcept { return m_specs.empty(); }

    /// Returns the clauses sorted and joined by "," as packaging prints them ("<2,>=1.0").
    [[nodiscard]] std::string str() const;

  private:
    bool allows_prereleases(PreReleases pre) const noexcept;

    std::vector<Specifier> m_specs;
};

}  // namespace gpuenv::core::spec
