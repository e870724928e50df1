// hdr-log-sample LOG: writes an interval log of a fixed, seeded sample with
// load::IntervalLogWriter and prints, as JSON on stdout, what HdrHistogram
// must report for it: count, min, max and percentiles per interval and over
// the merged log. compare.js reads the same log with hdr-histogram-js and
// checks every figure.
//
// The sample crosses what a reader could get wrong: lognormal latencies
// around 0.7 ms (a sixth beyond 2,048 µs, where buckets stop being exact), one
// 41-minute outlier, an empty interval, a short last interval, and counts
// where 99.9 % is a whole rank (1,000 values), the case binary rounding breaks.
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "webpush/load/interval_log.h"

namespace {

using webpush::load::Histogram;

constexpr std::int64_t kStartUnixMs = 1'700'000'000'123;
constexpr std::int64_t kOutlierMicros = 2'500'000'000;
constexpr double kPercentiles[] = {0.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0};

struct Interval {
  double start_s;
  double length_s;
  Histogram histogram;
};

std::vector<Interval> sample() {
  std::mt19937_64 rng(20231114);
  std::lognormal_distribution<double> latency(6.5, 1.2);
  const std::vector<int> sizes = {1000, 2500, 0, 4000, 1000, 777};
  std::vector<Interval> intervals;
  double start_s = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    auto h = Histogram::latency();
    for (int n = 0; n < sizes[i]; ++n) h.record(1 + static_cast<std::int64_t>(latency(rng)));
    if (i == 3) h.record(kOutlierMicros);
    const double length_s = i + 1 == sizes.size() ? 0.5 : 1.0;
    intervals.push_back({start_s, length_s, std::move(h)});
    start_s += length_s;
  }
  return intervals;
}

std::string figures(const Histogram& h) {
  std::string out = fmt::format(R"("count": {}, "min": {}, "max": {}, "percentiles": {{)", h.total(), h.min(), h.max());
  const char* sep = "";
  for (const double p : kPercentiles) {
    out += fmt::format(R"({}"{}": {})", sep, p, h.value_at_percentile(p));
    sep = ", ";
  }
  return out + "}";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: hdr-log-sample LOG\n");
    return 2;
  }
  const auto intervals = sample();
  auto writer = webpush::load::IntervalLogWriter::open(argv[1], kStartUnixMs);
  if (!writer) {
    std::fprintf(stderr, "%s\n", writer.error().to_string().c_str());
    return 1;
  }
  webpush::load::HistogramMerger merger;
  std::string json = fmt::format(R"({{"start_unix_ms": {}, "intervals": [)", kStartUnixMs);
  for (std::size_t i = 0; i < intervals.size(); ++i) {
    const auto& [start_s, length_s, h] = intervals[i];
    auto written = writer->write(start_s, length_s, h);
    auto added = written ? merger.add(h) : written;
    if (!added) {
      std::fprintf(stderr, "%s\n", added.error().to_string().c_str());
      return 1;
    }
    json +=
        fmt::format(R"({}{{"start_s": {}, "length_s": {}, {}}})", i == 0 ? "" : ", ", start_s, length_s, figures(h));
  }
  if (auto closed = writer->close(); !closed) {
    std::fprintf(stderr, "%s\n", closed.error().to_string().c_str());
    return 1;
  }
  std::printf("%s], \"merged\": {%s}}\n", json.c_str(), figures(merger.result()).c_str());
  return 0;
}
