#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <gpuenv/util/exit_code.hpp>

namespace gpuenv {

/// Signals that an operation cannot go on; carries the exit code the cli maps it to.
class Error : public std::runtime_error {
  public:
    /// Creates an error with an exit code and a lowercase message naming the object concerned.
    Error(ExitCode code, const std::string& message);

    /// Returns the exit code this error maps to.
    [[nodiscard]] ExitCode code() const noexcept { return m_code; }

    /// Returns a copy whose message is prefixed with context ("cannot read X: <message>").
    [[nodiscard]] Error with_context(std::string_view context) const;

  private:
    ExitCode m_code;
};

}  // namespace gpuenv
