#include "webpush/load/report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <iterator>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "webpush/core/utf8.h"

namespace webpush::load {

namespace {

// ---- numbers as people read them ------------------------------------------------

std::string group_thousands(std::int64_t n) {
  const bool negative = n < 0;
  // Through unsigned so that INT64_MIN has a magnitude too.
  const std::uint64_t magnitude = negative ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
  const std::string digits = fmt::format("{}", magnitude);
  std::string out = negative ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Three significant digits: the histograms keep three, more would be noise.
std::string format_ms(double ms) {
  if (ms >= 1000) return group_thousands(std::llround(ms));
  if (ms >= 100) return fmt::format("{:.0f}", ms);
  if (ms >= 10) return fmt::format("{:.1f}", ms);
  if (ms >= 1) return fmt::format("{:.2f}", ms);
  return fmt::format("{:.3f}", ms);
}

double us_to_ms(std::int64_t us) { return static_cast<double>(us) / 1000.0; }

std::string format_rate(double per_second) {
  if (per_second >= 1000) return group_thousands(std::llround(per_second)) + " /s";
  return fmt::format("{:.1f} /s", per_second);
}

std::string format_mib(std::int64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / 1048576.0); }

std::string format_axis_number(double v) {
  if (std::fabs(v) >= 1000) return group_thousands(std::llround(v));
  return fmt::format("{:g}", v);
}

std::string format_date_utc(std::int64_t unix_ms) {
  if (unix_ms <= 0) return "unknown date";
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return "unknown date";
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// ---- chart geometry ---------------------------------------------------------------

constexpr double kChartWidth = 960;
constexpr double kChartHeight = 310;
// Beyond this many intervals one hover band covers several, so that an hour-long
// run does not put thousands of tooltips into the page.
constexpr std::size_t kMaxHoverBands = 600;

struct Point {
  double x = 0;
  double y = 0;
};

// The plot area inside the chart's margins, in SVG pixels: the margins hold the
// legend (top), the tick labels and the axis titles.
struct Frame {
  double left = 72;
  double top = 40;
  double right = kChartWidth - 28;
  double bottom = kChartHeight - 50;
};

Frame plot_frame(bool right_axis) {
  Frame f;
  if (right_axis) f.right = kChartWidth - 76;
  return f;
}

struct Tick {
  double value = 0;
  std::string label;  ///< empty: a minor gridline without a label
};

// One axis's data range and where its ticks go; linear from lo, or log10.
struct Axis {
  double lo = 0;
  double hi = 1;
  bool log = false;
  std::vector<Tick> ticks;

  // 0 at lo, 1 at hi; values outside are clamped, so a stray one stays in the frame.
  [[nodiscard]] double fraction(double v) const {
    double f = 0;
    if (log) {
      f = (std::log10(std::max(v, lo)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    } else {
      f = (v - lo) / (hi - lo);
    }
    return std::clamp(f, 0.0, 1.0);
  }
  [[nodiscard]] double x(const Frame& f, double v) const { return f.left + fraction(v) * (f.right - f.left); }
  [[nodiscard]] double y(const Frame& f, double v) const { return f.bottom - fraction(v) * (f.bottom - f.top); }
};

enum class Headroom { none, some };

// 0 to a round number at or above `max_value`, about five steps of 1, 2 or 5 ×
// 10^k; with headroom, a line at its maximum does not run along the top of the frame.
Axis linear_axis(double max_value, Headroom headroom = Headroom::some) {
  const double top = max_value > 0 ? max_value : 1;
  const double raw = top / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * magnitude;
  Axis axis;
  axis.hi = std::ceil(top / step - 1e-9) * step;
  if (headroom == Headroom::some && axis.hi < top * 1.04) axis.hi += step;
  for (int i = 0; i * step <= axis.hi + step / 2; ++i) axis.ticks.push_back({i * step, format_axis_number(i * step)});
  return axis;
}

// Whole decades around [min_value, max_value], labelled; 2 and 5 as faint lines.
Axis log_axis(double min_value, double max_value) {
  Axis axis;
  axis.log = true;
  const int first = static_cast<int>(std::floor(std::log10(min_value)));
  int last = static_cast<int>(std::ceil(std::log10(max_value)));
  if (last == first) ++last;
  axis.lo = std::pow(10.0, first);
  axis.hi = std::pow(10.0, last);
  for (int e = first; e <= last; ++e) {
    const double decade = std::pow(10.0, e);
    axis.ticks.push_back({decade, format_axis_number(decade)});
    if (e < last) {
      axis.ticks.push_back({2 * decade, ""});
      axis.ticks.push_back({5 * decade, ""});
    }
  }
  return axis;
}

// Latency in ms: log when the values span more than two decades (a linear axis
// would flatten everything below the worst outlier into the floor), else linear.
Axis latency_axis(double min_ms, double max_ms) {
  if (min_ms > 0 && max_ms / min_ms > 100) return log_axis(min_ms, max_ms);
  return linear_axis(max_ms);
}

// HdrHistogram's percentile axis: x = log10(1 / (1 − p)), so each further "9"
// of the percentile gets the same width as the one before. It reaches `decades`.
Axis percentile_axis(double decades) {
  Axis axis;
  axis.log = true;
  axis.lo = 1;
  axis.hi = std::pow(10.0, decades);
  const Tick ticks[] = {{1, "0%"},      {2, "50%"},      {10, "90%"},      {100, "99%"},
                        {1e3, "99.9%"}, {1e4, "99.99%"}, {1e5, "99.999%"}, {1e6, "99.9999%"}};
  for (const Tick& t : ticks) {
    if (t.value <= axis.hi * 1.0001) axis.ticks.push_back(t);
  }
  return axis;
}

// ---- SVG pieces ---------------------------------------------------------------------

void append_svg_open(std::string& out, std::string_view id, std::string_view title) {
  fmt::format_to(std::back_inserter(out),
                 R"(<svg id="{0}" class="chart" viewBox="0 0 {1} {2}" width="{1}" height="{2}" role="img" )"
                 R"(aria-labelledby="{0}-title" xmlns="http://www.w3.org/2000/svg">)"
                 "\n<title id=\"{0}-title\">{3}</title>\n",
                 id, kChartWidth, kChartHeight, html_escape(title));
}

void append_x_axis(std::string& out, const Frame& f, const Axis& axis, std::string_view title) {
  for (const Tick& t : axis.ticks) {
    const double x = axis.x(f, t.value);
    fmt::format_to(std::back_inserter(out),
                   R"(<line class="gridline" x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}"/>)", x, f.top,
                   f.bottom);
    if (t.label.empty()) continue;
    fmt::format_to(std::back_inserter(out),
                   R"(<text class="tick" x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)", x, f.bottom + 18,
                   t.label);
  }
  fmt::format_to(std::back_inserter(out),
                 R"(<line class="axis-line" x1="{0:.1f}" y1="{1:.1f}" x2="{2:.1f}" y2="{1:.1f}"/>)"
                 R"(<text class="axis-title" x="{3:.1f}" y="{4:.1f}" text-anchor="middle">{5}</text>)"
                 "\n",
                 f.left, f.bottom, f.right, (f.left + f.right) / 2, kChartHeight - 10, title);
}

enum class Side { left, right };

// The left axis draws the horizontal gridlines; a right one only its labels,
// so that two scales do not cross-hatch the plot.
void append_y_axis(std::string& out, const Frame& f, const Axis& axis, std::string_view title, Side side) {
  const bool left = side == Side::left;
  for (const Tick& t : axis.ticks) {
    const double y = axis.y(f, t.value);
    if (left) {
      fmt::format_to(std::back_inserter(out),
                     R"(<line class="gridline{0}" x1="{1:.1f}" y1="{2:.1f}" x2="{3:.1f}" y2="{2:.1f}"/>)",
                     t.label.empty() ? " minor" : "", f.left, y, f.right);
    }
    if (t.label.empty()) continue;
    fmt::format_to(std::back_inserter(out), R"(<text class="tick" x="{:.1f}" y="{:.1f}" text-anchor="{}">{}</text>)",
                   left ? f.left - 8 : f.right + 8, y + 4, left ? "end" : "start", t.label);
  }
  const double x = left ? f.left : f.right;
  const double title_x = left ? 16 : kChartWidth - 12;
  const double mid = (f.top + f.bottom) / 2;
  fmt::format_to(std::back_inserter(out),
                 R"(<line class="axis-line" x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}"/>)"
                 R"(<text class="axis-title" x="{3:.1f}" y="{4:.1f}" text-anchor="middle" )"
                 R"svg(transform="rotate(-90 {3:.1f} {4:.1f})">{5}</text>)svg"
                 "\n",
                 x, f.top, f.bottom, title_x, mid, title);
}

void append_points(std::string& out, const std::vector<Point>& points) {
  for (std::size_t i = 0; i < points.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "{}{:.1f},{:.1f}", i == 0 ? "" : " ", points[i].x, points[i].y);
  }
}

// A lone point makes a polyline of length zero, which draws nothing: it gets a dot.
void append_polyline(std::string& out, const std::vector<Point>& points, std::string_view series) {
  if (points.empty()) return;
  fmt::format_to(std::back_inserter(out), R"(<polyline class="series {}" points=")", series);
  append_points(out, points);
  out += "\"/>\n";
  if (points.size() == 1) {
    fmt::format_to(std::back_inserter(out), R"(<circle class="dot {}" cx="{:.1f}" cy="{:.1f}" r="3"/>)", series,
                   points[0].x, points[0].y);
  }
}

struct LegendItem {
  std::string label;
  std::string series;  ///< CSS class of the series; empty for a note without a swatch
};

// One row above the plot; the advance per item estimates the label's width
// (12 px text is about 7 px a character), which is close enough for short labels.
void append_legend(std::string& out, const Frame& f, const std::vector<LegendItem>& items) {
  double x = f.left;
  const double y = f.top - 18;
  for (const LegendItem& item : items) {
    if (!item.series.empty()) {
      fmt::format_to(std::back_inserter(out),
                     R"(<line class="series {0}" x1="{1:.1f}" y1="{2:.1f}" x2="{3:.1f}" y2="{2:.1f}"/>)", item.series,
                     x, y, x + 20);
      x += 26;
    }
    fmt::format_to(std::back_inserter(out), R"(<text class="legend" x="{:.1f}" y="{:.1f}">{}</text>)", x, y + 4,
                   html_escape(item.label));
    x += 7.0 * static_cast<double>(item.label.size()) + 24;
  }
  out += "\n";
}

void append_empty_state(std::string& out, const Frame& f, std::string_view message) {
  fmt::format_to(std::back_inserter(out),
                 R"(<rect class="empty-frame" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" rx="6"/>)"
                 R"(<text class="empty" x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)"
                 "\n",
                 f.left, f.top, f.right - f.left, f.bottom - f.top, (f.left + f.right) / 2, (f.top + f.bottom) / 2 + 6,
                 html_escape(message));
}

std::string empty_chart(std::string_view id, std::string_view title, std::string_view message) {
  std::string out;
  append_svg_open(out, id, title);
  append_empty_state(out, plot_frame(false), message);
  out += "</svg>\n";
  return out;
}

constexpr std::string_view kNoMessages = "no messages in this run";
constexpr std::string_view kNoIntervals = "no intervals recorded in this run";

// ---- the time charts' shared parts ---------------------------------------------------

double interval_end(const IntervalRow& row) { return row.start_s + row.length_s; }

double run_end(const Results& r) {
  double end = 0;
  for (const IntervalRow& row : r.intervals) end = std::max(end, interval_end(row));
  return end;
}

// Invisible bands across the plot whose <title> the browser shows on hover: the
// numbers behind the lines without any script. `describe` renders rows [i, j).
template <typename Describe>
void append_hover_bands(std::string& out, const Frame& f, const Axis& x_axis, const std::vector<IntervalRow>& rows,
                        Describe describe) {
  const std::size_t stride = (rows.size() + kMaxHoverBands - 1) / kMaxHoverBands;
  out += "<g class=\"hover-bands\">";
  for (std::size_t i = 0; i < rows.size(); i += stride) {
    const std::size_t j = std::min(rows.size(), i + stride);
    const double x0 = x_axis.x(f, rows[i].start_s);
    const double x1 = x_axis.x(f, interval_end(rows[j - 1]));
    fmt::format_to(
        std::back_inserter(out),
        R"(<rect class="hover" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"><title>{}</title></rect>)", x0,
        f.top, std::max(x1 - x0, 1.0), f.bottom - f.top, html_escape(describe(i, j)));
  }
  out += "</g>\n";
}

