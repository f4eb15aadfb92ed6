#include <gpuenv/core/gpu/lease.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gpuenv/util/error.hpp>

#include "support/temp_dir.hpp"

extern char** environ;

namespace gpuenv::core::gpu {
namespace {

namespace fs = std::filesystem;

constexpr unsigned k_nobody = 65534;
const std::string k_uuid = "GPU-12345678-90ab-cdef-1234-567890abcdef";
const std::string k_uuid2 = "GPU-22222222-90ab-cdef-1234-567890abcdef";
const std::string k_uuid3 = "GPU-33333333-90ab-cdef-1234-567890abcdef";

LeaseHolder holder() {
    return current_holder({"python", "train.py"}, "/opt/envs/torch");
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `body` in a forked child and returns its exit status (or -1 when it did not exit).
template <typename Body>
int in_child(Body body) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        int code = 99;
        try {
            code = body();
        } catch (...) {
            code = 98;
        }
        ::_exit(code);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A state directory shared like /tmp/gpuenv (01777), reachable by other users.
struct SharedState {
    test::TempDir temp;
    fs::path path;
    SharedState() : path(temp / "state") {
        ::chmod(temp.path().c_str(), 0755);
        (void)LeaseDir::open_or_create(path);
    }
};

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// ---- Names and the directory ----

TEST(LeaseNames, EncodesOldMigUuidsIntoOneFileNameComponent) {
    const std::string mig = "MIG-GPU-5d2c3a1e-1234-5678-9abc-def012345678/1/0";
    const std::string stem = encode_uuid(mig);
    EXPECT_EQ(stem.find('/'), std::string::npos);
    EXPECT_EQ(stem.find('.'), std::string::npos);
    EXPECT_EQ(decode_uuid(stem), mig);
    EXPECT_EQ(decode_uuid(encode_uuid(k_uuid)), k_uuid);
    EXPECT_FALSE(decode_uuid("GPU%2D1"));  // '-' encoded: not canonical
    EXPECT_FALSE(decode_uuid("GPU%2"));
    EXPECT_FALSE(decode_uuid(""));
}

TEST(LeaseDir, DefaultsToTmpGpuenv) {
    EXPECT_EQ(state_dir_from_env(nullptr), fs::path("/tmp/gpuenv"));
    EXPECT_EQ(state_dir_from_env(""), fs::path("/tmp/gpuenv"));
    EXPECT_EQ(state_dir_from_env("/srv/leases"), fs::path("/srv/leases"));
}

TEST(LeaseDir, CreatesAMissingDirectorySharedAndSticky) {
    test::TempDir temp;
    const mode_t old_mask = ::umask(077);
    (void)LeaseDir::open_or_create(temp / "state");
    ::umask(old_mask);
    struct stat st {};
    ASSERT_EQ(::stat((temp / "state").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 01777u);
}

TEST(LeaseDir, AcceptsAPrivateDirectory) {
    test::TempDir temp;
    EXPECT_NO_THROW((void)LeaseDir::open_or_create(temp.path()));
    EXPECT_TRUE(LeaseDir::open_existing(temp.path()));
    EXPECT_FALSE(LeaseDir::open_existing(temp / "missing"));
}

TEST(LeaseDir, RefusesASymlink) {
    test::TempDir temp;
    fs::create_directory(temp / "real");
    fs::create_directory_symlink(temp / "real", temp / "link");
    const std::string message = error_of([&] { (void)LeaseDir::open_or_create(temp / "link"); });
    EXPECT_NE(message.find((temp / "link").string()), std::string::npos) << message;
    EXPECT_NE(message.find("symbolic link"), std::string::npos) << message;
    EXPECT_NE(error_of([&] { (void)LeaseDir::open_existing(temp / "link"); }), "");
}

TEST(LeaseDir, RefusesAFile) {
    test::TempDir temp;
    test::write_file(temp / "file", "x");
    EXPECT_NE(
        error_of([&] { (void)LeaseDir::open_or_create(temp / "file"); }).find("not a directory"),
        std::string::npos);
}

TEST(LeaseDir, RefusesWorldWritableWithoutStickyBit) {
    test::TempDir temp;
    fs::create_directory(temp / "open");
    ::chmod((temp / "open").c_str(), 0777);
    const std::string message = error_of([&] { (void)LeaseDir::open_or_create(temp / "open"); });
    EXPECT_NE(message.find("sticky"), std::string::npos) << message;
    ::chmod((temp / "open").c_str(), 01777);
    EXPECT_NO_THROW((void)LeaseDir::open_or_create(temp / "open"));
}

TEST(LeaseDir, UnwritableDirectoryIsAClearError) {
    test::TempDir temp;
    if (::geteuid() != 0) {
        fs::create_directory(temp / "ro");
        ::chmod((temp / "ro").c_str(), 0555);
        const std::string message = error_of([&] { (void)LeaseDir::open_or_create(temp / "ro"); });
        EXPECT_NE(message.find("not writable"), std::string::npos) << message;
        EXPECT_NO_THROW((void)LeaseDir::open_existing(temp / "ro"));  // listing needs no write
        return;
    }
    // Root may write anywhere: look through the eyes of uid 65534.
    ::chmod(temp.path().c_str(), 0755);
    fs::create_directory(temp / "ro");
    ::chmod((temp / "ro").c_str(), 0755);
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const int status = in_child([&] {
        if (::setgid(k_nobody) != 0 || ::setuid(k_nobody) != 0)
            return 2;
        const std::string message = error_of([&] { (void)LeaseDir::open_or_create(temp / "ro"); });
        (void)::write(pipe_fds[1], message.data(), message.size());
        return 0;
    });
    ::close(pipe_fds[1]);
    char buffer[1024] = {};
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer - 1);
    ::close(pipe_fds[0]);
    ASSERT_EQ(status, 0);
    const std::string message(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
    EXPECT_NE(message.find((temp / "ro").string()), std::string::npos) << message;
    EXPECT_NE(message.find("not writable"), std::string::npos) << message;
}

// ---- Taking and releasing ----

TEST(LeaseAcquire, SecondAcquireFailsWhileHeldAndSucceedsAfterRelease) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    auto lease = try_acquire(dir, {k_uuid, 0}, holder());
    ASSERT_TRUE(lease);
    EXPECT_EQ(lease->record_problem(), "");
    EXPECT_TRUE(is_held(dir, k_uuid));
    EXPECT_FALSE(try_acquire(dir, {k_uuid, 0}, holder()));
    EXPECT_TRUE(is_held(dir, k_uuid));  // probing did not disturb the holder

    lease->release();
    EXPECT_FALSE(is_held(dir, k_uuid));
    EXPECT_FALSE(fs::exists(temp / (k_uuid + "." + std::to_string(::geteuid()) + ".json")));
    EXPECT_TRUE(fs::exists(temp / (k_uuid + ".lock")));  // lock files stay
    EXPECT_TRUE(try_acquire(dir, {k_uuid, 0}, holder()));
}

TEST(LeaseAcquire, LockFileAndRecordAreNotWritableByOthers) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    const mode_t old_mask = ::umask(077);
    auto lease = try_acquire(dir, {k_uuid, 0}, holder());
    ::umask(old_mask);
    ASSERT_TRUE(lease);
    struct stat st {};
    ASSERT_EQ(::stat((temp / (k_uuid + ".lock")).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);  // readable by all (they must flock it), not a 0600
    ASSERT_EQ(::stat((temp / (k_uuid + "." + std::to_string(::geteuid()) + ".json")).c_str(), &st),
              0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST(LeaseAcquire, AnotherProcessCannotTakeAHeldLease) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    auto lease = try_acquire(dir, {k_uuid, 0}, holder());
    ASSERT_TRUE(lease);
    const auto child_try = [&] {
        return in_child([&] { return try_acquire(dir, {k_uuid, 0}, holder()) ? 0 : 1; });
    };
    EXPECT_EQ(child_try(), 1);
    if (::access("/usr/bin/flock", X_OK) == 0) {
        // util-linux flock(1) as an independent oracle: -n fails with 1 while we hold it.
        const std::string command =
            "/usr/bin/flock -n " + (temp / (k_uuid + ".lock")).string() + " true";
        EXPECT_EQ(WEXITSTATUS(std::system(command.c_str())), 1);
        lease->release();
        EXPECT_EQ(WEXITSTATUS(std::system(command.c_str())), 0);
    } else {
        lease->release();
    }
    EXPECT_EQ(child_try(), 0);
}

TEST(LeaseAcquire, ExclusiveFlockFromOutsideMakesItBusy) {
    if (::access("/usr/bin/flock", X_OK) != 0)
        GTEST_SKIP() << "flock(1) from util-linux is not installed";
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    (void)try_acquire(dir, {k_uuid, 0}, holder());  // creates the lock file, then releases
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(ready[0]);
        ::setpgid(0, 0);  // to kill the shell after flock(1)
        const std::string lock = (temp / (k_uuid + ".lock")).string();
        // flock(1) holds the lock while the shell writes "x" and sleeps; -o: only flock(1)
        // itself holds it (its child does not inherit it), so its death frees the lock.
        ::dup2(ready[1], 3);
        ::execl("/usr/bin/flock", "flock", "-x", "-o", lock.c_str(), "/bin/sh", "-c",
                "echo x >&3; exec sleep 30", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(ready[1]);
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ::close(ready[0]);
    EXPECT_TRUE(is_held(dir, k_uuid));
    EXPECT_FALSE(try_acquire(dir, {k_uuid, 0}, holder()));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);  // reaped: its descriptors are closed
    ::kill(-pid, SIGKILL);
    EXPECT_TRUE(try_acquire(dir, {k_uuid, 0}, holder()));
}

TEST(LeaseAcquire, AllOrNothingWhenOneIsBusy) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    auto busy = try_acquire(dir, {k_uuid2, 1}, holder());
    ASSERT_TRUE(busy);
    const AcquireOutcome outcome =
        acquire_all(dir, {{k_uuid, 0}, {k_uuid2, 1}, {k_uuid3, 2}}, holder());
    EXPECT_FALSE(outcome.ok());
    EXPECT_TRUE(outcome.leases.empty());
    EXPECT_EQ(outcome.busy, std::vector<std::string>{k_uuid2});
    EXPECT_FALSE(is_held(dir, k_uuid));
    EXPECT_FALSE(is_held(dir, k_uuid3));

    busy->release();
    AcquireOutcome all = acquire_all(dir, {{k_uuid, 0}, {k_uuid2, 1}, {k_uuid3, 2}}, holder());
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all.leases.size(), 3u);
    EXPECT_EQ(all.leases[1].uuid(), k_uuid2);
}

TEST(LeaseAcquire, SomeTakesTheFirstFreeCandidates) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    auto busy = try_acquire(dir, {k_uuid, 0}, holder());
    ASSERT_TRUE(busy);
    AcquireOutcome two = acquire_some(dir, {{k_uuid, 0}, {k_uuid2, 1}, {k_uuid3, 2}}, 2, holder());
    ASSERT_TRUE(two.ok());
    ASSERT_EQ(two.leases.size(), 2u);
    EXPECT_EQ(two.leases[0].uuid(), k_uuid2);
    EXPECT_EQ(two.leases[1].uuid(), k_uuid3);
    two.leases.clear();

