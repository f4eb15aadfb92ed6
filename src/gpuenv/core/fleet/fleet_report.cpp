// Fleet check results: nodes grouped by environment fingerprint, each group diffed once
// against the reference, so the work and memory follow the distinct environments, not the
// nodes.
#include <gpuenv/core/fleet/fleet_report.hpp>

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include <gpuenv/core/fleet/hostlist.hpp>
#include <gpuenv/core/lock/fingerprint.hpp>
#include <gpuenv/core/lock/lock_format.hpp>
#include <gpuenv/util/error.hpp>
#include <gpuenv/util/json_value.hpp>
#include <gpuenv/util/text.hpp>

namespace gpuenv::core::fleet {
namespace {

using Json = nlohmann::ordered_json;
using lock::LockedEnv;
using lock::LockedPackage;
using lock::Manager;

// Orders host names as people count: digit runs compare by value (gpu2 < gpu10), then
// bytewise so that the order is total (gpu02 vs gpu2).
bool host_less(const std::string& a, const std::string& b) {
    std::size_t i = 0;
    std::size_t j = 0;
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    while (i < a.size() && j < b.size()) {
        if (is_digit(a[i]) && is_digit(b[j])) {
            std::size_t ei = i;
            std::size_t ej = j;
            while (ei < a.size() && is_digit(a[ei]))
                ++ei;
            while (ej < b.size() && is_digit(b[ej]))
                ++ej;
            // Compare values without overflow: strip leading zeros, then length, then digits.
            std::size_t zi = i;
            std::size_t zj = j;
            while (zi + 1 < ei && a[zi] == '0')
                ++zi;
            while (zj + 1 < ej && b[zj] == '0')
                ++zj;
            if (ei - zi != ej - zj)
                return ei - zi < ej - zj;
            const int c = a.compare(zi, ei - zi, b, zj, ej - zj);
            if (c != 0)
                return c < 0;
            i = ei;
            j = ej;
            continue;
        }
        if (a[i] != b[j])
            return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
        ++i;
        ++j;
    }
    if ((a.size() - i) != (b.size() - j))
        return a.size() - i < b.size() - j;
    return a < b;
}

// Returns the hostlist label of hosts; names compress_hostlist refuses (they come from
// remote or hostile input) are listed as they are.
std::string host_label(std::vector<std::string> hosts) {
    std::sort(hosts.begin(), hosts.end(), host_less);
    try {
        return compress_hostlist(hosts);
    } catch (const Error&) {
        std::string out;
        for (const auto& h : hosts)
            out += (out.empty() ? "" : ",") + h;
        return out;
    }
}

const std::string& first_host(const std::vector<std::string>& hosts) {
    return *std::min_element(hosts.begin(), hosts.end(), host_less);
}

// Returns the largest group, ties to the group holding the first host name; nullopt when
// there is none.
std::optional<std::size_t> majority_group(const std::vector<FleetCollector::Group>& groups) {
    std::optional<std::size_t> best;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const auto& candidate = groups[g].hosts;
        if (!best || candidate.size() > groups[*best].hosts.size() ||
            (candidate.size() == groups[*best].hosts.size() &&
             host_less(first_host(candidate), first_host(groups[*best].hosts)))) {
            best = g;
        }
    }
    return best;
}

// Puts the reference group first, then identical groups before drifted ones, larger before
// smaller, ties by first host name.
void sort_groups(std::vector<EnvGroup>& groups, const FleetReference& reference) {
    auto rank = [&](const EnvGroup& g) {
        const bool is_reference =
            reference.kind == ReferenceKind::majority && g.fingerprint == reference.fingerprint;
        return std::make_tuple(is_reference ? 0 : 1, g.identical ? 0 : 1);
    };
    std::stable_sort(groups.begin(), groups.end(), [&](const EnvGroup& a, const EnvGroup& b) {
        if (rank(a) != rank(b))
            return rank(a) < rank(b);
        if (a.hosts.size() != b.hosts.size())
            return a.hosts.size() > b.hosts.size();
        return host_less(first_host(a.hosts), first_host(b.hosts));
    });
}

std::string package_display(const LockedPackage& p) {
    return p.manager == Manager::pypi ? p.name + " (pypi)" : p.name;
}

// A row under construction: the reference's cell and one optional cell per column.
struct RowDraft {
    std::string package;
    std::string key;
    Manager manager = Manager::conda;
    std::string reference_text;
    std::vector<std::optional<MatrixCell>> cells;
};

using RowKey = std::pair<std::string, int>;

RowDraft& draft_row(std::map<RowKey, RowDraft>& rows, const LockedPackage& p, std::size_t columns) {
    auto [it, inserted] = rows.try_emplace({p.key, static_cast<int>(p.manager)});
    if (inserted) {
        it->second.package = package_display(p);
        it->second.key = p.key;
        it->second.manager = p.manager;
        it->second.cells.resize(columns);
    }
    return it->second;
}

DriftMatrix build_matrix(const FleetReport& report) {
    DriftMatrix matrix;
    MatrixColumn reference;
    reference.reference = true;
    reference.label = report.reference.label;
    for (std::size_t g = 0; g < report.groups.size(); ++g) {
        if (report.groups[g].identical) {
            reference.groups.push_back(g);
            reference.nodes += report.groups[g].hosts.size();
        }
    }
    matrix.columns.push_back(std::move(reference));
    for (std::size_t g = 0; g < report.groups.size(); ++g) {
        if (!report.groups[g].identical) {
            matrix.columns.push_back(
                {report.groups[g].label, {g}, report.groups[g].hosts.size(), false});
        }
    }

    const std::size_t columns = matrix.columns.size();
    std::map<RowKey, RowDraft> rows;
    for (std::size_t c = 1; c < columns; ++c) {
        const auto& d = report.groups[matrix.columns[c].groups.front()].diff;
        for (const auto& change : d.removed) {
            auto& row = draft_row(rows, *change.a, columns);
            row.reference_text = describe_package(*change.a);
            row.cells[c] = MatrixCell{"", CellState::missing, {}};
        }
        for (const auto& change : d.added) {
            auto& row = draft_row(rows, *change.b, columns);
            row.cells[c] = MatrixCell{describe_package(*change.b), CellState::added, {}};
        }
        for (const auto& change : d.changed) {
            auto& row = draft_row(rows, *change.a, columns);
            row.reference_text = describe_package(*change.a);
            std::string text = describe_package(*change.b);
            if (text == row.reference_text)
                text += " [" +
                        std::string(verify::to_string(change.changes.empty()
                                                          ? verify::FindingKind::content
                                                          : change.changes.front())) +
                        "]";
            row.cells[c] = MatrixCell{std::move(text), CellState::changed, change.changes};
        }
    }
    for (auto& [key, draft] : rows) {
        MatrixRow row{std::move(draft.package), std::move(draft.key), draft.manager, {}};
        row.cells.reserve(columns);
        row.cells.push_back({draft.reference_text, CellState::same, {}});
        for (std::size_t c = 1; c < columns; ++c) {
            // A column the row's diffs did not mention has the reference's package.
            row.cells.push_back(draft.cells[c]
                                    ? std::move(*draft.cells[c])
                                    : MatrixCell{draft.reference_text, CellState::same, {}});
        }
        matrix.rows.push_back(std::move(row));
    }
    return matrix;
}

Json side_json(const std::optional<LockedPackage>& p) {
    return p ? Json(describe_package(*p)) : Json(nullptr);
}

Json group_json(const EnvGroup& group) {
    Json j;
    j["label"] = group.label;
    j["hosts"] = group.hosts;
    j["fingerprint"] = group.fingerprint;
    j["packages"] = group.packages;
    j["identical"] = group.identical;
    auto changes = Json::array();
    auto add = [&](const verify::PackageChange& c, const char* kind) {
        const LockedPackage& p = c.a ? *c.a : *c.b;
        auto kinds = Json::array();
        for (const auto k : c.changes)
            kinds.push_back(verify::to_string(k));
        changes.push_back({{"package", package_display(p)},
                           {"key", c.key},
                           {"manager", lock::to_string(p.manager)},
                           {"change", kind},
                           {"what", std::move(kinds)},
                           {"reference", side_json(c.a)},
                           {"node", side_json(c.b)}});
    };
    for (const auto& c : group.diff.removed)
        add(c, "missing");
    for (const auto& c : group.diff.added)
        add(c, "added");
    for (const auto& c : group.diff.changed)
        add(c, "changed");
    j["changes"] = std::move(changes);
    j["platform"] = group.diff.platform ? Json{{"reference", group.diff.platform->first},
                                               {"node", group.diff.platform->second}}
                                        : Json(nullptr);
    j["notes"] = group.diff.notes;
    return j;
}

// Reads an unsigned integer member; null or absent gives nullopt, anything else throws.
std::optional<std::uint64_t> optional_uint(const nlohmann::json& object, const char* key,
                                           const std::string& where) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null())
        return std::nullopt;
    if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0))
        throw Error(ExitCode::not_found, where + "." + key + ": expected a non-negative integer");
    return it->get<std::uint64_t>();
}

