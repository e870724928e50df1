// load::render_report — the page `webpushd loadtest --report FILE.html` writes:
// one self-contained HTML5 document (inline CSS and inline SVG, no script, no
// external resource of any kind, and a Content-Security-Policy that forbids
// them) with the run's summary, its percentiles and three charts:
//
//   <svg id="chart-latency-over-time">     p50/p90/p99/max e2e latency per interval
//   <svg id="chart-latency-distribution">  e2e latency by percentile, HdrHistogram-style
//   <svg id="chart-connections">           connected user agents, sent and received per second
//
// The ids are stable: tests and anyone scraping the page may rely on them. A
// chart with nothing to draw says so ("no messages in this run") instead.
//
// The page building blocks a later report (`check-service --report`) shares —
// the escaping, the stylesheet and the document frame — are public here too.
//
// Pure: no I/O, no clock (the date is Results::start_unix_ms). Thread: any.
#pragma once

#include <string>
#include <string_view>

#include "webpush/load/results.h"

namespace webpush::load {

/// The report of one run as a complete HTML5 document (UTF-8). Every string
/// that came from outside (server URL, command line, failure reasons) is
/// escaped with html_escape.
[[nodiscard]] std::string render_report(const Results& results);

/// `text` made safe to place in HTML or inline SVG, in element content and in
/// a double- or single-quoted attribute value: & < > " ' become entities, and
/// invalid UTF-8 and control characters other than tab, newline and carriage
/// return become U+FFFD. For every string the program did not write itself.
[[nodiscard]] std::string html_escape(std::string_view text);

/// The reports' stylesheet (plain CSS, for a <style> element): page layout,
/// tables, and the chart classes (axis, grid, series colours, empty state).
[[nodiscard]] std::string_view report_css() noexcept;

/// A complete HTML5 document around `body_html`: doctype, UTF-8, viewport, a
/// Content-Security-Policy allowing nothing but inline styles, `title`
/// (escaped here) and report_css(). `body_html` is trusted markup: whatever
/// outside text it quotes must already have gone through html_escape.
[[nodiscard]] std::string html_page(std::string_view title, std::string_view body_html);

}  // namespace webpush::load
