#include <gpuenv/core/gpu/lease_dir.hpp>

// Why the files look as they do:
// - The state directory is shared by every user, like /tmp: world-writable with the sticky
//   bit, so a user can neither delete nor rename another user's file. That is why the lock
//   (`<uuid>.lock`, shared by everyone, created by whoever comes first) and the holder's
//   record (`<uuid>.<uid>.json`, one per user) are separate files: a holder cannot rewrite a
//   record another user left behind, but it can always write its own.
// - Lock files are never unlinked: a process blocked on (or about to flock) the old inode
//   and a process creating a new file under the same name would both "hold" the GPU.
// - Everything is done relative to the directory's descriptor (openat, renameat, unlinkat)
//   with O_NOFOLLOW, so neither a swapped directory nor a planted symlink redirects a write.
// - A lock file is opened read-only when it exists and created with O_EXCL only when it
//   does not: fs.protected_regular refuses O_CREAT on another user's file in a sticky
//   directory, and flock(LOCK_EX) works on a read-only descriptor (on local file systems;
//   NFS emulates flock with fcntl locks, which need a writable descriptor).
// - The lock belongs to the open file description: the job inherits it across fork/exec,
//   the lease lasts while any process of the job holds the descriptor, and the kernel drops
//   it when the last one dies, SIGKILL included. LOCK_UN is never used on a lease: through a
//   shared description it would release the job's lock too.
// - A record is believed only when its owner is the uid in its name (and in its content):
//   anyone can create `<uuid>.<someone else's uid>.json` in a sticky directory.
// - The holder is the newest record of a held lock: records are written only after the
//   lock is taken, so an older record is from a job that has let go (or is still dying).

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/file.hpp>

namespace gpuenv::core::gpu {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr std::size_t k_max_record_bytes = std::size_t{256} * 1024;

std::string errno_text(int err) {
    return std::strerror(err);
}

using Fd = util::FdGuard;

bool is_record_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

[[noreturn]] void fail_dir(const fs::path& dir, const std::string& why) {
    throw Error(ExitCode::not_found, "unusable state directory " + dir.string() + ": " + why);
}

// Refuses a directory whose files other users could rename or delete.
void check_dir(const fs::path& path, int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        fail_dir(path, errno_text(errno));
    if (!S_ISDIR(st.st_mode))
        fail_dir(path, "not a directory");
    // Writable by others without the sticky bit: anyone could replace a lock file. The
    // owner of a sticky directory is accepted whoever it is: /tmp/gpuenv is created by the
    // first user to take a lease, and its owner could only break exclusion, which a user
    // ignoring leases can do anyway (leases are cooperative); nothing it plants is followed.
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)
        fail_dir(path,
                 "writable by other users without the sticky bit (chmod +t, or chmod "
                 "go-w for a private one)");
}

// Opens the directory itself, refusing a symlink in its last component.
Fd open_dir_fd(const fs::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        fail_dir(path, "a symbolic link");
    Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) {
        const int err = errno;
        fail_dir(path, err == ENOTDIR ? "not a directory"
                       : err == ELOOP ? "a symbolic link"
                                      : errno_text(err));
    }
    check_dir(path, fd.get());
    return fd;
}

// Checks that an opened lock file is a plain file: no FIFO, device or directory, and no
// hard link to a file elsewhere.
void check_lock_fd(const LeaseDir& dir, const std::string& name, int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw Error(ExitCode::not_found, "cannot use lock file " + (dir.path() / name).string() +
                                             ": " + errno_text(errno));
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
        throw Error(ExitCode::not_found,
                    "refusing lock file " + (dir.path() / name).string() + ": " +
                        (S_ISREG(st.st_mode) ? "it has several hard links" : "not a regular file"));
}

[[noreturn]] void fail_lock_open(const LeaseDir& dir, const std::string& name, int err) {
    const std::string file = (dir.path() / name).string();
    if (err == ELOOP)
        throw Error(ExitCode::not_found, "refusing lock file " + file + ": a symbolic link");
    throw Error(ExitCode::not_found, "cannot open lock file " + file + ": " + errno_text(err));
}

