#pragma once

#include <string>
#include <string_view>

#include <gpuenv/core/fleet/fleet_report.hpp>

namespace gpuenv::core::fleet {

/// Returns text with `&`, `<`, `>`, `"` and `'` replaced by character references, safe in
/// element content and in quoted attribute values.
[[nodiscard]] std::string html_escape(std::string_view text);

/// Renders a fleet report as one self-contained HTML5 page (inline CSS and script, nothing
/// fetched): summary cards, the groups, the colour-coded drift matrix (table
/// id="drift-matrix", sortable by clicking a column header, or on load from a
/// `#sort=COLUMN` or `#sort=-COLUMN` fragment) and the failed nodes with their reasons.
/// Every text from nodes is escaped; the page reads the same without JavaScript.
[[nodiscard]] std::string fleet_html(const FleetReport& report, std::string_view title);

}  // namespace gpuenv::core::fleet