std::string seconds_label(const std::vector<IntervalRow>& rows, std::size_t i, std::size_t j) {
  if (j - i == 1) return fmt::format("{:g}–{:g} s", rows[i].start_s, interval_end(rows[i]));
  return fmt::format("{:g}–{:g} s ({} intervals)", rows[i].start_s, interval_end(rows[j - 1]), j - i);
}

// ---- chart-latency-over-time -----------------------------------------------------------

struct LatencySeries {
  std::string_view label;
  std::string_view css;
  std::int64_t IntervalRow::*field;
};

constexpr LatencySeries kLatencySeries[] = {
    {"p50", "s-p50", &IntervalRow::p50_us},
    {"p90", "s-p90", &IntervalRow::p90_us},
    {"p99", "s-p99", &IntervalRow::p99_us},
    {"max", "s-max", &IntervalRow::max_us},
};

bool has_messages(const IntervalRow& row) { return row.received > 0; }

// One polyline per run of consecutive intervals that received messages: a
// second without any has no latency, and joining across it would invent one.
void append_latency_series(std::string& out, const Frame& f, const Axis& x_axis, const Axis& y_axis,
                           const std::vector<IntervalRow>& rows, const LatencySeries& series) {
  std::vector<Point> run;
  for (const IntervalRow& row : rows) {
    if (!has_messages(row)) {
      append_polyline(out, run, series.css);
      run.clear();
      continue;
    }
    run.push_back({x_axis.x(f, interval_end(row)), y_axis.y(f, us_to_ms(row.*series.field))});
  }
  append_polyline(out, run, series.css);
}