Fd open_lock(const LeaseDir& dir, std::string_view uuid, CreateLock create) {
    const std::string name = lock_file_name(uuid);
    // O_NONBLOCK: opening a planted FIFO must not hang (check_lock_fd then refuses it).
    constexpr int k_flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    for (int attempt = 0; attempt < 8; ++attempt) {
        Fd fd(::openat(dir.fd(), name.c_str(), k_flags));
        if (fd.get() >= 0) {
            check_lock_fd(dir, name, fd.get());
            // The job inherits this description: leave it in the ordinary blocking mode.
            const int flags = ::fcntl(fd.get(), F_GETFL);
            if (flags >= 0)
                (void)::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
            return fd;
        }
        if (errno != ENOENT)
            fail_lock_open(dir, name, errno);
        if (create == CreateLock::no)
            return Fd();
        Fd created(::openat(dir.fd(), name.c_str(), k_flags | O_CREAT | O_EXCL, 0644));
        if (created.get() >= 0) {
            // Undo a restrictive umask: a lock file others cannot open would block the GPU.
            if (::fchmod(created.get(), 0644) != 0)
                fail_lock_open(dir, name, errno);
            const int flags = ::fcntl(created.get(), F_GETFL);
            if (flags >= 0)
                (void)::fcntl(created.get(), F_SETFL, flags & ~O_NONBLOCK);
            return created;
        }
        if (errno != EEXIST)
            fail_lock_open(dir, name, errno);
        // Someone created it between our two calls: open theirs.
    }
    fail_lock_open(dir, name, EAGAIN);
}

struct DirEntries {
    std::map<std::string, bool> uuids;                            // uuid -> has a lock file
    std::map<std::string, std::vector<std::string>> records;      // uuid -> record names
    std::map<std::string, std::vector<std::string>> temporaries;  // uuid -> temp names
};

// Parses `<stem>.<uid>.json`; returns the uuid and the uid.
std::optional<std::pair<std::string, unsigned>> parse_record_name(std::string_view name) {
    constexpr std::string_view k_suffix = ".json";
    if (name.size() <= k_suffix.size() || name.substr(name.size() - k_suffix.size()) != k_suffix)
        return std::nullopt;
    name.remove_suffix(k_suffix.size());
    const std::size_t dot = name.find('.');
    if (dot == std::string_view::npos || dot + 1 == name.size() || name.size() - dot > 11)
        return std::nullopt;
    unsigned long uid = 0;
    for (const char c : name.substr(dot + 1)) {
        if (c < '0' || c > '9')
            return std::nullopt;
        uid = uid * 10 + static_cast<unsigned long>(c - '0');
    }
    if (uid > 0xffffffffUL)
        return std::nullopt;
    auto uuid = decode_uuid(name.substr(0, dot));
    if (!uuid)
        return std::nullopt;
    return std::pair{std::move(*uuid), static_cast<unsigned>(uid)};
}

DirEntries list_entries(const LeaseDir& dir) {
    DirEntries entries;
    const int copy = ::fcntl(dir.fd(), F_DUPFD_CLOEXEC, 0);
    DIR* stream = copy >= 0 ? ::fdopendir(copy) : nullptr;
    if (stream == nullptr) {
        const int err = errno;
        if (copy >= 0)
            ::close(copy);
        throw Error(ExitCode::not_found,
                    "cannot list state directory " + dir.path().string() + ": " + errno_text(err));
    }
    ::rewinddir(stream);
    while (const dirent* entry = ::readdir(stream)) {
        const std::string_view name = entry->d_name;
        constexpr std::string_view k_lock = ".lock";
        if (name.size() > k_lock.size() && name.substr(name.size() - k_lock.size()) == k_lock) {
            if (auto uuid = decode_uuid(name.substr(0, name.size() - k_lock.size())))
                entries.uuids[*uuid] = true;
        } else if (auto record = parse_record_name(name)) {
            entries.uuids.try_emplace(record->first, false);
            entries.records[record->first].emplace_back(name);
        } else if (name.size() > 1 && name[0] == '.') {
            // ".<record name>.tmp-<pid>-<n>": left by a holder killed while writing.
            const std::size_t tmp = name.find(".tmp-");
            if (tmp == std::string_view::npos)
                continue;
            if (auto of = parse_record_name(name.substr(1, tmp - 1)))
                entries.temporaries[of->first].emplace_back(name);
        }
    }
    ::closedir(stream);
    return entries;
}

