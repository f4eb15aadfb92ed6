// Tests of fleet check results: collection, grouping, the reference, the matrix, JSON and
// exit codes; and of `fleet gpus` parsing.
#include <gpuenv/core/fleet/fleet_report.hpp>

#include <gtest/gtest.h>

#include <core/lock/lock_test_util.hpp>
#include <gpuenv/core/lock/fingerprint.hpp>

namespace gpuenv {
namespace {

using core::fleet::build_report;
using core::fleet::CellState;
using core::fleet::FailedNode;
using core::fleet::FleetCollector;
using core::fleet::FleetReport;
using core::fleet::NodeFailure;
using core::fleet::ReferenceKind;
using core::lock::LockedEnv;
using test::conda_package;
using test::pypi_package;

// The fleet's usual environment.
LockedEnv env_a() {
    return test::locked_env({conda_package("numpy", "1.26.4", "py311_0"),
                             conda_package("python", "3.11.8", "h_0"),
                             pypi_package("torch", "2.3.0")});
}

// numpy upgraded.
LockedEnv env_b() {
    return test::locked_env({conda_package("numpy", "2.0.0", "py311_0"),
                             conda_package("python", "3.11.8", "h_0"),
                             pypi_package("torch", "2.3.0")});
}

// torch gone, zstd added.
LockedEnv env_c() {
    return test::locked_env({conda_package("numpy", "1.26.4", "py311_0"),
                             conda_package("python", "3.11.8", "h_0"),
                             conda_package("zstd", "1.5.6", "h_0")});
}

FleetReport report_of(std::vector<std::pair<std::string, LockedEnv>> nodes,
                      const std::optional<LockedEnv>& lock = std::nullopt) {
    FleetCollector collector;
    for (auto& [host, env] : nodes)
        collector.add_environment(host, std::move(env));
    return build_report(std::move(collector), lock);
}

const core::fleet::MatrixRow* row_of(const FleetReport& report, const std::string& package) {
    for (const auto& row : report.matrix.rows) {
        if (row.package == package)
            return &row;
    }
    return nullptr;
}

TEST(FleetReport, MajorityIsTheReference) {
    const auto report =
        report_of({{"gpu04", env_b()}, {"gpu01", env_a()}, {"gpu02", env_a()}, {"gpu03", env_a()}});
    EXPECT_EQ(report.reference.kind, ReferenceKind::majority);
    EXPECT_EQ(report.reference.label, "gpu[01-03]");
    EXPECT_EQ(report.reference.tied_groups, 1U);
    EXPECT_EQ(report.reference.fingerprint, core::lock::fingerprint(env_a().packages));
    ASSERT_EQ(report.groups.size(), 2U);
    EXPECT_EQ(report.groups[0].label, "gpu[01-03]");
    EXPECT_TRUE(report.groups[0].identical);
    EXPECT_EQ(report.groups[1].label, "gpu04");
    EXPECT_FALSE(report.groups[1].identical);
    EXPECT_EQ(report.summary.nodes, 4U);
    EXPECT_EQ(report.summary.identical, 3U);
    EXPECT_EQ(report.summary.drifted, 1U);
    EXPECT_EQ(report.summary.unreachable, 0U);
    EXPECT_EQ(core::fleet::exit_code(report), 1);
}

TEST(FleetReport, LockIsTheReferenceWhenGiven) {
    auto lock = env_b();
    lock.source = "gpuenv.lock (gpuenv)";
    const auto report =
        report_of({{"gpu01", env_a()}, {"gpu02", env_a()}, {"gpu03", env_b()}}, lock);
    EXPECT_EQ(report.reference.kind, ReferenceKind::lock);
    EXPECT_EQ(report.reference.label, "gpuenv.lock (gpuenv)");
    ASSERT_EQ(report.groups.size(), 2U);
    // The group equal to the lock leads even though it is smaller.
    EXPECT_EQ(report.groups[0].label, "gpu03");
    EXPECT_TRUE(report.groups[0].identical);
    EXPECT_EQ(report.groups[1].label, "gpu[01-02]");
    EXPECT_EQ(report.summary.identical, 1U);
    EXPECT_EQ(report.summary.drifted, 2U);
    ASSERT_EQ(report.matrix.columns.size(), 2U);
    EXPECT_EQ(report.matrix.columns[0].label, "gpuenv.lock (gpuenv)");
    EXPECT_EQ(report.matrix.columns[0].nodes, 1U);
    const auto* numpy = row_of(report, "numpy");
    ASSERT_NE(numpy, nullptr);
    EXPECT_EQ(numpy->cells[0].text, "2.0.0 py311_0 (conda-forge)");
    EXPECT_EQ(numpy->cells[1].text, "1.26.4 py311_0 (conda-forge)");
    EXPECT_EQ(numpy->cells[1].state, CellState::changed);
}

TEST(FleetReport, LockNoNodeMatchesHasAnEmptyReferenceColumn) {
    auto lock = env_c();
    lock.source = "site.lock";
    const auto report = report_of({{"a1", env_a()}, {"a2", env_b()}}, lock);
    EXPECT_EQ(report.summary.identical, 0U);
    EXPECT_EQ(report.summary.drifted, 2U);
    ASSERT_EQ(report.matrix.columns.size(), 3U);
    EXPECT_EQ(report.matrix.columns[0].nodes, 0U);
    EXPECT_TRUE(report.matrix.columns[0].groups.empty());
}

TEST(FleetReport, TieGoesToTheGroupWithTheFirstHostName) {
    // gpu2 sorts before gpu10 (natural order), so env_b is the reference.
    const auto report =
        report_of({{"gpu10", env_a()}, {"gpu11", env_a()}, {"gpu3", env_b()}, {"gpu2", env_b()}});
    EXPECT_EQ(report.reference.kind, ReferenceKind::majority);
    EXPECT_EQ(report.reference.tied_groups, 2U);
    EXPECT_EQ(report.reference.label, "gpu[2-3]");
    EXPECT_EQ(report.reference.fingerprint, core::lock::fingerprint(env_b().packages));
    ASSERT_EQ(report.groups.size(), 2U);
    EXPECT_EQ(report.groups[0].hosts, (std::vector<std::string>{"gpu3", "gpu2"}));
    EXPECT_EQ(report.groups[1].label, "gpu[10-11]");
}

TEST(FleetReport, HundredNodesStoreOneEnvironmentPerFingerprint) {
    FleetCollector collector;
    for (int i = 1; i <= 100; ++i) {
        char host[16];
        std::snprintf(host, sizeof host, "gpu%03d", i);
        collector.add_environment(host, i <= 80 ? env_a() : i <= 95 ? env_b() : env_c());
    }
    EXPECT_EQ(collector.node_count(), 100U);
    EXPECT_EQ(collector.stored_environments(), 3U);
    ASSERT_EQ(collector.groups().size(), 3U);
    EXPECT_EQ(collector.groups()[0].hosts.size(), 80U);
    EXPECT_EQ(collector.groups()[0].env.fingerprint, collector.groups()[0].fingerprint);

    const auto report = build_report(std::move(collector), std::nullopt);
    ASSERT_EQ(report.groups.size(), 3U);
    EXPECT_EQ(report.groups[0].label, "gpu[001-080]");
    EXPECT_EQ(report.groups[1].label, "gpu[081-095]");
    EXPECT_EQ(report.groups[2].label, "gpu[096-100]");
    EXPECT_EQ(report.summary.identical, 80U);
    EXPECT_EQ(report.summary.drifted, 20U);
    // Identical nodes collapse into the reference column.
    ASSERT_EQ(report.matrix.columns.size(), 3U);
    EXPECT_EQ(report.matrix.columns[0].nodes, 80U);
    EXPECT_EQ(report.matrix.columns[1].nodes, 15U);
    EXPECT_EQ(report.matrix.columns[2].nodes, 5U);
}

TEST(FleetReport, MatrixHasOneRowPerDifferingPackage) {
    const auto report = report_of({{"n1", env_a()},
                                   {"n2", env_a()},
                                   {"n3", env_a()},
                                   {"n4", env_b()},
                                   {"n5", env_b()},
                                   {"n6", env_c()}});
    const auto& m = report.matrix;
    ASSERT_EQ(m.columns.size(), 3U);
    EXPECT_TRUE(m.columns[0].reference);
    EXPECT_EQ(m.columns[1].label, "n[4-5]");
    EXPECT_EQ(m.columns[2].label, "n6");
    ASSERT_EQ(m.rows.size(), 3U);  // python is the same everywhere
    EXPECT_EQ(m.rows[0].package, "numpy");
    EXPECT_EQ(m.rows[1].package, "torch (pypi)");
    EXPECT_EQ(m.rows[2].package, "zstd");

    const auto& numpy = m.rows[0].cells;
    EXPECT_EQ(numpy[0].text, "1.26.4 py311_0 (conda-forge)");
    EXPECT_EQ(numpy[1].text, "2.0.0 py311_0 (conda-forge)");
    EXPECT_EQ(numpy[1].state, CellState::changed);
    ASSERT_FALSE(numpy[1].changes.empty());
    EXPECT_EQ(numpy[1].changes[0], core::verify::FindingKind::version);
    EXPECT_EQ(numpy[2].state, CellState::same);
    EXPECT_EQ(numpy[2].text, numpy[0].text);

    const auto& torch = m.rows[1].cells;
    EXPECT_EQ(torch[0].text, "2.3.0 (pip)");
    EXPECT_EQ(torch[1].state, CellState::same);
    EXPECT_EQ(torch[2].state, CellState::missing);
    EXPECT_EQ(torch[2].text, "");

    const auto& zstd = m.rows[2].cells;
    EXPECT_EQ(zstd[0].text, "");
    EXPECT_EQ(zstd[1].state, CellState::same);
    EXPECT_EQ(zstd[1].text, "");
    EXPECT_EQ(zstd[2].state, CellState::added);
    EXPECT_EQ(zstd[2].text, "1.5.6 h_0 (conda-forge)");
}

TEST(FleetReport, FailuresOfEachKindCountAsUnreachable) {
    FleetCollector collector;
    collector.add_environment("gpu01", env_a());
    collector.add_environment("gpu02", env_b());
    collector.add_failure("gpu03", NodeFailure::unreachable,
                          "ssh: connect to host gpu03 port 22: Connection refused");
    collector.add_failure("gpu04", NodeFailure::timeout, "no answer within 30 s");
    collector.add_failure("gpu05", NodeFailure::no_gpuenv, "bash: gpuenv: command not found");
    collector.add_output("gpu06", "Welcome to gpu06!\n");
    collector.add_failure("gpu07", NodeFailure::failed, "gpuenv: error: no environment found");
    EXPECT_EQ(collector.node_count(), 7U);
    const auto report = build_report(std::move(collector), std::nullopt);
    EXPECT_EQ(report.summary.nodes, 7U);
    EXPECT_EQ(report.summary.unreachable, 5U);
    ASSERT_EQ(report.failures.size(), 5U);
    EXPECT_EQ(report.failures[0].kind, NodeFailure::unreachable);
    EXPECT_EQ(report.failures[1].kind, NodeFailure::timeout);
    EXPECT_EQ(report.failures[2].kind, NodeFailure::no_gpuenv);
    EXPECT_EQ(report.failures[3].kind, NodeFailure::garbage);
    EXPECT_EQ(report.failures[3].host, "gpu06");
    EXPECT_EQ(report.failures[4].kind, NodeFailure::failed);
    // Unreachable wins over drift: the check is incomplete.
    EXPECT_EQ(core::fleet::exit_code(report), 5);
    const auto doc = core::fleet::fleet_json(report);
    ASSERT_EQ(doc["failures"].size(), 5U);
    EXPECT_EQ(doc["failures"][0]["kind"], "unreachable");
    EXPECT_EQ(doc["failures"][1]["kind"], "timeout");
    EXPECT_EQ(doc["failures"][2]["kind"], "no_gpuenv");
    EXPECT_EQ(doc["failures"][3]["kind"], "garbage");
    EXPECT_EQ(doc["failures"][4]["kind"], "failed");
    EXPECT_EQ(doc["failures"][0]["reason"],
              "ssh: connect to host gpu03 port 22: Connection refused");
}

TEST(FleetReport, LockComparesOnlyWhatItsFormatKnows) {
    // An explicit file has no pip side: a node with extra pip packages still matches it.
    auto lock = test::locked_env(
        {conda_package("numpy", "1.26.4", "py311_0"), conda_package("python", "3.11.8", "h_0")});
    lock.fields.pypi = false;
    lock.source = "explicit.txt (explicit)";
    const auto report = report_of({{"n1", env_a()}, {"n2", env_b()}}, lock);
    ASSERT_EQ(report.groups.size(), 2U);
    EXPECT_EQ(report.groups[0].hosts, std::vector<std::string>{"n1"});
    EXPECT_TRUE(report.groups[0].identical);
    EXPECT_FALSE(report.groups[1].identical);
    ASSERT_EQ(report.matrix.rows.size(), 1U);
    EXPECT_EQ(report.matrix.rows[0].package, "numpy");
}

TEST(FleetReport, ContentOnlyChangeIsMarked) {
    auto numpy = conda_package("numpy", "1.26.4", "py311_0");
    numpy.sha256 = std::string(64, 'a');
    auto rebuilt = numpy;
    rebuilt.sha256 = std::string(64, 'b');
    const auto report = report_of({{"n1", test::locked_env({numpy})},
                                   {"n2", test::locked_env({numpy})},
                                   {"n3", test::locked_env({rebuilt})}});
    ASSERT_EQ(report.matrix.rows.size(), 1U);
    const auto& cell = report.matrix.rows[0].cells[1];
    EXPECT_EQ(cell.state, CellState::changed);
    EXPECT_EQ(cell.text, "1.26.4 py311_0 (conda-forge) [content]");
}

TEST(FleetReport, ExitCodes) {
    EXPECT_EQ(core::fleet::exit_code(report_of({{"a", env_a()}, {"b", env_a()}})), 0);
    EXPECT_EQ(core::fleet::exit_code(report_of({{"a", env_a()}, {"b", env_b()}})), 1);
    EXPECT_EQ(core::fleet::exit_code(report_of({})), 0);
    FleetCollector collector;
    collector.add_environment("a", env_a());
    collector.add_failure("b", NodeFailure::timeout, "no answer within 30 s");
    EXPECT_EQ(core::fleet::exit_code(build_report(std::move(collector), std::nullopt)), 5);
}

TEST(FleetReport, AllUnreachableHasNoReference) {
    FleetCollector collector;
    collector.add_failure("a", NodeFailure::unreachable, "ssh: Could not resolve hostname a");
    const auto report = build_report(std::move(collector), std::nullopt);
    EXPECT_EQ(report.reference.kind, ReferenceKind::none);
    EXPECT_TRUE(report.groups.empty());
    EXPECT_EQ(report.matrix.columns.size(), 1U);
    EXPECT_TRUE(report.matrix.rows.empty());
    EXPECT_EQ(core::fleet::exit_code(report), 5);
    EXPECT_EQ(core::fleet::fleet_json(report)["reference"]["kind"], "none");
}

TEST(FleetReport, ParsesNodeOutput) {
    const std::string doc = R"({"schema": "gpuenv.list/1", "packages": [
        {"name": "numpy", "version": "1.26.4", "build": "py311_0", "channel": "conda-forge",
         "kind": "conda", "installer": "conda"},
        {"name": "Torch", "version": "2.3.0", "kind": "pypi", "installer": "pip"}]})";
    const auto result = core::fleet::parse_node_output(doc, "node07");
    ASSERT_TRUE(std::holds_alternative<LockedEnv>(result));
    const auto& env = std::get<LockedEnv>(result);
    ASSERT_EQ(env.packages.size(), 2U);
    EXPECT_EQ(env.packages[1].key, "torch");
    EXPECT_EQ(env.source, "node07: gpuenv list --json");

    FleetCollector collector;
    collector.add_output("node07", doc);
    collector.add_output("node08", doc);
    EXPECT_EQ(collector.stored_environments(), 1U);
    EXPECT_TRUE(collector.failures().empty());
}

