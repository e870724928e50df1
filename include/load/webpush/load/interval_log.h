// HdrHistogram interval logs: what `webpushd loadtest --hdr-log FILE` writes
// and `webpushd loadtest merge FILE…` reads, in the text format of
// HdrHistogram's HistogramLogWriter / HistogramLogReader (Java, and
// hdr-histogram-js), version 1.3, so a log written here opens in their tools
// and logs from other machines (or from them) merge here:
//
//   #[Histogram log format version 1.3]
//   #[StartTime: 1700000000.123 (seconds since epoch), 2023-11-14T22:13:20.123Z]
//   #[BaseTime: 1700000000.123 (seconds since epoch)]
//   #[Written by webpushd loadtest: values in microseconds, Interval_Max in milliseconds]
//   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//   0.000,1.000,12.345,HISTFAAAA…
//   [Tag=<tag>,]<start s>,<length s>,<max>,<histogram>
//
// Decisions, each as HdrHistogram's own writers make them:
// - Start and length are seconds with 3 decimals. The writer writes starts
//   relative to StartTime and says so with a BaseTime line equal to it, so no
//   reader has to guess; without a BaseTime line, readers take starts more than
//   a year before StartTime as relative to it and others as absolute.
// - Interval_Max is the interval's max divided by kLogMaxUnitRatio = 1,000:
//   milliseconds for our microsecond values, the unit HdrHistogram's tools use
//   for that column (Java's writer divides its nanoseconds by 1,000,000, and
//   hdr-histogram-js's writer divides by 1,000). Readers, ours included, skip
//   it: the histogram carries the max.
// - The histogram column is Histogram::encode_compressed_base64().
//
// Reading: lines starting with '#' are comments (StartTime and BaseTime are
// read from theirs, the first of each counts), the legend line and blank lines
// are skipped, lines may end in CRLF, and every other line must be an interval
// line: an optional `Tag=` field, then exactly the four fields above, start and
// length finite and non-negative. The input is untrusted (logs come from other
// machines): every malformed line is an error naming its line number, and
// LogLimits caps what one log may cost.
//
// Thread: everything here is for one thread at a time; distinct objects and
// calls on distinct inputs are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/core/error.h"
#include "webpush/load/histogram.h"

