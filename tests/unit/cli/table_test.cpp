// The table helpers of `list` and `messages` (inbox_commands.h): printable,
// elide_middle, local_time and Table. Widths are code points.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "inbox_commands.h"
#include "scoped_env.h"

namespace webpush::cli {
namespace {

constexpr std::size_t kWide = std::numeric_limits<std::size_t>::max();

struct PrintableRow {
  std::string text;
  std::size_t max_width;
  std::string expected;
};

TEST(Printable, Table) {
  const std::vector<PrintableRow> rows = {
      {"hello", 10, "hello"},
      {"", 5, ""},
      {"anything", 0, ""},
      {"héllo wörld", kWide, "héllo wörld"},
      {"日本語", kWide, "日本語"},
      {"😀", kWide, "😀"},
      // control characters: C0, DEL, C1
      {"a\nb", kWide, "a\\nb"},
      {"a\rb\tc", kWide, "a\\rb\\tc"},
      {std::string("nul\0x", 5), kWide, "nul\\x00x"},
      {"\x1b[31mred", kWide, "\\x1b[31mred"},
      {"del\x7f", kWide, "del\\x7f"},
      {"c1\xc2\x85", kWide, "c1\\u0085"},
      {"c1\xc2\x9f", kWide, "c1\\u009f"},
      {"nbsp\xc2\xa0", kWide, "nbsp\xc2\xa0"},  // U+00A0 is printable
      // bidirectional controls
      {"abc\xe2\x80\xae"
       "def",
       kWide,
       "abc\\u202e"
       "def"},  // U+202E RIGHT-TO-LEFT OVERRIDE
      {"\xe2\x80\xaa", kWide, "\\u202a"},
      {"\xe2\x80\x8e\xe2\x80\x8f", kWide, "\\u200e\\u200f"},
      {"\xe2\x81\xa6\xe2\x81\xa9", kWide, "\\u2066\\u2069"},
      {"\xd8\x9c", kWide, "\\u061c"},  // ARABIC LETTER MARK
      // bytes that are not UTF-8
      {"\xff", kWide, "\\xff"},
      {"a\xc3", kWide, "a\\xc3"},                  // truncated sequence
      {"\xc0\xaf", kWide, "\\xc0\\xaf"},           // overlong
      {"\xed\xa0\x80", kWide, "\\xed\\xa0\\x80"},  // a surrogate
      // cut to max_width code points, "…" included
      {"abcdef", 4, "abc…"},
      {"abcd", 4, "abcd"},
      {"abcde", 4, "abc…"},
      {"a", 1, "a"},
      {"ab", 1, "…"},
      {"héllo wörld", 6, "héllo…"},
      {"日本語テキスト", 3, "日本…"},
      {"a\n", 3, "a\\n"},  // an escape is as wide as its text
      {"a\nb", 3, "a…"},   // and is never cut in the middle
      {"a\nb", 2, "a…"},
      {"\x1b", 3, "…"},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(printable(row.text, row.max_width), row.expected) << "'" << row.text << "' at most " << row.max_width;
  }
}

TEST(ElideMiddle, Table) {
  struct Row {
    std::string s;
    std::size_t max_width;
    std::size_t tail;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {"short", 10, 3, "short"},
      {"0123456789", 10, 3, "0123456789"},
      {"0123456789A", 10, 3, "012345…89A"},
      {"https://push.example.com/wpush/v2/abcdefghijklmnopqrstuvwxyz", 30, 12, "https://push.exam…opqrstuvwxyz"},
      {"ééééééééééüü", 6, 2, "ééé…üü"},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(elide_middle(row.s, row.max_width, row.tail), row.expected) << row.s;
  }
}

TEST(LocalTime, InTheLocalZone) {
  struct Row {
    const char* zone;
    std::int64_t unix_ms;
    bool seconds;
    const char* expected;
  };
  const std::vector<Row> rows = {
      {test::kUtc, 0, false, "1970-01-01 00:00"},
      {test::kUtc, 0, true, "1970-01-01 00:00:00"},
      {test::kUtc, 1'764'237'605'250, true, "2025-11-27 10:00:05"},  // milliseconds dropped
      {test::kUtc, 1'764'237'605'999, false, "2025-11-27 10:00"},
      {test::kBerlin, 1'764'237'605'000, true, "2025-11-27 11:00:05"},  // CET
      {test::kBerlin, 1'782'864'000'000, false, "2026-07-01 02:00"},    // CEST
  };
  for (const auto& row : rows) {
    const test::ScopedTimeZone tz(row.zone);
    EXPECT_EQ(local_time(row.unix_ms, row.seconds), row.expected) << row.unix_ms << " in " << row.zone;
  }
}

TEST(Table, PadsEachColumnToItsWidestCellButNotTheLast) {
  Table table({"NAME", "STATE", "SERVER"});
  EXPECT_TRUE(table.empty());
  table.add_row({"a", "active", "wss://push.example.com/"});
  table.add_row({"longer-name", "x", "s"});
  EXPECT_FALSE(table.empty());
  EXPECT_EQ(table.render(),
            "NAME         STATE   SERVER\n"
            "a            active  wss://push.example.com/\n"
            "longer-name  x       s\n");
}

TEST(Table, WidthsAreCodePoints) {
  Table table({"N", "V"});
  table.add_row({"héllo", "1"});
  table.add_row({"日本", "2"});
  EXPECT_EQ(table.render(),
            "N      V\n"
            "héllo  1\n"
            "日本     2\n");
}

TEST(Table, OnlyTheHeader) {
  const Table table({"A", "B"});
  EXPECT_EQ(table.render(), "A  B\n");
}

TEST(Table, ARowHasAsManyCellsAsTheHeader) {
  Table table({"A", "B"});
  table.add_row({"1", "2", "dropped"});
  table.add_row({"only"});
  EXPECT_EQ(table.render(),
            "A     B\n"
            "1     2\n"
            "only  \n");
}

}  // namespace
}  // namespace webpush::cli