TEST(FleetReport, GarbageOutputNamesHostAndPlace) {
    for (const std::string garbage : {"Welcome to node07\n", "", "{\"schema\": \"gpuenv.list/1\"",
                                      "{\"schema\": \"gpuenv.gpus/1\"}", "\x01\x02\xff\xfe"}) {
        const auto result = core::fleet::parse_node_output(garbage, "node07");
        ASSERT_TRUE(std::holds_alternative<FailedNode>(result)) << garbage;
        const auto& failure = std::get<FailedNode>(result);
        EXPECT_EQ(failure.kind, NodeFailure::garbage);
        EXPECT_EQ(failure.host, "node07");
        EXPECT_NE(failure.reason.find("node07: gpuenv list --json"), std::string::npos)
            << failure.reason;
    }
}

TEST(FleetReport, JsonDocument) {
    const auto report = report_of({{"n1", env_a()}, {"n2", env_a()}, {"n3", env_c()}});
    const auto doc = core::fleet::fleet_json(report);
    EXPECT_EQ(doc["schema"], "gpuenv.fleet/1");
    EXPECT_EQ(doc["summary"]["nodes"], 3);
    EXPECT_EQ(doc["summary"]["identical"], 2);
    EXPECT_EQ(doc["summary"]["drifted"], 1);
    EXPECT_EQ(doc["summary"]["unreachable"], 0);
    EXPECT_EQ(doc["reference"]["kind"], "majority");
    EXPECT_EQ(doc["reference"]["label"], "n[1-2]");
    EXPECT_EQ(doc["reference"]["fingerprint"], core::lock::fingerprint(env_a().packages));
    ASSERT_EQ(doc["groups"].size(), 2U);
    EXPECT_EQ(doc["groups"][0]["hosts"], nlohmann::ordered_json({"n1", "n2"}));
    EXPECT_EQ(doc["groups"][0]["identical"], true);
    EXPECT_TRUE(doc["groups"][0]["changes"].empty());
    const auto& changes = doc["groups"][1]["changes"];
    ASSERT_EQ(changes.size(), 2U);
    EXPECT_EQ(changes[0]["package"], "torch (pypi)");
    EXPECT_EQ(changes[0]["change"], "missing");
    EXPECT_EQ(changes[0]["reference"], "2.3.0 (pip)");
    EXPECT_TRUE(changes[0]["node"].is_null());
    EXPECT_EQ(changes[1]["package"], "zstd");
    EXPECT_EQ(changes[1]["change"], "added");
    EXPECT_TRUE(changes[1]["reference"].is_null());
    EXPECT_EQ(changes[1]["node"], "1.5.6 h_0 (conda-forge)");
    EXPECT_TRUE(doc["failures"].empty());
    EXPECT_EQ(doc["exit_code"], 1);
}

