// Tests of the fleet HTML report: escaping of node-supplied text, self-containment, and the
// page as headless Chromium renders it (matrix, sort script).
#include <gpuenv/core/fleet/fleet_html.hpp>

#include <cstdlib>
#include <regex>

#include <gtest/gtest.h>

#include <core/lock/lock_test_util.hpp>
#include <gpuenv/util/process.hpp>
#include <support/temp_dir.hpp>

namespace gpuenv {
namespace {

using core::fleet::build_report;
using core::fleet::FleetCollector;
using core::fleet::FleetReport;
using core::fleet::NodeFailure;
using core::lock::LockedEnv;
using test::conda_package;
using test::pypi_package;

const std::string k_hostile = "<img src=x onerror=\"document.title='pwned'\">";

// Three groups: the reference (3 nodes), numpy upgraded (2), torch gone and zstd added plus a
// package with a hostile name (1); and a node that answered with a hostile reason.
FleetReport sample_report() {
    const auto numpy = conda_package("numpy", "1.26.4", "py311_0");
    const auto python = conda_package("python", "3.11.8", "h_0");
    const auto torch = pypi_package("torch", "2.3.0");
    const auto hostile = pypi_package("zz<script>alert(1)</script>", "1.0");
    FleetCollector collector;
    for (const char* host : {"gpu01", "gpu02", "gpu03"})
        collector.add_environment(host, test::locked_env({numpy, python, torch}));
    for (const char* host : {"gpu04", "gpu05"})
        collector.add_environment(
            host, test::locked_env({conda_package("numpy", "2.0.0", "py311_0"), python, torch}));
    collector.add_environment(
        "gpu06", test::locked_env({numpy, python, conda_package("zstd", "1.5.6", "h_0"), hostile}));
    collector.add_failure("gpu07", NodeFailure::garbage, "gpu07: " + k_hostile);
    return build_report(std::move(collector), std::nullopt);
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

TEST(FleetHtml, EscapesEveryCharacterThatMatters) {
    EXPECT_EQ(core::fleet::html_escape("a<b>&\"c'd"), "a&lt;b&gt;&amp;&quot;c&#39;d");
    EXPECT_EQ(core::fleet::html_escape("plain gpu[01-04]"), "plain gpu[01-04]");
}

TEST(FleetHtml, HostileNamesStayText) {
    const std::string page = core::fleet::fleet_html(sample_report(), "fleet <b>check</b>");
    EXPECT_EQ(count(page, "<script"), 1U) << "only the page's own script";
    EXPECT_EQ(page.find("<img"), std::string::npos);
    EXPECT_EQ(page.find("<b>"), std::string::npos);
    EXPECT_NE(page.find("zz&lt;script&gt;alert(1)&lt;/script&gt; (pypi)"), std::string::npos);
    EXPECT_NE(page.find("&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;"),
              std::string::npos);
    EXPECT_NE(page.find("<title>fleet &lt;b&gt;check&lt;/b&gt;</title>"), std::string::npos);
}

TEST(FleetHtml, IsSelfContained) {
    const std::string page = core::fleet::fleet_html(sample_report(), "fleet");
    // Node text is escaped, so any '<' left starts one of the page's own tags.
    EXPECT_FALSE(std::regex_search(page, std::regex("<[a-zA-Z][^>]*\\s(src|href|action)\\s*=")));
    for (const char* fetch : {"<link", "@import", "url(", "<iframe", "fetch(", "XMLHttpRequest"})
        EXPECT_EQ(page.find(fetch), std::string::npos) << fetch;
    EXPECT_TRUE(page.starts_with("<!DOCTYPE html>"));
    EXPECT_NE(page.find("id=\"drift-matrix\""), std::string::npos);
    EXPECT_NE(page.find("data-rows=\"4\""), std::string::npos);
    EXPECT_NE(page.find("data-columns=\"3\""), std::string::npos);
}

TEST(FleetHtml, NoDriftSaysSo) {
    FleetCollector collector;
    collector.add_environment("a1",
                              test::locked_env({conda_package("numpy", "1.26.4", "py311_0")}));
    const std::string page =
        core::fleet::fleet_html(build_report(std::move(collector), std::nullopt), "fleet");
    EXPECT_NE(page.find("id=\"no-drift\""), std::string::npos);
    EXPECT_EQ(page.find("id=\"drift-matrix\""), std::string::npos);
    EXPECT_NE(page.find("All nodes have the reference environment."), std::string::npos);
}

// Returns the data-key of each matrix row in document order.
std::vector<std::string> row_keys(const std::string& dom) {
    std::vector<std::string> keys;
    const std::regex row("<tr data-key=\"([^\"]*)\"");
    for (auto it = std::sregex_iterator(dom.begin(), dom.end(), row); it != std::sregex_iterator();
         ++it) {
        keys.push_back((*it)[1]);
    }
    return keys;
}

TEST(FleetHtml, RendersInHeadlessChromium) {
    const std::string chromium =
        util::find_on_path("chromium", std::getenv("PATH") ? std::getenv("PATH") : "");
    if (chromium.empty())
        GTEST_SKIP() << "chromium is not installed (Debian package chromium; scripts/install-deps)";
    test::TempDir dir;
    const auto file = dir / "fleet.html";
    test::write_file(file, core::fleet::fleet_html(sample_report(), "fleet check"));

    // Column 3 is gpu06's group: missing first, then added, then same; `#sort=3` asks the
    // page's script to sort by it on load, so the order shows the script ran.
    const auto result = util::run_capture(
        {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--user-data-dir=" + (dir / "profile").string(), "--virtual-time-budget=5000",
         "--dump-dom", "file://" + file.string() + "#sort=3"},
        std::chrono::seconds(90));
    ASSERT_TRUE(result) << "chromium did not finish within 90 s";
    const std::string& dom = result->out;
    ASSERT_EQ(result->exit_status, 0) << dom;
    ASSERT_NE(dom.find("id=\"drift-matrix\""), std::string::npos) << dom;

    // The script ran: the page is marked ready and the matrix sorted by column 3.
    EXPECT_NE(dom.find("data-ready=\"true\""), std::string::npos);
    EXPECT_NE(dom.find("data-sorted=\"3:ascending\""), std::string::npos);
    const auto keys = row_keys(dom);
    ASSERT_EQ(keys.size(), 4U) << dom;
    EXPECT_EQ(keys[0], "torch");
    EXPECT_EQ(keys[1], "zstd");
    EXPECT_TRUE(keys[2].starts_with("zz")) << keys[2];  // how '<' is serialised varies
    EXPECT_EQ(keys[3], "numpy");
    // Header: package, the reference (3 identical nodes) and the two drifted groups.
    EXPECT_NE(dom.find("<code>gpu[01-03]</code><small>reference, 3 identical nodes</small>"),
              std::string::npos);
    EXPECT_NE(dom.find("<code>gpu[04-05]</code><small>2 nodes</small>"), std::string::npos);
    EXPECT_NE(dom.find("<code>gpu06</code><small>1 node</small>"), std::string::npos);
    EXPECT_EQ(count(dom, "data-state=\"missing\""), 1U);
    EXPECT_EQ(count(dom, "data-state=\"added\""), 2U);
    EXPECT_EQ(count(dom, "data-state=\"changed\""), 1U);
    // Hostile text was not turned into elements: no image, the title untouched.
    EXPECT_EQ(dom.find("<img"), std::string::npos);
    EXPECT_NE(dom.find("<title>fleet check</title>"), std::string::npos);
    EXPECT_NE(dom.find("zz&lt;script&gt;alert(1)&lt;/script&gt; (pypi)"), std::string::npos);
}

}  // namespace
}  // namespace gpuenv