std::string optional_string(const nlohmann::json& object, const char* key,
                            const std::string& where) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null())
        return {};
    if (!it->is_string())
        throw Error(ExitCode::not_found, where + "." + key + ": expected a string");
    return it->get<std::string>();
}

NodeGpu read_gpu(const nlohmann::json& gpu, const std::string& where) {
    if (!gpu.is_object())
        throw Error(ExitCode::not_found, where + ": expected an object");
    NodeGpu out;
    out.index = static_cast<unsigned>(optional_uint(gpu, "index", where).value_or(0));
    out.name = optional_string(gpu, "name", where);
    out.uuid = optional_string(gpu, "uuid", where);
    if (const auto m = gpu.find("memory"); m != gpu.end() && m->is_object()) {
        out.memory_used = optional_uint(*m, "used", where + ".memory");
        out.memory_total = optional_uint(*m, "total", where + ".memory");
    }
    if (const auto u = gpu.find("utilization"); u != gpu.end() && u->is_object()) {
        if (const auto v = optional_uint(*u, "gpu", where + ".utilization"))
            out.utilization = static_cast<unsigned>(std::min<std::uint64_t>(*v, 100));
    }
    if (const auto p = gpu.find("processes"); p != gpu.end() && !p->is_null()) {
        if (!p->is_array())
            throw Error(ExitCode::not_found, where + ".processes: expected a list");
        out.processes = p->size();
    }
    out.free = out.processes == 0;
    return out;
}

}  // namespace

