// --probe: the one place doctor executes anything. The environment's own Python runs a
// constant script (never through a shell) that asks torch what it sees and prints one JSON
// line; every torch call is guarded so that what worked still comes back.
#include <gpuenv/core/doctor/doctor.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <gpuenv/util/file.hpp>
#include <gpuenv/util/json_value.hpp>
#include <gpuenv/util/process.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::doctor {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Removes sys.path[0] first: for -c it is the current directory, where a torch/ folder would
// shadow the environment's. Prints a newline first so that output the interpreter's startup
// left without one cannot join the JSON line.
constexpr std::string_view k_probe_script = R"PY(import sys
if sys.path and sys.path[0] in ("", "."):
    del sys.path[0]
import json
r = {"probe": 1, "python_version": sys.version.split()[0], "torch_imported": False}
def err(e):
    return "%s: %s" % (type(e).__name__, e)
try:
    import torch
except BaseException as e:
    r["torch_error"] = err(e)
else:
    r["torch_imported"] = True
    def get(key, f):
        try:
            r[key] = f()
        except BaseException as e:
            r.setdefault("errors", {})[key] = err(e)
    get("torch_version", lambda: str(torch.__version__))
    get("cuda", lambda: None if torch.version.cuda is None else str(torch.version.cuda))
    get("cuda_available", lambda: bool(torch.cuda.is_available()))
    get("device_count", lambda: int(torch.cuda.device_count()))
    get("cudnn_version", lambda: torch.backends.cudnn.version())
    get("arch_list", lambda: [str(a) for a in torch.cuda.get_arch_list()])
    devices = []
    for i in range(r.get("device_count") or 0):
        d = {}
        try:
            d["name"] = str(torch.cuda.get_device_name(i))
        except BaseException as e:
            d["error"] = err(e)
        try:
            d["capability"] = [int(x) for x in torch.cuda.get_device_capability(i)]
        except BaseException as e:
            d["error"] = err(e)
        devices.append(d)
    r["devices"] = devices
sys.stdout.write("\n" + json.dumps(r) + "\n")
sys.stdout.flush()
)PY";

// Bounds what is kept of the interpreter's output.
constexpr std::size_t k_max_stdout = std::size_t{1} << 20u;
constexpr std::size_t k_stderr_tail = 2048;
// How often the interpreter is checked for having exited while its pipes stay open.
constexpr long long k_tick_ms = 10;
// How long output is still read after the interpreter exited, from what it left running.
constexpr auto k_exit_grace = std::chrono::milliseconds(1000);

