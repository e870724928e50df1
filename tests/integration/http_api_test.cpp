// The application-server side of `webpushd serve`: RFC 8030 requests as
// autopush judges them (docs/protocol.md §5) — each status with its errno — and what
// the user agent then receives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fixture.h"
#include "webpush/core/base64url.h"
#include "webpush/crypto/aesgcm.h"
#include "webpush/crypto/webpush.h"

namespace webpush::testing {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;

class HttpApi : public ServiceTest {};

// A user agent's receiving keys, as a browser would create them at subscribe time.
struct UaKeys {
  crypto::KeyPair key = make_key();
  SecretBytes auth = crypto::generate_auth_secret().value();
  [[nodiscard]] crypto::PublicKey public_key() const { return key.public_key().value(); }
};

std::string decrypt(const protocol::Notification& n, const UaKeys& keys) {
  if (!n.data || !n.headers) throw SupportError("notification without data");
  auto body = base64url_decode(*n.data);
  if (!body) throw SupportError("data is not base64url");
  crypto::PushPayload payload{n.headers->encoding, n.headers->encryption, n.headers->crypto_key, *body};
  auto plain = crypto::decrypt_push(payload, crypto::ReceiverKeys{keys.key, keys.auth});
  if (!plain) throw SupportError("decrypt: " + plain.error().to_string());
  return std::string(as_chars(*plain));
}

// ---- delivery of accepted messages ------------------------------------------------------

TEST_F(HttpApi, EmptyPostIsDeliveredWithoutDataOrHeaders) {
  auto s = subscribe();
  const auto r = push(s.endpoint, 60);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.header("ttl"), "60");
  const auto location = r.header("location");
  ASSERT_TRUE(location);
  EXPECT_EQ(location->rfind(service().http_base() + "/m/", 0), 0u) << *location;

  const auto n = s.ua.recv_notification();
  EXPECT_EQ(n.channel_id, s.channel_id);
  EXPECT_EQ(n.version, message_id(r));
  EXPECT_EQ(n.data, std::nullopt);
  EXPECT_EQ(n.headers, std::nullopt);
}

TEST_F(HttpApi, EmptyPostWithoutContentLengthIsAccepted) {
  auto s = subscribe();
  HttpRequestOptions no_length;
  no_length.content_length = false;
  const auto r = post(s.endpoint, {{"TTL", "60"}}, {}, no_length);
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(s.ua.recv_notification().data, std::nullopt);
}

TEST_F(HttpApi, EmptyPostIgnoresCryptoHeaders) {
  auto s = subscribe();
  const auto r = push(s.endpoint, 60, {{"Content-Encoding", "nonsense"}, {"Encryption", "x"}});
  EXPECT_EQ(r.status, 201) << r.body;
  const auto n = s.ua.recv_notification();
  EXPECT_EQ(n.data, std::nullopt);
  EXPECT_EQ(n.headers, std::nullopt);
}

TEST_F(HttpApi, Aes128gcmBodyIsForwardedAsBase64url) {
  auto s = subscribe();
  const UaKeys keys;
  auto body = crypto::webpush_encrypt(as_bytes("hello from the app server"), keys.public_key(), keys.auth);
  ASSERT_TRUE(body);
  const auto r = push(s.endpoint, 60, {{"Content-Encoding", "aes128gcm"}}, as_chars(*body));
  ASSERT_EQ(r.status, 201) << r.body;

  const auto n = s.ua.recv_notification();
  ASSERT_TRUE(n.data);
  EXPECT_EQ(n.data->find('='), std::string::npos) << "base64url without padding";
  EXPECT_EQ(*n.data, base64url_encode(*body));
  ASSERT_TRUE(n.headers);
  EXPECT_EQ(n.headers->encoding, "aes128gcm");
  EXPECT_EQ(n.headers->encryption, "");
  EXPECT_EQ(n.headers->crypto_key, "");
  EXPECT_EQ(decrypt(n, keys), "hello from the app server");
}