LeaseRecord read_record(const LeaseDir& dir, const std::string& name, unsigned name_uid) {
    LeaseRecord record;
    record.file = name;
    record.owner_uid = name_uid;
    Fd fd(::openat(dir.fd(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
        record.problem = "unreadable: " + errno_text(errno);
        return record;
    }
    record.owner_uid = st.st_uid;
    record.mtime_ns =
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (!S_ISREG(st.st_mode)) {
        record.problem = "not a regular file";
        return record;
    }
    // Only the user named in the file name can have written it: anything else is forged.
    if (st.st_uid != name_uid) {
        record.problem =
            "owned by uid " + std::to_string(st.st_uid) + ", not " + std::to_string(name_uid);
        return record;
    }
    if (static_cast<std::size_t>(st.st_size) > k_max_record_bytes) {
        record.problem = "too large";
        return record;
    }
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    const ssize_t n = ::read(fd.get(), text.data(), text.size());
    if (n < 0) {
        record.problem = "unreadable: " + errno_text(errno);
        return record;
    }
    text.resize(static_cast<std::size_t>(n));
    try {
        const Json j = Json::parse(text);
        LeaseHolder holder;
        holder.pid = j.at("pid").get<long>();
        holder.uid = j.at("uid").get<unsigned>();
        holder.user = j.at("user").get<std::string>();
        holder.host = j.at("host").get<std::string>();
        holder.start_unix_ns = j.at("start_unix_ns").get<std::int64_t>();
        holder.command = j.at("command").get<std::vector<std::string>>();
        holder.env_prefix = j.value("env_prefix", std::string());
        if (holder.uid != name_uid)
            throw std::runtime_error("its uid is not the file's");
        if (const auto index = j.find("gpu_index"); index != j.end() && index->is_number_unsigned())
            record.gpu_index = index->get<unsigned>();
        record.holder = std::move(holder);
    } catch (const std::exception& e) {
        record.problem = std::string("malformed: ") + e.what();
    }
    return record;
}

std::int64_t record_time(const LeaseRecord& record) {
    return record.holder ? record.holder->start_unix_ns : record.mtime_ns;
}

Json record_entry(const LeaseRecord& record) {
    Json j = Json::object();
    j["file"] = record.file;
    j["owner_uid"] = record.owner_uid;
    if (record.holder) {
        const LeaseHolder& h = *record.holder;
        j["gpu_index"] = record.gpu_index ? Json(*record.gpu_index) : Json(nullptr);
        j["pid"] = h.pid;
        j["uid"] = h.uid;
        j["user"] = h.user;
        j["host"] = h.host;
        j["start_unix"] = h.start_unix_ns / 1'000'000'000;
        j["start_iso"] = format_iso_utc(h.start_unix_ns);
        j["command"] = h.command;
        j["env_prefix"] = h.env_prefix;
    } else {
        j["problem"] = record.problem;
    }
    return j;
}

}  // namespace

std::string lock_file_name(std::string_view uuid) {
    return encode_uuid(uuid) + ".lock";
}

std::string record_file_name(std::string_view uuid, unsigned uid) {
    return encode_uuid(uuid) + "." + std::to_string(uid) + ".json";
}

std::string user_name_of(unsigned uid) {
    std::vector<char> buffer(16384);
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) == 0 && found != nullptr)
        return pw.pw_name;
    return std::to_string(uid);
}

