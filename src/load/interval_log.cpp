#include "webpush/load/interval_log.h"

#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <ctime>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace webpush::load {

namespace {

constexpr std::string_view kStartTimePrefix = "#[StartTime:";
constexpr std::string_view kBaseTimePrefix = "#[BaseTime:";
constexpr std::string_view kLegendPrefix = "\"StartTimestamp\"";
constexpr std::string_view kTagPrefix = "Tag=";
// Java's and hdr-histogram-js's readers take starts more than a year before
// StartTime as relative to it; a log without BaseTime is read the same here.
constexpr double kYearSeconds = 365 * 24 * 3600.0;
// Header times become int64 milliseconds; beyond the year 33,000 is no log.
constexpr double kMaxEpochSeconds = 1e12;
constexpr std::size_t kExcerptMax = 40;

// Log text is untrusted and an error message is one line: a short, printable
// excerpt of a field is what a message may quote.
std::string excerpt(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, kExcerptMax)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (text.size() > kExcerptMax) out += "…";
  return out;
}

Error line_error(Errc code, std::size_t line_no, std::string_view what) {
  return Error(code, fmt::format("interval log line {}: {}", line_no, what));
}

std::string errno_text() { return std::error_code(errno, std::generic_category()).message(); }

/// The whole field as a finite, non-negative number; from_chars, so no locale
/// and nothing (not even a space) after the number.
std::optional<double> non_negative_number(std::string_view field) {
  double v = 0;
  const char* end = field.data() + field.size();
  const auto [ptr, ec] = std::from_chars(field.data(), end, v);
  if (ec != std::errc{} || ptr != end || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

// HdrHistogram sizes a layout as 2^⌈log2(2·10^digits)⌉ sub-buckets, half of
// them per further bucket, each bucket doubling the range until it covers the
// highest value (AbstractHistogram's constructor): the counts a decoded
// histogram holds, whatever its encoding's length.
std::size_t footprint_of(const Histogram& h) {
  std::uint64_t single_unit = 2;
  for (int i = 0; i < h.significant_digits(); ++i) single_unit *= 10;
  const int sub_bits = std::bit_width(single_unit - 1);
  const int unit_bits = std::bit_width(static_cast<std::uint64_t>(h.lowest_trackable())) - 1;
  const int top_bits = std::bit_width(static_cast<std::uint64_t>(h.highest_trackable()));
  const auto buckets = static_cast<std::size_t>(std::max(1, top_bits - sub_bits - unit_bits + 1));
  return ((buckets + 1) << (sub_bits - 1)) * sizeof(std::int64_t);
}

// What a scan knows between lines.
struct ScanState {
  LogTimes times;
  bool start_seen = false;
  bool base_seen = false;  // read from a BaseTime line, or deduced at the first interval
  std::size_t intervals = 0;
};

/// "#[StartTime: 1700000000.123 (seconds since epoch), …]": the token after the
/// prefix, as Java's reader takes it, in milliseconds.
Result<std::int64_t> header_time_ms(std::string_view line, std::string_view prefix, std::size_t line_no) {
  std::string_view rest = line.substr(prefix.size());
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  const std::string_view token = rest.substr(0, rest.find_first_of(" ,]"));
  const auto seconds = non_negative_number(token);
  if (!seconds || *seconds > kMaxEpochSeconds) {
    return tl::unexpected(
        line_error(Errc::bad_log, line_no,
                   fmt::format("{} '{}' is not a time in seconds since the epoch", prefix, excerpt(token))));
  }
  return std::llround(*seconds * 1000.0);
}

Result<void> read_comment(std::string_view line, std::size_t line_no, ScanState& state) {
  const bool is_start = line.starts_with(kStartTimePrefix);
  if (!is_start && !line.starts_with(kBaseTimePrefix)) return {};
  auto ms = header_time_ms(line, is_start ? kStartTimePrefix : kBaseTimePrefix, line_no);
  if (!ms) return tl::unexpected(ms.error());
  // The first of each counts: a later one (logs concatenated) describes
  // intervals whose starts were already placed.
  bool& seen = is_start ? state.start_seen : state.base_seen;
  if (!seen) (is_start ? state.times.start_unix_ms : state.times.base_unix_ms) = *ms;
  seen = true;
  return {};
}

void settle_base(ScanState& state, double first_start_s) {
  if (state.base_seen) return;
  state.base_seen = true;
  const double start_s = static_cast<double>(state.times.start_unix_ms) / 1000.0;
  const bool relative = state.start_seen && first_start_s < start_s - kYearSeconds;
  state.times.base_unix_ms = relative ? state.times.start_unix_ms : 0;
}

/// Splits `line` at its commas into `fields` and returns how many fields it
/// has; only the first N are kept.
template <std::size_t N>
std::size_t split_fields(std::string_view line, std::array<std::string_view, N>& fields) {
  std::size_t count = 0;
  for (std::size_t at = 0;;) {
    const std::size_t comma = std::min(line.find(',', at), line.size());
    if (count < N) fields[count] = line.substr(at, comma - at);
    ++count;
    if (comma == line.size()) return count;
    at = comma + 1;
  }
}

Result<LogInterval> parse_interval_line(std::string_view line, std::size_t line_no) {
  std::string tag;
  if (line.starts_with(kTagPrefix)) {
    const std::size_t comma = std::min(line.find(','), line.size());
    tag = line.substr(kTagPrefix.size(), comma - kTagPrefix.size());
    line.remove_prefix(std::min(comma + 1, line.size()));
  }
  std::array<std::string_view, 4> fields;
  if (const std::size_t count = split_fields(line, fields); count != fields.size()) {
    return tl::unexpected(
        line_error(Errc::bad_log, line_no,
                   fmt::format("{} field(s) where an interval has 4 (start, length, max, histogram)", count)));
  }
  std::array<double, 3> numbers{};
  constexpr std::array<std::string_view, 3> kNames = {"start", "length", "max"};
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const auto number = non_negative_number(fields[i]);
    if (!number) {
      return tl::unexpected(line_error(
          Errc::bad_log, line_no,
          fmt::format("the interval {} '{}' is not a finite, non-negative number", kNames[i], excerpt(fields[i]))));
    }
    numbers[i] = *number;
  }
  auto histogram = Histogram::decode_compressed_base64(fields[3]);
  if (!histogram) return tl::unexpected(histogram.error().with_context(fmt::format("interval log line {}", line_no)));
  return LogInterval{numbers[0], numbers[1], std::move(tag), std::move(*histogram)};
}

Result<void> scan_line(std::string_view line, std::size_t line_no, ScanState& state, const IntervalVisitor& visit,
                       const LogLimits& limits) {
  if (is_blank(line) || line.starts_with(kLegendPrefix)) return {};
  if (line.starts_with('#')) return read_comment(line, line_no, state);
  if (++state.intervals > limits.max_intervals) {
    return tl::unexpected(
        line_error(Errc::log_too_big, line_no, fmt::format("more than {} intervals", limits.max_intervals)));
  }
  auto interval = parse_interval_line(line, line_no);
  if (!interval) return tl::unexpected(interval.error());
  settle_base(state, interval->start_s);
  auto visited = visit(std::move(*interval));
  if (!visited) return tl::unexpected(visited.error().with_context(fmt::format("interval log line {}", line_no)));
  return {};
}

struct InputCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

Result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
  const std::unique_ptr<std::FILE, InputCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return fail(Errc::log_io, fmt::format("interval log {}: cannot open: {}", path, errno_text()));
  std::string text;
  std::array<char, 64 * 1024> buffer{};
  for (;;) {
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    text.append(buffer.data(), n);
    if (text.size() > max_bytes) {
      return fail(Errc::log_too_big, fmt::format("interval log {}: longer than {} bytes", path, max_bytes));
    }
    if (n < buffer.size()) break;
  }
  if (std::ferror(file.get())) {
    return fail(Errc::log_io, fmt::format("interval log {}: cannot read: {}", path, errno_text()));
  }
  return text;
}