TEST_F(HttpApi, AesgcmHeadersAreStrippedOfQuotesAndPadding) {
  auto s = subscribe();
  const UaKeys keys;
  auto m = crypto::aesgcm_encrypt(as_bytes("legacy"), keys.public_key(), keys.auth);
  ASSERT_TRUE(m);
  // "salt=X" → salt="X=="-style quoting and padding, as old senders wrote it.
  const std::string salt = m->encryption.substr(5);
  const std::string dh = m->crypto_key.substr(3);
  const std::string encryption = "keyid=\"p256dh\";salt=\"" + salt + "==\"";
  const std::string crypto_key = "keyid=\"p256dh\";dh=\"" + dh + "=\"";
  const auto r =
      push(s.endpoint, 60, {{"Content-Encoding", "aesgcm"}, {"Encryption", encryption}, {"Crypto-Key", crypto_key}},
           as_chars(m->body));
  ASSERT_EQ(r.status, 201) << r.body;
  const auto n = s.ua.recv_notification();
  ASSERT_TRUE(n.headers);
  EXPECT_EQ(n.headers->encoding, "aesgcm");
  EXPECT_EQ(n.headers->encryption, "keyid=p256dh;salt=" + salt);
  EXPECT_EQ(n.headers->crypto_key, "keyid=p256dh;dh=" + dh);
  EXPECT_EQ(decrypt(n, keys), "legacy");
}

TEST_F(HttpApi, AesgcmWithoutCryptoKeyPassesAsAutopushDoes) {
  auto s = subscribe();
  const auto r =
      push(s.endpoint, 60, {{"Content-Encoding", "aesgcm"}, {"Encryption", "salt=abcdefghijklmnopqrstuv"}}, "x");
  EXPECT_EQ(r.status, 201) << r.body;
  const auto n = s.ua.recv_notification();
  ASSERT_TRUE(n.headers);
  EXPECT_EQ(n.headers->crypto_key, "");
}

// ---- TTL ---------------------------------------------------------------------------------

TEST_F(HttpApi, TtlMissingOrNotAnIntegerIs400Errno111) {
  auto s = subscribe();
  expect_error(post(s.endpoint, {}), 400, 111);
  for (const char* ttl : {"abc", "1.5", "", "10s", "0x10", "99999999999999999999"}) {
    expect_error(post(s.endpoint, {{"TTL", ttl}}), 400, 111);
  }
}

TEST_F(HttpApi, NegativeTtlIs400Errno114) {
  auto s = subscribe();
  expect_error(post(s.endpoint, {{"TTL", "-1"}}), 400, 114);
}

TEST_F(HttpApi, TtlIsCappedAt30DaysAndEchoed) {
  auto s = subscribe();
  for (const auto& [sent, echoed] : std::vector<std::pair<std::string, std::string>>{{"0", "0"},
                                                                                     {"1", "1"},
                                                                                     {"2592000", "2592000"},
                                                                                     {"2592001", "2592000"},
                                                                                     {"999999999", "2592000"},
                                                                                     {"+5", "5"}}) {
    const auto r = post(s.endpoint, {{"TTL", sent}});
    ASSERT_EQ(r.status, 201) << sent << ": " << r.body;
    EXPECT_EQ(r.header("ttl"), echoed) << sent;
  }
}

// ---- encryption headers ----------------------------------------------------------------------

TEST_F(HttpApi, BadEncryptionHeadersAre400Errno110) {
  auto s = subscribe();
  const std::vector<Headers> bad = {
      {},                                                            // a body without Content-Encoding
      {{"Content-Encoding", "gzip"}},                                // unknown coding
      {{"Content-Encoding", "aesgcm128"}},                           // too old
      {{"Content-Encoding", "aesgcm"}},                              // no Encryption
      {{"Content-Encoding", "aesgcm"}, {"Encryption", "rs=4096"}},   // no salt
      {{"Content-Encoding", "aesgcm"}, {"Encryption", "salt=a!b"}},  // salt not base64url
      {{"Content-Encoding", "aesgcm"}, {"Encryption", "salt"}},      // item without '='
      {{"Content-Encoding", "aesgcm"}, {"Encryption", "salt=abc"}, {"Crypto-Key", "keyid=x"}},  // no dh
      {{"Content-Encoding", "aesgcm"}, {"Encryption", "salt=abc"}, {"Encryption-Key", "k=abc"}},
      {{"Content-Encoding", "aes128gcm"}, {"Encryption", "salt=abc"}},  // aes128gcm carries its salt inside
      {{"Content-Encoding", "aes128gcm"}, {"Crypto-Key", "dh=abc"}},
  };
  for (const auto& headers : bad) {
    Headers h = headers;
    h.emplace_back("TTL", "60");
    const auto r = post(s.endpoint, h, "body");
    expect_error(r, 400, 110);
  }
}

