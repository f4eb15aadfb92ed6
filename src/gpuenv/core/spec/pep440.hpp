#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gpuenv::core::spec {

/// Holds a non-negative integer of any size, as PEP 440 puts no bound on version numbers; one
/// machine word unless it has more than 18 digits.
class Pep440Number {
  public:
    /// Creates zero.
    Pep440Number() noexcept = default;

    /// Creates a number from a machine integer.
    explicit Pep440Number(std::uint64_t value);

    /// Copies the number.
    Pep440Number(const Pep440Number& other) : m_bits(other.m_bits) {
        if (is_big())
            copy_big();
    }

    /// Moves the number.
    Pep440Number(Pep440Number&& other) noexcept : m_bits(other.m_bits) { other.m_bits = 0; }

    /// Copies the number.
    Pep440Number& operator=(const Pep440Number& other);

    /// Moves the number.
    Pep440Number& operator=(Pep440Number&& other) noexcept;

    /// Frees the digits of a large number.
    ~Pep440Number() {
        if (is_big())
            free_big();
    }

    /// Builds a number from a non-empty run of ASCII digits (leading zeros are dropped).
    [[nodiscard]] static Pep440Number from_digits(std::string_view digits);

    /// Returns the decimal form without leading zeros ("007" -> "7").
    [[nodiscard]] std::string str() const;

    /// Returns the value when it fits 64 bits, std::nullopt otherwise.
    [[nodiscard]] std::optional<std::uint64_t> to_uint64() const noexcept;

    /// Returns whether the number is zero.
    [[nodiscard]] bool is_zero() const noexcept { return m_bits == 0; }

    /// Orders numbers by value.
    friend std::strong_ordering operator<=>(const Pep440Number& a, const Pep440Number& b) noexcept {
        if (((a.m_bits | b.m_bits) & 1U) == 0)
            return a.m_bits <=> b.m_bits;
        return compare_big(a, b);
    }

    /// Compares numbers by value.
    friend bool operator==(const Pep440Number& a, const Pep440Number& b) noexcept {
        return (a <=> b) == std::strong_ordering::equal;
    }

  private:
    bool is_big() const noexcept { return (m_bits & 1U) != 0; }
    const std::string& big() const noexcept;
    void copy_big();
    void free_big() noexcept;
    static std::strong_ordering compare_big(const Pep440Number& a, const Pep440Number& b) noexcept;

    // value << 1 for values below 10^18, else the address of a heap std::string holding the
    // digits, | 1.
    std::uintptr_t m_bits = 0;
};

/// Lists the pre-release kinds in their sort order (alpha < beta < release candidate).
enum class PreReleaseKind : std::uint8_t { a, b, rc };

/// Holds a pre-release segment ("rc1" is {rc, 1}).
struct PreRelease {
    PreReleaseKind kind = PreReleaseKind::a;  ///< a, b or rc (alpha, beta, c, pre, preview)
    Pep440Number number;                      ///< 0 when none was written

    /// Compares two pre-release segments.
    friend bool operator==(const PreRelease&, const PreRelease&) = default;
};

/// Holds one dot-separated part of a local version label: a number or lowercase text.
struct LocalSegment {
    bool is_number = false;  ///< whether the segment is all digits
    Pep440Number number;     ///< the value when is_number
    std::string text;        ///< the lowercase text when !is_number

    /// Compares two segments as PEP 440 orders them (text before numbers).
    friend std::strong_ordering operator<=>(const LocalSegment& a, const LocalSegment& b) noexcept;

    /// Compares two segments for equality under the same rules.
    friend bool operator==(const LocalSegment& a, const LocalSegment& b) noexcept {
        return (a <=> b) == std::strong_ordering::equal;
    }
};

/// Says where and why a text is not valid (a byte offset into the text and a lowercase reason).
struct SpecParseFailure {
    std::size_t offset = 0;   ///< byte offset of the offending character
    std::string_view reason;  ///< a string literal
};

/// Describes how far a PEP 440 version reaches from the start of a text, as packaging's
/// unanchored version pattern matches it (greedy, no surrounding whitespace).
struct Pep440Extent {
    std::size_t end = 0;            ///< end of the whole match, local label included
    std::size_t release_end = 0;    ///< end of the release segment
    std::size_t local_begin = 0;    ///< where "+local" starts (== end when there is none)
    std::size_t release_count = 0;  ///< number of release components
};

namespace detail {
/// Parses version text into a Pep440Version (defined in pep440.cpp).
class Pep440Scanner;
}  // namespace detail

/// Holds a PEP 440 version: [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]; up to four release
/// components and no local label take no heap memory.
class Pep440Version {
  public:
    /// Creates version 0.
    Pep440Version() noexcept : m_release_size(1) {}

    /// Parses a version with PEP 440's normalization rules (case, separators, implicit 0 in
    /// pre/post/dev, "v" prefix, surrounding whitespace, local labels); throws gpuenv::Error
    /// (usage) pointing at the offending character.
    [[nodiscard]] static Pep440Version parse(std::string_view text);

