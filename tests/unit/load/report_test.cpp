// load::render_report: one self-contained document with the three charts under
// their stable ids, the run's numbers in its tables, every outside string
// escaped, a point per interval, and empty states where there is nothing to draw.
#include "webpush/load/report.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace webpush::load {
namespace report_test {

constexpr std::string_view kChartIds[] = {"chart-latency-over-time", "chart-latency-distribution", "chart-connections"};

std::size_t count_of(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

// The markup of one chart, from its <svg> to its </svg>; empty when absent.
std::string svg_of(const std::string& page, std::string_view id) {
  const std::size_t begin = page.find("<svg id=\"" + std::string(id) + "\"");
  if (begin == std::string::npos) return "";
  const std::size_t end = page.find("</svg>", begin);
  return page.substr(begin, end == std::string::npos ? std::string::npos : end + 6 - begin);
}

// The number of points of each <polyline> with `series` among its classes, in order.
std::vector<std::size_t> polyline_sizes(const std::string& svg, std::string_view series) {
  std::vector<std::size_t> sizes;
  const std::string open = "<polyline class=\"series " + std::string(series) + "\" points=\"";
  for (std::size_t at = svg.find(open); at != std::string::npos; at = svg.find(open, at + 1)) {
    const std::size_t from = at + open.size();
    const std::string points = svg.substr(from, svg.find('"', from) - from);
    sizes.push_back(points.empty() ? 0 : count_of(points, " ") + 1);
  }
  return sizes;
}

IntervalRow row_at(int second, std::int64_t received) {
  IntervalRow row;
  row.start_s = second;
  row.length_s = 1;
  row.connected = 100;
  row.sent = received;
  row.received = received;
  row.p50_us = 2'000 + 10 * second;
  row.p90_us = 4'000 + 10 * second;
  row.p99_us = 9'000 + 10 * second;
  row.max_us = 20'000 + 10 * second;
  return row;
}

Results run_of(int seconds) {
  Results r;
  r.server = "wss://push.example.net/";
  r.command = "webpushd loadtest --user-agents 100 --rate 50";
  r.start_unix_ms = 1'700'000'000'000;
  r.user_agents = 100;
  r.subscriptions_per_agent = 2;
  r.rate = 50;
  for (int s = 0; s < seconds; ++s) r.intervals.push_back(row_at(s, 50));
  r.e2e.record(1'000, 99);
  r.e2e.record(250'000, 1);
  r.e2e_from_schedule.record(1'500, 100);
  r.connect.record(30'000, 100);
  r.post.record(800, 100);
  return r;
}

TEST(Report, IsOneHtmlDocumentWithTheThreeChartsUnderTheirIds) {
  const std::string page = render_report(run_of(30));
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count_of(page, "</html>"), 1u);
  for (const std::string_view id : kChartIds) {
    SCOPED_TRACE(id);
    EXPECT_EQ(count_of(page, "<svg id=\"" + std::string(id) + "\""), 1u);
    const std::string svg = svg_of(page, id);
    EXPECT_NE(svg.find("<title id=\"" + std::string(id) + "-title\">"), std::string::npos);
    EXPECT_NE(svg.find("<polyline"), std::string::npos);
  }
}

TEST(Report, LoadsNothingFromOutsideAndRunsNoScript) {
  const std::string page = render_report(run_of(5));
  for (const std::string_view needle : {"<script", "<link", "src=", "href=", "url(", "@import", "https:"}) {
    EXPECT_EQ(page.find(needle), std::string::npos) << needle;
  }
  // The only URL is the SVG namespace, which is a name and never fetched.
  EXPECT_EQ(count_of(page, "http:"), count_of(page, "xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_NE(page.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
}

TEST(Report, TitleNamesTheServerAndTheDate) {
  const std::string page = render_report(run_of(1));
  EXPECT_NE(page.find("<title>webpushd loadtest — wss://push.example.net/ — 2023-11-14 22:13:20 UTC</title>"),
            std::string::npos);
  EXPECT_NE(page.find("<pre class=\"command\">webpushd loadtest --user-agents 100 --rate 50</pre>"), std::string::npos);
}

TEST(Report, SummaryTableShowsTheCounters) {
  Results r = run_of(3);
  r.scheduled = 12'346;
  r.posted = 12'345;
  r.accepted = 12'300;
  r.received = 12'290;
  r.lost = 7;
  r.duplicated = 0;
  r.send_seconds = 100;
  r.connected_peak = 98;
  r.registered = 196;
  r.service_rss_bytes = 64 * 1024 * 1024;
  r.rss_bytes = 100 * 1024 * 1024;
  r.cpu_seconds = 3.25;
  r.failures = {{"post: 503", 42}, {"connect: connect_refused", 2}};
  const std::string page = render_report(r);
  for (const std::string_view cell : {
           "<th scope=\"row\">Posted</th><td class=\"num\">12,345</td>",
           "<th scope=\"row\">Accepted (2xx)</th><td class=\"num\">12,300</td>",
           "<th scope=\"row\">Received</th><td class=\"num\">12,290</td>",
           "<th scope=\"row\">Lost</th><td class=\"num bad\">7</td>",
           "<th scope=\"row\">Duplicated</th><td class=\"num\">0</td>",
           "<th scope=\"row\">Scheduled rate</th><td class=\"num\">50.0 /s</td>",
           "123.0 /s",  // 12,300 accepted over 100 s
           "peak connected 98",
           "196 registered",
           "3.25 s",
           "100.0 MiB",
           "1024.0 KiB per user agent",
           "<th scope=\"row\">Service RSS</th><td class=\"num\">64.0 MiB</td>",
           "<tr><td><code>post: 503</code></td><td class=\"num bad\">42</td></tr>",
       }) {
    EXPECT_NE(page.find(cell), std::string::npos) << cell;
  }
  // Most frequent failure first.
  EXPECT_LT(page.find("post: 503"), page.find("connect: connect_refused"));
}

TEST(Report, PercentileTableShowsTheHistograms) {
  const std::string page = render_report(run_of(3));
  // 99 × 1 ms and one 250 ms: p99 is still 1 ms, p99.9 and max the outlier.
  EXPECT_NE(page.find("<tr><th scope=\"row\">e2e</th><td class=\"num\">100</td><td class=\"num\">1.00</td>"
                      "<td class=\"num\">1.00</td><td class=\"num\">1.00</td><td class=\"num\">250</td>"
                      "<td class=\"num\">250</td></tr>"),
            std::string::npos);
  EXPECT_NE(page.find("<tr><th scope=\"row\">connect</th><td class=\"num\">100</td><td class=\"num\">30.0</td>"),
            std::string::npos);
  EXPECT_NE(page.find("<tr><th scope=\"row\">POST → 2xx</th><td class=\"num\">100</td><td class=\"num\">0.800</td>"),
            std::string::npos);
}

TEST(Report, StringsFromOutsideAreEscaped) {
  Results r = run_of(3);
  r.server = "wss://evil.example/<script>alert(1)</script>";
  r.command = "webpushd loadtest --server '\"><img src=x onerror=alert(2)>'";
  r.failures = {{"post: <b>503</b> & \"more\"", 1}};
  const std::string page = render_report(r);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_EQ(page.find("<b>"), std::string::npos);
  EXPECT_NE(page.find("wss://evil.example/&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("&#39;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;&#39;"), std::string::npos);
  EXPECT_NE(page.find("post: &lt;b&gt;503&lt;/b&gt; &amp; &quot;more&quot;"), std::string::npos);
}

struct EscapeRow {
  std::string_view in;
  std::string_view out;
};

TEST(HtmlEscape, MakesAnyBytesSafeText) {
  const EscapeRow rows[] = {
      {"plain text", "plain text"},
      {"a & b < c > d", "a &amp; b &lt; c &gt; d"},
      {"\"double\" 'single'", "&quot;double&quot; &#39;single&#39;"},
      {"tab\tnewline\ncr\r", "tab\tnewline\ncr\r"},
      {"bell\x07"
       "esc\x1b"
       "del\x7f",
       "bell\xEF\xBF\xBD"
       "esc\xEF\xBF\xBD"
       "del\xEF\xBF\xBD"},
      {"c1 \xC2\x85 control", "c1 \xEF\xBF\xBD control"},
      {"latin1 \xE9 byte", "latin1 \xEF\xBF\xBD byte"},
      {"cut \xE2\x82", "cut \xEF\xBF\xBD\xEF\xBF\xBD"},
      {"utf-8 é → 日本", "utf-8 é → 日本"},
      {std::string_view("nul\0here", 8), "nul\xEF\xBF\xBDhere"},
  };
  for (const EscapeRow& row : rows) EXPECT_EQ(html_escape(row.in), row.out) << row.in;
}

TEST(Report, EmptyResultsRenderTheEmptyStates) {
  const std::string page = render_report(Results{});
  EXPECT_NE(svg_of(page, "chart-latency-over-time").find("no intervals recorded in this run"), std::string::npos);
  EXPECT_NE(svg_of(page, "chart-latency-distribution").find("no messages in this run"), std::string::npos);
  EXPECT_NE(svg_of(page, "chart-connections").find("no intervals recorded in this run"), std::string::npos);
  for (const std::string_view id : kChartIds) {
    const std::string svg = svg_of(page, id);
    EXPECT_FALSE(svg.empty()) << id;
    EXPECT_EQ(svg.find("<polyline"), std::string::npos) << id;
  }
  EXPECT_NE(page.find("No failures."), std::string::npos);
  EXPECT_NE(page.find("unknown date"), std::string::npos);
}

TEST(Report, ConnectOnlyRunSaysThereAreNoMessages) {
  Results r;
  r.user_agents = 50;
  for (int s = 0; s < 10; ++s) {
    IntervalRow row;
    row.start_s = s;
    row.length_s = 1;
    row.connected = 5 * (s + 1);
    r.intervals.push_back(row);
  }
  const std::string page = render_report(r);
  const std::string over_time = svg_of(page, "chart-latency-over-time");
  EXPECT_NE(over_time.find("no messages in this run"), std::string::npos);
  EXPECT_EQ(over_time.find("<polyline"), std::string::npos);
  EXPECT_NE(svg_of(page, "chart-latency-distribution").find("no messages in this run"), std::string::npos);
  const std::string connections = svg_of(page, "chart-connections");
  EXPECT_EQ(polyline_sizes(connections, "s-connected"), std::vector<std::size_t>{10});
  EXPECT_TRUE(polyline_sizes(connections, "s-sent").empty());
  EXPECT_NE(connections.find("no messages in this run"), std::string::npos);
  EXPECT_NE(page.find("none: connections only"), std::string::npos);
}

TEST(Report, EachSeriesHasOnePointPerInterval) {
  const std::string page = render_report(run_of(30));
  const std::string over_time = svg_of(page, "chart-latency-over-time");
  for (const std::string_view series : {"s-p50", "s-p90", "s-p99", "s-max"}) {
    EXPECT_EQ(polyline_sizes(over_time, series), std::vector<std::size_t>{30}) << series;
  }
  const std::string connections = svg_of(page, "chart-connections");
  for (const std::string_view series : {"s-connected", "s-sent", "s-received"}) {
    EXPECT_EQ(polyline_sizes(connections, series), std::vector<std::size_t>{30}) << series;
  }
  // A hover tooltip per second.
  EXPECT_EQ(count_of(over_time, "<rect class=\"hover\""), 30u);
}

TEST(Report, ASecondWithoutMessagesBreaksTheLatencyLines) {
  Results r = run_of(10);
  r.intervals[4].received = 0;
  const std::string over_time = svg_of(render_report(r), "chart-latency-over-time");
  for (const std::string_view series : {"s-p50", "s-p90", "s-p99", "s-max"}) {
    EXPECT_EQ(polyline_sizes(over_time, series), (std::vector<std::size_t>{4, 5})) << series;
  }
}

TEST(Report, LatencyAxisIsLogOnlyWhenTheRangeSpansMoreThanTwoDecades) {
  Results narrow = run_of(5);  // 2 ms to 20 ms
  EXPECT_EQ(svg_of(render_report(narrow), "chart-latency-over-time").find("log scale"), std::string::npos);
  Results wide = run_of(5);
  wide.intervals[2].max_us = 900'000;  // 2 ms to 900 ms
  const std::string svg = svg_of(render_report(wide), "chart-latency-over-time");
  EXPECT_NE(svg.find("latency (ms, log scale)"), std::string::npos);
  for (const std::string_view label : {">1<", ">10<", ">100<", ">1,000<"}) {
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
}

TEST(Report, DistributionHasHdrHistogramPercentileTicks) {
  const std::string svg = svg_of(render_report(run_of(5)), "chart-latency-distribution");
  for (const std::string_view tick : {">50%<", ">90%<", ">99%<", ">99.9%<", ">99.99%<"}) {
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  }
  // 100 messages resolve percentiles up to 99%: one line per histogram, ending there.
  EXPECT_EQ(polyline_sizes(svg, "s-e2e"), std::vector<std::size_t>{41});
  EXPECT_EQ(polyline_sizes(svg, "s-schedule"), std::vector<std::size_t>{41});
  EXPECT_NE(svg.find("<title>POST sent → decrypted: p99 1.00 ms</title>"), std::string::npos);
  EXPECT_EQ(svg.find("p99.9 "), std::string::npos);
}

}  // namespace report_test
}  // namespace webpush::load