TEST_F(HttpApi, Aes128gcmMayCarryUnrelatedCryptoKeyParameters) {
  auto s = subscribe();
  const auto r = push(s.endpoint, 60, {{"Content-Encoding", "aes128gcm"}, {"Crypto-Key", "p256ecdsa=abc"}}, "body");
  EXPECT_EQ(r.status, 201) << r.body;
}

// ---- Topic and Urgency ------------------------------------------------------------------------

TEST_F(HttpApi, TopicMustBeAtMost32Base64urlCharacters) {
  auto s = subscribe();
  for (const char* ok : {"a", "a-test-topic-which-is-just-right", "A_b-9", "abc=="}) {
    EXPECT_EQ(push(s.endpoint, 60, {{"Topic", ok}}).status, 201) << ok;
  }
  for (const char* bad : {"test-topic-which-is-too-long-1234", "bad topic", "a.b", "=abc", "a=b"}) {
    expect_error(push(s.endpoint, 60, {{"Topic", bad}}), 400, 113);
  }
}

TEST_F(HttpApi, UrgencyMustBeOneOfFour) {
  auto s = subscribe();
  for (const char* ok : {"very-low", "low", "normal", "high"}) {
    EXPECT_EQ(push(s.endpoint, 60, {{"Urgency", ok}}).status, 201) << ok;
  }
  for (const char* bad : {"urgent", "HIGH", "low, high"}) {
    expect_error(push(s.endpoint, 60, {{"Urgency", bad}}), 400, std::nullopt);
  }
}

// ---- body size ------------------------------------------------------------------------------------

TEST_F(HttpApi, BodiesUpTo5630BytesAreAcceptedAndLargerAre413) {
  auto s = subscribe();
  const Headers aes = {{"Content-Encoding", "aes128gcm"}};
  for (const std::size_t size : {std::size_t{1}, std::size_t{4096}, std::size_t{5630}}) {
    const auto r = push(s.endpoint, 60, aes, std::string(size, 'x'));
    ASSERT_EQ(r.status, 201) << size << ": " << r.body;
    const auto n = s.ua.recv_notification();
    EXPECT_EQ(base64url_decode(*n.data).value().size(), size);
  }
  expect_error(push(s.endpoint, 60, aes, std::string(5631, 'x')), 413, 104);
  expect_error(push(s.endpoint, 60, aes, std::string(100000, 'x')), 413, 104);
}

TEST_F(HttpApi, BodyLimitIsConfigurable) {
  start({"--max-data-bytes", "8192"});
  auto s = subscribe();
  const Headers aes = {{"Content-Encoding", "aes128gcm"}};
  EXPECT_EQ(push(s.endpoint, 60, aes, std::string(8192, 'x')).status, 201);
  expect_error(push(s.endpoint, 60, aes, std::string(8193, 'x')), 413, 104);
}

// ---- endpoints that are not (or no longer) valid -----------------------------------------------------

TEST_F(HttpApi, UnknownTokenIs404Errno102) {
  start();
  const std::string token(43, 'A');
  for (const std::string& path : {"/wpush/v1/" + token, "/wpush/v2/" + token, "/wpush/" + token,
                                  std::string("/wpush/v1/"), std::string("/wpush/v1/a/b")}) {
    expect_error(http_request(port(), "POST", path, {{"TTL", "60"}}), 404, 102);
  }
}

TEST_F(HttpApi, EndpointVersionMustMatchTheRegistration) {
  auto s = subscribe();
  std::string v2 = s.endpoint;
  v2.replace(v2.find("/v1/"), 4, "/v2/");
  expect_error(post(v2, {{"TTL", "60"}}), 404, 102);
  std::string bare = s.endpoint;
  bare.replace(bare.find("/v1/"), 4, "/");
  EXPECT_EQ(post(bare, {{"TTL", "60"}}).status, 201) << "/wpush/<token> is v1";
}

