#include "webpush/core/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace webpush {
namespace core_utf8_test {

TEST(Utf8, DecodesValidSequences) {
  const struct {
    std::string text;
    std::size_t len;
    char32_t cp;
  } rows[] = {
      {"A", 1, U'A'},
      {"\xc3\xa9", 2, U'\u00e9'},
      {"\xe2\x9c\x93", 3, U'\u2713'},
      {"\xf0\x9f\x98\x80", 4, U'\U0001F600'},
  };
  for (const auto& row : rows) {
    char32_t cp = 0;
    EXPECT_EQ(utf8_decode(row.text, 0, cp), row.len) << row.text;
    EXPECT_EQ(cp, row.cp) << row.text;
    EXPECT_TRUE(is_valid_utf8(as_bytes(row.text))) << row.text;
  }
}

TEST(Utf8, RejectsWhatIsNotUtf8) {
  const std::string rows[] = {
      "\x80",              // stray continuation byte
      "\xc3",              // truncated
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong, three bytes
      "\xed\xa0\x80",      // surrogate U+D800
      "\xf4\x90\x80\x80",  // beyond U+10FFFF
      "\xff",              // never valid
      "ok\xe2\x9c",        // valid start, truncated end
  };
  for (const auto& row : rows) EXPECT_FALSE(is_valid_utf8(as_bytes(row))) << "row of " << row.size() << " bytes";
  EXPECT_TRUE(is_valid_utf8(as_bytes("")));
}

TEST(PrintablePrefix, CutsAndMasksUntrustedText) {
  EXPECT_EQ(printable_prefix("hello", 10), "hello");
  EXPECT_EQ(printable_prefix("hello world", 5), "hello...");
  EXPECT_EQ(printable_prefix(std::string("a\nb\x1b\xc3\xa9", 6), 10), "a?b???");
  EXPECT_EQ(printable_prefix("", 3), "");
}

}  // namespace core_utf8_test
}  // namespace webpush
