#pragma once

// GPU leases: taking, passing to a job and releasing them. The state directory, its files
// and the listing are in lease_dir.hpp; the safety reasoning is in lease_dir.cpp.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuenv/core/gpu/lease_dir.hpp>

namespace gpuenv::core::gpu {

/// Returns a holder describing this process now: pid, uid, user, host and the current time.
[[nodiscard]] LeaseHolder current_holder(std::vector<std::string> command, std::string env_prefix);

/// Names a GPU to lease: its UUID (the lock's identity) and its index (display only).
struct LeaseGpu {
    std::string uuid;
    std::optional<unsigned> index;
};

/// Owns one held lease: the locked descriptor of `<uuid>.lock` and the record it wrote.
class Lease {
  public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    /// Releases the lease (see release()).
    ~Lease();

    /// Returns the leased GPU's UUID.
    [[nodiscard]] const std::string& uuid() const { return m_uuid; }

    /// Returns the locked descriptor (-1 after release()).
    [[nodiscard]] int fd() const { return m_lock_fd; }

    /// Returns why the holder record could not be written ("" when it was): the lease is
    /// held all the same and `gpuenv leases` shows "holder unknown".
    [[nodiscard]] const std::string& record_problem() const { return m_record_problem; }

    /// Clears FD_CLOEXEC so that an exec'd job inherits the lock; call right before exec.
    /// Throws Error(internal) when fcntl fails.
    void make_inheritable();

    /// Closes this process's descriptor; the lease ends once no inheriting process holds it,
    /// and the own record is removed (best effort) when the lock is then free.
    void release() noexcept;

  private:
    friend std::optional<Lease> try_acquire(const LeaseDir& dir, const LeaseGpu& gpu,
                                            const LeaseHolder& holder);
    Lease(int dir_fd, int lock_fd, std::string uuid, std::string record_name)
        : m_dir_fd(dir_fd),
          m_lock_fd(lock_fd),
          m_uuid(std::move(uuid)),
          m_record_name(std::move(record_name)) {}

    int m_dir_fd = -1;  // a close-on-exec duplicate, to remove the record on release
    int m_lock_fd = -1;
    std::string m_uuid;
    std::string m_record_name;
    std::string m_record_problem;
};

/// Takes the lease on one GPU without waiting and writes its record; std::nullopt when
/// another job holds it. Throws Error(not_found) when the lock file is unsafe (a symlink,
/// not a regular file, several links) or cannot be created or opened.
[[nodiscard]] std::optional<Lease> try_acquire(const LeaseDir& dir, const LeaseGpu& gpu,
                                               const LeaseHolder& holder);

/// Tells what an acquisition got: all the leases asked for, or none and who was busy.
struct AcquireOutcome {
    std::vector<Lease> leases;      ///< in the order asked; empty unless ok()
    std::vector<std::string> busy;  ///< UUIDs found held by others (empty when ok())
    bool acquired = false;          ///< all the leases asked for were taken
    bool cancelled = false;         ///< a wait ended by its cancel hook

    /// Returns whether the leases were taken.
    [[nodiscard]] bool ok() const { return acquired; }
};

/// Takes the leases on all the GPUs (each UUID once) or on none (no waiting); on failure
/// every GPU was tried so that `busy` lists all the busy ones.
[[nodiscard]] AcquireOutcome acquire_all(const LeaseDir& dir, const std::vector<LeaseGpu>& gpus,
                                         const LeaseHolder& holder);

/// Takes the leases on the first `count` free GPUs of `candidates`, in order, or on none
/// (then `busy` lists the busy candidates; fewer than `count` candidates never succeed).
[[nodiscard]] AcquireOutcome acquire_some(const LeaseDir& dir,
                                          const std::vector<LeaseGpu>& candidates,
                                          std::size_t count, const LeaseHolder& holder);

/// Controls a wait for leases (`gpuenv run --wait`).
struct WaitPolicy {
    std::chrono::milliseconds interval{200};  ///< between attempts
    /// Returns true to end the wait (a SIGINT flag, a deadline); null: wait forever.
    std::function<bool()> cancelled;
};

/// Calls `attempt` (e.g. acquire_all bound to its arguments) until it succeeds or the
/// policy cancels; returns the successful outcome, or the last one with `cancelled` set.
[[nodiscard]] AcquireOutcome acquire_waiting(const std::function<AcquireOutcome()>& attempt,
                                             const WaitPolicy& policy);

/// Returns whether a job holds the GPU's lease now, without disturbing it; false when no
/// lock file exists. Throws like try_acquire when the lock file is unsafe.
[[nodiscard]] bool is_held(const LeaseDir& dir, std::string_view uuid);

}  // namespace gpuenv::core::gpu