std::string describe_latency_rows(const std::vector<IntervalRow>& rows, std::size_t i, std::size_t j) {
  // Over several intervals the worst one speaks for the band.
  std::size_t worst = i;
  for (std::size_t k = i; k < j; ++k) worst = rows[k].max_us > rows[worst].max_us ? k : worst;
  const IntervalRow& row = rows[worst];
  if (!has_messages(row)) return seconds_label(rows, i, j) + ": no messages received";
  return fmt::format("{}: {} received · p50 {} ms · p90 {} ms · p99 {} ms · max {} ms", seconds_label(rows, i, j),
                     group_thousands(row.received), format_ms(us_to_ms(row.p50_us)), format_ms(us_to_ms(row.p90_us)),
                     format_ms(us_to_ms(row.p99_us)), format_ms(us_to_ms(row.max_us)));
}

std::string latency_over_time_chart(const Results& r) {
  constexpr std::string_view kId = "chart-latency-over-time";
  constexpr std::string_view kTitle = "End-to-end latency per second: p50, p90, p99 and max";
  if (r.intervals.empty()) return empty_chart(kId, kTitle, kNoIntervals);
  double lowest = 0;
  double highest = 0;
  for (const IntervalRow& row : r.intervals) {
    if (!has_messages(row)) continue;
    const double p50 = us_to_ms(std::max<std::int64_t>(row.p50_us, 1));
    lowest = lowest == 0 ? p50 : std::min(lowest, p50);
    highest = std::max(highest, us_to_ms(row.max_us));
  }
  if (highest == 0) return empty_chart(kId, kTitle, kNoMessages);

  const Frame f = plot_frame(false);
  const Axis x_axis = linear_axis(run_end(r), Headroom::none);
  const Axis y_axis = latency_axis(lowest, highest);
  std::string out;
  append_svg_open(out, kId, kTitle);
  append_x_axis(out, f, x_axis, "seconds since start");
  append_y_axis(out, f, y_axis, y_axis.log ? "latency (ms, log scale)" : "latency (ms)", Side::left);
  // Drawn worst first, so the median stays on top where the lines meet.
  for (auto it = std::rbegin(kLatencySeries); it != std::rend(kLatencySeries); ++it) {
    out += fmt::format("<g class=\"series-group\" data-series=\"{}\">\n", it->label);
    append_latency_series(out, f, x_axis, y_axis, r.intervals, *it);
    out += "</g>\n";
  }
  std::vector<LegendItem> legend;
  for (const LatencySeries& s : kLatencySeries) legend.push_back({std::string(s.label), std::string(s.css)});
  append_legend(out, f, legend);
  append_hover_bands(out, f, x_axis, r.intervals,
                     [&](std::size_t i, std::size_t j) { return describe_latency_rows(r.intervals, i, j); });
  out += "</svg>\n";
  return out;
}