    const AcquireOutcome three =
        acquire_some(dir, {{k_uuid, 0}, {k_uuid2, 1}, {k_uuid3, 2}}, 3, holder());
    EXPECT_FALSE(three.ok());
    EXPECT_TRUE(three.leases.empty());
    EXPECT_FALSE(is_held(dir, k_uuid2));
    EXPECT_FALSE(acquire_some(dir, {{k_uuid2, 1}}, 2, holder()).ok());
}

TEST(LeaseAcquire, WaitEndsWhenCancelledOrAcquired) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    auto busy = try_acquire(dir, {k_uuid, 0}, holder());
    ASSERT_TRUE(busy);
    int polls = 0;
    WaitPolicy policy;
    policy.interval = std::chrono::milliseconds(10);
    policy.cancelled = [&] { return ++polls > 3; };
    const auto attempt = [&] { return acquire_all(dir, {{k_uuid, 0}}, holder()); };
    const AcquireOutcome cancelled = acquire_waiting(attempt, policy);
    EXPECT_TRUE(cancelled.cancelled);
    EXPECT_FALSE(cancelled.ok());

    // Released by another thread while we wait: the wait then succeeds.
    std::atomic<bool> waiting{false};
    policy.cancelled = [&] {
        waiting = true;
        return false;
    };
    std::thread releaser([&] {
        while (!waiting)
            std::this_thread::yield();
        busy->release();
    });
    const AcquireOutcome got = acquire_waiting(attempt, policy);
    releaser.join();
    EXPECT_TRUE(got.ok());
    EXPECT_EQ(got.leases.size(), 1u);
}

