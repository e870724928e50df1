// load::build_push_request as a push service and a user agent see it: the body
// decrypts with the receiver's own keys (aes128gcm alone; aesgcm with the
// Encryption and Crypto-Key headers the request carries), the TTL / Urgency /
// Topic headers are there exactly when asked for, the VAPID Authorization
// verifies for the endpoint's origin in both header forms, and a subscription
// whose keys cannot be used is refused with Errc::encrypt.
#include "webpush/load/push_request.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/crypto/aesgcm.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/vapid.h"
#include "webpush/crypto/webpush.h"

namespace webpush::load {
namespace push_request_test {

constexpr std::int64_t kNow = 1'750'000'000;  // the VAPID claims start here (s since the epoch)
constexpr const char* kEndpoint = "https://push.example.net:8443/wpush/v2/gAAAAABmabc";
constexpr const char* kOrigin = "https://push.example.net:8443";

/// A user agent's subscription: its key pair and auth secret, and the target
/// an application server gets from it.
struct Receiver {
  crypto::KeyPair key = crypto::KeyPair::generate().value();
  SecretBytes auth = crypto::generate_auth_secret().value();

  [[nodiscard]] PushTarget target(std::string endpoint = kEndpoint) const {
    const ByteView pub = key.public_bytes();
    return PushTarget{std::move(endpoint), Bytes(pub.begin(), pub.end()), Bytes(auth.begin(), auth.end())};
  }
  [[nodiscard]] crypto::ReceiverKeys keys() const { return {key, ByteView(auth.data(), auth.size())}; }
};

/// Every value of the header `name` (matched without regard to case), in order.
std::vector<std::string> header_values(const PushRequest& r, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& line : r.headers) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < colon; ++i) {
      same = same &&
             std::tolower(static_cast<unsigned char>(line[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (!same) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    out.push_back(std::move(value));
  }
  return out;
}

/// The one value of header `name`; nullopt when absent. A repeated header fails the test.
std::optional<std::string> header(const PushRequest& r, std::string_view name) {
  const auto values = header_values(r, name);
  EXPECT_LE(values.size(), 1u) << "header " << name << " appears " << values.size() << " times";
  if (values.empty()) return std::nullopt;
  return values.front();
}

const Bytes kPayload = to_bytes("wplt: a loadtest message, padded out to a realistic length ..........");

PushRequest build_ok(const PushTarget& target, const PushOptions& options, ByteView payload = kPayload) {
  auto r = build_push_request(target, payload, options, kNow);
  EXPECT_TRUE(r) << r.error();
  return r ? std::move(*r) : PushRequest{};
}

// ---- encryption ----------------------------------------------------------------------

TEST(PushRequest, Aes128gcmBodyDecryptsWithTheReceiversKeys) {
  const Receiver ua;
  const PushRequest r = build_ok(ua.target(), PushOptions{});

  EXPECT_EQ(header(r, "Content-Encoding"), "aes128gcm");
  EXPECT_EQ(header(r, "Content-Type"), "application/octet-stream");
  EXPECT_EQ(header(r, "Encryption"), std::nullopt);  // aes128gcm carries its parameters in the body
  EXPECT_EQ(header(r, "Crypto-Key"), std::nullopt);

  const auto plain = crypto::webpush_decrypt(r.body, ua.keys());
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(*plain, kPayload);
}

TEST(PushRequest, Aes128gcmBodyIsFreshlyEncryptedEachTime) {
  const Receiver ua;
  const PushRequest a = build_ok(ua.target(), PushOptions{});
  const PushRequest b = build_ok(ua.target(), PushOptions{});
  EXPECT_NE(a.body, b.body);  // a new ephemeral key and salt per message
}

TEST(PushRequest, Aes128gcmBodyDoesNotDecryptForAnotherReceiver) {
  const Receiver ua;
  const Receiver other;
  const PushRequest r = build_ok(ua.target(), PushOptions{});
  EXPECT_FALSE(crypto::webpush_decrypt(r.body, other.keys()));
}

TEST(PushRequest, AesgcmDecryptsWithTheEncryptionAndCryptoKeyHeaders) {
  const Receiver ua;
  PushOptions options;
  options.encoding = "aesgcm";
  const PushRequest r = build_ok(ua.target(), options);

  EXPECT_EQ(header(r, "Content-Encoding"), "aesgcm");
  const auto encryption = header(r, "Encryption");
  const auto crypto_key = header(r, "Crypto-Key");
  ASSERT_TRUE(encryption.has_value());
  ASSERT_TRUE(crypto_key.has_value());
  EXPECT_NE(encryption->find("salt="), std::string::npos) << *encryption;
  EXPECT_NE(crypto_key->find("dh="), std::string::npos) << *crypto_key;

  const auto plain = crypto::decrypt_push({"aesgcm", *encryption, *crypto_key, r.body}, ua.keys());
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(*plain, kPayload);
}

TEST(PushRequest, NoneSendsNoBodyAndNoContentEncoding) {
  const Receiver ua;
  PushOptions options;
  options.encoding = "none";
  const PushRequest r = build_ok(ua.target(), options);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(header(r, "Content-Encoding"), std::nullopt);
  EXPECT_EQ(header(r, "Crypto-Key"), std::nullopt);
  EXPECT_EQ(header(r, "TTL"), "60");
}

TEST(PushRequest, TheLargestPayloadAPushServiceMustTakeFits) {
  const Receiver ua;
  // 4096-byte body: 86-byte header, one delimiter byte, 16-byte tag.
  const Bytes largest(crypto::kWebPushMaxBody - crypto::kWebPushHeaderSize - 1 - 16, 'x');
  const PushRequest r = build_ok(ua.target(), PushOptions{}, largest);
  EXPECT_EQ(r.body.size(), crypto::kWebPushMaxBody);
  const auto plain = crypto::webpush_decrypt(r.body, ua.keys());
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(*plain, largest);
}

// ---- headers -------------------------------------------------------------------------

struct HeaderRow {
  const char* desc;
  int ttl;
  std::string urgency;
  std::string topic;
  std::optional<std::string> want_urgency;
  std::optional<std::string> want_topic;
};

TEST(PushRequest, TtlAlwaysUrgencyAndTopicOnlyWhenSet) {
  const Receiver ua;
  const std::vector<HeaderRow> rows = {
      {"defaults", 60, "", "", std::nullopt, std::nullopt},
      {"ttl 0", 0, "", "", std::nullopt, std::nullopt},
      {"urgency only", 3600, "high", "", "high", std::nullopt},
      {"topic only", 60, "", "scores", std::nullopt, "scores"},
      {"both", 2419200, "very-low", "inbox-42", "very-low", "inbox-42"},
  };
  for (const auto& row : rows) {
    PushOptions options;
    options.ttl = row.ttl;
    options.urgency = row.urgency;
    options.topic = row.topic;
    const PushRequest r = build_ok(ua.target(), options);
    EXPECT_EQ(header(r, "TTL"), std::to_string(row.ttl)) << row.desc;
    EXPECT_EQ(header(r, "Urgency"), row.want_urgency) << row.desc;
    EXPECT_EQ(header(r, "Topic"), row.want_topic) << row.desc;
    EXPECT_EQ(header(r, "Authorization"), std::nullopt) << row.desc;  // no VAPID key given
  }
}

TEST(PushRequest, EveryHeaderIsANameAColonAndAValue) {
  const Receiver ua;
  const auto vapid = crypto::KeyPair::generate().value();
  PushOptions options;
  options.encoding = "aesgcm";
  options.urgency = "low";
  options.topic = "t";
  options.vapid = &vapid;
  options.vapid_scheme = crypto::VapidScheme::webpush;
  const PushRequest r = build_ok(ua.target(), options);
  ASSERT_FALSE(r.headers.empty());
  for (const auto& line : r.headers) {
    const auto colon = line.find(": ");
    ASSERT_NE(colon, std::string::npos) << line;
    EXPECT_GT(colon, 0u) << line;
    EXPECT_LT(colon + 2, line.size()) << line;
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos) << line;
  }
}

// ---- VAPID ---------------------------------------------------------------------------

struct VapidRow {
  const char* desc;
  std::string encoding;
  crypto::VapidScheme scheme;
};

TEST(PushRequest, VapidAuthorizationVerifiesForTheEndpointsOrigin) {
  const Receiver ua;
  const auto vapid = crypto::KeyPair::generate().value();
  const ByteView vapid_public = vapid.public_bytes();
  const std::vector<VapidRow> rows = {
      {"vapid, aes128gcm", "aes128gcm", crypto::VapidScheme::vapid},
      {"vapid, aesgcm", "aesgcm", crypto::VapidScheme::vapid},
      {"webpush, aes128gcm", "aes128gcm", crypto::VapidScheme::webpush},
      {"webpush, aesgcm", "aesgcm", crypto::VapidScheme::webpush},
  };
  for (const auto& row : rows) {
    PushOptions options;
    options.encoding = row.encoding;
    options.vapid = &vapid;
    options.vapid_scheme = row.scheme;
    options.vapid_subject = "mailto:ops@example.org";
    const PushRequest r = build_ok(ua.target(), options);

    const auto authorization = header(r, "Authorization");
    ASSERT_TRUE(authorization.has_value()) << row.desc;
    const std::string crypto_key = header(r, "Crypto-Key").value_or("");
    const auto creds = crypto::parse_vapid_headers(*authorization, crypto_key);
    ASSERT_TRUE(creds) << row.desc << ": " << creds.error();
    EXPECT_EQ(creds->scheme, row.scheme) << row.desc;

    const auto claims =
        crypto::vapid_verify(*creds, {.audience = kOrigin, .now = kNow + 1, .registered_key = vapid_public});
    ASSERT_TRUE(claims) << row.desc << ": " << claims.error();
    EXPECT_EQ(claims->aud, kOrigin) << row.desc;
    EXPECT_EQ(claims->sub, "mailto:ops@example.org") << row.desc;
    EXPECT_GT(claims->exp, kNow) << row.desc;
    EXPECT_LE(claims->exp, kNow + crypto::kVapidMaxLifetime) << row.desc;

    // The token names that origin and no other.
    const auto elsewhere = crypto::vapid_verify(*creds, {.audience = "https://push.example.net", .now = kNow + 1});
    ASSERT_FALSE(elsewhere) << row.desc;
    EXPECT_TRUE(elsewhere.error().is(crypto::Errc::wrong_audience)) << row.desc << ": " << elsewhere.error();

    // The body still decrypts when the Crypto-Key header also carries the VAPID key.
    const auto plain =
        crypto::decrypt_push({row.encoding, header(r, "Encryption").value_or(""), crypto_key, r.body}, ua.keys());
    ASSERT_TRUE(plain) << row.desc << ": " << plain.error();
    EXPECT_EQ(*plain, kPayload) << row.desc;
  }
}

TEST(PushRequest, VapidSchemeDecidesWhereTheKeyGoes) {
  const Receiver ua;
  const auto vapid = crypto::KeyPair::generate().value();
  PushOptions options;
  options.vapid = &vapid;

  options.vapid_scheme = crypto::VapidScheme::vapid;
  const PushRequest rfc = build_ok(ua.target(), options);
  EXPECT_EQ(rfc.headers.size(), 4u);  // TTL, Content-Type, Content-Encoding, Authorization
  EXPECT_EQ(header(rfc, "Authorization").value_or("").rfind("vapid t=", 0), 0u);
  EXPECT_EQ(header(rfc, "Crypto-Key"), std::nullopt);

  options.vapid_scheme = crypto::VapidScheme::webpush;
  const PushRequest legacy = build_ok(ua.target(), options);
  EXPECT_EQ(header(legacy, "Authorization").value_or("").rfind("WebPush ", 0), 0u);
  EXPECT_EQ(header(legacy, "Crypto-Key").value_or("").rfind("p256ecdsa=", 0), 0u);
}

TEST(PushRequest, AesgcmWithLegacyVapidJoinsBothKeysInOneCryptoKeyHeader) {
  const Receiver ua;
  const auto vapid = crypto::KeyPair::generate().value();
  PushOptions options;
  options.encoding = "aesgcm";
  options.vapid = &vapid;
  options.vapid_scheme = crypto::VapidScheme::webpush;
  const PushRequest r = build_ok(ua.target(), options);
  ASSERT_EQ(header_values(r, "Crypto-Key").size(), 1u);
  const std::string crypto_key = header_values(r, "Crypto-Key").front();
  EXPECT_NE(crypto_key.find("dh="), std::string::npos) << crypto_key;
  EXPECT_NE(crypto_key.find(",p256ecdsa="), std::string::npos) << crypto_key;
}

// ---- refusals ------------------------------------------------------------------------

struct RefusedRow {
  const char* desc;
  PushTarget target;
  std::string encoding;
  bool with_vapid;
  std::size_t payload_size;
};

TEST(PushRequest, UnusableSubscriptionsAreRefusedWithEncrypt) {
  const Receiver ua;
  const auto vapid = crypto::KeyPair::generate().value();
  const auto with_p256dh = [&](Bytes p256dh) {
    PushTarget t = ua.target();
    t.p256dh = std::move(p256dh);
    return t;
  };
  const auto with_auth = [&](Bytes auth) {
    PushTarget t = ua.target();
    t.auth = std::move(auth);
    return t;
  };
  Bytes off_curve(crypto::kPublicKeySize, 0);
  off_curve[0] = 0x04;
  Bytes compressed(ua.key.public_bytes().begin(), ua.key.public_bytes().begin() + 33);
  compressed[0] = 0x02;
  Bytes wrong_prefix(ua.key.public_bytes().begin(), ua.key.public_bytes().end());
  wrong_prefix[0] = 0x05;

  const std::vector<RefusedRow> rows = {
      {"empty p256dh", with_p256dh({}), "aes128gcm", false, 64},
      {"p256dh one byte short", with_p256dh(Bytes(ua.key.public_bytes().begin(), ua.key.public_bytes().end() - 1)),
       "aes128gcm", false, 64},
      {"p256dh not on the curve", with_p256dh(off_curve), "aes128gcm", false, 64},
      {"p256dh compressed", with_p256dh(compressed), "aes128gcm", false, 64},
      {"p256dh with a wrong prefix", with_p256dh(wrong_prefix), "aes128gcm", false, 64},
      {"p256dh not on the curve, aesgcm", with_p256dh(off_curve), "aesgcm", false, 64},
      {"p256dh not on the curve, no payload", with_p256dh(off_curve), "none", false, 0},
      {"auth of 15 bytes", with_auth(Bytes(15, 1)), "aes128gcm", false, 64},
      {"auth of 15 bytes, aesgcm", with_auth(Bytes(15, 1)), "aesgcm", false, 64},
      {"payload too large for one 4096-byte body", ua.target(), "aes128gcm", false, 4000},
      {"endpoint not a URL, with VAPID", ua.target("not a url"), "aes128gcm", true, 64},
  };
  for (const auto& row : rows) {
    PushOptions options;
    options.encoding = row.encoding;
    if (row.with_vapid) options.vapid = &vapid;
    const Bytes payload(row.payload_size, 'p');
    const auto r = build_push_request(row.target, payload, options, kNow);
    ASSERT_FALSE(r) << row.desc;
    EXPECT_TRUE(r.error().is(Errc::encrypt)) << row.desc << ": " << r.error();
    EXPECT_FALSE(r.error().message().empty()) << row.desc;
  }
}

TEST(PushRequest, AnEndpointThatIsNotAUrlIsFineWithoutVapid) {
  // Only VAPID needs the endpoint's origin; the control for the row above.
  const Receiver ua;
  const PushRequest r = build_ok(ua.target("not a url"), PushOptions{});
  EXPECT_FALSE(r.body.empty());
}

}  // namespace push_request_test
}  // namespace webpush::load