// ---- chart-latency-distribution -----------------------------------------------------------

constexpr int kPointsPerDecade = 20;

struct DistributionSeries {
  std::string_view label;
  std::string_view css;
  const Histogram* histogram;
};

// Decades of the percentile axis: as far as the run resolves percentiles (1/(1−p)
// up to the message count), so the curve ends at the right edge; never short of
// 99.99%, never past 99.9999%.
double distribution_decades(std::int64_t total) {
  return std::clamp(std::log10(static_cast<double>(std::max<std::int64_t>(total, 1))), 4.0, 6.0);
}

// Sampled at even steps of log10(1/(1−p)) up to where the run's resolution
// ends (beyond 1 − 1/total every percentile is the maximum).
std::vector<Point> distribution_points(const Frame& f, const Axis& x_axis, const Axis& y_axis, const Histogram& h) {
  const double total = static_cast<double>(h.total());
  const double end = std::clamp(std::log10(total), std::log10(2.0), std::log10(x_axis.hi));
  std::vector<Point> points;
  for (int k = 0;; ++k) {
    const double x = std::min(static_cast<double>(k) / kPointsPerDecade, end);
    const double percentile = 100.0 * (1.0 - std::pow(10.0, -x));
    const double ms = us_to_ms(x >= end ? h.max() : h.value_at_percentile(percentile));
    points.push_back({x_axis.x(f, std::pow(10.0, x)), y_axis.y(f, ms)});
    if (x >= end) break;
  }
  return points;
}

