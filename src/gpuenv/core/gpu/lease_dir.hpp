#pragma once

// The lease state directory and what it holds: per GPU a lock file `<uuid>.lock` (flock()ed
// by the holder, never unlinked) and per user a holder record `<uuid>.<uid>.json`.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace gpuenv::core::gpu {

/// Returns the state directory: `GPUENV_STATE_DIR`'s value when set and non-empty, else
/// /tmp/gpuenv.
[[nodiscard]] std::filesystem::path state_dir_from_env(const char* gpuenv_state_dir);

/// An opened, checked state directory (held by descriptor, so it cannot be swapped under us).
class LeaseDir {
  public:
    /// Opens the directory for taking leases, creating it (mode 01777) when missing; throws
    /// Error(not_found) naming the directory when it is unsafe (a symlink, not a directory,
    /// writable by others without the sticky bit) or not writable by the caller.
    [[nodiscard]] static LeaseDir open_or_create(const std::filesystem::path& path);

    /// Opens an existing directory for reading (`gpuenv leases`); std::nullopt when it does
    /// not exist (nothing was ever leased); throws like open_or_create when it is unsafe.
    [[nodiscard]] static std::optional<LeaseDir> open_existing(const std::filesystem::path& path);

    LeaseDir(LeaseDir&& other) noexcept;
    LeaseDir& operator=(LeaseDir&& other) noexcept;
    LeaseDir(const LeaseDir&) = delete;
    LeaseDir& operator=(const LeaseDir&) = delete;
    ~LeaseDir();

    /// Returns the directory's path, for messages.
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

    /// Returns the directory's descriptor (close-on-exec), for the functions below.
    [[nodiscard]] int fd() const { return m_fd; }

  private:
    LeaseDir(std::filesystem::path path, int fd) : m_path(std::move(path)), m_fd(fd) {}

    std::filesystem::path m_path;
    int m_fd = -1;
};

/// Describes the job taking a lease, as its record shows it to `gpuenv leases`.
struct LeaseHolder {
    long pid = 0;
    unsigned uid = 0;
    std::string user;
    std::string host;
    std::int64_t start_unix_ns = 0;    ///< when the lease was taken (the record's order)
    std::vector<std::string> command;  ///< the job's argv
    std::string env_prefix;            ///< the environment it runs in ("" when none)
};

/// Returns a GPU UUID as a file-name stem: characters outside [A-Za-z0-9_-] become %XX
/// (old MIG UUIDs contain '/'), so the stem never contains '.' or '/'.
[[nodiscard]] std::string encode_uuid(std::string_view uuid);

/// Reverses encode_uuid; std::nullopt for a stem encode_uuid cannot have produced.
[[nodiscard]] std::optional<std::string> decode_uuid(std::string_view stem);

/// Returns the lock file's name for a GPU: `<encoded uuid>.lock`.
[[nodiscard]] std::string lock_file_name(std::string_view uuid);

/// Returns a holder record's name: `<encoded uuid>.<uid>.json`.
[[nodiscard]] std::string record_file_name(std::string_view uuid, unsigned uid);

/// Returns the login name of a uid, or the number when it has none.
[[nodiscard]] std::string user_name_of(unsigned uid);

/// Returns a unix time in nanoseconds as ISO 8601 UTC ("2026-11-23T00:28:09Z").
[[nodiscard]] std::string format_iso_utc(std::int64_t unix_ns);

/// Tells open_lock_file whether to create a missing lock file.
enum class CreateLock { no, yes };

/// Opens a GPU's lock file read-only and close-on-exec (creating it 0644 with O_EXCL when
/// asked); returns the descriptor, owned by the caller, or -1 when it is missing and not
/// created. Throws Error(not_found) when it is a symlink, not a regular file, has several
/// hard links, or cannot be opened.
[[nodiscard]] int open_lock_file(const LeaseDir& dir, std::string_view uuid, CreateLock create);

/// Tells what a shared-lock probe found.
enum class LockProbe { free, held };

/// Tries a shared lock on a lock file's descriptor without waiting: `held` when a job holds
/// the lease; `free` leaves the shared lock taken (no one can take the lease until the caller
/// closes the descriptor or unlocks it).
[[nodiscard]] LockProbe probe_lock(int fd);

/// Describes one holder record file as read back (tolerantly).
struct LeaseRecord {
    std::string file;                   ///< name within the state directory
    unsigned owner_uid = 0;             ///< the file's owner (the uid in its name)
    std::int64_t mtime_ns = 0;          ///< orders records whose content is unreadable
    std::optional<LeaseHolder> holder;  ///< std::nullopt: "holder unknown"
    std::optional<unsigned> gpu_index;
    std::string problem;  ///< why holder is std::nullopt
};

/// Tells whether a GPU's lease is taken.
enum class LeaseState { free, held, unsafe };

/// Describes one GPU's lease as `gpuenv leases` shows it.
struct LeaseInfo {
    std::string uuid;
    LeaseState state = LeaseState::free;
    std::optional<LeaseRecord> current;  ///< the newest record when held; none: holder unknown
    std::vector<LeaseRecord> stale;      ///< records describing no current holder
    std::string problem;                 ///< why the lock file is unsafe (state unsafe)
};

/// Lists every GPU with a lock file or a record, sorted by UUID; never throws for one bad
/// file (it is shown as unsafe or as "holder unknown").
[[nodiscard]] std::vector<LeaseInfo> read_leases(const LeaseDir& dir);

/// Removes stale record files (and left-over temporary files) the caller may remove: its
/// own, or any when root; never lock files. Returns the names removed.
std::vector<std::string> clean_stale(const LeaseDir& dir);

/// Returns the JSON form of a lease listing (`gpuenv leases --json`).
[[nodiscard]] nlohmann::ordered_json leases_json(const std::vector<LeaseInfo>& leases);

}  // namespace gpuenv::core::gpu
