#include <gpuenv/core/gpu/lease.hpp>

// Taking leases. The state directory's layout and its safety rules are in lease_dir.cpp.

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>

namespace gpuenv::core::gpu {
namespace {

using Json = nlohmann::ordered_json;

std::string errno_text(int err) {
    return std::strerror(err);
}

constexpr int k_record_format = 1;
// A probe (is_held, read_leases, clean_stale, a release) holds a shared lock for
// microseconds; an acquirer that finds only shared locks retries this many times, 1-2 ms
// apart, before calling the GPU busy, so that `gpuenv leases` never makes a `run` fail.
constexpr int k_probe_retries = 100;

void short_pause() {
    static thread_local std::minstd_rand jitter(std::random_device{}());
    std::this_thread::sleep_for(std::chrono::microseconds(1000 + jitter() % 1000));
}

// Takes the exclusive lock without waiting for a job; returns false when a job holds it.
bool lock_exclusive(int fd) {
    for (int attempt = 0;; ++attempt) {
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0)
            return true;
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            throw Error(ExitCode::not_found, "cannot flock a lock file: " + errno_text(errno));
        // A shared lock succeeding means no job holds the exclusive one: only probes do.
        if (probe_lock(fd) == LockProbe::held || attempt >= k_probe_retries) {
            ::flock(fd, LOCK_UN);  // our own fresh description, never a lease's
            return false;
        }
        ::flock(fd, LOCK_UN);
        short_pause();
    }
}

Json record_json(const LeaseGpu& gpu, const LeaseHolder& holder) {
    Json j = Json::object();
    j["format"] = k_record_format;
    j["uuid"] = gpu.uuid;
    j["gpu_index"] = gpu.index ? Json(*gpu.index) : Json(nullptr);
    j["pid"] = holder.pid;
    j["uid"] = holder.uid;
    j["user"] = holder.user;
    j["host"] = holder.host;
    j["start_unix"] = holder.start_unix_ns / 1'000'000'000;
    j["start_unix_ns"] = holder.start_unix_ns;
    j["start_iso"] = format_iso_utc(holder.start_unix_ns);
    j["command"] = holder.command;
    j["env_prefix"] = holder.env_prefix;
    return j;
}

// Writes the record atomically (a fresh O_EXCL temporary renamed over the name); returns
// why it failed, "" on success. In a sticky directory the rename fails when another user
// planted a file under our name: the lease stands, the record is then "holder unknown".
std::string write_record(int dir_fd, const std::string& name, const std::string& text) {
    static thread_local std::minstd_rand random(std::random_device{}());
    const std::string temp =
        "." + name + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(random());
    const util::FdGuard fd(
        ::openat(dir_fd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd.get() < 0)
        return "cannot create " + temp + ": " + errno_text(errno);
    const auto abandon = [&](const std::string& what) {
        std::string message = what + ": " + errno_text(errno);
        ::unlinkat(dir_fd, temp.c_str(), 0);
        return message;
    };
    if (::fchmod(fd.get(), 0644) != 0)
        return abandon("cannot chmod " + temp);
    std::string_view left = text;
    while (!left.empty()) {
        const ssize_t n = ::write(fd.get(), left.data(), left.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return abandon("cannot write " + temp);
        left.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::renameat(dir_fd, temp.c_str(), dir_fd, name.c_str()) != 0)
        return abandon("cannot rename " + temp + " to " + name);
    return "";
}

// Removes a record of `uuid` when no one holds the lock: under our shared
// lock no new holder can appear, so the record cannot be a fresh one we would wrongly drop.
void remove_record_if_free(int dir_fd, const std::string& uuid, const std::string& record) {
    const std::string lock = lock_file_name(uuid);
    const util::FdGuard fd(
        ::openat(dir_fd, lock.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (fd.get() < 0 || ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0)
        return;
    ::unlinkat(dir_fd, record.c_str(), 0);
}

}  // namespace

// ---- Holder ----

LeaseHolder current_holder(std::vector<std::string> command, std::string env_prefix) {
    LeaseHolder holder;
    holder.pid = ::getpid();
    holder.uid = ::geteuid();
    holder.user = user_name_of(static_cast<unsigned>(::geteuid()));
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0)
        holder.host = host;
    holder.start_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    holder.command = std::move(command);
    holder.env_prefix = std::move(env_prefix);
    return holder;
}

// ---- Lease ----

Lease::Lease(Lease&& other) noexcept
    : m_dir_fd(std::exchange(other.m_dir_fd, -1)),
      m_lock_fd(std::exchange(other.m_lock_fd, -1)),
      m_uuid(std::move(other.m_uuid)),
      m_record_name(std::move(other.m_record_name)),
      m_record_problem(std::move(other.m_record_problem)) {}

Lease& Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        release();
        m_dir_fd = std::exchange(other.m_dir_fd, -1);
        m_lock_fd = std::exchange(other.m_lock_fd, -1);
        m_uuid = std::move(other.m_uuid);
        m_record_name = std::move(other.m_record_name);
        m_record_problem = std::move(other.m_record_problem);
    }
    return *this;
}

Lease::~Lease() {
    release();
}

void Lease::make_inheritable() {
    const int flags = ::fcntl(m_lock_fd, F_GETFD);
    if (flags < 0 || ::fcntl(m_lock_fd, F_SETFD, flags & ~FD_CLOEXEC) != 0)
        throw Error(ExitCode::internal,
                    "cannot pass the lease on GPU " + m_uuid + " to the job: " + errno_text(errno));
}

void Lease::release() noexcept {
    if (m_lock_fd >= 0) {
        // Only close: the job may still hold the lock through the same description.
        ::close(std::exchange(m_lock_fd, -1));
        if (m_dir_fd >= 0 && !m_record_name.empty() && m_record_problem.empty())
            remove_record_if_free(m_dir_fd, m_uuid, m_record_name);
    }
    if (m_dir_fd >= 0)
        ::close(std::exchange(m_dir_fd, -1));
}

std::optional<Lease> try_acquire(const LeaseDir& dir, const LeaseGpu& gpu,
                                 const LeaseHolder& holder) {
    if (gpu.uuid.empty())
        throw Error(ExitCode::usage, "cannot lease a GPU without a UUID");
    // The Lease owns the descriptor at once, so that any failure below closes it.
    Lease lease(-1, open_lock_file(dir, gpu.uuid, CreateLock::yes), gpu.uuid, "");
    if (!lock_exclusive(lease.m_lock_fd))
        return std::nullopt;
    lease.m_dir_fd = ::fcntl(dir.fd(), F_DUPFD_CLOEXEC, 0);
    if (lease.m_dir_fd < 0)
        throw Error(ExitCode::internal, "cannot duplicate the descriptor of " +
                                            dir.path().string() + ": " + errno_text(errno));
    // Written only now that the lock is ours: a prober holding the shared lock therefore
    // knows that no record can appear while it looks (see clean_stale).
    lease.m_record_name = record_file_name(gpu.uuid, holder.uid);
    lease.m_record_problem =
        write_record(lease.m_dir_fd, lease.m_record_name, record_json(gpu, holder).dump(2) + "\n");
    return lease;
}

// ---- Several GPUs ----

AcquireOutcome acquire_all(const LeaseDir& dir, const std::vector<LeaseGpu>& gpus,
                           const LeaseHolder& holder) {
    AcquireOutcome outcome;
    for (const LeaseGpu& gpu : gpus) {
        if (auto lease = try_acquire(dir, gpu, holder))
            outcome.leases.push_back(std::move(*lease));
        else
            outcome.busy.push_back(gpu.uuid);
    }
    // No waiting while holding: a busy GPU makes us drop the others at once, so two jobs
    // wanting overlapping sets never deadlock and never keep a GPU they cannot use.
    outcome.acquired = outcome.busy.empty();
    if (!outcome.acquired)
        outcome.leases.clear();
    return outcome;
}

AcquireOutcome acquire_some(const LeaseDir& dir, const std::vector<LeaseGpu>& candidates,
                            std::size_t count, const LeaseHolder& holder) {
    AcquireOutcome outcome;
    for (const LeaseGpu& gpu : candidates) {
        if (outcome.leases.size() == count)
            break;
        if (auto lease = try_acquire(dir, gpu, holder))
            outcome.leases.push_back(std::move(*lease));
        else
            outcome.busy.push_back(gpu.uuid);
    }
    outcome.acquired = outcome.leases.size() == count;
    if (outcome.acquired)
        outcome.busy.clear();
    else
        outcome.leases.clear();
    return outcome;
}

AcquireOutcome acquire_waiting(const std::function<AcquireOutcome()>& attempt,
                               const WaitPolicy& policy) {
    // Polling rather than a blocking flock: a blocking wait could only wait for one GPU at
    // a time while holding others, and could not be cancelled without a signal racing it.
    const auto slice = std::chrono::milliseconds(50);
    for (;;) {
        AcquireOutcome outcome = attempt();
        if (outcome.ok())
            return outcome;
        for (auto waited = std::chrono::milliseconds(0); waited < policy.interval;
             waited += slice) {
            if (policy.cancelled && policy.cancelled()) {
                outcome.cancelled = true;
                return outcome;
            }
            std::this_thread::sleep_for(std::min(slice, policy.interval - waited));
        }
        if (policy.cancelled && policy.cancelled()) {
            outcome.cancelled = true;
            return outcome;
        }
    }
}

bool is_held(const LeaseDir& dir, std::string_view uuid) {
    const util::FdGuard fd(open_lock_file(dir, uuid, CreateLock::no));
    return fd.get() >= 0 && probe_lock(fd.get()) == LockProbe::held;
}

}  // namespace gpuenv::core::gpu