// Dots at the labelled percentiles, each with its value as a tooltip.
void append_percentile_markers(std::string& out, const Frame& f, const Axis& x_axis, const Axis& y_axis,
                               const DistributionSeries& s) {
  constexpr std::pair<double, std::string_view> kMarks[] = {
      {50, "p50"}, {90, "p90"}, {99, "p99"}, {99.9, "p99.9"}, {99.99, "p99.99"}};
  const double resolved = std::log10(static_cast<double>(s.histogram->total()));
  for (const auto& [percentile, name] : kMarks) {
    const double x = std::log10(100.0 / (100.0 - percentile));
    if (x > resolved + 1e-9) break;
    const double ms = us_to_ms(s.histogram->value_at_percentile(percentile));
    fmt::format_to(std::back_inserter(out),
                   R"(<circle class="mark {}" cx="{:.1f}" cy="{:.1f}" r="3.5"><title>{}: {} {} ms</title></circle>)",
                   s.css, x_axis.x(f, std::pow(10.0, x)), y_axis.y(f, ms), html_escape(s.label), name, format_ms(ms));
  }
  out += "\n";
}

std::string latency_distribution_chart(const Results& r) {
  constexpr std::string_view kId = "chart-latency-distribution";
  constexpr std::string_view kTitle = "End-to-end latency by percentile";
  if (r.e2e.total() == 0) return empty_chart(kId, kTitle, kNoMessages);
  std::vector<DistributionSeries> series = {{"POST sent → decrypted", "s-e2e", &r.e2e}};
  if (r.e2e_from_schedule.total() > 0) {
    series.push_back({"scheduled → decrypted", "s-schedule", &r.e2e_from_schedule});
  }

  double lowest = 0;
  double highest = 0;
  std::int64_t most = 0;
  for (const DistributionSeries& s : series) {
    const double min_ms = us_to_ms(std::max<std::int64_t>(s.histogram->min(), 1));
    lowest = lowest == 0 ? min_ms : std::min(lowest, min_ms);
    highest = std::max(highest, us_to_ms(s.histogram->max()));
    most = std::max(most, s.histogram->total());
  }
  const Frame f = plot_frame(false);
  const Axis x_axis = percentile_axis(distribution_decades(most));
  const Axis y_axis = latency_axis(lowest, highest);
  std::string out;
  append_svg_open(out, kId, kTitle);
  append_x_axis(out, f, x_axis, "percentile (log scale of 1/(1 − p))");
  append_y_axis(out, f, y_axis, y_axis.log ? "latency (ms, log scale)" : "latency (ms)", Side::left);
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    append_polyline(out, distribution_points(f, x_axis, y_axis, *it->histogram), it->css);
    append_percentile_markers(out, f, x_axis, y_axis, *it);
  }
  std::vector<LegendItem> legend;
  for (const DistributionSeries& s : series) legend.push_back({std::string(s.label), std::string(s.css)});
  append_legend(out, f, legend);
  out += "</svg>\n";
  return out;
}

// ---- chart-connections ------------------------------------------------------------------

double per_second(std::int64_t count, const IntervalRow& row) {
  return row.length_s > 0 ? static_cast<double>(count) / row.length_s : 0;
}

// The connected count as a line over a light area, so the ramp-up reads at a glance.
void append_connected(std::string& out, const Frame& f, const Axis& x_axis, const Axis& y_axis,
                      const std::vector<IntervalRow>& rows) {
  std::vector<Point> points;
  for (const IntervalRow& row : rows) {
    points.push_back({x_axis.x(f, interval_end(row)), y_axis.y(f, static_cast<double>(row.connected))});
  }
  out += "<polygon class=\"area s-connected\" points=\"";
  fmt::format_to(std::back_inserter(out), "{:.1f},{:.1f} ", points.front().x, f.bottom);
  append_points(out, points);
  fmt::format_to(std::back_inserter(out), " {:.1f},{:.1f}\"/>\n", points.back().x, f.bottom);
  append_polyline(out, points, "s-connected");
}

void append_rate_series(std::string& out, const Frame& f, const Axis& x_axis, const Axis& y_axis,
                        const std::vector<IntervalRow>& rows, std::int64_t IntervalRow::*field, std::string_view css) {
  std::vector<Point> points;
  for (const IntervalRow& row : rows) {
    points.push_back({x_axis.x(f, interval_end(row)), y_axis.y(f, per_second(row.*field, row))});
  }
  append_polyline(out, points, css);
}

