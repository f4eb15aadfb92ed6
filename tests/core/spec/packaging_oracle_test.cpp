// Differential test: thousands of generated versions and specifiers, judged by Debian's
// python3-packaging (which nobody on this project wrote) and by gpuenv; they must agree on
// every validity, normalized form, ordering and containment answer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuenv/core/spec/pep440.hpp>
#include <gpuenv/core/spec/requirement.hpp>
#include <gpuenv/core/spec/specifier.hpp>
#include <gpuenv/util/error.hpp>
#include <support/run_gpuenv.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv::core::spec {
namespace {

using Json = nlohmann::json;

constexpr const char* k_python = "/usr/bin/python3";
constexpr std::size_t k_versions = 6000;
constexpr std::size_t k_specifiers = 3000;
constexpr std::size_t k_pairs = 30000;
constexpr std::size_t k_requirements = 4000;

// Reads the generated inputs, answers every question with packaging, prints JSON.
constexpr const char* k_script = R"PY(
import json, sys
from packaging.version import Version, InvalidVersion
from packaging.specifiers import SpecifierSet, InvalidSpecifier
d = json.load(open(sys.argv[1], encoding="utf-8"))
vs = []
for s in d["versions"]:
    try:
        vs.append(Version(s))
    except InvalidVersion:
        vs.append(None)
order = sorted((i for i, v in enumerate(vs) if v is not None), key=lambda i: vs[i])
rank = [-1] * len(vs)
r, prev = -1, None
for i in order:
    if prev is None or vs[i] != prev:
        r, prev = r + 1, vs[i]
    rank[i] = r
specs = []
for s in d["specs"]:
    try:
        specs.append(SpecifierSet(s))
    except InvalidSpecifier:
        specs.append(None)
def contains(ss, v, pre):
    try:
        return "1" if ss.contains(v, prereleases=pre) else "0"
    except Exception:
        return "E"
pairs = []
for si, vi in d["pairs"]:
    ss, v = specs[si], vs[vi]
    pairs.append("XX" if ss is None or v is None else contains(ss, v, None) + contains(ss, v, True))
json.dump({"norm": [str(v) if v is not None else None for v in vs], "rank": rank,
           "specs": [str(s) if s is not None else None for s in specs], "pairs": pairs},
          sys.stdout)
)PY";

// Parses each requirement, prints its parts and its marker's value in each environment.
constexpr const char* k_requirement_script = R"PY(
import json, sys
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
d = json.load(open(sys.argv[1], encoding="utf-8"))
out = []
for text in d["requirements"]:
    try:
        r = Requirement(text)
    except Exception:
        out.append(None)
        continue
    ev = ""
    for env in d["envs"] if r.marker else []:
        try:
            ev += "1" if r.marker.evaluate(env) else "0"
        except Exception:
            ev += "E"
    out.append({"name": r.name, "extras": sorted({canonicalize_name(e) for e in r.extras}),
                "specifier": str(r.specifier), "url": r.url or "",
                "marker": str(r.marker) if r.marker else None, "eval": ev})
json.dump(out, sys.stdout)
)PY";