// An ISO 8601 UTC date for the StartTime comment; readers skip it, people read it.
std::string human_date(std::int64_t unix_ms) {
  const auto seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  std::array<char, 32> date{};
  if (gmtime_r(&seconds, &tm) == nullptr || std::strftime(date.data(), date.size(), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
    return "?";
  }
  return fmt::format("{}.{:03}Z", date.data(), unix_ms % 1000);
}

bool is_time(double seconds) { return std::isfinite(seconds) && seconds >= 0; }

}  // namespace

Result<LogTimes> scan_interval_log(std::string_view text, const IntervalVisitor& visit, const LogLimits& limits) {
  ScanState state;
  std::size_t line_no = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    ++line_no;
    if (line.size() > limits.max_line_bytes) {
      return tl::unexpected(
          line_error(Errc::log_too_big, line_no,
                     fmt::format("{} bytes, over the limit of {}", line.size(), limits.max_line_bytes)));
    }
    if (line.ends_with('\r')) line.remove_suffix(1);
    auto scanned = scan_line(line, line_no, state, visit, limits);
    if (!scanned) return tl::unexpected(scanned.error());
  }
  return state.times;
}

Result<IntervalLog> parse_interval_log(std::string_view text, const LogLimits& limits) {
  IntervalLog log;
  std::size_t retained = 0;
  auto keep = [&](LogInterval&& interval) -> Result<void> {
    // Counted after the decode: one histogram alone is bounded by Histogram's
    // own cap; what this bounds is a log of many.
    retained += footprint_of(interval.histogram);
    if (retained > limits.max_retained_bytes) {
      return fail(Errc::log_too_big,
                  fmt::format("the decoded histograms would take more than {} bytes", limits.max_retained_bytes));
    }
    log.intervals.push_back(std::move(interval));
    return {};
  };
  auto times = scan_interval_log(text, keep, limits);
  if (!times) return tl::unexpected(times.error());
  log.times = *times;
  return log;
}