std::string describe_connection_rows(const std::vector<IntervalRow>& rows, std::size_t i, std::size_t j) {
  const IntervalRow& last = rows[j - 1];
  std::int64_t sent = 0;
  std::int64_t received = 0;
  for (std::size_t k = i; k < j; ++k) {
    sent += rows[k].sent;
    received += rows[k].received;
  }
  return fmt::format("{}: {} connected · {} sent · {} received", seconds_label(rows, i, j),
                     group_thousands(last.connected), group_thousands(sent), group_thousands(received));
}

std::string connections_chart(const Results& r) {
  constexpr std::string_view kId = "chart-connections";
  constexpr std::string_view kTitle = "Connected user agents, and messages sent and received per second";
  if (r.intervals.empty()) return empty_chart(kId, kTitle, kNoIntervals);
  double most_connected = static_cast<double>(r.user_agents);
  double most_per_second = 0;
  for (const IntervalRow& row : r.intervals) {
    most_connected = std::max(most_connected, static_cast<double>(row.connected));
    most_per_second = std::max({most_per_second, per_second(row.sent, row), per_second(row.received, row)});
  }
  const bool messages = most_per_second > 0;
  const Frame f = plot_frame(messages);
  const Axis x_axis = linear_axis(run_end(r), Headroom::none);
  const Axis left = linear_axis(most_connected);
  std::string out;
  append_svg_open(out, kId, kTitle);
  append_x_axis(out, f, x_axis, "seconds since start");
  append_y_axis(out, f, left, "user agents connected", Side::left);
  append_connected(out, f, x_axis, left, r.intervals);
  std::vector<LegendItem> legend = {{"connected", "s-connected"}};
  if (messages) {
    const Axis right = linear_axis(most_per_second);
    append_y_axis(out, f, right, "messages per second", Side::right);
    // Received below, sent dashed on top: where they agree, both still show.
    append_rate_series(out, f, x_axis, right, r.intervals, &IntervalRow::received, "s-received");
    append_rate_series(out, f, x_axis, right, r.intervals, &IntervalRow::sent, "s-sent");
    legend.push_back({"sent (2xx) /s", "s-sent"});
    legend.push_back({"received /s", "s-received"});
  } else {
    legend.push_back({std::string(kNoMessages), ""});
  }
  append_legend(out, f, legend);
  append_hover_bands(out, f, x_axis, r.intervals,
                     [&](std::size_t i, std::size_t j) { return describe_connection_rows(r.intervals, i, j); });
  out += "</svg>\n";
  return out;
}

// ---- tables ------------------------------------------------------------------------

// `value_html` is markup: callers escape what came from outside.
void append_row(std::string& out, std::string_view label, std::string_view value_html, std::string_view css = "") {
  fmt::format_to(std::back_inserter(out), "<tr><th scope=\"row\">{}</th><td class=\"num{}{}\">{}</td></tr>\n", label,
                 css.empty() ? "" : " ", css, value_html);
}

// A count that should be zero: red when it is not.
void append_problem_row(std::string& out, std::string_view label, std::int64_t count) {
  append_row(out, label, group_thousands(count), count > 0 ? "bad" : "");
}

void append_rates(std::string& out, const Results& r) {
  if (r.rate <= 0) {
    append_row(out, "Rate", "none: connections only", "muted");
    return;
  }
  append_row(out, "Scheduled rate", format_rate(r.rate));
  append_row(
      out, "Achieved rate",
      fmt::format("{} <span class=\"muted\">over {:.1f} s</span>", format_rate(r.achieved_rate()), r.send_seconds));
}

void append_cost(std::string& out, const Results& r) {
  append_row(out, "Loadtest CPU", fmt::format("{:.2f} s", r.cpu_seconds));
  std::string rss = format_mib(r.rss_bytes);
  if (r.user_agents > 0) {
    const double per_agent_kib = static_cast<double>(r.rss_bytes) / 1024.0 / r.user_agents;
    rss += fmt::format(" <span class=\"muted\">· {:.1f} KiB per user agent</span>", per_agent_kib);
  }
  append_row(out, "Loadtest RSS (peak)", rss);
  if (r.service_rss_bytes > 0) {
    append_row(out, "Service RSS", format_mib(r.service_rss_bytes));
  } else {
    append_row(out, "Service RSS", "not measured", "muted");
  }
}

