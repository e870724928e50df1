// render-sample-report OUT.html: writes the loadtest report of a synthetic run
// for check_report.py to open in headless Chromium. The run is deterministic
// (a fixed seed, and latencies drawn without std::*_distribution, whose output
// differs between standard libraries) and has what a real one has: a ramp-up
// without messages, a stall that shows in the tail and in the gap between "from
// POST" and "from schedule", failures, and a server string that tries to inject
// markup.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>

#include "webpush/load/report.h"

namespace {

using webpush::load::Histogram;
using webpush::load::IntervalRow;
using webpush::load::Results;

constexpr int kSeconds = 30;
constexpr int kUserAgents = 1000;
constexpr int kRate = 400;
constexpr int kRampUpSeconds = 2;  // connecting only: no messages yet
constexpr int kStallSecond = 17;   // the service stalls for about 0.8 s here

// Exponential with the given mean, from the generator's bits directly.
double exponential(std::mt19937_64& rng, double mean) {
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return -mean * std::log1p(-u);
}

Results sample_setup() {
  Results r;
  r.server = "wss://push.example.test/<script>alert(\"pwned\")</script>?a=1&b=2";
  r.command =
      "webpushd loadtest --server 'wss://push.example.test/<script>alert(\"pwned\")</script>?a=1&b=2' "
      "--user-agents 1000 --subscriptions 2 --rate 400 --duration 26s --report report.html";
  r.start_unix_ms = 1'717'243'200'000;  // 2024-06-01 12:00:00 UTC
  r.user_agents = kUserAgents;
  r.subscriptions_per_agent = 2;
  r.rate = kRate;
  r.send_seconds = kSeconds - kRampUpSeconds;
  r.failures = {{"post: 503", 12}, {"connect: connect_refused", 3}, {"post: <i>timeout</i> & \"retry\"", 1}};
  r.cpu_seconds = 4.82;
  r.rss_bytes = 96LL * 1024 * 1024;
  r.service_rss_bytes = 212LL * 1024 * 1024;
  return r;
}

void connect_everyone(Results& r, std::mt19937_64& rng) {
  for (int i = 0; i < kUserAgents; ++i) r.connect.record(std::llround(3'000 + exponential(rng, 40'000)));
  r.connected_peak = kUserAgents;
  r.registered = 2LL * kUserAgents;
}

// One second of sending: about kRate messages, latencies around 4 ms with a
// long tail, and the stall.
IntervalRow send_second(Results& r, std::mt19937_64& rng, int second) {
  IntervalRow row{.start_s = static_cast<double>(second), .length_s = 1, .connected = kUserAgents - 3};
  const int messages = kRate - 12 + static_cast<int>(rng() % 25);
  Histogram interval = Histogram::latency();
  for (int m = 0; m < messages; ++m) {
    double post_us = 600 + exponential(rng, 900);
    double e2e_us = post_us + 1'500 + exponential(rng, 2'500) + (m % 97 == 0 ? exponential(rng, 40'000) : 0);
    double lag_us = exponential(rng, 200);
    if (second == kStallSecond && m < kRate * 3 / 10) {
      const double stalled = 800'000.0 * (kRate * 3 / 10 - m) / (kRate * 3 / 10);
      e2e_us += stalled;
      lag_us += stalled;  // the sender waited too: only "from schedule" shows it all
    }
    r.post.record(std::llround(post_us));
    r.e2e.record(std::llround(e2e_us));
    r.e2e_from_schedule.record(std::llround(e2e_us + lag_us));
    interval.record(std::llround(e2e_us));
  }
  row.sent = row.received = messages;
  row.p50_us = interval.value_at_percentile(50);
  row.p90_us = interval.value_at_percentile(90);
  row.p99_us = interval.value_at_percentile(99);
  row.max_us = interval.max();
  return row;
}

Results sample_run() {
  Results r = sample_setup();
  std::mt19937_64 rng(20240601);
  connect_everyone(r, rng);
  for (int s = 0; s < kSeconds; ++s) {
    if (s < kRampUpSeconds) {
      r.intervals.push_back({.start_s = static_cast<double>(s), .length_s = 1, .connected = (s + 1) * kUserAgents / 3});
      continue;
    }
    r.intervals.push_back(send_second(r, rng, s));
  }
  // The stalled messages arrive a second late.
  const std::int64_t late = r.intervals[kStallSecond].received * 3 / 10;
  r.intervals[kStallSecond].received -= late;
  r.intervals[kStallSecond + 1].received += late;
  for (const IntervalRow& row : r.intervals) r.accepted += row.sent;
  r.scheduled = static_cast<std::int64_t>(kRate) * (kSeconds - kRampUpSeconds);
  r.posted = r.accepted + 12;
  r.received = r.accepted - 2;
  r.lost = 2;
  r.out_of_order = 5;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.html\n", argv[0]);
    return 2;
  }
  std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
  out << webpush::load::render_report(sample_run());
  out.close();
  if (!out) {
    std::fprintf(stderr, "render-sample-report: cannot write %s\n", argv[1]);
    return 1;
  }
  return 0;
}
