// The fleet report as one HTML page someone can open from a mail or a CI artifact: no
// network, no framework, every node-supplied string escaped (nodes are not trusted), the
// data in the markup (never inside the script) so that the page reads without JavaScript.
#include <gpuenv/core/fleet/fleet_html.hpp>

#include <algorithm>
#include <utility>

namespace gpuenv::core::fleet {
namespace {

constexpr std::string_view k_style = R"css(
:root { --same: #eef1f4; --changed: #fde68a; --added: #bfdbfe; --missing: #fecaca;
        --ok: #15803d; --warn: #b45309; --bad: #b91c1c; --ink: #1f2937; --muted: #6b7280; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; padding: 1.5rem; max-width: 110rem; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
.cards { display: flex; flex-wrap: wrap; gap: .75rem; margin: 0; padding: 0; list-style: none; }
.card { border: 1px solid #d1d5db; border-radius: .5rem; padding: .6rem 1rem; min-width: 9rem; }
.card .count { display: block; font-size: 2rem; font-weight: 700; line-height: 1.1; }
.card.identical .count { color: var(--ok); }
.card.drifted .count { color: var(--warn); }
.card.unreachable .count { color: var(--bad); }
.card.zero .count { color: var(--muted); }
.verdict { font-weight: 600; }
.scroll { overflow: auto; max-height: 80vh; border: 1px solid #d1d5db; border-radius: .5rem; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #e5e7eb; text-align: left;
         vertical-align: top; white-space: nowrap; }
thead th { position: sticky; top: 0; background: #f9fafb; z-index: 2; cursor: pointer;
           user-select: none; border-bottom: 2px solid #d1d5db; }
thead th small { display: block; font-weight: 400; color: var(--muted); }
thead th[aria-sort="ascending"]::after { content: " \25B2"; }
thead th[aria-sort="descending"]::after { content: " \25BC"; }
#drift-matrix tbody th { position: sticky; left: 0; background: #fff; z-index: 1; }
#drift-matrix td.same { background: var(--same); color: var(--muted); }
#drift-matrix td.changed { background: var(--changed); }
#drift-matrix td.added { background: var(--added); }
#drift-matrix td.missing { background: var(--missing); }
#drift-matrix td.changed::before { content: "\2260  "; }
#drift-matrix td.added::before { content: "+ "; }
#drift-matrix td.missing::before { content: "\2212  "; }
#drift-matrix thead th.reference { background: #e0e7ff; }
.legend span { display: inline-block; padding: .1rem .5rem; margin-right: .5rem; border-radius: .25rem; }
.legend .same { background: var(--same); } .legend .changed { background: var(--changed); }
.legend .added { background: var(--added); } .legend .missing { background: var(--missing); }
.status-drifted, .kind { color: var(--warn); font-weight: 600; }
.status-identical { color: var(--ok); font-weight: 600; }
#failures .kind { color: var(--bad); }
#failures td.reason { white-space: pre-wrap; }
code { font-size: .85rem; }
.muted { color: var(--muted); }
@media print { .scroll { max-height: none; overflow: visible; } thead th { position: static; } }
)css";

// Sorts by the clicked column's data-sort (else its text), ties by package (column 0), with
// numbers compared by value; `#sort=N` / `#sort=-N` sorts the matrix on load.
constexpr std::string_view k_script = R"js(
(function () {
  "use strict";
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  function key(cell) {
    var k = cell.getAttribute("data-sort");
    return k === null ? cell.textContent : k;
  }
  function sortTable(table, column, descending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var c = collator.compare(key(a.cells[column]), key(b.cells[column]));
      if (c !== 0) return descending ? -c : c;
      return collator.compare(key(a.cells[0]), key(b.cells[0]));
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      if (i === column) th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    });
    table.setAttribute("data-sorted", column + (descending ? ":descending" : ":ascending"));
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      function activate() {
        sortTable(table, i, th.getAttribute("aria-sort") === "ascending");
      }
      th.tabIndex = 0;
      th.title = th.title || "sort by this column";
      th.addEventListener("click", activate);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); activate(); }
      });
    });
  });
  var wanted = /(?:^#|&)sort=(-?)(\d+)/.exec(window.location.hash);
  var matrix = document.getElementById("drift-matrix");
  if (wanted && matrix && Number(wanted[2]) < matrix.tHead.rows[0].cells.length) {
    sortTable(matrix, Number(wanted[2]), wanted[1] === "-");
  }
  document.documentElement.setAttribute("data-ready", "true");
})();
)js";