Result<IntervalLog> read_interval_log(const std::string& path, const LogLimits& limits) {
  auto text = read_file(path, limits.max_file_bytes);
  if (!text) return tl::unexpected(text.error());
  auto log = parse_interval_log(*text, limits);
  if (!log) return tl::unexpected(log.error().with_context(path));
  return log;
}

Result<void> HistogramMerger::add(const Histogram& h) {
  if (!merged_) {
    merged_ = h;
    return {};
  }
  const Histogram& m = *merged_;
  if (h.lowest_trackable() < m.lowest_trackable() || h.highest_trackable() > m.highest_trackable() ||
      h.significant_digits() > m.significant_digits()) {
    // Merging into the narrower layout would clamp (or blur) the other's values.
    auto wider = Histogram::create(std::min(h.lowest_trackable(), m.lowest_trackable()),
                                   std::max(h.highest_trackable(), m.highest_trackable()),
                                   std::max(h.significant_digits(), m.significant_digits()));
    if (!wider) return tl::unexpected(wider.error().with_context("merging intervals"));
    wider->merge(m);
    merged_ = std::move(*wider);
  }
  merged_->merge(h);
  return {};
}

Histogram HistogramMerger::result() const { return merged_ ? *merged_ : Histogram::latency(); }

Result<Histogram> merge_intervals(const IntervalLog& log) {
  HistogramMerger merger;
  for (const auto& interval : log.intervals) {
    auto added = merger.add(interval.histogram);
    if (!added) return tl::unexpected(added.error());
  }
  return merger.result();
}