// The interpreter of a conda env, venv or Python installation: bin/python, else bin/python3,
// else bin/pythonX.Y.
std::optional<fs::path> find_python(const env::Prefix& prefix) {
    std::vector<fs::path> candidates = {prefix.path / "bin" / "python",
                                        prefix.path / "bin" / "python3"};
    if (!prefix.python_version.empty())
        candidates.push_back(prefix.path / "bin" / ("python" + prefix.python_version));
    for (const fs::path& candidate : candidates) {
        if (util::is_regular_file(candidate) && ::access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    return std::nullopt;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (std::string& s : strings)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// A started interpreter: its pid (also its process group) and the read ends of its pipes.
struct Child {
    pid_t pid = -1;
    util::FdGuard out;
    util::FdGuard err;
};

// Starts argv[0] in its own process group with exactly `environment`, stdin from /dev/null,
// stdout and stderr on pipes. Returns 0 or an errno.
int spawn(std::vector<std::string> argv, const std::map<std::string, std::string>& environment,
          Child& child) {
    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0)
        return errno;
    util::FdGuard out_read(out[0]);
    util::FdGuard out_write(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0)
        return errno;
    util::FdGuard err_read(err[0]);
    util::FdGuard err_write(err[1]);

    std::vector<std::string> env_strings;
    env_strings.reserve(environment.size());
    for (const auto& [name, value] : environment)
        env_strings.push_back(name + "=" + value);
    std::vector<char*> envp = c_strings(env_strings);
    int pid = -1;
    const int rc =
        util::spawn_in_own_group(argv, envp.data(), out[1], err[1], /*search_path=*/false, pid);
    child.pid = pid;
    if (rc != 0)
        return rc;
    child.out = std::move(out_read);
    child.err = std::move(err_read);
    return 0;
}

// Reads what is ready on `fd` into `into`; closes it at end of file or on error.
void drain(util::FdGuard& fd, std::string& into, std::size_t max) {
    char buffer[4096];
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        fd = util::FdGuard();
        return;
    }
    into.append(buffer, static_cast<std::size_t>(n));
    if (into.size() > max)
        into.erase(0, into.size() - max);
}

// What the wait for the interpreter gave.
struct Finished {
    std::string out;
    std::string err;
    std::optional<int> wait_status;  ///< empty when it ran past the deadline
};

// Collects the child's output until it exits and its pipes close, or the deadline passes.
// What it started and left holding the pipes gets a short grace, then the whole process group
// is killed, as on a timeout. Always reaps the child.
Finished wait_for(Child& child, Clock::time_point deadline) {
    Finished done;
    Clock::time_point exited_at;
    while (true) {
        const auto now = Clock::now();
        if (now >= deadline)
            break;
        if (!done.wait_status) {
            int status = 0;
            if (::waitpid(child.pid, &status, WNOHANG) == child.pid) {
                done.wait_status = status;
                exited_at = now;
            }
        }
        const bool open = child.out.get() >= 0 || child.err.get() >= 0;
        if (done.wait_status && (!open || now - exited_at >= k_exit_grace))
            break;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        const int tick = static_cast<int>(std::min<long long>(left.count() + 1, k_tick_ms));
        // poll() ignores the entries of closed pipes (fd -1).
        pollfd fds[2] = {{child.out.get(), POLLIN, 0}, {child.err.get(), POLLIN, 0}};
        const int ready = ::poll(open ? fds : nullptr, open ? 2 : 0, tick);
        if (ready > 0 && fds[0].revents != 0)
            drain(child.out, done.out, k_max_stdout);
        if (ready > 0 && fds[1].revents != 0)
            drain(child.err, done.err, k_stderr_tail);
    }
    if (!done.wait_status || child.out.get() >= 0 || child.err.get() >= 0)
        ::kill(-child.pid, SIGKILL);
    if (!done.wait_status) {
        int status = 0;
        while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    return done;
}

std::string format_timeout(std::chrono::milliseconds timeout) {
    if (timeout.count() % 1000 == 0)
        return fmt::format("{} s", timeout.count() / 1000);
    return fmt::format("{:.1f} s", static_cast<double>(timeout.count()) / 1000.0);
}

// The end of stderr from a line start on: a traceback's last lines say what went wrong.
std::string stderr_tail(std::string_view err) {
    err = util::trim(err);
    if (err.size() >= k_stderr_tail) {
        if (const auto newline = err.find('\n'); newline != std::string_view::npos)
            err.remove_prefix(newline + 1);
    }
    return std::string(err);
}

std::string describe_failure(int wait_status, std::string_view err) {
    std::string why;
    if (WIFSIGNALED(wait_status)) {
        const int sig = WTERMSIG(wait_status);
        const char* name = ::strsignal(sig);
        why = "killed by signal " + std::to_string(sig) +
              (name != nullptr ? " (" + std::string(name) + ")" : std::string());
    } else {
        why = "exited with status " + std::to_string(WEXITSTATUS(wait_status));
    }
    const std::string tail = stderr_tail(err);
    return tail.empty() ? why : why + ": " + tail;
}

template <typename T>
std::optional<T> field(const nlohmann::json& doc, const char* key) {
    const auto it = doc.find(key);
    if (it == doc.end())
        return std::nullopt;
    if constexpr (std::is_same_v<T, std::string>) {
        if (it->is_string())
            return it->get<std::string>();
    } else if constexpr (std::is_same_v<T, bool>) {
        if (it->is_boolean())
            return it->get<bool>();
    } else {
        if (it->is_number_integer())
            return it->get<T>();
    }
    return std::nullopt;
}

std::vector<ProbeDevice> read_devices(const nlohmann::json& doc) {
    std::vector<ProbeDevice> devices;
    const auto list = doc.find("devices");
    if (list == doc.end() || !list->is_array())
        return devices;
    for (const nlohmann::json& item : *list) {
        if (!item.is_object())
            continue;
        ProbeDevice device;
        device.name = field<std::string>(item, "name").value_or("");
        const auto capability = item.find("capability");
        if (capability != item.end() && capability->is_array() && capability->size() == 2 &&
            (*capability)[0].is_number_integer() && (*capability)[1].is_number_integer()) {
            device.cc_major = (*capability)[0].get<int>();
            device.cc_minor = (*capability)[1].get<int>();
        }
        device.error = field<std::string>(item, "error").value_or("");
        devices.push_back(std::move(device));
    }
    return devices;
}

// The last line that starts with '{': the script prints its report last, after anything the
// interpreter's startup (a sitecustomize, a banner) wrote.
std::string_view report_line(std::string_view output) {
    std::string_view found;
    for (const std::string_view line : util::split(output, '\n')) {
        const std::string_view trimmed = util::trim(line);
        if (trimmed.starts_with('{'))
            found = trimmed;
    }
    return found;
}

}  // namespace

ProbeResult parse_probe_output(std::string_view output) {
    ProbeResult result;
    const std::string_view line = report_line(output);
    if (line.empty()) {
        result.error = "the probe printed no report";
        return result;
    }
    nlohmann::json doc;
    try {
        doc = util::json::parse_value(line);
    } catch (const util::json::SyntaxError& e) {
        result.error = "the probe's report is not JSON: " + util::json::describe(line, e);
        return result;
    }
    const std::optional<std::string> python =
        doc.is_object() ? field<std::string>(doc, "python_version") : std::nullopt;
    if (!python) {
        result.error = "the probe's report is not the expected JSON object";
        return result;
    }
    result.ran = true;
    result.python_version = *python;
    result.torch_imported = field<bool>(doc, "torch_imported").value_or(false);
    result.torch_error = field<std::string>(doc, "torch_error").value_or("");
    result.torch_version = field<std::string>(doc, "torch_version").value_or("");
    result.cuda = field<std::string>(doc, "cuda");
    result.cuda_available = field<bool>(doc, "cuda_available");
    result.device_count = field<int>(doc, "device_count").value_or(0);
    result.cudnn_version = field<int>(doc, "cudnn_version");
    if (const auto list = doc.find("arch_list"); list != doc.end() && list->is_array()) {
        for (const nlohmann::json& arch : *list) {
            if (arch.is_string())
                result.arch_list.push_back(arch.get<std::string>());
        }
    }
    result.devices = read_devices(doc);
    if (const auto errors = doc.find("errors"); errors != doc.end() && errors->is_object()) {
        for (const auto& [key, text] : errors->items()) {
            if (text.is_string())
                result.call_errors.emplace(key, text.get<std::string>());
        }
    }
    return result;
}

ProbeResult run_probe(const env::Prefix& prefix,
                      const std::map<std::string, std::string>& environment,
                      std::chrono::milliseconds timeout) {
    ProbeResult result;
    const std::optional<fs::path> python = find_python(prefix);
    if (!python) {
        result.python = (prefix.path / "bin" / "python").string();
        result.error = "no Python interpreter in " + (prefix.path / "bin").string();
        return result;
    }
    result.python = python->string();
    Child child;
    const auto deadline = Clock::now() + timeout;
    if (const int rc =
            spawn({result.python, "-c", std::string(k_probe_script)}, environment, child);
        rc != 0) {
        result.error = "cannot start " + result.python + ": " + std::strerror(rc);
        return result;
    }
    const Finished done = wait_for(child, deadline);
    if (!done.wait_status) {
        result.error = "timed out after " + format_timeout(timeout);
        return result;
    }
    if (!WIFEXITED(*done.wait_status) || WEXITSTATUS(*done.wait_status) != 0) {
        result.error = describe_failure(*done.wait_status, done.err);
        return result;
    }
    ProbeResult parsed = parse_probe_output(done.out);
    parsed.python = result.python;
    if (!parsed.ran) {
        const std::string tail = stderr_tail(done.err);
        if (!tail.empty())
            parsed.error += ": " + tail;
    }
    return parsed;
}

}  // namespace gpuenv::core::doctor