// ---- Inheritance: the job holds the lease ----

TEST(LeaseInherit, ChildKeepsTheLeaseUntilItIsKilled) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    auto lease = try_acquire(dir, {k_uuid, 3}, holder());
    ASSERT_TRUE(lease);
    lease->make_inheritable();
    EXPECT_EQ(::fcntl(lease->fd(), F_GETFD) & FD_CLOEXEC, 0);
    std::string sleep_exe = "/bin/sleep";
    std::string seconds = "30";
    char* argv[] = {sleep_exe.data(), seconds.data(), nullptr};
    pid_t child = 0;
    ASSERT_EQ(::posix_spawn(&child, argv[0], nullptr, nullptr, argv, environ), 0);

    lease->release();  // the parent lets go; the sleeping job still holds the lock
    EXPECT_TRUE(is_held(dir, k_uuid));
    EXPECT_FALSE(try_acquire(dir, {k_uuid, 3}, holder()));
    auto listed = read_leases(dir);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].state, LeaseState::held);
    ASSERT_TRUE(listed[0].current && listed[0].current->holder);
    EXPECT_EQ(listed[0].current->holder->pid, ::getpid());  // the record stays with the job

    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    EXPECT_FALSE(is_held(dir, k_uuid));
    listed = read_leases(dir);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].state, LeaseState::free);
    EXPECT_FALSE(listed[0].current);
    EXPECT_EQ(listed[0].stale.size(), 1u);
    EXPECT_TRUE(try_acquire(dir, {k_uuid, 3}, holder()));
}