const char* to_string(NodeFailure kind) {
    switch (kind) {
        case NodeFailure::unreachable:
            return "unreachable";
        case NodeFailure::timeout:
            return "timeout";
        case NodeFailure::no_gpuenv:
            return "no_gpuenv";
        case NodeFailure::garbage:
            return "garbage";
        case NodeFailure::failed:
            return "failed";
    }
    return "failed";
}

const char* to_string(ReferenceKind kind) {
    switch (kind) {
        case ReferenceKind::lock:
            return "lock";
        case ReferenceKind::majority:
            return "majority";
        case ReferenceKind::none:
            return "none";
    }
    return "none";
}

const char* to_string(CellState state) {
    switch (state) {
        case CellState::same:
            return "same";
        case CellState::changed:
            return "changed";
        case CellState::added:
            return "added";
        case CellState::missing:
            return "missing";
    }
    return "same";
}

NodeResult parse_node_output(std::string_view stdout_text, const std::string& host) {
    const std::string label = host + ": gpuenv list --json";
    try {
        LockedEnv env = lock::parse_lock(stdout_text, label, lock::LockFormat::list_json);
        env.source = label;
        return env;
    } catch (const Error& error) {
        return FailedNode{host, NodeFailure::garbage, error.what()};
    }
}

void FleetCollector::add_environment(std::string host, LockedEnv env) {
    std::string fp = lock::fingerprint(env.packages);
    const auto [it, inserted] = m_group_of_fingerprint.try_emplace(fp, m_groups.size());
    if (inserted) {
        env.fingerprint = fp;
        m_groups.push_back({std::move(fp), std::move(env), {}});
    }
    // A node whose environment is already stored keeps only its name; env is dropped here.
    m_groups[it->second].hosts.push_back(std::move(host));
}

