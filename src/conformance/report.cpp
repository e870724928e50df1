#include "webpush/conformance/report.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "webpush/load/report.h"

namespace webpush::conformance {

using nlohmann::json;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string date_utc(std::int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// Observed text may hold anything the service sent: keep a line a line.
std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return out;
}

constexpr std::string_view kExtraCss = R"css(
.verdict { font-weight: 700; white-space: nowrap; }
.v-pass { color: #1a7f37; }
.v-fail { color: #cf222e; }
.v-skip { color: #6e7781; }
td.observed { overflow-wrap: anywhere; }
td.check-id { white-space: nowrap; }
.totals span { margin-right: 16px; font-weight: 600; }
.overview td { vertical-align: middle; }
.squares { display: flex; flex-wrap: wrap; gap: 3px; }
.squares a { display: block; width: 18px; height: 18px; border-radius: 3px; }
.squares a.v-pass { background: #2da44e; }
.squares a.v-fail { background: #cf222e; }
.squares a.v-skip { background: #d0d7de; }
)css";

// The rows of `group` in `report`.
std::vector<const Row*> rows_of(const Report& report, const Group& group) {
  std::vector<const Row*> rows;
  for (const auto& r : report.rows) {
    if (r.group == &group) rows.push_back(&r);
  }
  return rows;
}

// One square per check, coloured by its result and linked to its row: the
// failures stand out before anything is read.
std::string html_overview(const Report& report) {
  std::string out = "<section class=\"card\" id=\"overview\">\n<table class=\"overview\">\n";
  for (const auto& g : all_groups()) {
    const auto rows = rows_of(report, g);
    if (rows.empty()) continue;
    fmt::format_to(std::back_inserter(out),
                   "<tr><th scope=\"row\"><a href=\"#group-{0}\">{1}</a></th><td><div class=\"squares\">",
                   load::html_escape(g.id), load::html_escape(g.title));
    for (const Row* r : rows) {
      const std::string v(to_string(r->outcome.verdict));
      fmt::format_to(std::back_inserter(out), "<a class=\"v-{0}\" href=\"#check-{1}\" title=\"{2} {1}\"></a>", lower(v),
                     load::html_escape(r->check->id), v);
    }
    out += "</div></td></tr>\n";
  }
  return out + "</table>\n</section>\n";
}

std::string html_group(const Group& group, const std::vector<const Row*>& rows) {
  std::string out = fmt::format("<section class=\"card\" id=\"group-{}\">\n<h2>{}</h2>\n<table>\n",
                                load::html_escape(group.id), load::html_escape(group.title));
  out += "<tr><th>result</th><th>check</th><th>what it checks</th><th>standard</th><th>observed</th></tr>\n";
  for (const Row* r : rows) {
    const std::string v(to_string(r->outcome.verdict));
    fmt::format_to(
        std::back_inserter(out),
        "<tr id=\"check-{0}\"><td class=\"verdict v-{1}\">{2}</td><td class=\"check-id\"><code>{0}</code></td>"
        "<td>{3}</td><td>{4}</td><td class=\"observed\">{5}</td></tr>\n",
        load::html_escape(r->check->id), lower(v), v, load::html_escape(r->check->title),
        load::html_escape(r->check->reference), load::html_escape(r->outcome.observed));
  }
  return out + "</table>\n</section>\n";
}

}  // namespace

int Report::count(Verdict v) const {
  return static_cast<int>(
      std::count_if(rows.begin(), rows.end(), [v](const Row& r) { return r.outcome.verdict == v; }));
}

std::string render_group_heading(const Group& group) { return fmt::format("{} ({})", group.title, group.id); }

std::string render_text_row(const Row& row) {
  std::string out = fmt::format("  {}  {:<34} {}  [{}]\n", to_string(row.outcome.verdict), row.check->id,
                                row.check->title, row.check->reference);
  if (!row.outcome.observed.empty()) out += fmt::format("        {}\n", one_line(row.outcome.observed));
  return out;
}

std::string render_text_summary(const Report& report) {
  return fmt::format("{} checks in {:.1f} s: {} passed, {} failed, {} skipped", report.rows.size(),
                     static_cast<double>(report.duration_ms) / 1000, report.count(Verdict::pass),
                     report.count(Verdict::fail), report.count(Verdict::skip));
}

json to_json(const Report& report) {
  json checks = json::array();
  for (const auto& r : report.rows) {
    checks.push_back({{"id", r.check->id},
                      {"group", r.group->id},
                      {"title", r.check->title},
                      {"reference", r.check->reference},
                      {"result", lower(to_string(r.outcome.verdict))},
                      {"observed", r.outcome.observed},
                      {"duration_ms", r.duration_ms}});
  }
  return {{"server", report.server},
          {"version", report.version},
          {"started_unix_ms", report.started_unix_ms},
          {"duration_ms", report.duration_ms},
          {"probe_limits", report.probe_limits},
          {"passed", report.passed()},
          {"counts",
           {{"pass", report.count(Verdict::pass)},
            {"fail", report.count(Verdict::fail)},
            {"skip", report.count(Verdict::skip)}}},
          {"checks", std::move(checks)}};
}

std::string render_html(const Report& report) {
  const std::string date = date_utc(report.started_unix_ms);
  std::string body = fmt::format("<style>{}</style>\n<main>\n<header>\n<h1>webpushd check-service</h1>\n", kExtraCss);
  fmt::format_to(std::back_inserter(body),
                 "<p class=\"meta\"><span class=\"server\">{}</span> · {} · {:.1f} s · webpushd {}{}</p>\n",
                 load::html_escape(report.server), date, static_cast<double>(report.duration_ms) / 1000,
                 load::html_escape(report.version), report.probe_limits ? " · with --probe-limits" : "");
  fmt::format_to(
      std::back_inserter(body),
      "<p class=\"totals\" id=\"totals\"><span class=\"v-{}\">{}</span><span class=\"v-pass\">{} passed</span>"
      "<span class=\"v-fail\">{} failed</span><span class=\"v-skip\">{} skipped</span></p>\n</header>\n",
      report.passed() ? "pass" : "fail", report.passed() ? "Every check that ran passed" : "Some checks failed",
      report.count(Verdict::pass), report.count(Verdict::fail), report.count(Verdict::skip));
  body += html_overview(report);
  for (const auto& g : all_groups()) {
    const auto rows = rows_of(report, g);
    if (!rows.empty()) body += html_group(g, rows);
  }
  body += "<footer>Generated by <code>webpushd check-service</code>.</footer>\n</main>\n";
  return load::html_page(fmt::format("webpushd check-service — {} — {}", report.server, date), body);
}

}  // namespace webpush::conformance
