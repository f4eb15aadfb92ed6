// CUDA_VISIBLE_DEVICES as CUDA reads it. Rule numbers ("rule 6") are those of
// reference/gpu.md 2.2; other sections are cited as "2.5" etc.
#include <gpuenv/core/gpu/visibility.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <gpuenv/util/error.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::gpu {
namespace {

// The GPUs the process can open, in NVML index (= PCI bus) order.
using Machine = std::vector<const GpuId*>;

enum class TokenKind { index, uuid };

// Caps parsed numbers so that "99999999999999999999" stays out of range instead of wrapping.
constexpr std::uint64_t k_number_cap = std::uint64_t{1} << 40;

Machine in_pci_order(const std::vector<GpuId>& gpus) {
    Machine machine;
    machine.reserve(gpus.size());
    for (const GpuId& gpu : gpus)
        machine.push_back(&gpu);
    std::stable_sort(machine.begin(), machine.end(),
                     [](const GpuId* a, const GpuId* b) { return a->index < b->index; });
    return machine;
}

VisibleDevice whole_gpu(const GpuId& gpu) {
    return {gpu.uuid, gpu.index, false};
}

VisibleDevice mig_device(const GpuId& gpu, const MigDeviceId& mig) {
    return {mig.uuid, gpu.index, true};
}

const GpuId* find_gpu(const Machine& machine, unsigned index) {
    for (const GpuId* gpu : machine) {
        if (gpu->index == index)
            return gpu;
    }
    return nullptr;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

std::uint64_t to_number(std::string_view digits) {
    std::uint64_t value = 0;
    for (const char c : digits)
        value = std::min(value * 10 + static_cast<std::uint64_t>(c - '0'), k_number_cap);
    return value;
}

std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

using util::join;

// Rule 3: the leading [+-]?[0-9]+ of a token, when it starts like an integer.
std::optional<std::string_view> integer_prefix(std::string_view token) {
    std::size_t i = !token.empty() && (token[0] == '+' || token[0] == '-') ? 1 : 0;
    const std::size_t start = i;
    while (i < token.size() && is_digit(token[i]))
        ++i;
    if (i == start)
        return std::nullopt;
    return token.substr(0, i);
}

// Rule 4 / 2.1: an abbreviated UUID must be a prefix of exactly one UUID. At least one
// character after "GPU-"/"MIG-" is required: the prefix alone names no UUID.
std::optional<std::size_t> unique_prefix(std::string_view token,
                                         const std::vector<std::string_view>& uuids,
                                         std::string& why) {
    if (token.size() <= 4) {
        why = "no UUID digits after " + quoted(token);
        return std::nullopt;
    }
    std::vector<std::size_t> matches;
    for (std::size_t i = 0; i < uuids.size(); ++i) {
        if (uuids[i].starts_with(token))
            matches.push_back(i);
    }
    if (matches.size() == 1)
        return matches.front();
    if (matches.empty()) {
        why = "no device has a UUID starting with " + quoted(token);
    } else {
        std::vector<std::string> names;
        for (const std::size_t i : matches)
            names.emplace_back(uuids[i]);
        why = quoted(token) + " is ambiguous: it matches " + join(names, ", ");
    }
    return std::nullopt;
}

std::vector<std::string_view> gpu_uuids(const Machine& machine) {
    std::vector<std::string_view> uuids;
    for (const GpuId* gpu : machine)
        uuids.emplace_back(gpu->uuid);
    return uuids;
}

// Rules 3 and 6: an integer is a CUDA ordinal; negative or out of range is invalid. "-0" is 0,
// as in nvitop's int() (CUDA unverified).
std::optional<VisibleDevice> resolve_index(std::string_view digits, const Machine& machine,
                                           std::string& why) {
    const bool sign = digits[0] == '+' || digits[0] == '-';
    const std::uint64_t value = to_number(digits.substr(sign ? 1 : 0));
    if (digits[0] == '-' && value != 0) {
        why = "a negative index";
        return std::nullopt;
    }
    if (value >= machine.size()) {
        why = "index " + std::to_string(value) +
              " is out of range: " + std::to_string(machine.size()) + " GPU(s)";
        return std::nullopt;
    }
    return whole_gpu(*machine[value]);
}

// 2.4: "MIG-GPU-<GPU uuid or prefix>/<gi>/<ci>" (R450/R460) or "MIG-<MIG uuid or prefix>"
// (R470+).
std::optional<VisibleDevice> resolve_mig(std::string_view token, const Machine& machine,
                                         std::string& why) {
    const std::string_view rest = token.substr(4);
    if (rest.starts_with("GPU-")) {
        const std::vector<std::string_view> parts = util::split(rest, '/');
        if (parts.size() != 3 || !all_digits(parts[1]) || !all_digits(parts[2])) {
            why = "not of the form MIG-GPU-<uuid>/<gi>/<ci>";
            return std::nullopt;
        }
        const std::optional<std::size_t> at = unique_prefix(parts[0], gpu_uuids(machine), why);
        if (!at)
            return std::nullopt;
        const GpuId& gpu = *machine[*at];
        const std::uint64_t gi = to_number(parts[1]);
        const std::uint64_t ci = to_number(parts[2]);
        for (const MigDeviceId& mig : gpu.mig_devices) {
            if (mig.gpu_instance == gi && mig.compute_instance == ci)
                return mig_device(gpu, mig);
        }
        why = gpu.uuid + " has no MIG device " + std::to_string(gi) + "/" + std::to_string(ci);
        return std::nullopt;
    }
    std::vector<std::string_view> uuids;
    std::vector<VisibleDevice> devices;
    for (const GpuId* gpu : machine) {
        for (const MigDeviceId& mig : gpu->mig_devices) {
            uuids.emplace_back(mig.uuid);
            devices.push_back(mig_device(*gpu, mig));
        }
    }
    const std::optional<std::size_t> at = unique_prefix(token, uuids, why);
    if (!at)
        return std::nullopt;
    return devices[*at];
}

// Resolves one stripped token, fixing the identifier kind on the first one (rule 5); nullopt
// with `why` set when the token is invalid.
std::optional<VisibleDevice> resolve_token(std::string_view token, std::optional<TokenKind>& kind,
                                           const Machine& machine, std::string& why) {
    const std::optional<std::string_view> digits = integer_prefix(token);
    TokenKind this_kind = TokenKind::index;
    if (digits) {
        this_kind = TokenKind::index;
    } else if (token.starts_with("GPU-") || token.starts_with("MIG-")) {
        this_kind = TokenKind::uuid;
    } else {
        // Rule 4: anything else is invalid. A bare UUID without "GPU-" is refused too, as by
        // nvitop's pattern ("always have a prefix"); CUDA unverified.
        why = token.empty() ? "an empty entry" : "neither an index nor a GPU-/MIG- UUID";
        return std::nullopt;
    }
    // Rule 5 [nvitop emulation, unverified]: the first token fixes the kind.
    if (kind && *kind != this_kind) {
        why = this_kind == TokenKind::index ? "an index after UUIDs" : "a UUID after indices";
        return std::nullopt;
    }
    kind = this_kind;
    if (digits)
        return resolve_index(*digits, machine, why);
    if (token.starts_with("MIG-"))
        return resolve_mig(token, machine, why);
    const std::optional<std::size_t> at = unique_prefix(token, gpu_uuids(machine), why);
    if (!at)
        return std::nullopt;
    return whole_gpu(*machine[*at]);
}

std::vector<std::string> uuids_of(const std::vector<VisibleDevice>& devices) {
    std::vector<std::string> uuids;
    for (const VisibleDevice& device : devices)
        uuids.push_back(device.uuid);
    return uuids;
}

// Rules 2, 5, 6 and 7: the devices a set value lists before any stop; empty on a duplicate.
std::vector<VisibleDevice> parse_list(std::string_view value, const Machine& machine,
                                      DeviceOrder order, VisibilityResult& result) {
    std::vector<VisibleDevice> listed;
    if (util::trim(value).empty()) {
        result.notes.emplace_back("CUDA_VISIBLE_DEVICES is set and empty: no GPU is visible");
        return listed;
    }
    const std::vector<std::string_view> tokens = util::split(value, ',');
    std::optional<TokenKind> kind;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const std::string_view token = util::trim(tokens[i]);  // rule 2
        std::string why;
        const std::optional<VisibleDevice> device = resolve_token(token, kind, machine, why);
        if (!device) {
            // Rule 6: stop at the first invalid token; the earlier ones stay visible.
            std::string note = "CUDA_VISIBLE_DEVICES stops at " + quoted(token) + " (" + why + ")";
            if (i + 1 < tokens.size()) {
                note += "; ignored after it: ";
                note += value.substr(static_cast<std::size_t>(tokens[i + 1].data() - value.data()));
            }
            result.invalid_entry = note;
            result.notes.push_back(std::move(note));
            break;
        }
        const auto same = std::find_if(listed.begin(), listed.end(), [&](const VisibleDevice& d) {
            return d.uuid == device->uuid;
        });
        if (same != listed.end()) {
            // Rule 7 [nvitop]: a duplicate hides every device.
            result.invalid_entry = "CUDA_VISIBLE_DEVICES names " + device->uuid + " twice (at " +
                                   quoted(token) + "): no GPU is visible";
            result.notes.push_back(result.invalid_entry);
            return {};
        }
        listed.push_back(*device);
    }
    if (kind == TokenKind::index && order == DeviceOrder::fastest_first && machine.size() > 1)
        result.order_uncertain = true;
    return listed;
}

// Rule 8: at most one MIG device. A listed MIG device wins alone; otherwise the first whole
// GPU with MIG enabled becomes its first MIG device and every other GPU is dropped
// [nvitop emulation]. A MIG-enabled GPU without MIG devices is skipped, as nvitop does.
void apply_mig_rule(const std::vector<VisibleDevice>& listed, const Machine& machine,
                    VisibilityResult& result) {
    const auto first_mig =
        std::find_if(listed.begin(), listed.end(), [](const VisibleDevice& d) { return d.mig; });
    if (first_mig != listed.end()) {
        if (listed.size() > 1) {
            std::vector<VisibleDevice> dropped = listed;
            dropped.erase(dropped.begin() + (first_mig - listed.begin()));
            result.notes.push_back("only one MIG device is visible to a CUDA process (" +
                                   first_mig->uuid +
                                   "); not visible: " + join(uuids_of(dropped), ", "));
        }
        result.devices = {*first_mig};
        return;
    }
    for (std::size_t i = 0; i < listed.size(); ++i) {
        const GpuId* gpu = find_gpu(machine, listed[i].gpu_index);
        if (gpu == nullptr || !gpu->mig_enabled) {
            result.devices.push_back(listed[i]);
            continue;
        }
        const std::string name = "GPU " + std::to_string(gpu->index) + " (" + gpu->uuid + ")";
        if (gpu->mig_devices.empty()) {
            result.notes.push_back(name + " has MIG enabled but no MIG device: not visible");
            continue;
        }
        std::vector<VisibleDevice> dropped = result.devices;
        dropped.insert(dropped.end(), listed.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                       listed.end());
        const VisibleDevice chosen = mig_device(*gpu, gpu->mig_devices.front());
        std::string note =
            name + " has MIG enabled: CUDA sees only its first MIG device " + chosen.uuid;
        if (!dropped.empty())
            note += "; not visible: " + join(uuids_of(dropped), ", ");
        result.notes.push_back(std::move(note));
        result.devices = {chosen};
        return;
    }
}

// 2.5 / 2.6: the physical GPUs (NVML indices) an allocation variable names, nullopt when it
// restricts nothing. Indices are host (NVIDIA_VISIBLE_DEVICES) or global (Slurm) ids. Inside a
// container or a constrained cgroup NVML lists only the allocated GPUs, renumbered from 0
// [unverified for containers; reported for Slurm, 2.6]: when NVML lists exactly as many GPUs as
// the variable names integers, they are taken to be those GPUs. Otherwise NVML sees the whole
// host (nothing enforces the allocation) and the ids are NVML indices [unverified for Slurm: its
// global ids follow its own device order].
std::optional<std::vector<unsigned>> allocated_gpus(std::string_view name, std::string_view value,
                                                    const Machine& machine,
                                                    std::vector<std::string>& notes) {
    std::vector<std::string_view> tokens = util::split(value, ',');
    for (std::string_view& token : tokens)
        token = util::trim(token);
    const bool all_integers = std::all_of(tokens.begin(), tokens.end(), all_digits);
    std::vector<unsigned> allowed;
    if (all_integers && tokens.size() == machine.size()) {
        for (const GpuId* gpu : machine)
            allowed.push_back(gpu->index);
        return allowed;
    }
    for (const std::string_view token : tokens) {
        const GpuId* gpu = nullptr;
        std::string why;
        if (all_digits(token)) {
            const std::uint64_t index = to_number(token);
            gpu = index < k_number_cap ? find_gpu(machine, static_cast<unsigned>(index)) : nullptr;
            why = "no GPU has index " + std::string(token);
        } else if (token.starts_with("GPU-")) {
            const std::optional<std::size_t> at = unique_prefix(token, gpu_uuids(machine), why);
            gpu = at ? machine[*at] : nullptr;
        } else if (token.starts_with("MIG-")) {
            for (const GpuId* candidate : machine) {
                for (const MigDeviceId& mig : candidate->mig_devices) {
                    if (mig.uuid == token)
                        gpu = candidate;
                }
            }
            why = "no MIG device " + std::string(token);
        } else {
            notes.push_back(std::string(name) + "=" + std::string(value) + " is not a list of " +
                            "GPU ids or UUIDs: ignored");
            return std::nullopt;
        }
        if (gpu == nullptr)
            notes.push_back(std::string(name) + " names an unknown GPU (" + why + ")");
        else
            allowed.push_back(gpu->index);
    }
    return allowed;
}

// 2.5: NVIDIA_VISIBLE_DEVICES. Unset means no NVIDIA container is involved: for a process that
// NVML works in, "unset behaves like runc" cannot apply, so it restricts nothing.
std::optional<std::vector<unsigned>> nvidia_visible_gpus(const std::optional<std::string>& value,
                                                         const Machine& machine,
                                                         std::vector<std::string>& notes) {
    if (!value)
        return std::nullopt;
    const std::string_view v = util::trim(*value);
    if (v == "all")
        return std::nullopt;
    if (v.empty() || v == "none" || v == "void")
        return std::vector<unsigned>{};
    return allocated_gpus("NVIDIA_VISIBLE_DEVICES", v, machine, notes);
}

// 2.6: SLURM_STEP_GPUS names the GPUs of the current srun step, a subset of the job's, and
// SLURM_JOB_GPUS those of the whole job (set in batch and interactive jobs, inherited by their
// steps): the step's value is the narrower and is preferred. Slurm sets neither without GPUs,
// so an empty value restricts nothing.
std::optional<std::vector<unsigned>> slurm_gpus(const EnvLookup& env, const Machine& machine,
                                                std::vector<std::string>& notes,
                                                std::string& label) {
    for (const std::string_view name : {"SLURM_STEP_GPUS", "SLURM_JOB_GPUS"}) {
        const std::optional<std::string> value = env(name);
        if (value && !util::trim(*value).empty()) {
            label = std::string(name) + "=" + std::string(util::trim(*value));
            return allocated_gpus(name, util::trim(*value), machine, notes);
        }
    }
    return std::nullopt;
}

// Keeps the devices whose physical GPU is allocated, in CUDA's order.
void restrict_to(std::string_view name, const std::vector<unsigned>& allowed,
                 VisibilityResult& result) {
    std::vector<VisibleDevice> kept;
    std::vector<std::string> dropped;
    for (VisibleDevice& device : result.devices) {
        if (std::find(allowed.begin(), allowed.end(), device.gpu_index) != allowed.end())
            kept.push_back(std::move(device));
        else
            dropped.push_back(device.uuid);
    }
    if (!dropped.empty())
        result.notes.push_back(std::string(name) + " leaves out " + join(dropped, ", "));
    result.devices = std::move(kept);
}

}  // namespace