// Takes a shared lock without waiting: while it is held no one can take the lease (and so
// no one writes a new record); the caller drops it with LOCK_UN or by closing.
LockProbe probe_lock(int fd) {
    while (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return LockProbe::held;
        if (errno != EINTR)
            throw Error(ExitCode::not_found, "cannot flock a lock file: " + errno_text(errno));
    }
    return LockProbe::free;
}

int open_lock_file(const LeaseDir& dir, std::string_view uuid, CreateLock create) {
    return open_lock(dir, uuid, create).release();
}

std::string format_iso_utc(std::int64_t unix_ns) {
    const std::time_t seconds = static_cast<std::time_t>(unix_ns / 1'000'000'000);
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

// ---- Names ----

std::string encode_uuid(std::string_view uuid) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char c : uuid) {
        if (is_record_char(c)) {
            out.push_back(c);
        } else {
            const auto byte = static_cast<unsigned char>(c);
            out.push_back('%');
            out.push_back(k_hex[byte >> 4]);
            out.push_back(k_hex[byte & 0xf]);
        }
    }
    return out;
}

std::optional<std::string> decode_uuid(std::string_view stem) {
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < stem.size(); ++i) {
        const char c = stem[i];
        if (is_record_char(c)) {
            out.push_back(c);
            continue;
        }
        if (c != '%' || i + 2 >= stem.size())
            return std::nullopt;
        const int high = hex(stem[i + 1]);
        const int low = hex(stem[i + 2]);
        if (high < 0 || low < 0)
            return std::nullopt;
        const char decoded = static_cast<char>(high * 16 + low);
        if (is_record_char(decoded))
            return std::nullopt;  // not canonical: two stems would name one GPU
        out.push_back(decoded);
        i += 2;
    }
    if (out.empty())
        return std::nullopt;
    return out;
}

fs::path state_dir_from_env(const char* gpuenv_state_dir) {
    if (gpuenv_state_dir != nullptr && *gpuenv_state_dir != '\0')
        return gpuenv_state_dir;
    return "/tmp/gpuenv";
}

// ---- LeaseDir ----

LeaseDir LeaseDir::open_or_create(const fs::path& path) {
    if (::mkdir(path.c_str(), 0700) == 0) {
        // Created private first, then opened and opened up through the descriptor: the
        // umask cannot narrow it and no one can swap the path between mkdir and chmod.
        Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (fd.get() < 0 || ::fchmod(fd.get(), 01777) != 0)
            fail_dir(path, "cannot make it shared: " + errno_text(errno));
    } else if (errno != EEXIST) {
        const int err = errno;
        fail_dir(path, "cannot create it: " + errno_text(err));
    }
    Fd fd = open_dir_fd(path);
    if (::faccessat(fd.get(), ".", W_OK | X_OK, AT_EACCESS) != 0) {
        const int err = errno;
        fail_dir(path, "not writable by " + user_name_of(static_cast<unsigned>(::geteuid())) +
                           " (" + errno_text(err) +
                           "); set GPUENV_STATE_DIR to a directory shared by the GPU users");
    }
    return LeaseDir(path, fd.release());
}

std::optional<LeaseDir> LeaseDir::open_existing(const fs::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT)
        return std::nullopt;
    Fd fd = open_dir_fd(path);
    return LeaseDir(path, fd.release());
}

LeaseDir::LeaseDir(LeaseDir&& other) noexcept
    : m_path(std::move(other.m_path)), m_fd(std::exchange(other.m_fd, -1)) {}

LeaseDir& LeaseDir::operator=(LeaseDir&& other) noexcept {
    std::swap(m_path, other.m_path);
    std::swap(m_fd, other.m_fd);
    return *this;
}

LeaseDir::~LeaseDir() {
    if (m_fd >= 0)
        ::close(m_fd);
}