void FleetCollector::add_output(std::string host, std::string_view stdout_text) {
    auto result = parse_node_output(stdout_text, host);
    if (auto* env = std::get_if<LockedEnv>(&result))
        add_environment(std::move(host), std::move(*env));
    else
        m_failures.push_back(std::move(std::get<FailedNode>(result)));
}

void FleetCollector::add_failure(std::string host, NodeFailure kind, std::string reason) {
    m_failures.push_back({std::move(host), kind, std::move(reason)});
}

std::size_t FleetCollector::node_count() const {
    std::size_t n = m_failures.size();
    for (const auto& g : m_groups)
        n += g.hosts.size();
    return n;
}

std::string describe_package(const LockedPackage& p) {
    std::string out = p.version;
    if (p.manager == Manager::conda && !p.build.empty())
        out += " " + p.build;
    const std::string& where =
        p.manager == Manager::conda && !p.channel.empty() ? p.channel : p.installer;
    if (!where.empty())
        out += " (" + where + ")";
    return out;
}

FleetReport build_report(FleetCollector&& collector,
                         const std::optional<LockedEnv>& reference_lock) {
    FleetReport report;
    auto& stored = collector.m_groups;

    const auto majority = majority_group(stored);
    if (reference_lock) {
        report.reference = {ReferenceKind::lock, lock::fingerprint(reference_lock->packages),
                            reference_lock->source, 0};
    } else if (majority) {
        const auto& m = stored[*majority];
        report.reference = {ReferenceKind::majority, m.fingerprint, host_label(m.hosts), 0};
        for (const auto& g : stored)
            report.reference.tied_groups += g.hosts.size() == m.hosts.size() ? 1 : 0;
    }

    for (std::size_t g = 0; g < stored.size(); ++g) {
        auto& s = stored[g];
        EnvGroup group;
        group.label = host_label(s.hosts);
        group.fingerprint = s.fingerprint;
        group.packages = s.env.packages.size();
        if (reference_lock)
            group.diff = verify::diff(*reference_lock, s.env);
        else if (g != *majority)
            group.diff = verify::diff(stored[*majority].env, s.env);
        group.identical = group.diff.empty();
        group.hosts = std::move(s.hosts);
        report.groups.push_back(std::move(group));
    }
    sort_groups(report.groups, report.reference);
    // The stored environments are no longer needed: give their memory back now.
    stored.clear();
    collector.m_group_of_fingerprint.clear();

    report.failures = std::move(collector.m_failures);
    for (const auto& g : report.groups)
        (g.identical ? report.summary.identical : report.summary.drifted) += g.hosts.size();
    report.summary.unreachable = report.failures.size();
    report.summary.nodes =
        report.summary.identical + report.summary.drifted + report.summary.unreachable;
    report.matrix = build_matrix(report);
    return report;
}

int exit_code(const FleetReport& report) {
    if (report.summary.unreachable > 0)
        return static_cast<int>(ExitCode::unreachable);
    if (report.summary.drifted > 0)
        return static_cast<int>(ExitCode::findings);
    return static_cast<int>(ExitCode::ok);
}

Json fleet_json(const FleetReport& report) {
    Json doc;
    doc["schema"] = "gpuenv.fleet/1";
    doc["summary"] = {{"nodes", report.summary.nodes},
                      {"identical", report.summary.identical},
                      {"drifted", report.summary.drifted},
                      {"unreachable", report.summary.unreachable}};
    doc["reference"] = {{"kind", to_string(report.reference.kind)},
                        {"fingerprint", report.reference.fingerprint},
                        {"label", report.reference.label},
                        {"tied_groups", report.reference.tied_groups}};
    auto groups = Json::array();
    for (const auto& g : report.groups)
        groups.push_back(group_json(g));
    doc["groups"] = std::move(groups);
    auto failures = Json::array();
    for (const auto& f : report.failures)
        failures.push_back({{"host", f.host}, {"kind", to_string(f.kind)}, {"reason", f.reason}});
    doc["failures"] = std::move(failures);
    doc["exit_code"] = exit_code(report);
    return doc;
}