const char* const k_gpus_doc = R"({"schema": "gpuenv.gpus/1", "driver": "535.54.03", "cuda": "12.2",
 "gpus": [{"index": 0, "uuid": "GPU-8932", "name": "NVIDIA A100-SXM4-80GB",
           "memory": {"used": 3221225472, "total": 85899345920},
           "utilization": {"gpu": 87, "memory": 41},
           "processes": [{"pid": 28124, "user": "alice"}, {"pid": 4194305, "user": null}]},
          {"index": 1, "uuid": "GPU-1111", "name": "NVIDIA A100-SXM4-80GB",
           "memory": {"used": null, "total": null}, "utilization": {"gpu": null, "memory": null},
           "processes": []}],
 "errors": ["gpu 1: power: Not Supported"]})";

TEST(FleetGpus, ParsesOneNode) {
    const auto node = core::fleet::parse_node_gpus(k_gpus_doc, "gpu01");
    ASSERT_FALSE(node.failure) << node.failure->reason;
    EXPECT_EQ(node.host, "gpu01");
    EXPECT_EQ(node.driver, "535.54.03");
    ASSERT_EQ(node.total(), 2U);
    EXPECT_EQ(node.free_count(), 1U);
    EXPECT_EQ(node.gpus[0].processes, 2U);
    EXPECT_FALSE(node.gpus[0].free);
    EXPECT_EQ(node.gpus[0].memory_total, 85899345920ULL);
    EXPECT_EQ(node.gpus[0].utilization, 87U);
    EXPECT_TRUE(node.gpus[1].free);
    EXPECT_FALSE(node.gpus[1].memory_used);
}

