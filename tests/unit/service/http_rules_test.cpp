#include "webpush/service/http_rules.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace webpush::service {
namespace {

constexpr std::int64_t kMax = 2592000;

PushHeaders ttl(std::string value) {
  PushHeaders h;
  h.ttl = std::move(value);
  return h;
}

struct OkRow {
  const char* what;
  PushHeaders headers;
  bool body;
  std::int64_t ttl;
  std::string encryption;
  std::string crypto_key;
};

TEST(ValidatePushHeaders, AcceptsValidRequests) {
  auto aesgcm = ttl("60");
  aesgcm.content_encoding = "aesgcm";
  aesgcm.encryption = R"(keyid="p256dh";salt="abc==")";
  aesgcm.crypto_key = "keyid=p256dh;dh=def=,p256ecdsa=ghi";
  auto aes128 = ttl("0");
  aes128.content_encoding = "aes128gcm";
  auto topic = ttl("5");
  topic.topic = "a-test-topic-which-is-just-right";
  auto urgency = ttl("5");
  urgency.urgency = "very-low";
  auto no_body = ttl("7");
  no_body.content_encoding = "garbage";
  const OkRow rows[] = {
      {"plain TTL", ttl("60"), false, 60, "", ""},
      {"leading +", ttl("+5"), false, 5, "", ""},
      {"capped", ttl("2592001"), false, kMax, "", ""},
      {"spaces trimmed", ttl(" 9 "), false, 9, "", ""},
      {"aesgcm stripped", aesgcm, true, 60, "keyid=p256dh;salt=abc", "keyid=p256dh;dh=def,p256ecdsa=ghi"},
      {"aes128gcm", aes128, true, 0, "", ""},
      {"topic of 32", topic, false, 5, "", ""},
      {"urgency", urgency, false, 5, "", ""},
      {"no body: crypto headers ignored", no_body, false, 7, "", ""},
  };
  for (const auto& row : rows) {
    auto meta = validate_push_headers(row.headers, row.body, kMax);
    ASSERT_TRUE(meta) << row.what << ": " << meta.error().message;
    EXPECT_EQ(meta->ttl, row.ttl) << row.what;
    EXPECT_EQ(meta->encryption, row.encryption) << row.what;
    EXPECT_EQ(meta->crypto_key, row.crypto_key) << row.what;
  }
}

struct ErrRow {
  const char* what;
  PushHeaders headers;
  bool body;
  int status;
  std::optional<int> errnum;
};

TEST(ValidatePushHeaders, RejectsInAutopushOrder) {
  auto with = [](PushHeaders h, auto&& f) {
    f(h);
    return h;
  };
  const ErrRow rows[] = {
      {"no TTL", PushHeaders{}, false, 400, 111},
      {"TTL not a number", ttl("ten"), false, 400, 111},
      {"TTL decimal", ttl("1.5"), false, 400, 111},
      {"TTL overflow", ttl("9223372036854775808"), false, 400, 111},
      {"negative TTL", ttl("-1"), false, 400, 114},
      {"TTL before encoding", PushHeaders{}, true, 400, 111},
      {"encoding before negative TTL", ttl("-1"), true, 400, 110},
      {"no encoding", ttl("1"), true, 400, 110},
      {"unknown encoding", with(ttl("1"), [](auto& h) { h.content_encoding = "br"; }), true, 400, 110},
      {"aesgcm no Encryption", with(ttl("1"), [](auto& h) { h.content_encoding = "aesgcm"; }), true, 400, 110},
      {"aesgcm no salt",
       with(ttl("1"),
            [](auto& h) {
              h.content_encoding = "aesgcm";
              h.encryption = "rs=10";
            }),
       true, 400, 110},
      {"aesgcm bad dh",
       with(ttl("1"),
            [](auto& h) {
              h.content_encoding = "aesgcm";
              h.encryption = "salt=a";
              h.crypto_key = "dh=a+b";
            }),
       true, 400, 110},
      {"aes128gcm with salt",
       with(ttl("1"),
            [](auto& h) {
              h.content_encoding = "aes128gcm";
              h.encryption = "salt=a";
            }),
       true, 400, 110},
      {"topic too long", with(ttl("1"), [](auto& h) { h.topic = std::string(33, 'a'); }), false, 400, 113},
      {"topic alphabet", with(ttl("1"), [](auto& h) { h.topic = "a b"; }), false, 400, 113},
      {"urgency", with(ttl("1"), [](auto& h) { h.urgency = "asap"; }), false, 400, std::nullopt},
  };
  for (const auto& row : rows) {
    auto meta = validate_push_headers(row.headers, row.body, kMax);
    ASSERT_FALSE(meta) << row.what;
    EXPECT_EQ(meta.error().status, row.status) << row.what;
    EXPECT_EQ(meta.error().errnum, row.errnum) << row.what;
  }
}

TEST(StripCryptoHeader, RemovesQuotesAndPaddingBeforeSeparators) {
  const std::pair<const char*, const char*> rows[] = {
      {R"(salt="foo")", "salt=foo"},
      {R"(keyid="p256dh";dh="deadbeef==")", "keyid=p256dh;dh=deadbeef"},
      {"a=b==,c=d=;e=f", "a=b,c=d;e=f"},
      {"salt=abc", "salt=abc"},
      {"x==y", "x==y"},
      {"", ""},
  };
  for (const auto& [in, out] : rows) EXPECT_EQ(strip_crypto_header(in), out) << in;
}

TEST(FindCryptoParam, FirstMatchAcrossSections) {
  EXPECT_EQ(find_crypto_param("keyid=p256dh;dh=abc,p256ecdsa=\"xyz\"", "p256ecdsa").value, "xyz");
  EXPECT_EQ(find_crypto_param("dh=1,dh=2", "dh").value, "1");
  EXPECT_EQ(find_crypto_param(" dh = 1 ", "dh").value, "1");
  EXPECT_FALSE(find_crypto_param("dh=1", "salt").value);
  EXPECT_TRUE(find_crypto_param("dh=1;junk", "dh").invalid);
}

TEST(Base64urlToken, MatchesAutopushRegex) {
  for (const char* ok : {"a", "A-_9", "abc==", "x="}) EXPECT_TRUE(is_base64url_token(ok)) << ok;
  for (const char* bad : {"", "=", "a=b", "a b", "a+b", "a/b"}) EXPECT_FALSE(is_base64url_token(bad)) << bad;
}

TEST(ErrorBody, HasAutopushShape) {
  const auto j = nlohmann::json::parse(error_body(ApiError{410, 106, "No such subscription"}));
  EXPECT_EQ(j["code"], 410);
  EXPECT_EQ(j["errno"], 106);
  EXPECT_EQ(j["error"], "Gone");
  EXPECT_EQ(j["message"], "No such subscription");
  EXPECT_EQ(j["more_info"], "http://autopush.readthedocs.io/en/latest/http.html#error-codes");
  EXPECT_TRUE(nlohmann::json::parse(error_body(ApiError{400, std::nullopt, "x"}))["errno"].is_null());
}

}  // namespace
}  // namespace webpush::service