DeviceOrder parse_device_order(std::optional<std::string_view> value) {
    // 2.3: only PCI_BUS_ID changes the default; how CUDA treats unknown values (task-spooler's
    // "PCI_BUS_I") is unverified, so they count as the default.
    if (value && *value == "PCI_BUS_ID")
        return DeviceOrder::pci_bus_id;
    return DeviceOrder::fastest_first;
}

VisibilityResult resolve_visible_devices(std::optional<std::string_view> cuda_visible_devices,
                                         const std::vector<GpuId>& gpus, DeviceOrder order) {
    VisibilityResult result;
    const Machine machine = in_pci_order(gpus);
    std::vector<VisibleDevice> listed;
    if (!cuda_visible_devices) {
        // Rule 1: unset means all devices, in CUDA_DEVICE_ORDER order; rule 8 still applies,
        // as in nvitop's emulation.
        for (const GpuId* gpu : machine)
            listed.push_back(whole_gpu(*gpu));
        result.order_uncertain = order == DeviceOrder::fastest_first && machine.size() > 1;
    } else {
        listed = parse_list(*cuda_visible_devices, machine, order, result);
    }
    if (result.order_uncertain) {
        result.notes.emplace_back(k_order_note);
    }
    apply_mig_rule(listed, machine, result);
    return result;
}

