#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <gpuenv/core/spec/conda_version.hpp>

namespace gpuenv::core::spec {

namespace detail {
/// Runs the regexes of StringMatcher: a Thompson NFA, defined in string_matcher.cpp.
class Regex;
}  // namespace detail

/// Matches one string field of a package record as CEP 29 says: `^...$` is a regular expression
/// (searched), a pattern with `*` is a glob, anything else is an exact string; all three ignore
/// ASCII case. Matching is linear in the subject: globs use a non-recursive matcher and regexes
/// a small Thompson-NFA engine (no backtracking, no lookaround, no backreferences).
class StringMatcher {
  public:
    /// Names the three kinds of pattern.
    enum class Kind : std::uint8_t { exact, glob, regex };

    /// Limits the length of a regex pattern.
    static constexpr std::size_t k_max_regex_length = 256;
    /// Limits the length of a glob pattern.
    static constexpr std::size_t k_max_glob_length = 1024;
    /// Limits the subject a glob or regex is tried on; longer subjects never match.
    static constexpr std::size_t k_max_subject_length = 4096;

    /// Parses a pattern; throws gpuenv::Error(ExitCode::usage) for a bad regex or an overlong one.
    static StringMatcher parse(std::string_view pattern);

    /// Parses a pattern, or returns nullopt and fills `failure` (when given) instead of throwing.
    static std::optional<StringMatcher> try_parse(std::string_view pattern,
                                                  ParseFailure* failure = nullptr);

    /// Tells whether the subject matches the pattern.
    [[nodiscard]] bool matches(std::string_view subject) const;

    /// Returns the pattern as given.
    [[nodiscard]] const std::string& str() const { return m_pattern; }

    /// Returns the kind of pattern.
    [[nodiscard]] Kind kind() const { return m_kind; }

    /// Tells whether the pattern matches every string (a glob of only `*`).
    [[nodiscard]] bool matches_all() const;

  private:
    std::string m_pattern;
    Kind m_kind = Kind::exact;
    std::shared_ptr<const detail::Regex> m_regex;
};

/// Tells whether `subject` matches a glob where only `*` is special, ignoring ASCII case; it
/// runs in O(pattern x subject) time without recursion.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view subject);

/// Tells whether two strings are equal ignoring ASCII case.
[[nodiscard]] bool equals_ignoring_case(std::string_view a, std::string_view b);

}  // namespace gpuenv::core::spec