TEST(LeaseInherit, CloseOnExecUntilMadeInheritable) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    auto lease = try_acquire(dir, {k_uuid, 0}, holder());
    ASSERT_TRUE(lease);
    EXPECT_NE(::fcntl(lease->fd(), F_GETFD) & FD_CLOEXEC, 0);
}

// ---- Records, listing and cleaning ----

TEST(LeaseRecord, IsReadBackForTheHolder) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    const LeaseHolder me = holder();
    auto lease = try_acquire(dir, {k_uuid, 2}, me);
    ASSERT_TRUE(lease);
    const auto listed = read_leases(dir);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].uuid, k_uuid);
    EXPECT_EQ(listed[0].state, LeaseState::held);
    ASSERT_TRUE(listed[0].current);
    const LeaseRecord& record = *listed[0].current;
    ASSERT_TRUE(record.holder) << record.problem;
    EXPECT_EQ(record.holder->pid, me.pid);
    EXPECT_EQ(record.holder->uid, me.uid);
    EXPECT_EQ(record.holder->user, me.user);
    EXPECT_EQ(record.holder->host, me.host);
    EXPECT_EQ(record.holder->start_unix_ns, me.start_unix_ns);
    EXPECT_EQ(record.holder->command, me.command);
    EXPECT_EQ(record.holder->env_prefix, "/opt/envs/torch");
    EXPECT_EQ(record.gpu_index, 2u);
    EXPECT_TRUE(listed[0].stale.empty());

    const auto json = leases_json(listed);
    ASSERT_EQ(json.size(), 1u);
    EXPECT_EQ(json[0]["state"], "held");
    EXPECT_EQ(json[0]["holder"]["command"][1], "train.py");
    EXPECT_EQ(json[0]["holder"]["gpu_index"], 2);
}

TEST(LeaseRecord, MalformedRecordShowsHolderUnknown) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    auto lease = try_acquire(dir, {k_uuid, 0}, holder());
    ASSERT_TRUE(lease);
    test::write_file(temp / (k_uuid + "." + std::to_string(::geteuid()) + ".json"), "{not json");
    const auto listed = read_leases(dir);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].state, LeaseState::held);
    ASSERT_TRUE(listed[0].current);
    EXPECT_FALSE(listed[0].current->holder);
    EXPECT_NE(listed[0].current->problem.find("malformed"), std::string::npos);
}

TEST(LeaseRecord, StaleRecordShowsFreeAndIsCleaned) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    // A holder that died without cleaning: a child takes the lease and is killed.
    const int status = in_child([&] {
        auto lease = try_acquire(dir, {k_uuid, 0}, holder());
        ::kill(::getpid(), SIGKILL);
        return lease ? 0 : 1;
    });
    EXPECT_EQ(status, -1);
    const std::string record = k_uuid + "." + std::to_string(::geteuid()) + ".json";
    ASSERT_TRUE(fs::exists(temp / record));
    test::write_file(temp / ("." + record + ".tmp-1-2"), "{");  // died while writing
    auto listed = read_leases(dir);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].state, LeaseState::free);
    EXPECT_FALSE(listed[0].current);
    ASSERT_EQ(listed[0].stale.size(), 1u);
    ASSERT_TRUE(listed[0].stale[0].holder);

    auto removed = clean_stale(dir);
    std::sort(removed.begin(), removed.end());
    EXPECT_EQ(removed, (std::vector<std::string>{"." + record + ".tmp-1-2", record}));
    EXPECT_FALSE(fs::exists(temp / record));
    EXPECT_TRUE(fs::exists(temp / (k_uuid + ".lock")));
    listed = read_leases(dir);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_TRUE(listed[0].stale.empty());
}

