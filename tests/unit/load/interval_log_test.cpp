// load interval logs: the exact text HdrHistogram's writers produce, a log
// written here read back with every count and percentile, a log
// hdr-histogram-js wrote read here, merging (including logs whose layouts
// differ), and every malformed line refused with its line number.
#include "webpush/load/interval_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>

namespace webpush::load {
namespace interval_log_test {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::int64_t kStartMs = 1'700'000'000'123;

// A directory of its own per test, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "interval-log-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Histogram lognormal(std::uint64_t seed, int n) {
  auto h = Histogram::latency();
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> latency(6.5, 1.5);
  for (int i = 0; i < n; ++i) h.record(1 + static_cast<std::int64_t>(latency(rng)));
  return h;
}

void expect_same(const Histogram& a, const Histogram& b) {
  EXPECT_EQ(a.total(), b.total());
  EXPECT_EQ(a.min(), b.min());
  EXPECT_EQ(a.max(), b.max());
  for (double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0})
    EXPECT_EQ(a.value_at_percentile(p), b.value_at_percentile(p)) << p;
}

std::string line(double start_s, double length_s, const Histogram& h) {
  auto text = format_interval_line(start_s, length_s, h);
  EXPECT_TRUE(text) << text.error();
  return text ? *text : std::string();
}

