#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpuenv::core::spec {

/// Describes why a spec parser rejected its input: a byte offset into it and a lowercase reason.
struct ParseFailure {
    std::size_t offset = 0;
    std::string reason;
};

/// Represents a conda version literal (CEP 33), ordered as conda's VersionOrder orders it:
/// "1.1" == "1.1.0", "1.1dev1" < "1.1a1" < "1.1" < "1.1post1", "1!0.1" > "2.0".
class CondaVersion {
  public:
    /// Limits the length of a version string (CEP 26).
    static constexpr std::size_t k_max_length = 64;
    /// Limits the value of a run of digits (CEP 33).
    static constexpr std::uint32_t k_max_number = 2147483647;

    /// Parses a version; throws gpuenv::Error(ExitCode::usage) naming the offending character.
    static CondaVersion parse(std::string_view text);

    /// Parses a version, or returns nullopt and fills `failure` (when given) instead of throwing.
    static std::optional<CondaVersion> try_parse(std::string_view text,
                                                 ParseFailure* failure = nullptr);

    /// Returns the text as given.
    [[nodiscard]] const std::string& str() const { return m_text; }

    /// Returns conda's normalized text: trimmed, lowercased, '-' read as '_' where conda does.
    [[nodiscard]] std::string normalized() const;

    /// Returns the epoch, 0 when none is given.
    [[nodiscard]] std::uint32_t epoch() const;

    /// Returns whether a local version ("+...") is present.
    [[nodiscard]] bool has_local() const { return m_local_segments > 0; }

    /// Tells whether this version starts with `prefix` as conda's `=X` and `X.*` test it:
    /// every segment of the prefix but the last is equal, and the last one is a prefix
    /// ("1.7.1" starts with "1.7", "2013ab" with "2013a", "10.0" does not start with "1").
    [[nodiscard]] bool starts_with(const CondaVersion& prefix) const;

    /// Orders two versions by CEP 33; missing components count as 0.
    friend std::weak_ordering operator<=>(const CondaVersion& a, const CondaVersion& b);

    /// Tells whether two versions are equivalent ("1.1" == "1.1.0", "1.0.RC" == "1.0.rc").
    friend bool operator==(const CondaVersion& a, const CondaVersion& b);

  private:
    CondaVersion() = default;  // only parsing makes a version

    enum class Kind : std::uint8_t { number, post, text, dev };

    // One run of digits or non-digits; text runs point into m_text (compared ignoring case).
    struct Atom {
        std::uint32_t number = 0;
        std::uint8_t text_offset = 0;  // from the first non-space character of m_text
        std::uint8_t text_length = 0;
        Kind kind = Kind::number;
        bool segment_start = false;  // first atom of its segment
    };

    // A run of segments (the epoch-plus-main part, or the local part) in m_atoms.
    struct Part {
        std::size_t first_atom = 0;
        std::size_t end_atom = 0;
        std::size_t segments = 0;
    };

    struct Parser;

    [[nodiscard]] Part main_part() const;
    [[nodiscard]] Part local_part() const;
    [[nodiscard]] std::size_t segment_end(const Part& part, std::size_t begin) const;
    [[nodiscard]] std::string_view text_of(const Atom& atom) const;
    [[nodiscard]] static int compare_atoms(const CondaVersion& a, const Atom* x,
                                           const CondaVersion& b, const Atom* y);
    [[nodiscard]] static int compare_parts(const CondaVersion& a, Part pa, const CondaVersion& b,
                                           Part pb, std::size_t max_segments);
    [[nodiscard]] static int compare(const CondaVersion& a, const CondaVersion& b);

    std::string m_text;
    std::vector<Atom> m_atoms;
    std::uint32_t m_lead = 0;          // leading whitespace in m_text
    std::uint8_t m_main_segments = 0;  // the epoch counts as the first one
    std::uint8_t m_main_atoms = 0;     // atoms of the epoch and main segments
    std::uint8_t m_local_segments = 0;
};

}  // namespace gpuenv::core::spec
