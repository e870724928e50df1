// VAPID (RFC 8292) as `webpushd serve` checks it (docs/protocol.md §4.3): both header
// forms accepted; v2 endpoints require the key they were registered with; every
// failure is 401 errno 109 (a draft-form request without its p256ecdsa key is
// 400 errno 110, as in autopush).
#include <gtest/gtest.h>

#include <chrono>

#include "fixture.h"

namespace webpush::testing {
namespace {

using crypto::VapidClaims;
using crypto::VapidScheme;

class Vapid : public ServiceTest {
 protected:
  std::int64_t now() const {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static Headers with_ttl(Headers h) {
    h.emplace_back("TTL", "60");
    return h;
  }
};

TEST_F(Vapid, V2AcceptsEachHeaderFormSignedByTheRegisteredKey) {
  const auto key = make_key();
  auto s = subscribe(padded_public_key(key));
  ASSERT_NE(s.endpoint.find("/wpush/v2/"), std::string::npos);

  EXPECT_EQ(post(s.endpoint, with_ttl(vapid(key, s.endpoint, VapidScheme::vapid))).status, 201);
  EXPECT_EQ(s.ua.recv_notification().channel_id, s.channel_id);

  EXPECT_EQ(post(s.endpoint, with_ttl(vapid(key, s.endpoint, VapidScheme::webpush))).status, 201);
  EXPECT_EQ(s.ua.recv_notification().channel_id, s.channel_id);

  // "Bearer" is ARS' other name for the draft scheme.
  auto bearer = vapid(key, s.endpoint, VapidScheme::webpush);
  bearer[0].second.replace(0, 7, "Bearer");
  EXPECT_EQ(post(s.endpoint, with_ttl(bearer)).status, 201);
  s.ua.recv_notification();

  // Scheme names are case-insensitive.
  auto upper = vapid(key, s.endpoint, VapidScheme::vapid);
  upper[0].second.replace(0, 5, "VAPID");
  EXPECT_EQ(post(s.endpoint, with_ttl(upper)).status, 201);
  s.ua.recv_notification();
}

TEST_F(Vapid, DraftKeyMayShareCryptoKeyWithDh) {
  const auto key = make_key();
  auto s = subscribe(padded_public_key(key));
  auto h = vapid(key, s.endpoint, VapidScheme::webpush);
  h[1].second =
      "dh=BNoRDbb84JGm8g5Z5CFxurSqsXWJ11ItfXEWYVLE85Y7CYkDjXsIEc4aqxYaQ1G8BqkXCJ6DPpDrWtdWj_mugHU," + h[1].second;
  h.emplace_back("Content-Encoding", "aesgcm");
  h.emplace_back("Encryption", "salt=lngarbyKfMoi9Z75xYXmkg");
  const auto r = post(s.endpoint, with_ttl(h), "ciphertext");
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(Vapid, V2WithoutVapidIs401) {
  const auto key = make_key();
  auto s = subscribe(padded_public_key(key));
  expect_error(post(s.endpoint, {{"TTL", "60"}}), 401, 109);
}

TEST_F(Vapid, V2SignedByAnotherKeyIs401) {
  const auto key = make_key();
  const auto other = make_key();
  auto s = subscribe(padded_public_key(key));
  expect_error(post(s.endpoint, with_ttl(vapid(other, s.endpoint, VapidScheme::vapid))), 401, 109);
  expect_error(post(s.endpoint, with_ttl(vapid(other, s.endpoint, VapidScheme::webpush))), 401, 109);
}

TEST_F(Vapid, BadTokensAre401) {
  const auto key = make_key();
  auto s = subscribe(padded_public_key(key));
  const std::int64_t t = now();
  const std::vector<std::function<void(VapidClaims&)>> edits = {
      [](VapidClaims& c) { c.aud = "https://push.example.net"; },
      [](VapidClaims& c) { c.aud = "https://" + c.aud.substr(7); },
      [&](VapidClaims& c) { c.exp = t - 60; },
      [&](VapidClaims& c) { c.exp = t + 2 * 24 * 3600; },
  };
  for (std::size_t i = 0; i < edits.size(); ++i) {
    for (const auto scheme : {VapidScheme::vapid, VapidScheme::webpush}) {
      const auto r = post(s.endpoint, with_ttl(vapid(key, s.endpoint, scheme, edits[i])));
      expect_error(r, 401, 109);
    }
  }
  // A tampered signature.
  auto h = vapid(key, s.endpoint, VapidScheme::vapid);
  const auto comma = h[0].second.find(',');
  h[0].second[comma - 3] = h[0].second[comma - 3] == 'A' ? 'B' : 'A';
  expect_error(post(s.endpoint, with_ttl(h)), 401, 109);
  // Garbage.
  for (const char* auth : {"vapid t=abc", "vapid k=abc", "Basic dXNlcjpwdw==", "vapid t=a.b.c, k=BAD"}) {
    expect_error(post(s.endpoint, {{"TTL", "60"}, {"Authorization", auth}}), 401, 109);
  }
}

TEST_F(Vapid, DraftSchemeWithoutItsKeyIs400Errno110) {
  const auto key = make_key();
  auto s = subscribe(padded_public_key(key));
  auto h = vapid(key, s.endpoint, VapidScheme::webpush);
  expect_error(post(s.endpoint, {{"TTL", "60"}, h[0]}), 400, 110);
  expect_error(post(s.endpoint, {{"TTL", "60"}, h[0], {"Crypto-Key", "dh=abc"}}), 400, 110);
}

TEST_F(Vapid, V1AcceptsNoVapidOrAValidOneAndRejectsAnInvalidOne) {
  auto s = subscribe();
  const auto key = make_key();
  EXPECT_EQ(post(s.endpoint, {{"TTL", "60"}}).status, 201);
  EXPECT_EQ(post(s.endpoint, with_ttl(vapid(key, s.endpoint, VapidScheme::vapid))).status, 201);
  expect_error(post(s.endpoint, with_ttl(vapid(key, s.endpoint, VapidScheme::vapid,
                                               [](VapidClaims& c) { c.aud = "https://elsewhere.example"; }))),
               401, 109);
}

TEST_F(Vapid, AudienceIsThePublicUrlOrigin) {
  start({"--public-url", "https://push.example.test/base"});
  const auto key = make_key();
  auto ua = connect();
  ua.hello();
  const std::string endpoint = ua.subscribe(new_channel_id(), padded_public_key(key));
  ASSERT_EQ(endpoint.rfind("https://push.example.test/base/wpush/v2/", 0), 0u) << endpoint;
  // The request reaches the service directly; its path carries the public URL's path.
  const auto r = post(endpoint, with_ttl(vapid(key, endpoint, VapidScheme::vapid)));
  EXPECT_EQ(r.status, 201) << r.body;
  expect_error(post(endpoint, with_ttl(vapid(key, endpoint, VapidScheme::vapid,
                                             [&](VapidClaims& c) { c.aud = service().http_base(); }))),
               401, 109);
}

}  // namespace
}  // namespace webpush::testing