// splitmix64: deterministic on every platform, unlike std:: distributions.
class Rng {
  public:
    explicit Rng(std::uint64_t seed) : m_state(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
    template <typename T, std::size_t N>
    const T& pick(const T (&items)[N]) {
        return items[below(N)];
    }

  private:
    std::uint64_t m_state;
};

std::string random_case(Rng& rng, std::string_view word) {
    std::string out(word);
    if (rng.chance(20)) {
        for (char& c : out) {
            if (rng.chance(50) && c >= 'a' && c <= 'z')
                c = static_cast<char>(c - 'a' + 'A');
        }
    }
    return out;
}

std::string number(Rng& rng) {
    if (rng.chance(2))
        return "1234567890123456789012345";  // beyond 64 bits
    if (rng.chance(5))
        return "0" + std::to_string(rng.below(3));  // leading zero
    static constexpr int small[] = {0, 0, 1, 1, 1, 2, 2, 3, 4, 10};
    return std::to_string(rng.pick(small));
}

std::string separator(Rng& rng) {
    static constexpr const char* seps[] = {"", "", "", ".", "-", "_"};
    return rng.pick(seps);
}

// Appends [sep]label[[sep]number]; every draw is its own statement so that the sequence does
// not depend on the compiler's evaluation order.
void append_label(Rng& rng, std::string& v, std::string_view label) {
    v += separator(rng);
    v += random_case(rng, label);
    if (rng.chance(80)) {
        v += separator(rng);
        v += number(rng);
    }
}

// A version from a small number space, so that specifiers and versions often meet.
std::string random_version(Rng& rng, bool allow_local = true) {
    std::string v;
    if (rng.chance(8))
        v += rng.chance(50) ? "v" : "V";
    if (rng.chance(10))
        v += std::to_string(rng.below(3)) + "!";
    const std::size_t parts = 1 + rng.below(4);
    for (std::size_t i = 0; i < parts; ++i)
        v += (i > 0 ? "." : "") + number(rng);
    if (rng.chance(30)) {
        static constexpr const char* labels[] = {"a",     "b",    "c",   "rc",
                                                 "alpha", "beta", "pre", "preview"};
        append_label(rng, v, rng.pick(labels));
    }
    if (rng.chance(20)) {
        if (rng.chance(30)) {
            v += "-" + number(rng);
        } else {
            static constexpr const char* labels[] = {"post", "rev", "r"};
            append_label(rng, v, rng.pick(labels));
        }
    }
    if (rng.chance(20)) {
        append_label(rng, v, "dev");
    }
    if (allow_local && rng.chance(12)) {
        static constexpr const char* segments[] = {"ubuntu", "cu118", "1", "01", "abc", "Z9", "7"};
        v += "+" + std::string(rng.pick(segments));
        while (rng.chance(40)) {
            v += rng.chance(50) ? "." : "-";
            v += rng.pick(segments);
        }
    }
    return v;
}

// Damages a version in one of the ways people (and tools) do.
std::string mutate(Rng& rng, std::string v) {
    static constexpr const char* junk[] = {"*", "+", "!",  "..", "-",    " ",      "x",
                                           "é", "_", "+.", "a",  "post", "\u00a0", "\t"};
    const std::size_t at = rng.below(v.size() + 1);
    switch (rng.below(4)) {
        case 0:
            return v.insert(at, rng.pick(junk));
        case 1:
            return at < v.size() ? v.erase(at, 1) : v + "!";
        case 2:
            return v + rng.pick(junk);
        default:
            return rng.pick(junk) + v;
    }
}

std::string release_prefix(Rng& rng, std::size_t min_parts) {
    std::string v = rng.chance(10) ? std::to_string(rng.below(2)) + "!" : "";
    const std::size_t parts = min_parts + rng.below(3);
    for (std::size_t i = 0; i < parts; ++i)
        v += (i > 0 ? "." : "") + number(rng);
    return v;
}

std::string random_clause(Rng& rng) {
    static constexpr const char* ops[] = {"~=", "==", "!=", "<=", ">=", "<", ">", "==="};
    const std::string op = rng.pick(ops);
    const std::string space = rng.chance(20) ? " " : "";
    std::string version;
    if ((op == "==" || op == "!=") && rng.chance(30)) {
        version = release_prefix(rng, 1) + ".*";
    } else if (op == "~=") {
        version = release_prefix(rng, rng.chance(5) ? 1 : 2);
        if (rng.chance(40))
            version = random_version(rng, false);
    } else if (op == "===") {
        version = rng.chance(70) ? random_version(rng) : "foo";
    } else {
        version = random_version(rng, op == "==" || op == "!=" || rng.chance(5));
    }
    if (rng.chance(3))
        version = mutate(rng, version);
    return space + op + space + version + space;
}

std::string random_specifier(Rng& rng) {
    if (rng.chance(2))
        return "";
    std::string s = random_clause(rng);
    while (rng.chance(35))
        s += "," + random_clause(rng);
    if (rng.chance(3))
        s += ",";
    return s;
}

std::uint64_t seed() {
    // GPUENV_ORACLE_SEED explores other inputs; the default keeps the test reproducible.
    const char* text = std::getenv("GPUENV_ORACLE_SEED");
    return text != nullptr ? std::stoull(text) : 20240611;
}

struct Oracle {
    std::vector<std::string> versions;
    std::vector<std::string> specs;
    std::vector<std::pair<std::size_t, std::size_t>> pairs;
    Json answers;
};

Oracle generate() {
    Oracle o;
    Rng rng(seed());
    while (o.versions.size() < k_versions) {
        std::string v = random_version(rng);
        if (rng.chance(12))
            v = mutate(rng, v);
        if (rng.chance(2))
            v = " " + v + "\n";
        o.versions.push_back(std::move(v));
    }
    while (o.specs.size() < k_specifiers)
        o.specs.push_back(random_specifier(rng));
    while (o.pairs.size() < k_pairs) {
        const std::size_t spec = rng.below(o.specs.size());
        o.pairs.emplace_back(spec, rng.below(o.versions.size()));
    }
    return o;
}

// Returns why packaging cannot be asked, or "" when it can.
std::string packaging_missing() {
    if (!std::filesystem::exists(k_python))
        return std::string(k_python) + " is missing";
    if (test::run_command({k_python, "-c", "import packaging.requirements"}).exit_code != 0)
        return "python3-packaging is not installed for " + std::string(k_python);
    return "";
}

// Runs `script` on `input` (a JSON file in a temp dir) and returns what it prints as JSON.
Json ask_packaging(const char* script, const Json& input) {
    test::TempDir dir;
    test::write_file(dir / "input.json", input.dump());
    // A fixed hash seed: packaging iterates a frozenset, and whether "===foo" raises depends on
    // whether another clause allows pre-releases first.
    const auto result = test::run_command({k_python, "-c", script, (dir / "input.json").string()},
                                          {{{"PYTHONHASHSEED", "0"}}});
    if (result.exit_code != 0)
        throw std::runtime_error("the packaging oracle failed: " + result.err);
    return Json::parse(result.out);
}

class Mismatches {
  public:
    void add(const std::string& what) {
        if (m_count++ < 20)
            m_first += "  " + what + "\n";
    }
    std::size_t count() const { return m_count; }
    const std::string& first() const { return m_first; }

