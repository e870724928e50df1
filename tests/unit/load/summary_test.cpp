// How a run is told: format_latency's units and digits, the summary table a
// person reads (counts, rates, delivery, failures, cost; the message lines
// only when the run sent), the JSON document (every stable key, with the value
// the Results hold), and has_delivery_fault for each kind of fault, a clean
// run and a --connect-only run.
#include "webpush/load/summary.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace webpush::load {
namespace summary_test {

using nlohmann::json;

// ---- format_latency ----------------------------------------------------------------------

/// What a formatted latency says: its number, how many decimals it shows, its unit.
struct Reading {
  double number = 0;
  int decimals = 0;
  std::string unit;
};

::testing::AssertionResult read_latency(const std::string& text, Reading& out) {
  const auto space = text.find(' ');
  if (space == std::string::npos || space == 0)
    return ::testing::AssertionFailure() << "no \"<number> <unit>\": " << text;
  const std::string number = text.substr(0, space);
  out.unit = text.substr(space + 1);
  std::size_t used = 0;
  out.number = std::stod(number, &used);
  if (used != number.size()) return ::testing::AssertionFailure() << "not a number: " << text;
  const auto dot = number.find('.');
  out.decimals = dot == std::string::npos ? 0 : static_cast<int>(number.size() - dot - 1);
  return ::testing::AssertionSuccess();
}

/// The unit that keeps the number between 1 and 999 (but for seconds): µs
/// below a millisecond, ms below a second, s above; the number is `us` to within the rounding of
/// the decimals shown, with at least three significant digits.
::testing::AssertionResult reads_as(std::int64_t us) {
  const std::string text = format_latency(us);
  Reading r;
  if (auto ok = read_latency(text, r); !ok) return ok;
  const std::string want_unit = us < 1000 ? "us" : us < 1'000'000 ? "ms" : "s";
  if (r.unit != want_unit)
    return ::testing::AssertionFailure() << us << " us reads " << text << ", not in " << want_unit;
  const double scale = r.unit == "us" ? 1 : r.unit == "ms" ? 1e3 : 1e6;
  const double tolerance = 0.5 * std::pow(10.0, -r.decimals) * scale + 1e-6;
  if (std::abs(r.number * scale - static_cast<double>(us)) > tolerance) {
    return ::testing::AssertionFailure() << us << " us reads " << text << ", off by more than the rounding";
  }
  // Seconds are the largest unit: an hour reads 3600 s.
  if (us >= 1 && (r.number < 1 || (r.unit != "s" && r.number >= 1000))) {
    return ::testing::AssertionFailure() << us << " us reads " << text << ": the number should be 1 to 999.x";
  }
  if (us >= 100) {
    int digits = 0;  // significant digits shown
    const std::string shown = text.substr(0, text.find(' '));
    bool leading = true;
    for (const char c : shown) {
      if (c < '0' || c > '9') continue;
      if (leading && c == '0') continue;
      leading = false;
      ++digits;
    }
    if (digits < 3) return ::testing::AssertionFailure() << us << " us reads " << text << ": fewer than 3 digits";
  }
  return ::testing::AssertionSuccess();
}

TEST(FormatLatency, BelowAMillisecondInWholeMicroseconds) {
  EXPECT_EQ(format_latency(0), "0 us");
  EXPECT_EQ(format_latency(1), "1 us");
  EXPECT_EQ(format_latency(42), "42 us");
  EXPECT_EQ(format_latency(999), "999 us");
}

TEST(FormatLatency, SwitchesUnitAtAMillisecondAndASecond) {
  for (const std::int64_t us : {
           std::int64_t{999},        std::int64_t{1000},       std::int64_t{1001},          std::int64_t{9'999},
           std::int64_t{10'000},     std::int64_t{12'345},     std::int64_t{99'994},        std::int64_t{99'999},
           std::int64_t{100'000},    std::int64_t{123'456},    std::int64_t{999'400},       std::int64_t{999'499},
           std::int64_t{1'000'000},  std::int64_t{1'000'001},  std::int64_t{3'020'000},     std::int64_t{9'999'000},
           std::int64_t{10'000'000}, std::int64_t{59'999'000}, std::int64_t{3'600'000'000},
       }) {
    EXPECT_TRUE(reads_as(us));
  }
  Reading r;
  ASSERT_TRUE(read_latency(format_latency(1000), r));
  EXPECT_EQ(r.unit, "ms");
  EXPECT_DOUBLE_EQ(r.number, 1.0);
  ASSERT_TRUE(read_latency(format_latency(10'000), r));
  EXPECT_EQ(r.unit, "ms");
  EXPECT_DOUBLE_EQ(r.number, 10.0);
  ASSERT_TRUE(read_latency(format_latency(1'000'000), r));
  EXPECT_EQ(r.unit, "s");
  EXPECT_DOUBLE_EQ(r.number, 1.0);
}

TEST(FormatLatency, GrowsWithTheValue) {
  double last = -1;
  for (std::int64_t us = 1; us < 4'000'000'000; us = us * 3 + 1) {
    Reading r;
    ASSERT_TRUE(read_latency(format_latency(us), r));
    const double scale = r.unit == "us" ? 1 : r.unit == "ms" ? 1e3 : 1e6;
    EXPECT_GT(r.number * scale, last) << us;
    last = r.number * scale;
  }
}

// The unit is picked after rounding: 999,950..999,999 µs read "1.00 s", not "1000 ms".
TEST(FormatLatency, JustBelowASecondDoesNotReadAThousandMilliseconds) {
  EXPECT_EQ(format_latency(999'499), "999 ms");
  EXPECT_EQ(format_latency(999'500), "1.00 s");
  EXPECT_EQ(format_latency(999'999), "1.00 s");
}

TEST(FormatLatency, ThreeSignificantDigitsAsDocumented) {
  EXPECT_EQ(format_latency(1000), "1.00 ms");
  EXPECT_EQ(format_latency(9'999), "10.0 ms");
  EXPECT_EQ(format_latency(10'000), "10.0 ms");
  EXPECT_EQ(format_latency(12'400), "12.4 ms");
  EXPECT_EQ(format_latency(99'999), "100 ms");
  EXPECT_EQ(format_latency(123'456), "123 ms");
  EXPECT_EQ(format_latency(1'000'000), "1.00 s");
  EXPECT_EQ(format_latency(3'020'000), "3.02 s");
}

// ---- a run to tell -----------------------------------------------------------------------

/// A run of 10 user agents × 2 subscriptions at 100 msg/s for 10 s.
Results sending_run() {
  Results r;
  r.server = "wss://push.example.net/";
  r.command = "webpushd loadtest --server wss://push.example.net/ --user-agents 10";
  r.start_unix_ms = 1'750'000'000'123;
  r.user_agents = 10;
  r.subscriptions_per_agent = 2;
  r.rate = 100;
  for (int i = 1; i <= 10; ++i) r.connect.record(2'000 + i * 100);
  for (int i = 1; i <= 1000; ++i) r.post.record(1'500 + i);
  for (int i = 1; i <= 998; ++i) r.e2e.record(i * 10);  // 10 µs .. 9.98 ms
  for (int i = 1; i <= 998; ++i) r.e2e_from_schedule.record(i * 12);
  r.connected_peak = 10;
  r.registered = 20;
  r.scheduled = 1000;
  r.posted = 1000;
  r.accepted = 998;
  r.received = 998;
  r.out_of_order = 3;
  r.send_seconds = 10;
  r.failures = {{"post: 503", 2}};
  r.cpu_seconds = 1.5;
  r.sender_cpu_seconds = 0.5;
  r.rss_bytes = 52'400'000;
  r.rss_idle_bytes = 12'400'000;
  r.intervals.push_back({0, 1, 10, 99, 98, 850, 1'700, 2'450, 3'100});
  r.intervals.push_back({1, 0.5, 9, 50, 51, 900, 1'800, 2'600, 2'900});
  return r;
}

/// --connect-only: 50 user agents held connected, nothing sent.
Results connect_only_run() {
  Results r;
  r.server = "ws://127.0.0.1:8080/";
  r.user_agents = 50;
  r.subscriptions_per_agent = 1;
  r.rate = 0;
  for (int i = 0; i < 50; ++i) r.connect.record(900 + i);
  r.connected_peak = 50;
  r.registered = 50;
  r.rss_bytes = 30'000'000;
  r.rss_idle_bytes = 10'000'000;
  r.service_rss_bytes = 20'000'000;
  r.service_rss_idle_bytes = 15'000'000;
  return r;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---- summary_table -----------------------------------------------------------------------

TEST(SummaryTable, TellsTheCountsRatesAndDeliveryOfASendingRun) {
  const std::string table = summary_table(sending_run());
  const std::vector<std::string> lines = {
      "connections  10 user agents, peak 10 connected, 20 of 20 subscriptions registered",
      "messages     1000 scheduled, 1000 posted, 998 accepted (2xx), 998 received",
      "rate         100.0 msg/s scheduled, 99.8 msg/s achieved over 10.0 s",
      "delivery     0 lost, 0 duplicated, 3 out of order, 0 decrypt failures",
      "loadtest     CPU 1.50 s, peak RSS 52.4 MB (4.0 MB per user agent)",
  };
  for (const auto& line : lines) EXPECT_TRUE(contains(table, line + "\n")) << "missing: " << line << "\n" << table;
  EXPECT_TRUE(contains(table, "2  post: 503\n")) << table;
  EXPECT_FALSE(contains(table, "failures     none")) << table;
  EXPECT_FALSE(contains(table, "service ")) << table;  // no service RSS was read
}

TEST(SummaryTable, HasALatencyRowForEachHistogramWithCounts) {
  const Results r = sending_run();
  const std::string table = summary_table(r);
  EXPECT_EQ(table.rfind(latency_table(r), 0), 0u) << table;  // the latency rows come first
  for (const char* name : {"connect ", "POST -> 2xx ", "end-to-end ", "e2e from schedule "}) {
    EXPECT_TRUE(contains(table, std::string("\n") + name)) << name << "\n" << table;
  }
  // The end-to-end row shows its percentiles as format_latency tells them, and its count.
  const auto row_start = table.find("\nend-to-end ");
  ASSERT_NE(row_start, std::string::npos);
  const std::string row = table.substr(row_start + 1, table.find('\n', row_start + 1) - row_start - 1);
  EXPECT_TRUE(contains(row, format_latency(r.e2e.value_at_percentile(50)))) << row;
  EXPECT_TRUE(contains(row, format_latency(r.e2e.value_at_percentile(99)))) << row;
  EXPECT_TRUE(contains(row, format_latency(r.e2e.max()))) << row;
  EXPECT_TRUE(row.ends_with(" 998")) << row;
}

TEST(SummaryTable, LeavesOutEmptyHistogramsAndTheMessageLinesWhenNothingWasSent) {
  const std::string table = summary_table(connect_only_run());
  EXPECT_TRUE(contains(table, "\nconnect ")) << table;
  EXPECT_FALSE(contains(table, "end-to-end")) << table;
  EXPECT_FALSE(contains(table, "POST -> 2xx")) << table;
  EXPECT_FALSE(contains(table, "messages ")) << table;
  EXPECT_FALSE(contains(table, "delivery ")) << table;
  EXPECT_TRUE(contains(table, "connections  50 user agents, peak 50 connected, 50 of 50 subscriptions registered\n"))
      << table;
  EXPECT_TRUE(contains(table, "failures     none\n")) << table;
  EXPECT_TRUE(contains(table, "loadtest     CPU 0.00 s, peak RSS 30.0 MB (400.0 kB per user agent)\n")) << table;
  EXPECT_TRUE(contains(table, "service      RSS 20.0 MB (100.0 kB per connection)\n")) << table;
}

TEST(SummaryTable, ReportsLossesAndEveryFailureReason) {
  Results r = sending_run();
  r.accepted = 1000;
  r.received = 990;
  r.lost = 7;
  r.duplicated = 2;
  r.decrypt_failed = 1;
  r.failures = {{"connect: connect_refused", 4}, {"register: the push service failed the registration (503)", 1}};
  const std::string table = summary_table(r);
  EXPECT_TRUE(contains(table, "delivery     7 lost, 2 duplicated, 3 out of order, 1 decrypt failures\n")) << table;
  EXPECT_TRUE(contains(table, "failures\n")) << table;
  EXPECT_TRUE(contains(table, "4  connect: connect_refused\n")) << table;
  EXPECT_TRUE(contains(table, "1  register: the push service failed the registration (503)\n")) << table;
}

TEST(SummaryTable, SaysSoWhenDeliveryWasNotTracked) {
  Results r = sending_run();
  r.receipt_tracked = false;  // sent to another user agent's subscriptions
  const std::string table = summary_table(r);
  EXPECT_TRUE(contains(table, "delivery     not tracked: the subscriptions belong to another user agent\n")) << table;
  EXPECT_FALSE(contains(table, " lost, ")) << table;
  EXPECT_TRUE(contains(table, "messages     1000 scheduled, 1000 posted, 998 accepted (2xx), 998 received\n")) << table;
  EXPECT_EQ(json::parse(results_json(r))["receipt_tracked"], false);
}

// ---- results_json ------------------------------------------------------------------------

TEST(ResultsJson, HasEveryStableKey) {
  const json j = json::parse(results_json(sending_run()));
  ASSERT_TRUE(j.is_object());
  std::set<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.insert(key);
  const std::set<std::string> expected = {
      "server",         "command",       "start_unix_ms",  "user_agents",     "subscriptions_per_agent",
      "rate_scheduled", "rate_achieved", "send_seconds",   "connected_peak",  "registered",
      "scheduled",      "posted",        "accepted",       "received",        "lost",
      "duplicated",     "out_of_order",  "decrypt_failed", "receipt_tracked", "failures",
      "latency_us",     "loadtest",      "service",        "intervals",       "interrupted",
      "unresolved",
  };
  EXPECT_EQ(keys, expected);
  for (const char* h : {"connect", "post", "e2e", "e2e_from_schedule"}) {
    ASSERT_TRUE(j["latency_us"].contains(h)) << h;
    std::set<std::string> fields;
    for (const auto& [key, value] : j["latency_us"][h].items()) fields.insert(key);
    EXPECT_EQ(fields, (std::set<std::string>{"count", "min", "mean", "p50", "p90", "p99", "p99_9", "max"})) << h;
  }
}

TEST(ResultsJson, CarriesTheValuesOfTheResults) {
  const Results r = sending_run();
  const std::string text = results_json(r);
  EXPECT_FALSE(text.ends_with("\n"));
  const json j = json::parse(text);

  EXPECT_EQ(j["server"], "wss://push.example.net/");
  EXPECT_EQ(j["command"], r.command);
  EXPECT_EQ(j["start_unix_ms"], 1'750'000'000'123);
  EXPECT_EQ(j["user_agents"], 10);
  EXPECT_EQ(j["subscriptions_per_agent"], 2);
  EXPECT_DOUBLE_EQ(j["rate_scheduled"].get<double>(), 100);
  EXPECT_DOUBLE_EQ(j["rate_achieved"].get<double>(), 99.8);
  EXPECT_DOUBLE_EQ(j["send_seconds"].get<double>(), 10);
  EXPECT_EQ(j["connected_peak"], 10);
  EXPECT_EQ(j["registered"], 20);
  EXPECT_EQ(j["scheduled"], 1000);
  EXPECT_EQ(j["posted"], 1000);
  EXPECT_EQ(j["accepted"], 998);
  EXPECT_EQ(j["received"], 998);
  EXPECT_EQ(j["lost"], 0);
  EXPECT_EQ(j["duplicated"], 0);
  EXPECT_EQ(j["out_of_order"], 3);
  EXPECT_EQ(j["decrypt_failed"], 0);
  EXPECT_EQ(j["receipt_tracked"], true);
  EXPECT_EQ(j["failures"], (json{{"post: 503", 2}}));

  const json& e2e = j["latency_us"]["e2e"];
  EXPECT_EQ(e2e["count"], 998);
  EXPECT_EQ(e2e["min"], r.e2e.min());
  EXPECT_EQ(e2e["p50"], r.e2e.value_at_percentile(50));
  EXPECT_EQ(e2e["p90"], r.e2e.value_at_percentile(90));
  EXPECT_EQ(e2e["p99"], r.e2e.value_at_percentile(99));
  EXPECT_EQ(e2e["p99_9"], r.e2e.value_at_percentile(99.9));
  EXPECT_EQ(e2e["max"], r.e2e.max());
  EXPECT_DOUBLE_EQ(e2e["mean"].get<double>(), r.e2e.mean());
  // Values below 2,048 µs are exact; the largest is within the histogram's precision.
  EXPECT_EQ(e2e["min"], 10);
  EXPECT_EQ(r.e2e.highest_equivalent(e2e["max"].get<std::int64_t>()), r.e2e.highest_equivalent(9'980));
  EXPECT_EQ(j["latency_us"]["connect"]["count"], 10);
  EXPECT_EQ(j["latency_us"]["connect"]["min"], 2'100);
  EXPECT_EQ(j["latency_us"]["post"]["count"], 1000);
  EXPECT_EQ(j["latency_us"]["e2e_from_schedule"]["p99"], r.e2e_from_schedule.value_at_percentile(99));

  EXPECT_DOUBLE_EQ(j["loadtest"]["cpu_seconds"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j["loadtest"]["sender_cpu_seconds"].get<double>(), 0.5);
  EXPECT_EQ(j["loadtest"]["peak_rss_bytes"], 52'400'000);
  EXPECT_EQ(j["loadtest"]["idle_rss_bytes"], 12'400'000);
  EXPECT_EQ(j["service"]["rss_bytes"], 0);
  EXPECT_EQ(j["service"]["idle_rss_bytes"], 0);

  ASSERT_EQ(j["intervals"].size(), 2u);
  const json& first = j["intervals"][0];
  EXPECT_DOUBLE_EQ(first["start_s"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(first["length_s"].get<double>(), 1);
  EXPECT_EQ(first["connected"], 10);
  EXPECT_EQ(first["sent"], 99);
  EXPECT_EQ(first["received"], 98);
  EXPECT_EQ(first["p50_us"], 850);
  EXPECT_EQ(first["p90_us"], 1'700);
  EXPECT_EQ(first["p99_us"], 2'450);
  EXPECT_EQ(first["max_us"], 3'100);
  EXPECT_DOUBLE_EQ(j["intervals"][1]["length_s"].get<double>(), 0.5);
  EXPECT_EQ(j["intervals"][1]["p99_us"], 2'600);
}

TEST(ResultsJson, AConnectOnlyRunHasZerosWhereNothingWasMeasured) {
  const json j = json::parse(results_json(connect_only_run()));
  EXPECT_DOUBLE_EQ(j["rate_scheduled"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(j["rate_achieved"].get<double>(), 0);  // no send phase: no division by zero
  EXPECT_EQ(j["lost"], 0);
  EXPECT_EQ(j["latency_us"]["e2e"]["count"], 0);
  EXPECT_EQ(j["latency_us"]["e2e"]["p99"], 0);
  EXPECT_EQ(j["latency_us"]["connect"]["count"], 50);
  EXPECT_TRUE(j["failures"].is_object());
  EXPECT_TRUE(j["failures"].empty());
  EXPECT_TRUE(j["intervals"].is_array());
  EXPECT_TRUE(j["intervals"].empty());
  EXPECT_EQ(j["service"]["rss_bytes"], 20'000'000);
}

TEST(ResultsJson, StringsThatNeedEscapingStayValidJson) {
  Results r = sending_run();
  r.command = "webpushd loadtest --vapid-subject \"mailto:a@b\"\t\\";
  r.failures = {{"register: \"quoted\" reason", 1}};
  const json j = json::parse(results_json(r));
  EXPECT_EQ(j["command"], r.command);
  EXPECT_EQ(j["failures"]["register: \"quoted\" reason"], 1);
}

// ---- has_delivery_fault ----------------------------------------------------------------------

struct FaultRow {
  const char* desc;
  void (*change)(Results&);
  bool fault;
};

TEST(HasDeliveryFault, EachKindOfFaultAndTheRunsWithout) {
  const std::vector<FaultRow> rows = {
      {"a clean run", [](Results&) {}, false},
      {"one lost", [](Results& r) { r.lost = 1; }, true},
      {"one duplicated", [](Results& r) { r.duplicated = 1; }, true},
      {"one decrypt failure", [](Results& r) { r.decrypt_failed = 1; }, true},
      {"stopped early (the run did not complete)",
       [](Results& r) {
         r.interrupted = true;
         r.unresolved = 3;
       },
       true},
      {"out of order only (not a fault)", [](Results& r) { r.out_of_order = 50; }, false},
      {"refused POSTs only (failures, not a delivery fault)",
       [](Results& r) {
         r.failures = {{"post: 503", 500}};
       },
       false},
      {"nothing accepted at all",
       [](Results& r) {
         r.accepted = 0;
         r.received = 0;
       },
       true},
      {"one accepted and received",
       [](Results& r) {
         r.accepted = 1;
         r.received = 1;
       },
       false},
      {"sending, but stopped before anything was due",
       [](Results& r) {
         r.scheduled = 0;
         r.posted = 0;
         r.accepted = 0;
         r.received = 0;
       },
       false},
  };
  for (const auto& row : rows) {
    Results r = sending_run();
    row.change(r);
    EXPECT_EQ(has_delivery_fault(r), row.fault) << row.desc;
  }
}

TEST(HasDeliveryFault, ConnectOnlyWithNothingSentIsClean) {
  const Results r = connect_only_run();
  EXPECT_FALSE(has_delivery_fault(r));
  // …and a connect-only run is still judged on what it received.
  Results dup = r;
  dup.duplicated = 1;
  EXPECT_TRUE(has_delivery_fault(dup));
}

TEST(HasDeliveryFault, ConnectOnlyFailsWhenAUserAgentNeverConnectedOrRegistered) {
  Results short_one = connect_only_run();
  short_one.connected_peak = 49;
  EXPECT_TRUE(has_delivery_fault(short_one));
  Results unregistered = connect_only_run();
  unregistered.registered = 49;
  EXPECT_TRUE(has_delivery_fault(unregistered));
}

TEST(SummaryTable, AnInterruptedRunSaysWhatWasStillOnItsWay) {
  Results r = connect_only_run();
  r.interrupted = true;
  r.unresolved = 7;
  EXPECT_NE(summary_table(r).find("stopped early; 7 accepted messages were not received yet"), std::string::npos)
      << summary_table(r);
  const auto j = json::parse(results_json(r));
  EXPECT_EQ(j["interrupted"], true);
  EXPECT_EQ(j["unresolved"], 7);
}

}  // namespace summary_test
}  // namespace webpush::load