std::size_t NodeGpus::free_count() const {
    return static_cast<std::size_t>(
        std::count_if(gpus.begin(), gpus.end(), [](const NodeGpu& g) { return g.free; }));
}

NodeGpus parse_node_gpus(std::string_view json_text, const std::string& host) {
    const std::string label = host + ": gpuenv gpus --json";
    NodeGpus node;
    node.host = host;
    std::string place;  // ":LINE:COLUMN" of a JSON syntax error
    try {
        nlohmann::json root;
        try {
            root = util::json::parse_value(json_text);
        } catch (const util::json::SyntaxError& error) {
            const auto at = util::line_column(json_text, error.offset());
            place = ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
            throw Error(ExitCode::not_found, std::string("invalid JSON: ") + error.what());
        }
        if (!root.is_object())
            throw Error(ExitCode::not_found,
                        "expected a `gpuenv gpus --json` document (a JSON object)");
        const std::string schema = optional_string(root, "schema", "document");
        if (schema != "gpuenv.gpus/1" && !schema.starts_with("gpuenv.gpus/1."))
            throw Error(ExitCode::not_found, "schema '" + schema + "' is not gpuenv.gpus/1");
        node.driver = optional_string(root, "driver", "document");
        node.cuda = optional_string(root, "cuda", "document");
        if (const auto gpus = root.find("gpus"); gpus != root.end() && !gpus->is_null()) {
            if (!gpus->is_array())
                throw Error(ExitCode::not_found, "gpus: expected a list");
            for (std::size_t i = 0; i < gpus->size(); ++i)
                node.gpus.push_back(read_gpu((*gpus)[i], "gpus[" + std::to_string(i) + "]"));
        }
    } catch (const Error& error) {
        node.gpus.clear();
        // Written as parse_lock writes its errors: "LABEL:LINE:COLUMN: MESSAGE".
        node.failure = FailedNode{host, NodeFailure::garbage, label + place + ": " + error.what()};
    }
    return node;
}

NodeGpus failed_node_gpus(std::string host, NodeFailure kind, std::string reason) {
    NodeGpus node;
    node.failure = FailedNode{host, kind, std::move(reason)};
    node.host = std::move(host);
    return node;
}

Json fleet_gpus_json(const std::vector<NodeGpus>& nodes) {
    Json doc;
    doc["schema"] = "gpuenv.fleet-gpus/1";
    std::size_t total = 0;
    std::size_t free = 0;
    std::size_t failed = 0;
    auto list = Json::array();
    for (const auto& n : nodes) {
        Json j;
        j["host"] = n.host;
        if (n.failure) {
            ++failed;
            j["error"] = {{"kind", to_string(n.failure->kind)}, {"reason", n.failure->reason}};
            list.push_back(std::move(j));
            continue;
        }
        total += n.total();
        free += n.free_count();
        j["driver"] = n.driver;
        j["cuda"] = n.cuda;
        j["gpus"] = n.total();
        j["free"] = n.free_count();
        auto gpus = Json::array();
        for (const auto& g : n.gpus) {
            auto opt = [](const auto& v) { return v ? Json(*v) : Json(nullptr); };
            gpus.push_back(
                {{"index", g.index},
                 {"name", g.name},
                 {"uuid", g.uuid},
                 {"memory", {{"used", opt(g.memory_used)}, {"total", opt(g.memory_total)}}},
                 {"utilization", opt(g.utilization)},
                 {"processes", g.processes},
                 {"free", g.free}});
        }
        j["devices"] = std::move(gpus);
        list.push_back(std::move(j));
    }
    doc["summary"] = {
        {"nodes", nodes.size()}, {"gpus", total}, {"free", free}, {"unreachable", failed}};
    doc["nodes"] = std::move(list);
    return doc;
}

int exit_code(const std::vector<NodeGpus>& nodes) {
    const bool failed = std::any_of(nodes.begin(), nodes.end(),
                                    [](const NodeGpus& n) { return n.failure.has_value(); });
    return static_cast<int>(failed ? ExitCode::unreachable : ExitCode::ok);
}

}  // namespace gpuenv::core::fleet
