#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpuenv::core::spec {

/// Holds the values PEP 508 markers test, for the TARGET environment (the Python whose
/// packages are checked), not the machine running gpuenv.
struct MarkerEnvironment {
    std::string implementation_name = "cpython";  ///< sys.implementation.name
    std::string implementation_version;           ///< sys.implementation.version, "3.11.2"
    std::string os_name = "posix";                ///< os.name
    std::string platform_machine;                 ///< platform.machine(), "x86_64"
    std::string platform_release;                 ///< platform.release(), "5.10.0-28-amd64"
    std::string platform_system;                  ///< platform.system(), "Linux"
    std::string platform_version;                 ///< platform.version()
    std::string python_full_version;              ///< platform.python_version(), "3.11.2"
    std::string platform_python_implementation = "CPython";  ///< "CPython", "PyPy"
    std::string python_version;                              ///< major.minor, "3.11"
    std::string sys_platform;                                ///< sys.platform, "linux"
};

/// Holds a PEP 508 environment marker such as `python_version < "3.8" and os_name == "nt"`.
class Marker {
  public:
    /// Limits how deeply parentheses may nest, so parsing and evaluation stay bounded.
    static constexpr std::size_t k_max_depth = 64;

    /// Parses a marker as packaging does (both quote styles, Python string escapes,
    /// "and" binding tighter than "or", `os.name`-style aliases); throws gpuenv::Error (usage)
    /// pointing at the offending character.
    [[nodiscard]] static Marker parse(std::string_view text);

    /// Parses the marker that starts at `pos` in `text` and advances `pos` past it and the
    /// spaces after it; errors name `what` and point into `text` (used for requirements).
    [[nodiscard]] static Marker parse_part(std::string_view text, std::size_t& pos,
                                           std::string_view what);

    /// Evaluates the marker in `env` with the given extra (compared in PEP 503 form): version
    /// comparison where the operator and both sides are PEP 440, text comparison otherwise;
    /// throws gpuenv::Error (usage) for a comparison packaging leaves undefined (`~=` on
    /// non-versions) or a literal naming no variable (`"a" == "b"`).
    [[nodiscard]] bool evaluate(const MarkerEnvironment& env, std::string_view extra = "") const;

    /// Returns the marker as packaging prints it (`python_version < "3.8"`, variables by their
    /// canonical names, literals in double quotes, redundant parentheses dropped).
    [[nodiscard]] std::string str() const;

  private:
    Marker() = default;

    enum class Op { lt, le, eq, ne, ge, gt, compatible, arbitrary, in, not_in };

    struct Operand {
        bool is_variable = false;
        std::string value;  // the variable's canonical name, or the literal's value
    };

    struct Comparison {
        Operand lhs;
        Op op = Op::eq;
        Operand rhs;
    };

    // An atom of a list: a comparison or a parenthesized list (by index).
    struct Atom {
        bool is_list = false;
        std::size_t index = 0;
    };

    // `atoms[0] joins[0] atoms[1] ...` where a join is true for "or", false for "and".
    struct List {
        std::vector<Atom> atoms;
        std::vector<bool> joins;
    };

    class Parser;

    bool evaluate_list(std::size_t index, const MarkerEnvironment& env,
                       std::string_view extra) const;
    bool evaluate_comparison(const Comparison& c, const MarkerEnvironment& env,
                             std::string_view extra) const;
    void format_list(std::size_t index, bool first, std::string& out) const;

    std::vector<Comparison> m_comparisons;
    std::vector<List> m_lists;  // m_lists[0] is the whole marker
};

}  // namespace gpuenv::core::spec