std::string summary_table(const Results& r) {
  std::string out = "<table class=\"summary\">\n";
  append_row(out, "User agents",
             fmt::format("{} <span class=\"muted\">· peak connected {}</span>", group_thousands(r.user_agents),
                         group_thousands(r.connected_peak)));
  append_row(out, "Subscriptions",
             fmt::format("{} <span class=\"muted\">per user agent · {} registered</span>",
                         group_thousands(r.subscriptions_per_agent), group_thousands(r.registered)));
  append_rates(out, r);
  append_row(out, "Scheduled", group_thousands(r.scheduled));
  append_row(out, "Posted", group_thousands(r.posted));
  append_row(out, "Accepted (2xx)", group_thousands(r.accepted));
  append_row(out, "Received", group_thousands(r.received));
  append_problem_row(out, "Lost", r.lost);
  append_problem_row(out, "Duplicated", r.duplicated);
  append_problem_row(out, "Out of order", r.out_of_order);
  append_problem_row(out, "Decrypt failures", r.decrypt_failed);
  append_cost(out, r);
  out += "</table>\n";
  return out;
}

// Most frequent first: the reason that dominates is the one to look at.
std::string failures_table(const Results& r) {
  if (r.failures.empty()) return "<p class=\"muted none\">No failures.</p>\n";
  std::vector<std::pair<std::string, std::int64_t>> rows(r.failures.begin(), r.failures.end());
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out = "<table class=\"failures\">\n<tr><th>reason</th><th class=\"num\">count</th></tr>\n";
  for (const auto& [reason, count] : rows) {
    fmt::format_to(std::back_inserter(out), "<tr><td><code>{}</code></td><td class=\"num bad\">{}</td></tr>\n",
                   html_escape(reason), group_thousands(count));
  }
  out += "</table>\n";
  return out;
}

void append_percentile_row(std::string& out, std::string_view label, const Histogram& h) {
  fmt::format_to(std::back_inserter(out), "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td>", label,
                 group_thousands(h.total()));
  constexpr double kPercentiles[] = {50, 90, 99, 99.9};
  for (const double p : kPercentiles) {
    out += "<td class=\"num\">";
    out += h.total() > 0 ? format_ms(us_to_ms(h.value_at_percentile(p))) : "—";
    out += "</td>";
  }
  fmt::format_to(std::back_inserter(out), "<td class=\"num\">{}</td></tr>\n",
                 h.total() > 0 ? format_ms(us_to_ms(h.max())) : "—");
}

std::string percentile_table(const Results& r) {
  std::string out =
      "<table class=\"percentiles\">\n<tr><th>latency (ms)</th><th class=\"num\">count</th><th class=\"num\">p50</th>"
      "<th class=\"num\">p90</th><th class=\"num\">p99</th><th class=\"num\">p99.9</th><th "
      "class=\"num\">max</th></tr>\n";
  append_percentile_row(out, "connect", r.connect);
  append_percentile_row(out, "POST → 2xx", r.post);
  append_percentile_row(out, "e2e", r.e2e);
  append_percentile_row(out, "e2e from schedule", r.e2e_from_schedule);
  out += "</table>\n";
  return out;
}

// ---- the page ------------------------------------------------------------------------------

void append_chart_card(std::string& out, std::string_view heading, std::string_view caption, std::string svg) {
  fmt::format_to(std::back_inserter(out), "<section class=\"card\">\n<h2>{}</h2>\n<p class=\"caption\">{}</p>\n",
                 heading, caption);
  out += svg;
  out += "</section>\n";
}

std::string report_body(const Results& r, std::string_view date) {
  std::string out = "<main>\n<header>\n<h1>webpushd loadtest</h1>\n";
  fmt::format_to(std::back_inserter(out), "<p class=\"meta\"><span class=\"server\">{}</span> · {}</p>\n",
                 html_escape(r.server), date);
  fmt::format_to(std::back_inserter(out), "<pre class=\"command\">{}</pre>\n</header>\n", html_escape(r.command));
  out += "<div class=\"columns\">\n<section class=\"card\">\n<h2>Summary</h2>\n";
  out += summary_table(r);
  out += "</section>\n<div class=\"stack\">\n<section class=\"card\">\n<h2>Percentiles</h2>\n";
  out += percentile_table(r);
  out += "</section>\n<section class=\"card\">\n<h2>Failures</h2>\n";
  out += failures_table(r);
  out += "</section>\n</div>\n</div>\n";
  append_chart_card(out, "Latency over time",
                    "End-to-end latency (POST sent → decrypted) of the messages received in each second.",
                    latency_over_time_chart(r));
  append_chart_card(out, "Latency distribution",
                    "The whole run by percentile, as HdrHistogram plots it; “scheduled → decrypted” counts from "
                    "when a message was due.",
                    latency_distribution_chart(r));
  append_chart_card(out, "Connections and throughput",
                    "User agents connected (left axis); POSTs answered 2xx and messages decrypted per second "
                    "(right axis).",
                    connections_chart(r));
  out += "<footer>Generated by <code>webpushd loadtest --report</code>.</footer>\n</main>\n";
  return out;
}

}  // namespace