  private:
    std::size_t m_count = 0;
    std::string m_first;
};

std::string json_quoted(const std::string& s) {
    return Json(s).dump();
}

TEST(PackagingOracle, VersionsSpecifiersAndContainmentAgree) {
    if (const std::string why = packaging_missing(); !why.empty())
        GTEST_SKIP() << why;
    Oracle o = generate();
    Json input = {{"versions", o.versions}, {"specs", o.specs}, {"pairs", Json::array()}};
    for (const auto& [s, v] : o.pairs)
        input["pairs"].push_back({s, v});
    o.answers = ask_packaging(k_script, input);
    Mismatches bad;

    std::vector<std::optional<Pep440Version>> parsed;
    std::size_t valid = 0;
    for (std::size_t i = 0; i < o.versions.size(); ++i) {
        parsed.push_back(Pep440Version::try_parse(o.versions[i]));
        const Json& want = o.answers["norm"][i];
        const std::string ours = parsed.back() ? parsed.back()->normalized() : "<invalid>";
        const std::string theirs = want.is_null() ? "<invalid>" : want.get<std::string>();
        valid += parsed.back() ? 1 : 0;
        if (ours != theirs)
            bad.add("version " + json_quoted(o.versions[i]) + ": gpuenv " + ours + ", packaging " +
                    theirs);
    }

    // Ordering: dense ranks of the valid versions (equal versions share a rank).
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < parsed.size(); ++i) {
        if (parsed[i])
            order.push_back(i);
    }
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return *parsed[a] < *parsed[b]; });
    std::vector<long> rank(parsed.size(), -1);
    long r = -1;
    for (std::size_t k = 0; k < order.size(); ++k) {
        if (k == 0 || *parsed[order[k]] != *parsed[order[k - 1]])
            ++r;
        rank[order[k]] = r;
    }
    for (std::size_t i = 0; i < parsed.size(); ++i) {
        if (parsed[i] && o.answers["norm"][i].is_string() &&
            rank[i] != o.answers["rank"][i].get<long>()) {
            bad.add("rank of " + json_quoted(o.versions[i]) + ": gpuenv " +
                    std::to_string(rank[i]) + ", packaging " + o.answers["rank"][i].dump());
        }
    }

    std::vector<std::optional<SpecifierSet>> sets;
    for (std::size_t i = 0; i < o.specs.size(); ++i) {
        SpecParseFailure failure;
        sets.push_back(SpecifierSet::try_parse(o.specs[i], failure));
        const Json& want = o.answers["specs"][i];
        const std::string ours = sets.back() ? sets.back()->str() : "<invalid>";
        const std::string theirs = want.is_null() ? "<invalid>" : want.get<std::string>();
        if (ours != theirs)
            bad.add("specifier " + json_quoted(o.specs[i]) + ": gpuenv " + ours + ", packaging " +
                    theirs);
    }

    std::size_t compared = 0;
    std::size_t matched = 0;
    for (std::size_t k = 0; k < o.pairs.size(); ++k) {
        const auto [s, v] = o.pairs[k];
        const std::string want = o.answers["pairs"][k];
        if (!sets[s] || !parsed[v] || want == "XX")
            continue;
        for (const int mode : {0, 1}) {
            if (want[mode] == 'E')
                continue;  // packaging raised (e.g. "===foo" asked whether it allows pre-releases)
            const bool ours = sets[s]->contains(
                *parsed[v], mode == 0 ? PreReleases::by_rule : PreReleases::allow);
            ++compared;
            matched += ours ? 1 : 0;
            if (ours != (want[mode] == '1')) {
                bad.add(std::string(mode == 0 ? "contains" : "contains(prereleases=True)") + " " +
                        json_quoted(o.specs[s]) + " " + json_quoted(o.versions[v]) + ": gpuenv " +
                        (ours ? "true" : "false"));
            }
        }
    }
    RecordProperty("versions", static_cast<int>(o.versions.size()));
    RecordProperty("valid_versions", static_cast<int>(valid));
    RecordProperty("contains_checks", static_cast<int>(compared));
    const auto valid_sets = static_cast<std::size_t>(
        std::count_if(sets.begin(), sets.end(), [](const auto& s) { return s.has_value(); }));
    std::printf(
        "[ oracle ] %zu versions (%zu valid), %zu specifier sets (%zu valid), %zu containment "
        "answers (%zu true)\n",
        o.versions.size(), valid, o.specs.size(), valid_sets, compared, matched);
    EXPECT_EQ(bad.count(), 0u) << bad.count() << " disagreements with packaging, first ones:\n"
                               << bad.first();
    EXPECT_GT(valid, 4000u);
    EXPECT_GT(compared, 20000u);
}

