// parse_since: the TIME of `messages --since` (inbox_commands.h). Times with an
// offset do not depend on the zone; local ones are read under a fixed TZ rule.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "inbox_commands.h"
#include "scoped_env.h"

namespace webpush::cli {
namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;  // 2027-01-15T08:00:00Z
constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kWeek = 7 * kDay;

constexpr std::int64_t k20261127T10Z = 1'795'773'600'000;  // 2026-11-27T10:00:00Z

struct OkRow {
  const char* text;
  std::int64_t expected;
};

void expect_rows(const std::vector<OkRow>& rows, const char* zone) {
  for (const auto& row : rows) {
    EXPECT_EQ(parse_since(row.text, kNow), std::optional<std::int64_t>(row.expected))
        << "'" << row.text << "' in " << zone;
  }
}

TEST(ParseSince, DurationsAgo) {
  expect_rows(
      {
          {"30s", kNow - 30 * kSecond},
          {"10m", kNow - 10 * kMinute},
          {"2h", kNow - 2 * kHour},
          {"3d", kNow - 3 * kDay},
          {"1w", kNow - kWeek},
          {"0s", kNow},
          {"007m", kNow - 7 * kMinute},
          {"999999999w", kNow - 999'999'999 * kWeek},  // nine digits, the most
      },
      "any zone");
}

TEST(ParseSince, TimesWithAnOffset) {
  expect_rows(
      {
          {"2026-11-27T10:00:00Z", k20261127T10Z},
          {"2026-11-27T10:00:00z", k20261127T10Z},
          {"2026-11-27t10:00:00Z", k20261127T10Z},
          {"2026-11-27 10:00:00Z", k20261127T10Z},
          {"2026-11-27T10:00Z", k20261127T10Z},  // seconds left out
          {"2026-11-27T10:00:00+00:00", k20261127T10Z},
          {"2026-11-27T10:00:00-00:00", k20261127T10Z},
          {"2026-11-27T11:00:00+01:00", k20261127T10Z},
          {"2026-11-27T04:30:00-05:30", k20261127T10Z},
          {"2026-11-27T11:00+01:00", k20261127T10Z},
          {"2026-11-27T10:00:00.250+01:00", k20261127T10Z - kHour + 250},
          // fractions: milliseconds, further digits cut off (not rounded)
          {"2026-11-27T10:00:00.5Z", k20261127T10Z + 500},
          {"2026-11-27T10:00:00.05Z", k20261127T10Z + 50},
          {"2026-11-27T10:00:00.123456Z", k20261127T10Z + 123},
          {"2026-11-27T10:00:00.9999Z", k20261127T10Z + 999},
          // a leap second counts as :59
          {"2026-11-27T23:59:60Z", 1'795'823'999'000},
          {"2024-02-29T00:00:00Z", 1'709'164'800'000},
          {"1970-01-01T00:00:00Z", 0},
          {"1969-12-31T23:59:59.500Z", -500},
          {"2000-01-01T00:00:00+14:00", 946'684'800'000 - 14 * kHour},
      },
      "any zone");
}

TEST(ParseSince, LocalTimesInUtc) {
  const test::ScopedTimeZone tz(test::kUtc);
  expect_rows(
      {
          {"2026-11-27", 1'795'737'600'000},  // local midnight
          {"2026-11-27T10:00", k20261127T10Z},
          {"2026-11-27T10:00:00", k20261127T10Z},
          {"2026-11-27T10:00:00.250", k20261127T10Z + 250},
          {"2026-11-27 10:00", k20261127T10Z},
      },
      test::kUtc);
}

TEST(ParseSince, LocalTimesFollowTheZoneAndItsSummerTime) {
  const test::ScopedTimeZone tz(test::kBerlin);
  expect_rows(
      {
          {"2026-11-27", 1'795'737'600'000 - kHour},           // CET, UTC+1
          {"2026-07-01", 1'782'864'000'000 - 2 * kHour},       // CEST, UTC+2
          {"2026-11-27T11:00", k20261127T10Z},                 // CET
          {"2026-07-01T06:00:00.5", 1'782'878'400'000 + 500},  // CEST: 04:00:00.5Z
          {"2026-11-27T10:00:00Z", k20261127T10Z},             // an offset ignores the zone
      },
      test::kBerlin);
}

TEST(ParseSince, Errors) {
  const test::ScopedTimeZone tz(test::kUtc);
  const std::vector<const char*> rows = {
      // nothing, or not a duration
      "",
      "s",
      "10",
      "10x",
      "10S",
      "10M",
      "-5m",
      "+5m",
      "1.5h",
      " 10m",
      "10m ",
      "10 m",
      "1000000000w",  // ten digits
      "now",
      "yesterday",
      // dates that do not exist
      "2026-13-01",
      "2026-00-10",
      "2026-02-30",
      "2025-02-29",
      "2026-11-00",
      "2026-11-31",
      // malformed dates
      "2026/11/27",
      "2026-1-27",
      "2026-11-7",
      "26-11-27",
      "2026-11-27Z",
      "2026-11-27x",
      "20261127",
      "2026-11-27T",
      // malformed or impossible times
      "2026-11-27T10",
      "2026-11-27T10:0",
      "2026-11-27T1:00",
      "2026-11-27T10-00",
      "2026-11-27T24:00Z",
      "2026-11-27T10:60Z",
      "2026-11-27T10:00:61Z",
      "2026-11-27T10:00:0",
      "2026-11-27T10:00:00.",
      "2026-11-27T10:00:00.Z",
      "2026-11-27T10:00:00,5Z",
      "2026-11-27T10:00:00 Z",
      "2026-11-27T10:00:00ZZ",
      "2026-11-27T10:00:00Zjunk",
      "2026-11-27X10:00:00Z",
      // malformed offsets
      "2026-11-27T10:00:00+0100",
      "2026-11-27T10:00:00+01",
      "2026-11-27T10:00:00+1:00",
      "2026-11-27T10:00:00+24:00",
      "2026-11-27T10:00:00+01:60",
      "2026-11-27T10:00:00+01:00:00",
      "2026-11-27T10:00:00UTC",
  };
  for (const char* text : rows) {
    EXPECT_EQ(parse_since(text, kNow), std::nullopt) << "'" << text << "'";
  }
}

}  // namespace
}  // namespace webpush::cli