TEST(IntervalLog, TheHeaderIsTheOneHdrHistogramsWritersWrite) {
  EXPECT_EQ(format_log_header(kStartMs),
            "#[Histogram log format version 1.3]\n"
            "#[StartTime: 1700000000.123 (seconds since epoch), 2023-11-14T22:13:20.123Z]\n"
            "#[BaseTime: 1700000000.123 (seconds since epoch)]\n"
            "#[Written by webpushd loadtest: values in microseconds, Interval_Max in milliseconds]\n"
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n");
  EXPECT_THAT(format_log_header(5), HasSubstr("#[StartTime: 0.005 (seconds since epoch), 1970-01-01T00:00:00.005Z]"));
}

TEST(IntervalLog, AnIntervalLineHasSecondsTheMaxInMillisecondsAndTheHistogram) {
  auto h = Histogram::latency();
  h.record(12'345);  // one of 12,344..12,351, which the histogram reports as 12,351
  EXPECT_EQ(line(2.5, 1, h), "2.500,1.000,12.351," + h.encode_compressed_base64() + "\n");
  EXPECT_EQ(line(-0.0, 0.0004, Histogram::latency()),
            "0.000,0.000,0.000," + Histogram::latency().encode_compressed_base64() + "\n");
}

TEST(IntervalLog, TimesThatAreNotTimesAreNotWritten) {
  const auto h = Histogram::latency();
  for (const auto& [start, length] : std::vector<std::pair<double, double>>{
           {-1, 1}, {0, -0.5}, {std::nan(""), 1}, {0, std::numeric_limits<double>::infinity()}}) {
    auto text = format_interval_line(start, length, h);
    ASSERT_FALSE(text) << start << " " << length;
    EXPECT_EQ(text.error(), Errc::bad_log);
  }
}

TEST(IntervalLog, AWrittenLogReadsBackWithEveryCountAndPercentile) {
  TempDir dir;
  const std::vector<Histogram> written = {lognormal(1, 1000), Histogram::latency(), lognormal(2, 5000)};
  auto writer = IntervalLogWriter::open(dir.file("run.hlog"), kStartMs);
  ASSERT_TRUE(writer) << writer.error();
  for (std::size_t i = 0; i < written.size(); ++i) {
    auto ok = writer->write(static_cast<double>(i), i == 2 ? 0.25 : 1.0, written[i]);
    ASSERT_TRUE(ok) << ok.error();
  }
  ASSERT_TRUE(writer->close());
  auto log = read_interval_log(dir.file("run.hlog"));
  ASSERT_TRUE(log) << log.error();
  EXPECT_EQ(log->times.start_unix_ms, kStartMs);
  EXPECT_EQ(log->times.base_unix_ms, kStartMs);
  ASSERT_EQ(log->intervals.size(), written.size());
  for (std::size_t i = 0; i < written.size(); ++i) {
    EXPECT_EQ(log->intervals[i].start_s, static_cast<double>(i));
    EXPECT_EQ(log->intervals[i].length_s, i == 2 ? 0.25 : 1.0);
    EXPECT_EQ(log->intervals[i].tag, "");
    expect_same(log->intervals[i].histogram, written[i]);
  }
}

TEST(IntervalLog, ALogIsReadableAfterEveryInterval) {
  // What a run killed midway leaves: the writer is neither closed nor destroyed.
  TempDir dir;
  auto writer = IntervalLogWriter::open(dir.file("run.hlog"), kStartMs);
  ASSERT_TRUE(writer) << writer.error();
  ASSERT_TRUE(writer->write(0, 1, lognormal(3, 100)));
  auto log = read_interval_log(dir.file("run.hlog"));
  ASSERT_TRUE(log) << log.error();
  ASSERT_EQ(log->intervals.size(), 1u);
  EXPECT_EQ(log->intervals[0].histogram.total(), 100);
  ASSERT_TRUE(writer->close());
  EXPECT_EQ(writer->write(1, 1, lognormal(3, 100)).error(), Errc::log_io);
  EXPECT_EQ(writer->close().error(), Errc::log_io);
}

TEST(IntervalLog, OpenReportsWhatItCannotCreate) {
  TempDir dir;
  EXPECT_EQ(IntervalLogWriter::open(dir.file("no/such/dir.hlog"), kStartMs).error(), Errc::log_io);
  EXPECT_EQ(IntervalLogWriter::open(dir.file("x.hlog"), -1).error(), Errc::bad_log);
  auto missing = read_interval_log(dir.file("missing.hlog"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), Errc::log_io);
  EXPECT_THAT(missing.error().message(), HasSubstr("missing.hlog: cannot open"));
}

TEST(IntervalLog, PercentilesAreHdrHistogramsEvenWhereBinaryRoundingIsNot) {
  // 0.999 · 1,000 is 999.0000000000001 in doubles; HdrHistogram reports rank 999.
  auto h = Histogram::latency();
  for (int v = 1; v <= 1000; ++v) h.record(v);
  auto log = parse_interval_log(format_log_header(kStartMs) + line(0, 1, h));
  ASSERT_TRUE(log) << log.error();
  EXPECT_EQ(log->intervals.at(0).histogram.value_at_percentile(99.9), 999);
  EXPECT_EQ(log->intervals.at(0).histogram.value_at_percentile(99.99), 1000);
}

// Written by hdr-histogram-js 3.0.1's HistogramLogWriter (values 100, 200, …,
// 10,000 tagged "tcp"; then 5,000 three times and 123,456): a blank line after
// StartTime (its writer adds one), no BaseTime, starts relative to StartTime.
constexpr std::string_view kJsLog =
    "#[Histogram log format version 1.3]\n"
    "#[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 2023 22:13:20 GMT+0000 (Coordinated Universal "
    "Time)]\n"
    "\n"
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
    "Tag=tcp,0.000,1.500,10.000,HISTFAAAADl4nJNpmSzMwMBwl4GBgZGBgYGZAQIYIZT9fxj/"
    "OCPTUXLRREamRKJgPJM+laEukyiTOEEMAB82JN8=\n"
    "1.500,1.000,123.456,HISTFAAAACd4nJNpmSzMwMDAxsDAwMjAwMDMAAGMEPL/fxj/sDHbaS8mAGH5BWU=\n";

TEST(IntervalLog, ReadsWhatHdrHistogramJsWrote) {
  auto log = parse_interval_log(kJsLog);
  ASSERT_TRUE(log) << log.error();
  EXPECT_EQ(log->times.start_unix_ms, 1'700'000'000'000);
  EXPECT_EQ(log->times.base_unix_ms, 1'700'000'000'000) << "starts long before StartTime are relative to it";
  ASSERT_EQ(log->intervals.size(), 2u);
  const auto& [a, b] = std::tie(log->intervals[0], log->intervals[1]);
  EXPECT_EQ(a.tag, "tcp");
  EXPECT_EQ(a.length_s, 1.5);
  EXPECT_EQ(a.histogram.total(), 100);
  EXPECT_EQ(a.histogram.min(), 100);
  EXPECT_EQ(a.histogram.value_at_percentile(99), 9903);  // what hdr-histogram-js reported
  EXPECT_EQ(b.tag, "");
  EXPECT_EQ(b.start_s, 1.5);
  EXPECT_EQ(b.histogram.total(), 4);
  EXPECT_EQ(b.histogram.value_at_percentile(50), 5003);
  EXPECT_EQ(b.histogram.max(), 123'519);
}

TEST(IntervalLog, StartsWithoutABaseTimeAreAbsoluteUnlessLongBeforeTheStartTime) {
  const auto h = lognormal(4, 10);
  auto absolute =
      parse_interval_log("#[StartTime: 1700000000.000 (seconds since epoch)]\n" + line(1'700'000'001, 1, h));
  ASSERT_TRUE(absolute) << absolute.error();
  EXPECT_EQ(absolute->times.base_unix_ms, 0);
  auto no_start = parse_interval_log(line(5, 1, h));
  ASSERT_TRUE(no_start) << no_start.error();
  EXPECT_EQ(no_start->times.start_unix_ms, 0);
  EXPECT_EQ(no_start->times.base_unix_ms, 0);
  auto explicit_base = parse_interval_log("#[BaseTime: 1000.5 (seconds since epoch)]\n" + line(5, 1, h));
  ASSERT_TRUE(explicit_base) << explicit_base.error();
  EXPECT_EQ(explicit_base->times.base_unix_ms, 1'000'500);
}

TEST(IntervalLog, CommentsLegendsBlankLinesAndCrlfAreNotIntervals) {
  const auto h = lognormal(5, 50);
  std::string crlf = line(0, 1, h);
  crlf.insert(crlf.size() - 1, "\r");
  auto log = parse_interval_log("# a comment\r\n\r\n   \n\"StartTimestamp\",\"whatever\"\n#[Other: 1]\n" + crlf +
                                "# the end, without a newline");
  ASSERT_TRUE(log) << log.error();
  ASSERT_EQ(log->intervals.size(), 1u);
  expect_same(log->intervals[0].histogram, h);
  auto empty = parse_interval_log("");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->intervals.empty());
}

TEST(IntervalLog, MergingTwoLogsIsRecordingEverythingInOne) {
  TempDir dir;
  auto all = Histogram::latency();
  std::vector<std::string> paths;
  for (std::uint64_t machine = 0; machine < 2; ++machine) {
    paths.push_back(dir.file("machine" + std::to_string(machine) + ".hlog"));
    auto writer = IntervalLogWriter::open(paths.back(), kStartMs);
    ASSERT_TRUE(writer) << writer.error();
    for (int i = 0; i < 3; ++i) {
      const auto h = lognormal(10 * machine + static_cast<std::uint64_t>(i), 2000 + i);
      all.merge(h);
      ASSERT_TRUE(writer->write(i, 1, h));
    }
    ASSERT_TRUE(writer->close());
  }
  all.record(2'500'000'000);  // an outlier, in a third log
  auto outlier = Histogram::latency();
  outlier.record(2'500'000'000);
  paths.push_back(dir.file("outlier.hlog"));
  std::ofstream(paths.back()) << format_log_header(kStartMs) << line(0, 1, outlier);

  auto merged = merge_interval_logs(paths);
  ASSERT_TRUE(merged) << merged.error();
  expect_same(*merged, all);
  auto one = read_interval_log(paths[0]);
  ASSERT_TRUE(one);
  auto from_one = merge_intervals(*one);
  ASSERT_TRUE(from_one);
  EXPECT_EQ(from_one->total(), 2000 + 2001 + 2002);
}

TEST(IntervalLog, MergingWidensTheLayoutInsteadOfClamping) {
  auto two_hours = Histogram::create(1, 7'200'000'000, 3);
  ASSERT_TRUE(two_hours);
  two_hours->record(5'000'000'000);
  HistogramMerger merger;
  ASSERT_TRUE(merger.add(lognormal(6, 100)));
  ASSERT_TRUE(merger.add(*two_hours));
  const Histogram merged = merger.result();
  EXPECT_EQ(merged.total(), 101);
  EXPECT_EQ(merged.clamped(), 0);
  EXPECT_EQ(merged.max(), two_hours->max());
  EXPECT_EQ(merged.highest_trackable(), 7'200'000'000);
  EXPECT_EQ(HistogramMerger().result().total(), 0);
}

struct BadLog {
  std::string name;
  std::string text;
  Errc code;
  int line;
};

class Malformed : public ::testing::TestWithParam<BadLog> {};

TEST_P(Malformed, IsRefusedWithItsLineNumber) {
  const auto& row = GetParam();
  auto log = parse_interval_log(row.text);
  ASSERT_FALSE(log);
  EXPECT_EQ(log.error(), row.code) << log.error();
  EXPECT_THAT(log.error().message(), StartsWith("interval log line " + std::to_string(row.line) + ": "));
  EXPECT_EQ(log.error().message().find('\n'), std::string::npos) << "one line";
}

std::string empty_histogram() { return Histogram::latency().encode_compressed_base64(); }
std::string good_line() { return "0.000,1.000,0.000," + empty_histogram() + "\n"; }

// Every form of line a reader must refuse, with the line it is on.
std::vector<BadLog> bad_logs() {
  return {
      BadLog{"three_fields", good_line() + "0.000,1.000," + empty_histogram() + "\n", Errc::bad_log, 2},
      BadLog{"five_fields", "#\n" + good_line() + "#\n0,1,0," + empty_histogram() + ",extra\n", Errc::bad_log, 4},
      BadLog{"no_commas", "hello\n", Errc::bad_log, 1},
      BadLog{"tag_alone", "Tag=a\n", Errc::bad_log, 1},
      BadLog{"tag_then_three", "Tag=a,0,1," + empty_histogram() + "\n", Errc::bad_log, 1},
      BadLog{"start_not_a_number", "abc,1,0," + empty_histogram() + "\n", Errc::bad_log, 1},
      BadLog{"start_with_a_space", " 0.0,1,0," + empty_histogram() + "\n", Errc::bad_log, 1},
      BadLog{"start_negative", "-1,1,0," + empty_histogram() + "\n", Errc::bad_log, 1},
      BadLog{"start_nan", "nan,1,0," + empty_histogram() + "\n", Errc::bad_log, 1},
      BadLog{"length_infinite", "0,inf,0," + empty_histogram() + "\n", Errc::bad_log, 1},
      BadLog{"length_empty", "0,,0," + empty_histogram() + "\n", Errc::bad_log, 1},
      BadLog{"max_garbage", "0,1,1.5ms," + empty_histogram() + "\n", Errc::bad_log, 1},
      BadLog{"histogram_not_base64", good_line() + "0,1,0,HISTF!!!\n", Errc::bad_encoding, 2},
      BadLog{"histogram_empty", "0,1,0,\n", Errc::bad_encoding, 1},
      BadLog{"histogram_not_compressed", "0,1,0,SGVsbG8gd29ybGQ=\n", Errc::bad_encoding, 1},
      BadLog{"histogram_truncated", "0,1,0," + empty_histogram().substr(0, 24) + "\n", Errc::bad_encoding, 1},
      BadLog{"start_time_not_a_number", "#[StartTime: soon (seconds since epoch)]\n", Errc::bad_log, 1},
      BadLog{"start_time_negative", "#[StartTime: -5 (seconds since epoch)]\n", Errc::bad_log, 1},
      BadLog{"base_time_absurd", "#\n#[BaseTime: 1e300]\n", Errc::bad_log, 2},
      BadLog{"nul_byte", good_line() + std::string("0,1,0\0,", 7) + empty_histogram() + "\n", Errc::bad_log, 2},
  };
}

INSTANTIATE_TEST_SUITE_P(IntervalLog, Malformed, ::testing::ValuesIn(bad_logs()),
                         [](const auto& p) { return p.param.name; });

TEST(IntervalLog, LimitsAreRefusedWithTheLineThatCrossesThem) {
  const std::string two = good_line() + good_line();
  auto long_line = parse_interval_log(two, LogLimits{.max_line_bytes = 20});
  ASSERT_FALSE(long_line);
  EXPECT_EQ(long_line.error(), Errc::log_too_big);
  EXPECT_THAT(long_line.error().message(), StartsWith("interval log line 1: "));
  auto many = parse_interval_log(two, LogLimits{.max_intervals = 1});
  ASSERT_FALSE(many);
  EXPECT_EQ(many.error(), Errc::log_too_big);
  EXPECT_THAT(many.error().message(), StartsWith("interval log line 2: "));
  // Histogram::latency() holds 23,552 counts: 188,416 bytes.
  auto retained = parse_interval_log(two, LogLimits{.max_retained_bytes = 300'000});
  ASSERT_FALSE(retained);
  EXPECT_EQ(retained.error(), Errc::log_too_big);
  EXPECT_THAT(retained.error().message(), StartsWith("interval log line 2: "));
  EXPECT_TRUE(parse_interval_log(two, LogLimits{.max_retained_bytes = 400'000}));
  TempDir dir;
  std::ofstream(dir.file("big.hlog")) << two;
  EXPECT_EQ(read_interval_log(dir.file("big.hlog"), LogLimits{.max_file_bytes = 100}).error(), Errc::log_too_big);
}

TEST(IntervalLog, AVisitorsErrorKeepsItsCodeAndGainsTheLine) {
  int seen = 0;
  auto scanned = scan_interval_log("#\n" + good_line() + good_line(), [&](LogInterval&&) -> Result<void> {
    if (++seen == 2) return fail(Errc::bad_range, "enough");
    return {};
  });
  ASSERT_FALSE(scanned);
  EXPECT_EQ(scanned.error(), Errc::bad_range);
  EXPECT_EQ(scanned.error().message(), "interval log line 3: enough");
}

TEST(IntervalLog, MergeNamesTheFileItCouldNotRead) {
  TempDir dir;
  std::ofstream(dir.file("good.hlog")) << good_line();
  std::ofstream(dir.file("bad.hlog")) << good_line() << "oops\n";
  const std::vector<std::string> paths = {dir.file("good.hlog"), dir.file("bad.hlog")};
  auto merged = merge_interval_logs(paths);
  ASSERT_FALSE(merged);
  EXPECT_EQ(merged.error(), Errc::bad_log);
  EXPECT_THAT(merged.error().message(), StartsWith(dir.file("bad.hlog") + ": interval log line 2: "));
}

}  // namespace interval_log_test
}  // namespace webpush::load