VisibilityResult resolve_outer_restriction(const EnvLookup& env, const std::vector<GpuId>& gpus) {
    // 2.8 step 1: CUDA reads CUDA_VISIBLE_DEVICES against every GPU the process can open (what
    // NVML lists), not against an allocation; the allocations then narrow that list.
    const std::optional<std::string> order = env("CUDA_DEVICE_ORDER");
    const std::optional<std::string> cuda = env("CUDA_VISIBLE_DEVICES");
    VisibilityResult result = resolve_visible_devices(
        cuda ? std::optional<std::string_view>(*cuda) : std::nullopt, gpus,
        parse_device_order(order ? std::optional<std::string_view>(*order) : std::nullopt));
    const Machine machine = in_pci_order(gpus);
    const std::optional<std::string> nvidia = env("NVIDIA_VISIBLE_DEVICES");
    if (const auto allowed = nvidia_visible_gpus(nvidia, machine, result.notes))
        restrict_to("NVIDIA_VISIBLE_DEVICES=" + *nvidia, *allowed, result);
    std::string slurm_label;
    if (const auto allowed = slurm_gpus(env, machine, result.notes, slurm_label))
        restrict_to(slurm_label, *allowed, result);
    return result;
}

std::vector<VisibleDevice> select_relative(const std::vector<VisibleDevice>& outer,
                                           const std::vector<unsigned>& relative_indices) {
    // 2.8 step 2: relative index i is the i-th device of the outer list; never hide silently.
    std::vector<VisibleDevice> selected;
    std::vector<bool> used(outer.size(), false);
    for (const unsigned i : relative_indices) {
        if (i >= outer.size()) {
            const std::string range =
                outer.empty() ? "no gpu is visible to this process"
                              : "this process may use " + std::to_string(outer.size()) +
                                    " gpu(s), numbered 0 to " + std::to_string(outer.size() - 1);
            throw Error(ExitCode::usage,
                        "gpu index " + std::to_string(i) + " is out of range: " + range);
        }
        if (used[i])
            throw Error(ExitCode::usage, "gpu index " + std::to_string(i) + " is given twice");
        used[i] = true;
        selected.push_back(outer[i]);
    }
    return selected;
}

