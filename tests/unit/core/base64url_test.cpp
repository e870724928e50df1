#include "webpush/core/base64url.h"

#include <gtest/gtest.h>

#include <string>

namespace webpush {
namespace core_base64url_test {

struct OkRow {
  const char* desc;
  const char* text;
  std::string plain;
};

// RFC 4648 §10 vectors, with and without padding, plus both URL-alphabet characters.
const OkRow kOk[] = {
    {"empty", "", ""},
    {"f", "Zg", "f"},
    {"f padded", "Zg==", "f"},
    {"fo", "Zm8", "fo"},
    {"fo padded", "Zm8=", "fo"},
    {"foo", "Zm9v", "foo"},
    {"foob", "Zm9vYg", "foob"},
    {"fooba", "Zm9vYmE", "fooba"},
    {"foobar", "Zm9vYmFy", "foobar"},
    {"url alphabet", "-_8", std::string("\xfb\xff", 2)},
};

TEST(Base64Url, DecodesOkRows) {
  for (const auto& row : kOk) {
    auto out = base64url_decode(row.text);
    ASSERT_TRUE(out) << row.desc << ": " << out.error();
    EXPECT_EQ(std::string(as_chars(*out)), row.plain) << row.desc;
  }
}

TEST(Base64Url, EncodesWithoutPadding) {
  EXPECT_EQ(base64url_encode(as_bytes("")), "");
  EXPECT_EQ(base64url_encode(as_bytes("f")), "Zg");
  EXPECT_EQ(base64url_encode(as_bytes("fo")), "Zm8");
  EXPECT_EQ(base64url_encode(as_bytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode(as_bytes(std::string("\xfb\xff", 2))), "-_8");
}

TEST(Base64Url, RoundTripsEveryLength) {
  Bytes data;
  for (int n = 0; n < 70; ++n) {
    auto back = base64url_decode(base64url_encode(data));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, data) << "length " << n;
    data.push_back(static_cast<std::uint8_t>(n * 37 + 11));
  }
}

struct ErrRow {
  const char* desc;
  std::string text;
  const char* message_part;  // the message must name what and where
};

const ErrRow kErr[] = {
    {"standard alphabet plus", "ab+d", "'+' at offset 2"},
    {"standard alphabet slash", "ab/d", "'/' at offset 2"},
    {"space", "ab d", "0x20 at offset 2"},
    {"padding in the middle", "Zg==Zg", "'=' at offset 2"},
    {"three pad characters", "Z===", "too much"},
    {"padding not completing a quantum", "Zm9=x", "'=' at offset 3"},
    {"wrong amount of padding", "Zg=", "wrong amount"},
    {"impossible length", "Zm9vY", "impossible length"},
    {"non-ASCII byte", std::string("Zm\xc3\xa9", 4), "0xc3 at offset 2"},
    {"NUL byte", std::string("Zm\0v", 4), "0x00 at offset 2"},
};

TEST(Base64Url, RejectsErrRowsWithOffset) {
  for (const auto& row : kErr) {
    auto out = base64url_decode(row.text);
    ASSERT_FALSE(out) << row.desc;
    EXPECT_EQ(out.error(), core::Errc::bad_base64) << row.desc;
    EXPECT_NE(out.error().message().find(row.message_part), std::string::npos)
        << row.desc << ": " << out.error().message();
  }
}

TEST(Base64Any, AcceptsStandardAlphabetToo) {
  auto out = base64_any_decode("+/8=");
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, (Bytes{0xfb, 0xff}));
  EXPECT_FALSE(base64url_decode("+/8="));
}

}  // namespace core_base64url_test
}  // namespace webpush
