#include <gpuenv/util/error.hpp>

namespace gpuenv {

Error::Error(ExitCode code, const std::string& message)
    : std::runtime_error(message), m_code(code) {}

Error Error::with_context(std::string_view context) const {
    std::string message(context);
    message += ": ";
    message += what();
    return Error(m_code, message);
}

}  // namespace gpuenv