TEST(LeaseRecord, CleanKeepsTheRecordsOfAHeldLease) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    auto lease = try_acquire(dir, {k_uuid, 0}, holder());
    ASSERT_TRUE(lease);
    EXPECT_TRUE(clean_stale(dir).empty());
    EXPECT_TRUE(fs::exists(temp / (k_uuid + "." + std::to_string(::geteuid()) + ".json")));
}

TEST(LeaseRecord, ForgedRecordIsNeverTheHolder) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    auto lease = try_acquire(dir, {k_uuid, 0}, holder());
    ASSERT_TRUE(lease);
    // A file claiming another uid than its owner's, newer than the real record.
    const unsigned other = ::geteuid() == k_nobody ? 1 : k_nobody;
    test::write_file(temp / (k_uuid + "." + std::to_string(other) + ".json"),
                     R"({"pid":1,"uid":)" + std::to_string(other) +
                         R"(,"user":"x","host":"h","start_unix_ns":9000000000000000000,)"
                         R"("command":["evil"]})");
    const auto listed = read_leases(dir);
    ASSERT_EQ(listed.size(), 1u);
    ASSERT_TRUE(listed[0].current && listed[0].current->holder);
    EXPECT_EQ(listed[0].current->holder->command, holder().command);
    ASSERT_EQ(listed[0].stale.size(), 1u);
    EXPECT_NE(listed[0].stale[0].problem.find("owned by uid"), std::string::npos);
}

// ---- Planted files ----

TEST(LeaseLockFile, SymlinkIsRefusedAndItsTargetUntouched) {
    test::TempDir temp;
    fs::create_directory(temp / "state");
    const LeaseDir dir = LeaseDir::open_or_create(temp / "state");
    test::write_file(temp / "precious", "keep me");
    ::chmod((temp / "precious").c_str(), 0600);
    fs::create_symlink(temp / "precious", temp / "state" / (k_uuid + ".lock"));
    const std::string message = error_of([&] { (void)try_acquire(dir, {k_uuid, 0}, holder()); });
    EXPECT_NE(message.find("symbolic link"), std::string::npos) << message;
    EXPECT_NE(message.find(k_uuid + ".lock"), std::string::npos) << message;
    EXPECT_NE(error_of([&] { (void)is_held(dir, k_uuid); }), "");
    EXPECT_EQ(read_text(temp / "precious"), "keep me");
    struct stat st {};
    ASSERT_EQ(::stat((temp / "precious").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    const auto listed = read_leases(dir);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].state, LeaseState::unsafe);
    EXPECT_TRUE(fs::is_symlink(temp / "state" / (k_uuid + ".lock")));
}

TEST(LeaseLockFile, FifoIsRefusedWithoutHanging) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    ASSERT_EQ(::mkfifo((temp / (k_uuid + ".lock")).c_str(), 0644), 0);
    EXPECT_NE(error_of([&] {
                  (void)try_acquire(dir, {k_uuid, 0}, holder());
              }).find("not a regular file"),
              std::string::npos);
}

TEST(LeaseLockFile, PlantedRecordSymlinkIsReplacedNotFollowed) {
    test::TempDir temp;
    fs::create_directory(temp / "state");
    const LeaseDir dir = LeaseDir::open_or_create(temp / "state");
    test::write_file(temp / "precious", "keep me");
    const std::string record = k_uuid + "." + std::to_string(::geteuid()) + ".json";
    fs::create_symlink(temp / "precious", temp / "state" / record);
    auto lease = try_acquire(dir, {k_uuid, 0}, holder());
    ASSERT_TRUE(lease);
    EXPECT_EQ(read_text(temp / "precious"), "keep me");
    EXPECT_FALSE(fs::is_symlink(temp / "state" / record));
}

// ---- Other users ----