struct Environment {
    MarkerEnvironment env;
    std::string extra;
};

std::vector<Environment> environments() {
    std::vector<Environment> out(3);
    out[0].env.implementation_version = out[0].env.python_full_version = "3.11.2";
    out[0].env.python_version = "3.11";
    out[0].env.platform_machine = "x86_64";
    out[0].env.platform_release = "5.10.0-28-amd64";
    out[0].env.platform_system = "Linux";
    out[0].env.platform_version = "#1 SMP Debian 5.10.209-2";
    out[0].env.sys_platform = "linux";
    out[1] = out[0];
    out[1].env.os_name = "nt";
    out[1].env.python_full_version = out[1].env.implementation_version = "3.8.10";
    out[1].env.python_version = "3.8";
    out[1].env.platform_machine = "AMD64";
    out[1].env.platform_release = "10";
    out[1].env.platform_system = "Windows";
    out[1].env.sys_platform = "win32";
    out[1].extra = "test";
    out[2] = out[0];
    out[2].env.implementation_name = "pypy";
    out[2].env.platform_python_implementation = "PyPy";
    out[2].env.python_full_version = "3.12.0rc1";
    out[2].env.python_version = "3.12";
    out[2].env.sys_platform = "darwin";
    out[2].env.platform_machine = "arm64";
    out[2].extra = "Foo_Bar";
    return out;
}

Json to_json(const Environment& e) {
    const MarkerEnvironment& m = e.env;
    return {{"implementation_name", m.implementation_name},
            {"implementation_version", m.implementation_version},
            {"os_name", m.os_name},
            {"platform_machine", m.platform_machine},
            {"platform_release", m.platform_release},
            {"platform_system", m.platform_system},
            {"platform_version", m.platform_version},
            {"python_full_version", m.python_full_version},
            {"platform_python_implementation", m.platform_python_implementation},
            {"python_version", m.python_version},
            {"sys_platform", m.sys_platform},
            {"extra", e.extra}};
}