    /// Parses a version, returning std::nullopt when the text is not one.
    [[nodiscard]] static std::optional<Pep440Version> try_parse(std::string_view text) noexcept;

    /// Parses a version, filling `failure` with where and why when the text is not one.
    [[nodiscard]] static std::optional<Pep440Version> try_parse(std::string_view text,
                                                                SpecParseFailure& failure) noexcept;

    /// Returns the normalized form, as str(packaging.version.Version(text)) prints it.
    [[nodiscard]] std::string normalized() const;

    /// Returns the epoch (0 when none was written).
    [[nodiscard]] const Pep440Number& epoch() const noexcept { return m_epoch; }

    /// Returns the release components as written (trailing zeros kept).
    [[nodiscard]] std::span<const Pep440Number> release() const noexcept {
        return m_release_size <= k_inline_release
                   ? std::span<const Pep440Number>(m_release_inline, m_release_size)
                   : std::span<const Pep440Number>(m_release_heap);
    }

    /// Returns the pre-release segment, if any.
    [[nodiscard]] std::optional<PreRelease> pre() const;

    /// Returns the post-release number, if any.
    [[nodiscard]] std::optional<Pep440Number> post() const;

    /// Returns the development release number, if any.
    [[nodiscard]] std::optional<Pep440Number> dev() const;

    /// Returns the local label's segments (empty when there is no local label).
    [[nodiscard]] const std::vector<LocalSegment>& local_segments() const noexcept {
        return m_local;
    }

    /// Returns the normalized local label without "+" ("" when there is none).
    [[nodiscard]] std::string local() const;

    /// Returns the same version without its local label.
    [[nodiscard]] Pep440Version public_version() const;

    /// Returns the epoch and release only ("1!2.0rc1.post3" -> "1!2.0").
    [[nodiscard]] Pep440Version base_version() const;

    /// Returns whether this is a pre-release: it has a pre-release or a dev segment.
    [[nodiscard]] bool is_prerelease() const noexcept { return m_has_pre || m_has_dev; }

    /// Returns whether this has a post-release segment.
    [[nodiscard]] bool is_postrelease() const noexcept { return m_has_post; }

    /// Returns whether this has a development release segment.
    [[nodiscard]] bool is_devrelease() const noexcept { return m_has_dev; }

    /// Returns whether this has a local label.
    [[nodiscard]] bool has_local() const noexcept { return !m_local.empty(); }

    /// Orders the two versions as if neither had a local label.
    [[nodiscard]] std::strong_ordering compare_public(const Pep440Version& other) const noexcept;

    /// Returns whether both versions have the same epoch and release (trailing zeros ignored).
    [[nodiscard]] bool has_same_base(const Pep440Version& other) const noexcept;

    /// Orders versions as PEP 440 does ("1.0.dev0" < "1.0a1" < "1.0" < "1.0+local" <
    /// "1.0.post1"; trailing zeros of the release are not significant).
    friend std::strong_ordering operator<=>(const Pep440Version& a,
                                            const Pep440Version& b) noexcept;

    /// Returns whether the versions are equal under PEP 440 ordering ("1.0" == "1.0.0").
    friend bool operator==(const Pep440Version& a, const Pep440Version& b) noexcept {
        return (a <=> b) == std::strong_ordering::equal;
    }

  private:
    friend class detail::Pep440Scanner;

    static constexpr std::uint32_t k_inline_release = 4;

    Pep440Number m_epoch;
    Pep440Number m_release_inline[k_inline_release];
    std::vector<Pep440Number> m_release_heap;  // all components, when there are more than four
    Pep440Number m_pre_number;
    Pep440Number m_post;
    Pep440Number m_dev;
    std::uint32_t m_release_size;
    PreReleaseKind m_pre_kind = PreReleaseKind::a;
    bool m_has_pre = false;
    bool m_has_post = false;
    bool m_has_dev = false;
    std::vector<LocalSegment> m_local;
};

/// Scans the longest PEP 440 version at the start of `text` (no leading whitespace), as
/// packaging's unanchored pattern does; returns std::nullopt when no version starts there.
[[nodiscard]] std::optional<Pep440Extent> scan_pep440(std::string_view text) noexcept;

/// Returns the length of the Python whitespace character (str.isspace, UTF-8) that starts
/// `text`, or 0.
[[nodiscard]] std::size_t python_space_length(std::string_view text) noexcept;

/// Returns the length of the Python whitespace character that ends `text`, or 0.
[[nodiscard]] std::size_t python_space_length_back(std::string_view text) noexcept;

/// Removes leading and trailing Python whitespace (str.strip() on the UTF-8 text).
[[nodiscard]] std::string_view strip_python_space(std::string_view text) noexcept;

}  // namespace gpuenv::core::spec