std::vector<LeaseInfo> read_leases(const LeaseDir& dir) {
    const DirEntries entries = list_entries(dir);
    std::vector<LeaseInfo> leases;
    for (const auto& [uuid, has_lock] : entries.uuids) {
        LeaseInfo info;
        info.uuid = uuid;
        Fd lock;
        if (has_lock) {
            try {
                lock = open_lock(dir, uuid, CreateLock::no);
                // Held shared while the records are read when free: the listing of a free
                // GPU is then consistent (no holder can appear meanwhile).
                if (lock.get() >= 0 && probe_lock(lock.get()) == LockProbe::held)
                    info.state = LeaseState::held;
            } catch (const Error& e) {
                info.state = LeaseState::unsafe;
                info.problem = e.what();
            }
        }
        std::vector<LeaseRecord> records;
        if (const auto it = entries.records.find(uuid); it != entries.records.end()) {
            for (const std::string& name : it->second)
                records.push_back(read_record(dir, name, parse_record_name(name)->second));
        }
        // The newest trustworthy record is the holder's: a holder writes its record only
        // after taking the lock, so every earlier one is from a job that has let go.
        const auto trusted = [](const LeaseRecord& r) {
            return r.holder || r.problem.rfind("malformed", 0) == 0 || r.problem == "too large";
        };
        auto newest = records.end();
        for (auto r = records.begin(); r != records.end(); ++r) {
            if (trusted(*r) && (newest == records.end() || record_time(*r) > record_time(*newest)))
                newest = r;
        }
        for (auto r = records.begin(); r != records.end(); ++r) {
            if (info.state == LeaseState::held && r == newest)
                info.current = std::move(*r);
            else
                info.stale.push_back(std::move(*r));
        }
        leases.push_back(std::move(info));
    }
    return leases;
}

std::vector<std::string> clean_stale(const LeaseDir& dir) {
    const DirEntries entries = list_entries(dir);
    const uid_t me = ::geteuid();
    std::vector<std::string> removed;
    for (const auto& [uuid, has_lock] : entries.uuids) {
        std::vector<std::string> names;
        if (const auto it = entries.records.find(uuid); it != entries.records.end())
            names = it->second;
        if (const auto it = entries.temporaries.find(uuid); it != entries.temporaries.end())
            names.insert(names.end(), it->second.begin(), it->second.end());
        if (names.empty())
            continue;
        // Safe only under our shared lock: no one can take the lease while we hold it, and
        // a holder writes its record only after taking the lease, so every record and
        // temporary file of this GPU is stale until we let go. Creating the lock file when
        // it is missing closes the same window for a GPU whose lock someone deleted.
        Fd lock;
        try {
            lock = open_lock(dir, uuid, CreateLock::yes);
        } catch (const Error&) {
            continue;  // unsafe or not creatable: read_leases shows why
        }
        if (probe_lock(lock.get()) == LockProbe::held)
            continue;
        for (const std::string& name : names) {
            struct stat st {};
            if (::fstatat(dir.fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            if ((me == 0 || st.st_uid == me) && ::unlinkat(dir.fd(), name.c_str(), 0) == 0)
                removed.push_back(name);
        }
    }
    return removed;
}

// ---- JSON ----

Json leases_json(const std::vector<LeaseInfo>& leases) {
    Json out = Json::array();
    for (const LeaseInfo& info : leases) {
        Json j = Json::object();
        j["uuid"] = info.uuid;
        j["state"] = info.state == LeaseState::held   ? "held"
                     : info.state == LeaseState::free ? "free"
                                                      : "unsafe";
        j["holder"] = info.current ? record_entry(*info.current) : Json(nullptr);
        Json stale = Json::array();
        for (const LeaseRecord& record : info.stale)
            stale.push_back(record_entry(record));
        j["stale_records"] = std::move(stale);
        if (!info.problem.empty())
            j["problem"] = info.problem;
        out.push_back(std::move(j));
    }
    return out;
}

}  // namespace gpuenv::core::gpu