TEST(FleetGpus, GarbageIsAFailure) {
    for (const std::string garbage :
         {"bash: gpuenv: command not found", "[]", R"({"schema": "gpuenv.list/1"})",
          R"({"schema": "gpuenv.gpus/10"})",
          R"({"schema": "gpuenv.gpus/1", "gpus": [{"index": -1}]})",
          R"({"schema": "gpuenv.gpus/1", "gpus": {"0": 1}})"}) {
        const auto node = core::fleet::parse_node_gpus(garbage, "gpu09");
        ASSERT_TRUE(node.failure) << garbage;
        EXPECT_EQ(node.failure->kind, NodeFailure::garbage);
        EXPECT_NE(node.failure->reason.find("gpu09: gpuenv gpus --json:"), std::string::npos)
            << node.failure->reason;
        EXPECT_TRUE(node.gpus.empty());
    }
    EXPECT_EQ(core::fleet::parse_node_gpus("{\n oops", "gpu09").failure->reason,
              "gpu09: gpuenv gpus --json:2:2: invalid JSON: expected a key in double quotes, found "
              "'o'");
}

TEST(FleetGpus, JsonTableAndExitCode) {
    std::vector<core::fleet::NodeGpus> nodes{
        core::fleet::parse_node_gpus(k_gpus_doc, "gpu01"),
        core::fleet::failed_node_gpus("gpu02", NodeFailure::timeout, "no answer within 30 s")};
    const auto doc = core::fleet::fleet_gpus_json(nodes);
    EXPECT_EQ(doc["schema"], "gpuenv.fleet-gpus/1");
    EXPECT_EQ(doc["summary"]["nodes"], 2);
    EXPECT_EQ(doc["summary"]["gpus"], 2);
    EXPECT_EQ(doc["summary"]["free"], 1);
    EXPECT_EQ(doc["summary"]["unreachable"], 1);
    EXPECT_EQ(doc["nodes"][0]["host"], "gpu01");
    EXPECT_EQ(doc["nodes"][0]["free"], 1);
    EXPECT_EQ(doc["nodes"][0]["devices"][1]["free"], true);
    EXPECT_TRUE(doc["nodes"][0]["devices"][1]["utilization"].is_null());
    EXPECT_EQ(doc["nodes"][1]["error"]["kind"], "timeout");
    EXPECT_EQ(core::fleet::exit_code(nodes), 5);
    nodes.pop_back();
    EXPECT_EQ(core::fleet::exit_code(nodes), 0);
}

}  // namespace
}  // namespace gpuenv