std::string html_escape(std::string_view text) {
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t n = utf8_decode(text, i, cp);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    switch (cp) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: {
        // C0 and C1 controls are parse errors in HTML, and could fake a line in a <pre>.
        const bool control = (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7f && cp <= 0x9f);
        if (control) {
          out += kReplacement;
        } else {
          out.append(text.substr(i, n));
        }
      }
    }
    i += n;
  }
  return out;
}

std::string_view report_css() noexcept {
  return R"css(:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f5f8; color: #1f2328;
  font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 22px 24px 24px; }
header { margin-bottom: 14px; }
header h1 { font-size: 24px; font-weight: 650; margin: 0; letter-spacing: -0.01em; }
header .meta { margin: 0 0 8px; color: #59636e; overflow-wrap: anywhere; }
header .server { color: #1f2328; font-weight: 600; }
h2 { font-size: 15px; font-weight: 650; margin: 0 0 6px; color: #1f2328; }
.card { background: #fff; border: 1px solid #d8dee4; border-radius: 10px; padding: 12px 18px; margin: 14px 0;
  box-shadow: 0 1px 2px rgba(31, 35, 40, 0.04); }
.columns { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 14px; margin: 14px 0; }
.columns .card { margin: 0; }
.stack { display: flex; flex-direction: column; gap: 14px; }
@media (max-width: 820px) { .columns { grid-template-columns: minmax(0, 1fr); } }
pre.command { margin: 0; padding: 8px 12px; background: #fff; border: 1px solid #d8dee4; border-radius: 6px;
  font: 13px/1.45 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; white-space: pre-wrap;
  overflow-wrap: anywhere; }
code { font: 13px ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-size: 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 6px; border-bottom: 1px solid #eaeef2; text-align: left; vertical-align: baseline; }
th { font-weight: 600; color: #424a53; white-space: nowrap; }
th[scope="row"] { font-weight: 500; }
tr:last-child > * { border-bottom: none; }
.num { text-align: right; white-space: nowrap; }
.summary td.num { white-space: normal; }
.bad { color: #cf222e; font-weight: 600; }
.muted { color: #6e7781; }
p.none { margin: 0; }
p.caption { margin: 0 0 4px; color: #59636e; font-size: 13px; }
footer { margin-top: 14px; color: #6e7781; font-size: 13px; text-align: center; }
svg.chart { display: block; width: 100%; height: auto; overflow: visible; }
svg.chart text { font-family: inherit; font-size: 12px; fill: #59636e; }
svg.chart .axis-title { fill: #1f2328; font-weight: 600; }
svg.chart .legend { fill: #1f2328; font-size: 13px; }
svg.chart .gridline { stroke: #e4e8ec; stroke-width: 1; }
svg.chart .gridline.minor { stroke: #f0f2f4; }
svg.chart .axis-line { stroke: #8c959f; stroke-width: 1; }
svg.chart .series { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg.chart .series.s-p50, svg.chart .series.s-e2e { stroke-width: 2.5; }
svg.chart .series.s-schedule, svg.chart .series.s-sent { stroke-dasharray: 7 4; }
svg.chart .dot, svg.chart .mark { stroke: #fff; stroke-width: 1.5; }
svg.chart .area { stroke: none; opacity: 0.14; }
svg.chart .empty-frame { fill: #f6f8fa; stroke: #d8dee4; stroke-dasharray: 4 4; }
svg.chart .empty { font-size: 16px; fill: #6e7781; }
svg.chart .hover { fill: transparent; pointer-events: all; }
svg.chart .hover:hover { fill: rgba(9, 105, 218, 0.07); }
.s-p50, .s-e2e, .s-connected { stroke: #0072b2; fill: #0072b2; }
.s-p90, .s-received { stroke: #009e73; fill: #009e73; }
.s-p99, .s-sent { stroke: #e69f00; fill: #e69f00; }
.s-max { stroke: #d55e00; fill: #d55e00; }
.s-schedule { stroke: #cc79a7; fill: #cc79a7; }
)css";
}

std::string html_page(std::string_view title, std::string_view body_html) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      // Nothing but the inline stylesheet may load or run: the page works offline
      // and, should an escape ever be missed, an injected script stays inert.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n";
  out += "<title>" + html_escape(title) + "</title>\n<style>\n";
  out += report_css();
  out += "</style>\n</head>\n<body>\n";
  out += body_html;
  out += "</body>\n</html>\n";
  return out;
}

std::string render_report(const Results& results) {
  const std::string date = format_date_utc(results.start_unix_ms);
  return html_page(fmt::format("webpushd loadtest — {} — {}", results.server, date), report_body(results, date));
}

}  // namespace webpush::load