std::string spacing(Rng& rng) {
    static constexpr const char* spaces[] = {" ", " ", " ", "", "  ", "\t"};
    return rng.pick(spaces);
}

struct MarkerVariable {
    const char* spelling;
    int kind;  // 0: a version, 1: text, 2: an extra, 3: a kernel release
};

constexpr MarkerVariable k_marker_variables[] = {
    {"python_version", 0},
    {"python_full_version", 0},
    {"implementation_version", 0},
    {"os_name", 1},
    {"os.name", 1},
    {"sys_platform", 1},
    {"sys.platform", 1},
    {"platform_release", 3},
    {"platform_system", 1},
    {"platform_version", 1},
    {"platform.version", 1},
    {"platform_machine", 1},
    {"platform.machine", 1},
    {"platform_python_implementation", 1},
    {"python_implementation", 1},
    {"implementation_name", 1},
    {"extra", 2},
    {"extra", 2},
};

// A literal that suits the variable's kind (so that packaging rarely raises), or any one.
std::string random_literal(Rng& rng, int kind) {
    static constexpr const char* versions[] = {"3.11", "3.8",          "3",         "3.11.2",
                                               "3.*",  "3.11.*",       "3.12.0rc1", "2.7",
                                               "3.10", "3.11.2+local", "3.9.*"};
    static constexpr const char* texts[] = {
        "posix",   "nt",      "linux", "win32", "Linux",  "x86_64", "AMD64", "arm64",
        "cpython", "CPython", "PyPy",  "lin",   "Debian", "darwin", "",      "Windows"};
    static constexpr const char* extras[] = {"foo-bar", "Foo_Bar", "test", "", "TEST", "docs"};
    static constexpr const char* releases[] = {"5.10.0-28-amd64", "5.10", "10", "5"};
    std::string value;
    switch (rng.chance(5) ? static_cast<int>(rng.below(4)) : kind) {
        case 0:
            value = rng.pick(versions);
            break;
        case 1:
            value = rng.pick(texts);
            break;
        case 2:
            value = rng.pick(extras);
            break;
        default:
            value = rng.pick(releases);
            break;
    }
    return rng.chance(50) ? "'" + value + "'" : "\"" + value + "\"";
}

std::string random_comparison(Rng& rng) {
    static constexpr const char* version_ops[] = {"==", "!=", "<", "<=", ">", ">=", "~=", "==="};
    static constexpr const char* text_ops[] = {"==", "!=", "in", "not in", "==", "<", ">="};
    const MarkerVariable& variable = rng.pick(k_marker_variables);
    const std::string op = variable.kind == 0 ? rng.pick(version_ops) : rng.pick(text_ops);
    const std::string literal = random_literal(rng, variable.kind);
    const std::size_t shape = rng.below(40);
    std::string left = variable.spelling;
    std::string right = literal;
    if (shape < 8) {
        std::swap(left, right);
    } else if (shape == 8) {
        right = rng.pick(k_marker_variables).spelling;
    } else if (shape == 9) {
        left = literal;
        right = rng.chance(50) ? "'python_version'" : "'nope'";
    }
    return left + spacing(rng) + op + spacing(rng) + right;
}

std::string random_marker(Rng& rng, int depth) {
    std::string out;
    const std::size_t atoms = 1 + rng.below(depth == 0 ? 4 : 3);
    for (std::size_t i = 0; i < atoms; ++i) {
        if (i > 0) {
            out += spacing(rng);
            out += rng.chance(50) ? "and" : "or";
            out += spacing(rng);
        }
        if (depth < 2 && rng.chance(15)) {
            out += "(" + spacing(rng);
            out += random_comparison(rng) + " or " + random_marker(rng, depth + 1);
            out += spacing(rng) + ")";
        } else {
            out += random_comparison(rng);
        }
    }
    return out;
}