TEST_F(HttpApi, UnregisteredEndpointIs410Errno106ForEver) {
  auto s = subscribe();
  ASSERT_EQ(s.ua.unregister(s.channel_id).status, 200);
  const auto r = push(s.endpoint);
  expect_error(r, 410, 106);
  EXPECT_EQ(r.header("cache-control"), "max-age=86400");
  // Registering the same channel again issues a new token; the old one stays dead.
  const std::string again = s.ua.subscribe(s.channel_id);
  EXPECT_NE(again, s.endpoint);
  EXPECT_EQ(push(again).status, 201);
  expect_error(push(s.endpoint), 410, 106);
}

TEST_F(HttpApi, WrongMethodsAndUnknownPaths) {
  auto s = subscribe();
  EXPECT_EQ(http_request(port(), "GET", url_path(s.endpoint)).status, 405);
  EXPECT_EQ(http_request(port(), "PUT", url_path(s.endpoint), {{"TTL", "1"}}).status, 405);
  expect_error(http_request(port(), "GET", "/nothing/here"), 404, std::nullopt);
  EXPECT_EQ(http_request(port(), "GET", "/m/x").status, 405);
  EXPECT_EQ(http_request(port(), "POST", "/health").status, 405);
}

// ---- message resources --------------------------------------------------------------------------------

TEST_F(HttpApi, DeleteCancelsAnUndeliveredMessage) {
  auto s = offline_subscriber();
  const auto keep = push(s.endpoint);
  const auto cancel = push(s.endpoint);
  ASSERT_EQ(cancel.status, 201);
  const auto d = http_request(port(), "DELETE", url_path(*cancel.header("location")));
  EXPECT_EQ(d.status, 204);
  EXPECT_EQ(d.body, "");

  auto ua = connect();
  ua.hello(s.uaid);
  const auto got = ua.barrier();
  ASSERT_THAT(got, SizeIs(1));
  EXPECT_EQ(got[0].version, message_id(keep));
  EXPECT_EQ(stats()["messages_deleted"], 1);
}

TEST_F(HttpApi, DeleteOfAGoneMessageIs204AndOfAMalformedIdIs400) {
  auto s = subscribe();
  const auto r = push(s.endpoint);
  const auto n = s.ua.recv_notification();
  s.ua.ack(n.channel_id, n.version);
  s.ua.barrier();
  EXPECT_EQ(http_request(port(), "DELETE", url_path(*r.header("location"))).status, 204);
  expect_error(http_request(port(), "DELETE", "/m/not-a-message-id"), 400, std::nullopt);
}

// ---- health and stats ---------------------------------------------------------------------------------

TEST_F(HttpApi, HealthAnswersOk) {
  start();
  const auto r = http_request(port(), "GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["status"], "OK");
  EXPECT_EQ(r.header("content-type"), "application/json");
}

TEST_F(HttpApi, StatsCountWhatHappened) {
  auto s = subscribe();
  ASSERT_EQ(push(s.endpoint).status, 201);
  const auto n = s.ua.recv_notification();
  s.ua.ack(n.channel_id, n.version);
  s.ua.barrier();
  s.ua.ws().send_close();
  s.ua.ws().wait_close();
  wait_disconnected();
  ASSERT_EQ(push(s.endpoint).status, 201);     // stored: nobody connected
  ASSERT_EQ(push(s.endpoint, 0).status, 201);  // TTL 0, offline: dropped

  auto j = stats();
  EXPECT_EQ(j["registrations"], 1);
  EXPECT_EQ(j["hellos"], 1);
  EXPECT_EQ(j["connections_total"], 1);
  EXPECT_EQ(j["messages_accepted"], 3);
  EXPECT_EQ(j["messages_stored"], 1);
  EXPECT_EQ(j["messages_delivered"], 1);
  EXPECT_EQ(j["messages_acked"], 1);
  EXPECT_EQ(j["messages_dropped"], 1);
  EXPECT_EQ(j["messages_expired"], 0);
  EXPECT_EQ(j["store"]["channels"], 1);
  EXPECT_EQ(j["store"]["messages"], 1);
  for (const char* key : {"connections", "unregistrations", "messages_nacked", "messages_replaced", "messages_deleted",
                          "uaid_resets", "http_errors"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
}

}  // namespace
}  // namespace webpush::testing