std::string format_cuda_visible_devices(const std::vector<VisibleDevice>& devices) {
    // Rule 9: "-1" hides every GPU (what task-spooler writes for CPU jobs).
    if (devices.empty())
        return "-1";
    std::string value;
    for (std::size_t i = 0; i < devices.size(); ++i) {
        const VisibleDevice& device = devices[i];
        // 2.8 step 4: a duplicate would hide every device (rule 7), and a MIG device next to
        // any other would hide the others (rule 8).
        for (std::size_t j = 0; j < i; ++j) {
            if (devices[j].uuid == device.uuid)
                throw Error(ExitCode::usage, "gpu " + device.uuid + " is given twice");
        }
        if (device.mig && devices.size() > 1) {
            throw Error(ExitCode::usage, "MIG device " + device.uuid +
                                             " cannot be combined with other gpus: CUDA shows "
                                             "one MIG device at most");
        }
        if (!value.empty())
            value += ',';
        value += device.uuid;
    }
    return value;
}

std::vector<std::pair<std::string, std::string>> child_gpu_environment(
    const std::vector<VisibleDevice>& devices) {
    // 2.8 step 3 and 2.3: UUIDs are stable across cgroups, containers, MPS and device order;
    // PCI_BUS_ID still makes any index the child derives match nvidia-smi's.
    return {{"CUDA_VISIBLE_DEVICES", format_cuda_visible_devices(devices)},
            {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}};
}

}  // namespace gpuenv::core::gpu