// Orders cells in a group column: what needs attention first.
int state_rank(CellState state) {
    switch (state) {
        case CellState::missing:
            return 0;
        case CellState::changed:
            return 1;
        case CellState::added:
            return 2;
        case CellState::same:
            return 3;
    }
    return 3;
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string short_fingerprint(const std::string& fp) {
    return fp.substr(0, 16);
}

class Page {
  public:
    void raw(std::string_view text) { m_out += text; }
    void text(std::string_view text) { m_out += html_escape(text); }
    // Writes ` name="value"` with the value escaped.
    void attr(std::string_view name, std::string_view value) {
        m_out += ' ';
        m_out += name;
        m_out += "=\"";
        m_out += html_escape(value);
        m_out += '"';
    }
    [[nodiscard]] std::string take() && { return std::move(m_out); }

  private:
    std::string m_out;
};

void write_summary(Page& page, const FleetReport& report) {
    const auto& s = report.summary;
    page.raw("<ul class=\"cards\" id=\"summary\">\n");
    const std::pair<const char*, std::size_t> cards[] = {{"nodes", s.nodes},
                                                         {"identical", s.identical},
                                                         {"drifted", s.drifted},
                                                         {"unreachable", s.unreachable}};
    for (const auto& [name, count] : cards) {
        page.raw("<li class=\"card ");
        page.raw(name);
        page.raw(count == 0 && std::string_view(name) != "nodes" ? " zero" : "");
        page.raw("\"");
        page.attr("data-kind", name);
        page.attr("data-count", std::to_string(count));
        page.raw("><span class=\"count\">" + std::to_string(count) + "</span>");
        page.raw(std::string_view(name) == "identical" ? "identical to the reference" : name);
        page.raw("</li>\n");
    }
    page.raw("</ul>\n<p class=\"verdict\" id=\"verdict\">");
    if (s.nodes == 0)
        page.raw("No node was checked.");
    else if (s.drifted == 0 && s.unreachable == 0)
        page.raw("All nodes have the reference environment.");
    else if (s.drifted == 0)
        page.raw("Every node that answered has the reference environment; some did not answer.");
    else
        page.text(plural(s.drifted, "node differs", "nodes differ") + " from the reference" +
                  (s.unreachable ? "; some did not answer." : "."));
    page.raw("</p>\n<p id=\"reference\">Reference: ");
    const auto& r = report.reference;
    switch (r.kind) {
        case ReferenceKind::lock:
            page.raw("the lock <code>");
            page.text(r.label);
            page.raw("</code>");
            break;
        case ReferenceKind::majority:
            page.raw("the environment most nodes have, on <code>");
            page.text(r.label);
            page.raw("</code>");
            if (r.tied_groups > 1) {
                page.text(" (a tie between " + std::to_string(r.tied_groups) +
                          " environments of equal size: the one holding the first host name "
                          "was taken)");
            }
            break;
        case ReferenceKind::none:
            page.raw("none (no lock given and no node answered)");
            break;
    }
    if (!r.fingerprint.empty()) {
        page.raw(", fingerprint <code");
        page.attr("title", r.fingerprint);
        page.raw(">");
        page.text(short_fingerprint(r.fingerprint));
        page.raw("</code>");
    }
    page.raw(".</p>\n");
}

void write_groups(Page& page, const FleetReport& report) {
    if (report.groups.empty())
        return;
    page.raw(
        "<h2>Environments</h2>\n<div class=\"scroll\"><table class=\"sortable\" id=\"groups\">\n"
        "<thead><tr><th>Nodes</th><th>Count</th><th>Status</th><th>Missing</th>"
        "<th>Added</th><th>Changed</th><th>Fingerprint</th></tr></thead>\n<tbody>\n");
    for (const auto& g : report.groups) {
        const bool reference = report.reference.kind == ReferenceKind::majority &&
                               g.fingerprint == report.reference.fingerprint;
        const char* status = reference ? "reference" : g.identical ? "identical" : "drifted";
        page.raw("<tr");
        page.attr("data-status", status);
        page.raw("><td");
        page.attr("title", [&] {
            std::string all;
            for (const auto& h : g.hosts)
                all += (all.empty() ? "" : " ") + h;
            return all;
        }());
        page.raw("><code>");
        page.text(g.label);
        page.raw("</code></td><td>" + std::to_string(g.hosts.size()) + "</td>");
        page.raw(std::string("<td class=\"status-") + (g.identical ? "identical" : "drifted") +
                 "\">" + status + "</td>");
        for (const std::size_t n :
             {g.diff.removed.size(), g.diff.added.size(), g.diff.changed.size()})
            page.raw("<td>" + std::to_string(n) + "</td>");
        page.raw("<td><code");
        page.attr("title", g.fingerprint);
        page.raw(">");
        page.text(short_fingerprint(g.fingerprint));
        page.raw("</code></td></tr>\n");
    }
    page.raw("</tbody></table></div>\n");
}

void write_matrix(Page& page, const FleetReport& report) {
    const auto& m = report.matrix;
    page.raw("<h2>Drift matrix</h2>\n");
    if (m.rows.empty()) {
        page.raw(
            "<p id=\"no-drift\">No package differs from the reference on any node that "
            "answered.</p>\n");
        return;
    }
    page.raw(
        "<p class=\"legend\">Each column is a set of nodes sharing one environment; each row "
        "a package that differs somewhere. <span class=\"same\">as the reference</span>"
        "<span class=\"changed\">&#x2260; other version, build or source</span>"
        "<span class=\"added\">+ only on these nodes</span>"
        "<span class=\"missing\">&#x2212; missing on these nodes</span> Click a column "
        "header to sort.</p>\n");
    page.raw("<div class=\"scroll\"><table class=\"sortable\" id=\"drift-matrix\"");
    page.attr("data-rows", std::to_string(m.rows.size()));
    page.attr("data-columns", std::to_string(m.columns.size()));
    page.raw(">\n<thead><tr><th scope=\"col\" data-column=\"package\">Package</th>");
    for (std::size_t c = 0; c < m.columns.size(); ++c) {
        const auto& col = m.columns[c];
        page.raw("<th scope=\"col\"");
        if (col.reference)
            page.raw(" class=\"reference\"");
        page.attr("data-column", std::to_string(c));
        page.attr("data-nodes", std::to_string(col.nodes));
        std::string hosts;
        for (const std::size_t g : col.groups)
            hosts += (hosts.empty() ? "" : ",") + report.groups[g].label;
        page.attr("data-hosts", hosts);
        page.raw("><code>");
        page.text(col.label.empty() ? "(no label)" : col.label);
        page.raw("</code><small>");
        page.text(col.reference
                      ? "reference, " + plural(col.nodes, "identical node", "identical nodes")
                      : plural(col.nodes, "node", "nodes"));
        page.raw("</small></th>");
    }
    page.raw("</tr></thead>\n<tbody>\n");
    for (const auto& row : m.rows) {
        page.raw("<tr");
        page.attr("data-key", row.key);
        page.attr("data-manager", lock::to_string(row.manager));
        page.raw("><th scope=\"row\"");
        page.attr("data-sort", row.package);
        page.raw(">");
        page.text(row.package);
        page.raw("</th>");
        for (std::size_t c = 0; c < row.cells.size(); ++c) {
            const auto& cell = row.cells[c];
            page.raw("<td class=\"");
            page.raw(to_string(cell.state));
            page.raw("\"");
            page.attr("data-state", to_string(cell.state));
            page.attr("data-sort", std::to_string(state_rank(cell.state)));
            if (!cell.changes.empty()) {
                std::string what = "differs in:";
                for (const auto k : cell.changes)
                    what += std::string(" ") + verify::to_string(k);
                page.attr("title", what);
            }
            page.raw(">");
            if (cell.text.empty())
                page.raw(cell.state == CellState::missing ? "missing" : "&#x2014;");
            else
                page.text(cell.text);
            page.raw("</td>");
        }
        page.raw("</tr>\n");
    }
    page.raw("</tbody></table></div>\n");
}

void write_failures(Page& page, const FleetReport& report) {
    if (report.failures.empty())
        return;
    page.raw(
        "<h2>Nodes that did not answer</h2>\n<div class=\"scroll\"><table "
        "class=\"sortable\" id=\"failures\">\n<thead><tr><th>Node</th><th>Problem</th>"
        "<th>Reason</th></tr></thead>\n<tbody>\n");
    for (const auto& f : report.failures) {
        page.raw("<tr");
        page.attr("data-kind", to_string(f.kind));
        page.raw("><td><code>");
        page.text(f.host);
        page.raw("</code></td><td class=\"kind\">");
        page.text(to_string(f.kind));
        page.raw("</td><td class=\"reason\">");
        page.text(f.reason);
        page.raw("</td></tr>\n");
    }
    page.raw("</tbody></table></div>\n");
}

void write_notes(Page& page, const FleetReport& report) {
    const auto with_notes = std::find_if(report.groups.begin(), report.groups.end(),
                                         [](const EnvGroup& g) { return !g.diff.notes.empty(); });
    if (with_notes == report.groups.end())
        return;
    page.raw("<h2>Not compared</h2>\n<ul id=\"notes\">\n");
    for (const auto& note : with_notes->diff.notes) {
        page.raw("<li>");
        page.text(note);
        page.raw("</li>\n");
    }
    page.raw("</ul>\n");
}

}  // namespace

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string fleet_html(const FleetReport& report, std::string_view title) {
    Page page;
    page.raw(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"generator\" content=\"gpuenv fleet check\">\n<title>");
    page.text(title);
    page.raw("</title>\n<style>");
    page.raw(k_style);
    page.raw("</style>\n</head>\n<body");
    page.attr("data-exit-code", std::to_string(exit_code(report)));
    page.raw(">\n<h1>");
    page.text(title);
    page.raw("</h1>\n");
    write_summary(page, report);
    write_matrix(page, report);
    write_groups(page, report);
    write_failures(page, report);
    write_notes(page, report);
    page.raw("<script>");
    page.raw(k_script);
    page.raw("</script>\n</body>\n</html>\n");
    return std::move(page).take();
}

}  // namespace gpuenv::core::fleet