Result<Histogram> merge_interval_logs(std::span<const std::string> paths, const LogLimits& limits) {
  HistogramMerger merger;
  const IntervalVisitor add = [&](LogInterval&& interval) { return merger.add(interval.histogram); };
  for (const auto& path : paths) {
    auto text = read_file(path, limits.max_file_bytes);
    if (!text) return tl::unexpected(text.error());
    auto scanned = scan_interval_log(*text, add, limits);
    if (!scanned) return tl::unexpected(scanned.error().with_context(path));
  }
  return merger.result();
}

std::string format_log_header(std::int64_t start_unix_ms) {
  start_unix_ms = std::max<std::int64_t>(start_unix_ms, 0);
  // Integer arithmetic: the milliseconds given are the ones written, which
  // "%.3f" of a double would not promise.
  const std::string seconds = fmt::format("{}.{:03}", start_unix_ms / 1000, start_unix_ms % 1000);
  return fmt::format(
      "#[Histogram log format version 1.3]\n"
      "#[StartTime: {0} (seconds since epoch), {1}]\n"
      "#[BaseTime: {0} (seconds since epoch)]\n"
      "#[Written by webpushd loadtest: values in microseconds, Interval_Max in milliseconds]\n"
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
      seconds, human_date(start_unix_ms));
}

Result<std::string> format_interval_line(double start_s, double length_s, const Histogram& h) {
  if (!is_time(start_s) || !is_time(length_s)) {
    return fail(Errc::bad_log, fmt::format("interval log: an interval starting at {} s and lasting {} s: times must be "
                                           "finite and non-negative",
                                           start_s, length_s));
  }
  // + 0.0 turns a -0.0 into 0.0, which would otherwise print as "-0.000".
  return fmt::format("{:.3f},{:.3f},{:.3f},{}\n", start_s + 0.0, length_s + 0.0,
                     static_cast<double>(h.max()) / kLogMaxUnitRatio, h.encode_compressed_base64());
}

void IntervalLogWriter::FileCloser::operator()(std::FILE* f) const noexcept { std::fclose(f); }

IntervalLogWriter::IntervalLogWriter(std::unique_ptr<std::FILE, FileCloser> file, std::string path)
    : file_(std::move(file)), path_(std::move(path)) {}

Result<IntervalLogWriter> IntervalLogWriter::open(const std::string& path, std::int64_t start_unix_ms) {
  if (start_unix_ms < 0) {
    return fail(Errc::bad_log,
                fmt::format("interval log {}: start time {} ms is before the epoch", path, start_unix_ms));
  }
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "wb"));
  if (!file) return fail(Errc::log_io, fmt::format("interval log {}: cannot create: {}", path, errno_text()));
  IntervalLogWriter writer(std::move(file), path);
  auto header = writer.put(format_log_header(start_unix_ms));
  if (!header) return tl::unexpected(header.error());
  return writer;
}

Result<void> IntervalLogWriter::put(std::string_view text) {
  if (!file_) return fail(Errc::log_io, fmt::format("interval log {}: written after close", path_));
  // Flushed line by line: a run killed midway leaves every whole interval readable.
  if (std::fwrite(text.data(), 1, text.size(), file_.get()) != text.size() || std::fflush(file_.get()) != 0) {
    return fail(Errc::log_io, fmt::format("interval log {}: cannot write: {}", path_, errno_text()));
  }
  return {};
}

Result<void> IntervalLogWriter::write(double start_s, double length_s, const Histogram& h) {
  auto line = format_interval_line(start_s, length_s, h);
  if (!line) return tl::unexpected(line.error());
  return put(*line);
}

Result<void> IntervalLogWriter::close() {
  if (!file_) return fail(Errc::log_io, fmt::format("interval log {}: closed twice", path_));
  if (std::fclose(file_.release()) != 0) {
    return fail(Errc::log_io, fmt::format("interval log {}: cannot close: {}", path_, errno_text()));
  }
  return {};
}

}  // namespace webpush::load
