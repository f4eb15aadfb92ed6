#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/spec/conda_version.hpp>
#include <gpuenv/core/spec/string_matcher.hpp>

namespace gpuenv::core::spec {

/// Represents a conda version spec (CEP 29, conda's VersionSpec): clauses joined by `,` (AND, binds
/// tighter) and `|` (OR), with parentheses. A clause is `*`, `^...$` (regex), `OP version` with
/// OP one of `== != <= >= < > = ~=`, `X.*` or `X*` (starts with X), a glob such as `1.*.1`, or a
/// bare version (exact). As in conda, `=X` and `X.*` mean "starts with", `!=X.*` "does not start
/// with", `==X.*` and `<X.*` drop the `.*`, and `~=X` means `>=X` and starts with X minus its last
/// component.
class VersionSpec {
  public:
    /// Limits how deeply parentheses nest.
    static constexpr int k_max_depth = 64;

    /// Parses a version spec; throws gpuenv::Error(ExitCode::usage) naming the offending offset.
    static VersionSpec parse(std::string_view text);

    /// Parses a version spec, or returns nullopt and fills `failure` (when given).
    static std::optional<VersionSpec> try_parse(std::string_view text,
                                                ParseFailure* failure = nullptr);

    /// Tells whether the version satisfies the spec.
    [[nodiscard]] bool contains(const CondaVersion& version) const;

    /// Returns the text as given.
    [[nodiscard]] const std::string& str() const { return m_text; }

    /// Returns the spec rebuilt from its tree, as conda's untreeify writes it: no spaces,
    /// nested groups flattened and parenthesized only where needed ("1.5|((1.6|1.7),1.8)").
    [[nodiscard]] std::string normalized() const;

    /// Tells whether the spec pins one version: a bare version or `==X` (conda's is_exact).
    [[nodiscard]] bool is_exact() const;

    /// Tells whether the spec matches every version (`*`).
    [[nodiscard]] bool matches_all() const;

  private:
    enum class Op : std::uint8_t {
        any,
        eq,
        ne,
        lt,
        le,
        gt,
        ge,
        starts_with,
        not_starts_with,
        compatible,
        glob,
        regex,
        exact_text,
    };

    struct Clause {
        Op op = Op::any;
        bool exact = false;  // bare X or ==X
        std::string text;    // as written, trimmed
        std::optional<CondaVersion> version;
        std::optional<CondaVersion> prefix;  // for ~=
        std::optional<StringMatcher> matcher;
    };

    enum class NodeKind : std::uint8_t { clause, all_of, any_of };

    struct Node {
        NodeKind kind = NodeKind::clause;
        std::uint32_t clause = 0;
        std::vector<std::uint32_t> children;
    };

    class Parser;

    [[nodiscard]] bool eval(std::uint32_t node, const CondaVersion& version) const;
    [[nodiscard]] static bool test(const Clause& clause, const CondaVersion& version);
    void render(std::uint32_t node, bool in_and, int depth, std::string& out) const;

    std::string m_text;
    std::vector<Clause> m_clauses;
    std::vector<Node> m_nodes;
    std::uint32_t m_root = 0;
};

}  // namespace gpuenv::core::spec
