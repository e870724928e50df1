#include "webpush/core/url.h"

#include <gtest/gtest.h>

namespace webpush {
namespace core_url_test {

struct OkRow {
  const char* text;
  const char* scheme;
  const char* host;
  std::uint16_t port;
  const char* path;
  const char* origin;
};

const OkRow kOk[] = {
    {"https://updates.push.services.mozilla.com/wpush/v2/gAAA", "https", "updates.push.services.mozilla.com", 443,
     "/wpush/v2/gAAA", "https://updates.push.services.mozilla.com"},
    {"wss://push.services.mozilla.com/", "wss", "push.services.mozilla.com", 443, "/",
     "wss://push.services.mozilla.com"},
    {"HTTP://Example.COM:8080", "http", "example.com", 8080, "/", "http://example.com:8080"},
    {"http://127.0.0.1:80/x?y=1#frag", "http", "127.0.0.1", 80, "/x?y=1", "http://127.0.0.1"},
    {"ws://[::1]:9000/", "ws", "::1", 9000, "/", "ws://[::1]:9000"},
    {"https://host?q", "https", "host", 443, "/?q", "https://host"},
};

TEST(Url, ParsesOkRows) {
  for (const auto& row : kOk) {
    auto url = parse_url(row.text);
    ASSERT_TRUE(url) << row.text << ": " << url.error();
    EXPECT_EQ(url->scheme, row.scheme) << row.text;
    EXPECT_EQ(url->host, row.host) << row.text;
    EXPECT_EQ(url->port, row.port) << row.text;
    EXPECT_EQ(url->path, row.path) << row.text;
    EXPECT_EQ(url->origin(), row.origin) << row.text;
  }
}

TEST(Url, Loopback) {
  EXPECT_TRUE(parse_url("ws://127.0.0.1:1/")->is_loopback());
  EXPECT_TRUE(parse_url("ws://localhost/")->is_loopback());
  EXPECT_TRUE(parse_url("ws://[::1]/")->is_loopback());
  EXPECT_FALSE(parse_url("ws://10.0.0.1/")->is_loopback());
  EXPECT_FALSE(parse_url("ws://127.example.com/")->is_loopback());
}

struct ErrRow {
  const char* text;
  const char* why;
};

const ErrRow kErr[] = {
    {"Failed to generate endpoint", "space"},
    {"updates.push.services.mozilla.com/wpush", "no scheme"},
    {"ftp://example.com/", "unsupported scheme"},
    {"https:///path", "no host"},
    {"https://user@host/", "user information"},
    {"https://host:0/", "invalid port"},
    {"https://host:65536/", "invalid port"},
    {"https://host:12ab/", "invalid port"},
    {"https://host:/", "invalid port"},
    {"https://ho$t/", "invalid character in host"},
    {"https://[::1/", "unterminated"},
    {"", "no scheme"},
};

TEST(Url, RejectsErrRows) {
  for (const auto& row : kErr) {
    auto url = parse_url(row.text);
    ASSERT_FALSE(url) << row.text;
    EXPECT_EQ(url.error(), core::Errc::bad_url) << row.text;
    EXPECT_NE(url.error().message().find(row.why), std::string::npos) << row.text << ": " << url.error().message();
  }
}

}  // namespace core_url_test
}  // namespace webpush
