#pragma once

#include <cstdint>
#include <string_view>

namespace gpuenv::util {

/// Receives progress from long core operations; the cli passes a bar on a terminal and
/// NullProgress otherwise. Implementations must accept calls from several threads.
class Progress {
  public:
    virtual ~Progress() = default;
    /// Announces a phase with the number of units (bytes, files) it will process.
    virtual void start(std::string_view what, std::uint64_t total) = 0;
    /// Adds `units` to the amount done.
    virtual void advance(std::uint64_t units) = 0;
    /// Ends the phase (a bar clears its line).
    virtual void finish() = 0;
};

/// Ignores all progress.
class NullProgress final : public Progress {
  public:
    void start(std::string_view /*what*/, std::uint64_t /*total*/) override {}
    void advance(std::uint64_t /*units*/) override {}
    void finish() override {}
};

}  // namespace gpuenv::util