std::string random_requirement(Rng& rng) {
    static constexpr const char* names[] = {"foo",  "Foo.Bar", "foo_bar", "a",    "A1",
                                            "foo-", "foo_",    "1foo",    "-foo", "zope.interface"};
    static constexpr const char* extras[] = {"Security", "socks", "a_b", "A-B", "test"};
    static constexpr const char* urls[] = {"http://x.com/a.whl",
                                           "https://github.com/a/b.git@v1#egg=b",
                                           "file:///tmp/x",
                                           "file:/tmp/x",
                                           "./x",
                                           "http://",
                                           "git+ssh://git@github.com/a/b",
                                           "http://[::1]/x",
                                           "http://[::1/x",
                                           "file://localhost/x?q"};
    std::string out = spacing(rng) + rng.pick(names) + spacing(rng);
    if (rng.chance(30)) {
        out += "[" + spacing(rng);
        const std::size_t n = rng.below(4);
        for (std::size_t i = 0; i < n; ++i) {
            if (i > 0)
                out += rng.chance(50) ? "," : " , ";
            out += rng.pick(extras);
        }
        out += spacing(rng) + "]";
    }
    if (rng.chance(25)) {
        out += "@" + spacing(rng) + rng.pick(urls);
        if (rng.chance(60))
            out += " ";
    } else if (rng.chance(80)) {
        const bool parens = rng.chance(20);
        out += (parens ? "(" : "") + random_specifier(rng) + (parens ? ")" : "");
    }
    if (rng.chance(75)) {
        out += spacing(rng) + ";" + spacing(rng);
        out += random_marker(rng, 0);
    }
    if (rng.chance(5))
        out = mutate(rng, out);
    return out;
}

std::string evaluate_all(const Marker& marker, const std::vector<Environment>& envs) {
    std::string out;
    for (const auto& e : envs) {
        try {
            out += marker.evaluate(e.env, e.extra) ? '1' : '0';
        } catch (const Error&) {
            out += 'E';
        }
    }
    return out;
}

TEST(PackagingOracle, RequirementsAndMarkersAgree) {
    if (const std::string why = packaging_missing(); !why.empty())
        GTEST_SKIP() << why;
    Rng rng(seed() + 1);
    std::vector<std::string> texts;
    while (texts.size() < k_requirements)
        texts.push_back(random_requirement(rng));
    const auto envs = environments();
    Json input = {{"requirements", texts}, {"envs", Json::array()}};
    for (const auto& e : envs)
        input["envs"].push_back(to_json(e));
    const Json answers = ask_packaging(k_requirement_script, input);

    Mismatches bad;
    std::size_t valid = 0;
    std::size_t evaluations = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const Json& want = answers[i];
        std::optional<Requirement> req;
        try {
            req = Requirement::parse(texts[i]);
        } catch (const Error&) {
        }
        const std::string label = "requirement " + json_quoted(texts[i]) + ": ";
        if (req.has_value() != !want.is_null()) {
            bad.add(label + (req ? "gpuenv accepts it, packaging does not" : "gpuenv rejects it"));
            continue;
        }
        if (!req)
            continue;
        ++valid;
        const auto expect = [&](const std::string& what, const Json& ours, const Json& theirs) {
            if (ours != theirs)
                bad.add(label + what + " gpuenv " + ours.dump() + ", packaging " + theirs.dump());
        };
        expect("name", req->name, want["name"]);
        expect("extras", req->extras, want["extras"]);
        expect("specifier", req->specifier.str(), want["specifier"]);
        expect("url", req->url, want["url"]);
        expect("marker", req->marker ? Json(req->marker->str()) : Json(), want["marker"]);
        if (!req->marker)
            continue;
        const std::string ours = evaluate_all(*req->marker, envs);
        const std::string theirs = want["eval"];
        for (std::size_t k = 0; k < envs.size(); ++k) {
            if (theirs[k] == 'E')
                continue;  // packaging raised: a case where gpuenv compares text instead
            ++evaluations;
            if (ours[k] != theirs[k])
                bad.add(label + "evaluates in environment " + std::to_string(k) + " to " + ours[k] +
                        ", packaging " + theirs[k]);
        }
    }
    std::printf("[ oracle ] %zu requirements (%zu valid), %zu marker evaluations\n", texts.size(),
                valid, evaluations);
    EXPECT_EQ(bad.count(), 0u) << bad.count() << " disagreements with packaging, first ones:\n"
                               << bad.first();
    EXPECT_GT(valid, 1000u);
    EXPECT_GT(evaluations, 2000u);
}

}  // namespace
}  // namespace gpuenv::core::spec
