// interval_log: HdrHistogram interval logs as `loadtest merge` reads them from
// other machines. Parsing never crashes, throws or claims unbounded memory;
// every refusal is one line naming its line number; whatever parses writes
// back (format_log_header + format_interval_line) to a log that parses to the
// same intervals; and merging adds every count.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "webpush/load/interval_log.h"

namespace interval_log_fuzz {

using namespace webpush::load;

// Small enough that a run of inputs stays fast and within libFuzzer's RSS
// limit: the point is the parser, not how much a log may hold.
LogLimits limits() { return LogLimits{.max_line_bytes = 4096, .max_intervals = 256, .max_retained_bytes = 64 << 20}; }

void check_refusal(const webpush::Error& error) {
  const std::string& m = error.message();
  if (m.rfind("interval log line ", 0) != 0 || m.find('\n') != std::string::npos) __builtin_trap();
}

bool same(const Histogram& a, const Histogram& b) {
  return a.total() == b.total() && a.max() == b.max() && a.min() == b.min() &&
         a.value_at_percentile(99) == b.value_at_percentile(99);
}

void check_rewrite(const IntervalLog& log) {
  std::string text = format_log_header(log.times.start_unix_ms);
  for (const auto& interval : log.intervals) {
    auto line = format_interval_line(interval.start_s, interval.length_s, interval.histogram);
    if (!line) __builtin_trap();  // parsed times are finite and non-negative
    text += *line;
  }
  auto again = parse_interval_log(text, LogLimits{.max_line_bytes = 1 << 20, .max_retained_bytes = 64 << 20});
  if (!again || again->intervals.size() != log.intervals.size()) __builtin_trap();
  for (std::size_t i = 0; i < log.intervals.size(); ++i) {
    if (!same(again->intervals[i].histogram, log.intervals[i].histogram)) __builtin_trap();
  }
}

void check_merge(const IntervalLog& log) {
  auto merged = merge_intervals(log);
  if (!merged) return;  // layouts whose union Histogram cannot hold
  std::int64_t total = 0;
  for (const auto& interval : log.intervals) {
    total = interval.histogram.total() > INT64_MAX - total ? INT64_MAX : total + interval.histogram.total();
  }
  if (merged->total() != total) __builtin_trap();
}

}  // namespace interval_log_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace interval_log_fuzz;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto log = parse_interval_log(text, limits());
  if (!log) {
    check_refusal(log.error());
    return 0;
  }
  check_rewrite(*log);
  check_merge(*log);
  return 0;
}