TEST(LeaseOtherUser, AnotherUserTakesALockFileRootCreated) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to switch to uid 65534";
    SharedState state;
    const LeaseDir dir = LeaseDir::open_or_create(state.path);
    (void)try_acquire(dir, {k_uuid, 0}, holder());  // root creates the lock file
    int hold[2];
    int ready[2];
    ASSERT_EQ(::pipe(hold), 0);
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(hold[1]);
        int code = 1;
        try {
            if (::setgid(k_nobody) == 0 && ::setuid(k_nobody) == 0) {
                const LeaseDir mine = LeaseDir::open_or_create(state.path);
                auto lease = try_acquire(mine, {k_uuid, 0}, holder());
                code = lease && lease->record_problem().empty() ? 0 : 2;
                (void)::write(ready[1], "x", 1);
                char c = 0;
                (void)::read(hold[0], &c, 1);  // hold until the parent has looked
            }
        } catch (...) {
            code = 3;
        }
        (void)::write(ready[1], "x", 1);
        ::_exit(code);
    }
    ::close(hold[0]);
    ::close(ready[1]);
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    EXPECT_TRUE(is_held(dir, k_uuid));
    const auto listed = read_leases(dir);
    ASSERT_EQ(listed.size(), 1u);
    ASSERT_TRUE(listed[0].current && listed[0].current->holder);
    EXPECT_EQ(listed[0].current->holder->uid, k_nobody);
    EXPECT_EQ(listed[0].current->owner_uid, k_nobody);
    ::close(hold[1]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(ready[0]);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_FALSE(is_held(dir, k_uuid));
}

TEST(LeaseOtherUser, CleanLeavesOtherUsersRecordsToThem) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to switch to uid 65534";
    SharedState state;
    const LeaseDir dir = LeaseDir::open_or_create(state.path);
    // Root's stale record (its holder died).
    EXPECT_EQ(in_child([&] {
                  auto lease = try_acquire(dir, {k_uuid, 0}, holder());
                  ::kill(::getpid(), SIGKILL);
                  return 0;
              }),
              -1);
    const int status = in_child([&] {
        if (::setgid(k_nobody) != 0 || ::setuid(k_nobody) != 0)
            return 2;
        const LeaseDir mine = LeaseDir::open_or_create(state.path);
        return clean_stale(mine).empty() ? 0 : 1;
    });
    EXPECT_EQ(status, 0);
    EXPECT_TRUE(fs::exists(state.path / (k_uuid + ".0.json")));
    EXPECT_EQ(clean_stale(dir).size(), 1u);  // root may
}

// ---- Races ----

TEST(LeaseRace, ExactlyOneOfTwentyProcessesWins) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    int start[2];
    int results[2];
    int hold[2];
    ASSERT_EQ(::pipe(start), 0);
    ASSERT_EQ(::pipe(results), 0);
    ASSERT_EQ(::pipe(hold), 0);
    std::vector<pid_t> children;
    for (int i = 0; i < 20; ++i) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close(start[1]);
            ::close(hold[1]);
            char c = 0;
            (void)::read(start[0], &c, 1);  // EOF once the parent closes: all start together
            char won = '0';
            std::optional<Lease> lease;
            try {
                lease = try_acquire(dir, {k_uuid, 0}, holder());
                won = lease ? '1' : '0';
            } catch (...) {
                won = 'e';
            }
            (void)::write(results[1], &won, 1);
            (void)::read(hold[0], &c, 1);  // the winner holds until everyone has tried
            ::_exit(0);
        }
        children.push_back(pid);
    }
    ::close(start[0]);
    ::close(results[1]);
    ::close(hold[0]);
    ::close(start[1]);
    std::string outcomes;
    char c = 0;
    while (outcomes.size() < children.size() && ::read(results[0], &c, 1) == 1)
        outcomes.push_back(c);
    ::close(hold[1]);
    for (const pid_t pid : children)
        ::waitpid(pid, nullptr, 0);
    ::close(results[0]);
    EXPECT_EQ(outcomes.size(), 20u);
    EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), '1'), 1) << outcomes;
    EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), 'e'), 0) << outcomes;
}

TEST(LeaseRace, ExactlyOneOfEightThreadsWins) {
    test::TempDir temp;
    const LeaseDir dir = LeaseDir::open_or_create(temp.path());
    std::atomic<bool> go{false};
    std::vector<std::optional<Lease>> got(8);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < got.size(); ++i) {
        threads.emplace_back([&, i] {
            while (!go)
                std::this_thread::yield();
            got[i] = try_acquire(dir, {k_uuid, 0}, holder());
        });
    }
    go = true;
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(std::count_if(got.begin(), got.end(), [](const auto& l) { return l.has_value(); }),
              1);
}

}  // namespace
}  // namespace gpuenv::core::gpu