namespace webpush::load {

/// Interval_Max = max / kLogMaxUnitRatio: microseconds written as milliseconds.
inline constexpr double kLogMaxUnitRatio = 1000.0;

/// What one log may cost a reader. The defaults hold any real log: a line of
/// a fully populated 1 µs–1 h histogram is under 300 KB, and an hour of
/// one-second intervals is 3,600 of them.
struct LogLimits {
  std::size_t max_line_bytes = std::size_t{1} << 20;
  std::size_t max_intervals = 1'000'000;
  /// What parse_interval_log may keep in decoded histograms (each holds its
  /// whole layout: 184 KiB for Histogram::latency()); the scanning readers keep
  /// one interval at a time and do not count this.
  std::size_t max_retained_bytes = std::size_t{1} << 30;
  /// read_interval_log and merge_interval_logs read a file whole.
  std::size_t max_file_bytes = std::size_t{256} << 20;
};

/// The two times a log's header gives.
struct LogTimes {
  /// #[StartTime: …] in ms since the epoch; 0 when the log has none.
  std::int64_t start_unix_ms = 0;
  /// What interval starts count from, in ms since the epoch: #[BaseTime: …],
  /// else deduced from the first interval as HdrHistogram's readers do (the
  /// StartTime when that interval starts more than a year before it, else 0:
  /// the starts are absolute).
  std::int64_t base_unix_ms = 0;
};

/// One interval line.
struct LogInterval {
  double start_s = 0;   ///< as written: seconds after LogTimes::base_unix_ms
  double length_s = 0;  ///< seconds
  std::string tag;      ///< empty when the line has no Tag= field
  Histogram histogram;
};

struct IntervalLog {
  LogTimes times;
  std::vector<LogInterval> intervals;  ///< in the order of the log's lines
};

/// Receives each interval as it is read; an error stops the scan.
using IntervalVisitor = std::function<Result<void>(LogInterval&&)>;

/// Reads `text` line by line, calling `visit` for each interval line in order,
/// and returns the header's times. Pure: no I/O. Every error names its line
/// ("interval log line 7: …"): bad_log (a malformed line), bad_encoding or
/// bad_range (a histogram column that does not decode), log_too_big (a line
/// or the interval count beyond `limits`), or the visitor's own error.
Result<LogTimes> scan_interval_log(std::string_view text, const IntervalVisitor& visit, const LogLimits& limits = {});

/// The whole log in memory. Pure: no I/O. Errors: as scan_interval_log, and
/// log_too_big when the decoded histograms would take more than
/// limits.max_retained_bytes.
Result<IntervalLog> parse_interval_log(std::string_view text, const LogLimits& limits = {});

/// parse_interval_log over the file at `path` (blocking read). Errors: as
/// parse_interval_log, prefixed with the path; log_io (cannot open or read);
/// log_too_big (a file longer than limits.max_file_bytes).
Result<IntervalLog> read_interval_log(const std::string& path, const LogLimits& limits = {});

/// Adds histograms into one, as `loadtest merge` combines runs. It starts from
/// a copy of the first, as HdrHistogram's HistogramLogProcessor does, so its
/// figures are that tool's; the layout widens to cover each further input's
/// (the lowest lowest value, the highest highest one, the most digits), so no
/// value is clamped. With identical layouts (any two of our logs) merging is
/// adding counts.
class HistogramMerger {
 public:
  /// Errors: bad_range (the covering layout is larger than Histogram holds).
  Result<void> add(const Histogram& h);
  /// Histogram::latency() when nothing was added.
  [[nodiscard]] Histogram result() const;

 private:
  std::optional<Histogram> merged_;
};

/// Every interval of `log`, merged (see HistogramMerger). Errors: bad_range.
Result<Histogram> merge_intervals(const IntervalLog& log);

/// Every interval of every file, merged, keeping one interval in memory at a
/// time (blocking reads). Errors: as read_interval_log (apart from the retained
/// bytes limit) and bad_range, prefixed with the file's path.
Result<Histogram> merge_interval_logs(std::span<const std::string> paths, const LogLimits& limits = {});

/// The header lines, up to and including the legend, for a log starting at
/// `start_unix_ms` (≥ 0). Pure.
[[nodiscard]] std::string format_log_header(std::int64_t start_unix_ms);

/// One interval line ending in '\n'. Pure. Errors: bad_log (a start or length
/// that is not a finite, non-negative number of seconds).
Result<std::string> format_interval_line(double start_s, double length_s, const Histogram& h);

/// Appends a log to a file a line at a time, flushing each line, so a run
/// killed midway leaves a log readable up to its last whole interval. The
/// writes block (a line is a few KB, once an interval). Move-only; owns its
/// FILE; the destructor closes without reporting, close() reports.
class IntervalLogWriter {
 public:
  /// Creates (truncates) `path` and writes the header. Errors: log_io (cannot
  /// create or write), bad_log (a negative start time).
  static Result<IntervalLogWriter> open(const std::string& path, std::int64_t start_unix_ms);

  /// Writes one interval: `start_s` seconds after the start time given to
  /// open(), `length_s` long. Errors: bad_log (see format_interval_line),
  /// log_io (a write or flush failed, or the writer is closed).
  Result<void> write(double start_s, double length_s, const Histogram& h);

  /// Errors: log_io (the final flush or close failed, or already closed).
  Result<void> close();

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const noexcept;
  };
  IntervalLogWriter(std::unique_ptr<std::FILE, FileCloser> file, std::string path);
  Result<void> put(std::string_view text);

  std::unique_ptr<std::FILE, FileCloser> file_;
  std::string path_;
};

}  // namespace webpush::load
