// VAPID (RFC 8292): the published example, sign/verify round trips in both
// header forms, and one err row per failure, each with its exact code. Tokens
// for the err rows are signed here with OpenSSL directly, so that a bug shared
// with vapid_sign cannot hide.
#include "webpush/crypto/vapid.h"

#include <gtest/gtest.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "test_util.h"
#include "webpush/core/base64url.h"
#include "webpush/core/errc.h"

namespace webpush::crypto {
namespace crypto_vapid_test {

using test::b64;
using test::str;

// ---- RFC 8292 §2.4 (docs/protocol.md 4.2) --------------------------------------------
constexpr const char* kRfcJwt =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1Yi"
    "I6Im1haWx0bzpwdXNoQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkMlMuCGSK2rpiUfnK9ojFwDXb1JrErtmysazNjjvW2L9O"
    "kSSHzvoD1oA";
constexpr const char* kRfcKey =
    "BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs";
constexpr std::int64_t kRfcExp = 1453523768;

// Application server keys: A is the RFC 8291 Appendix A sender, B its receiver.
// A's public key has '_' in base64url, so its standard-alphabet form differs.
constexpr const char* kKeyA = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
constexpr const char* kKeyB = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";

constexpr const char* kAud = "https://push.example.net";
constexpr std::int64_t kNow = 1700000000;
constexpr const char* kEs256Header = R"({"typ":"JWT","alg":"ES256"})";

std::string enc(std::string_view text) { return base64url_encode(as_bytes(text)); }

std::string public_b64(const KeyPair& key) { return base64url_encode(key.public_bytes()); }

std::string claims_json(std::string_view aud, std::int64_t exp) {
  return std::string(R"({"aud":")") + std::string(aud) + R"(","exp":)" + std::to_string(exp) + "}";
}

// The DER ECDSA signature of `input` by `key`, made with EVP directly.
Bytes der_sign(const KeyPair& key, std::string_view input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1) {
    ADD_FAILURE() << "EVP_DigestSign setup failed";
    return {};
  }
  Bytes der(len);
  if (EVP_DigestSign(ctx.get(), der.data(), &len, in, input.size()) != 1) ADD_FAILURE() << "EVP_DigestSign failed";
  der.resize(len);
  return der;
}

// DER -> raw r || s (32 bytes each).
Bytes der_to_raw(const Bytes& der) {
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())),
                                                            ECDSA_SIG_free);
  Bytes raw(64);
  if (!sig || BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32) != 32) {
    ADD_FAILURE() << "DER signature conversion failed";
  }
  return raw;
}

enum class SigForm { raw, der };

// A compact JWT over arbitrary header and claims text, signed by `key`.
std::string craft(const KeyPair& key, std::string_view header, std::string_view claims, SigForm form = SigForm::raw) {
  const std::string input = enc(header) + "." + enc(claims);
  const Bytes der = der_sign(key, input);
  return input + "." + base64url_encode(form == SigForm::raw ? der_to_raw(der) : der);
}

std::vector<std::string> split_jwt(std::string_view jwt) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (std::size_t dot; (dot = jwt.find('.', at)) != std::string_view::npos; at = dot + 1) {
    out.emplace_back(jwt.substr(at, dot - at));
  }
  out.emplace_back(jwt.substr(at));
  return out;
}

std::string vapid_auth(std::string_view jwt, std::string_view k) {
  return "vapid t=" + std::string(jwt) + ", k=" + std::string(k);
}

// Base64url -> padded standard base64.
std::string to_standard_padded(std::string text) {
  std::replace(text.begin(), text.end(), '-', '+');
  std::replace(text.begin(), text.end(), '_', '/');
  while (text.size() % 4 != 0) text += '=';
  return text;
}

TEST(Rfc8292, PublishedExampleVerifies) {
  const std::string auth = std::string("vapid t=") + kRfcJwt + ", k=" + kRfcKey;
  auto creds = parse_vapid_headers(auth, "");
  ASSERT_TRUE(creds) << creds.error();
  EXPECT_EQ(creds->scheme, VapidScheme::vapid);
  EXPECT_EQ(creds->jwt, kRfcJwt);
  EXPECT_EQ(creds->key, b64(kRfcKey));

  auto claims = vapid_verify(*creds, {.audience = "https://push.example.net", .now = kRfcExp - 3600});
  ASSERT_TRUE(claims) << claims.error();
  EXPECT_EQ(claims->aud, "https://push.example.net");
  EXPECT_EQ(claims->exp, kRfcExp);
  EXPECT_EQ(claims->sub, "mailto:push@example.com");

  // The same token, bound to its own key, also verifies.
  const Bytes key = b64(kRfcKey);
  auto bound =
      vapid_verify(*creds, {.audience = "https://push.example.net", .now = kRfcExp - 1, .registered_key = key});
  ASSERT_TRUE(bound) << bound.error();

  auto expired = vapid_verify(*creds, {.audience = "https://push.example.net", .now = kRfcExp});
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error(), Errc::token_expired);
}

// ---- sign -> verify round trips -----------------------------------------------

TEST(Vapid, SignProducesTheRfcShape) {
  const auto key = test::key_from_b64(kKeyA);
  auto jwt = vapid_sign(key, {.aud = kAud, .exp = kNow + 60, .sub = "mailto:ops@example.com"});
  ASSERT_TRUE(jwt) << jwt.error();
  const auto parts = split_jwt(*jwt);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0], "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9");  // as in RFC 8292 §2.4
  EXPECT_EQ(str(b64(parts[0])), kEs256Header);
  EXPECT_EQ(str(b64(parts[1])),
            R"({"aud":"https://push.example.net","exp":1700000060,"sub":"mailto:ops@example.com"})");
  EXPECT_EQ(b64(parts[2]).size(), 64u);  // raw r || s, not DER

  auto no_sub = vapid_sign(key, {.aud = kAud, .exp = kNow + 60});
  ASSERT_TRUE(no_sub) << no_sub.error();
  EXPECT_EQ(str(b64(split_jwt(*no_sub)[1])), R"({"aud":"https://push.example.net","exp":1700000060})");

  // ECDSA is randomised (a fresh k per signature): the same claims sign differently.
  auto again = vapid_sign(key, {.aud = kAud, .exp = kNow + 60});
  ASSERT_TRUE(again);
  EXPECT_NE(*again, *no_sub);
}

TEST(Vapid, HeadersHaveTheDocumentedForm) {
  const auto key = test::key_from_b64(kKeyA);
  const VapidClaims claims{.aud = kAud, .exp = kNow + 60};
  auto v = vapid_headers(key, claims, VapidScheme::vapid);
  ASSERT_TRUE(v) << v.error();
  // Exactly "vapid t=<jwt>, k=<key>".
  const std::string& auth = v->authorization;
  ASSERT_EQ(auth.rfind("vapid t=", 0), 0u) << auth;
  const auto comma = auth.find(", k=");
  ASSERT_NE(comma, std::string::npos) << auth;
  EXPECT_EQ(split_jwt(auth.substr(8, comma - 8)).size(), 3u) << auth;
  EXPECT_EQ(auth.substr(comma + 4), public_b64(key));
  EXPECT_TRUE(v->crypto_key.empty());

  auto w = vapid_headers(key, claims, VapidScheme::webpush);
  ASSERT_TRUE(w) << w.error();
  ASSERT_EQ(w->authorization.rfind("WebPush ", 0), 0u) << w->authorization;
  EXPECT_EQ(split_jwt(w->authorization.substr(8)).size(), 3u);
  EXPECT_EQ(w->crypto_key, "p256ecdsa=" + public_b64(key));
}

TEST(Vapid, RoundTripInBothHeaderForms) {
  const auto key = test::key_from_b64(kKeyA);
  const std::string k = public_b64(key);
  const Bytes key_bytes(key.public_bytes().begin(), key.public_bytes().end());
  for (const char* sub : {"mailto:ops@example.com", ""}) {
    auto claims = vapid_claims_for("https://push.example.net/wpush/v2/abc", sub, kNow);
    ASSERT_TRUE(claims) << claims.error();
    auto jwt = vapid_sign(key, *claims);
    ASSERT_TRUE(jwt) << jwt.error();
    auto v = vapid_headers(key, *claims, VapidScheme::vapid);
    auto w = vapid_headers(key, *claims, VapidScheme::webpush);
    ASSERT_TRUE(v && w);

    struct Form {
      const char* desc;
      std::string authorization;
      std::string crypto_key;
      VapidScheme scheme;
    };
    const Form forms[] = {
        {"vapid_headers vapid", v->authorization, "", VapidScheme::vapid},
        {"vapid_headers webpush", w->authorization, w->crypto_key, VapidScheme::webpush},
        {"upper-case scheme, no spaces", "VAPID t=" + *jwt + ",k=" + k, "", VapidScheme::vapid},
        {"spaces around '=' and params reversed, extension param", "vapid k = " + k + " , foo=bar, t = " + *jwt, "",
         VapidScheme::vapid},
        {"quoted t and k", "vapid t=\"" + *jwt + "\", k=\"" + k + "\"", "", VapidScheme::vapid},
        {"padded standard-base64 k", "vapid t=" + *jwt + ", k=" + to_standard_padded(k), "", VapidScheme::vapid},
        {"WebPush with dh before p256ecdsa", "WebPush " + *jwt,
         "dh=BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4, p256ecdsa=" + k,
         VapidScheme::webpush},
        {"webpush, keyid;dh;p256ecdsa in one element", "webpush " + *jwt,
         "keyid=p256dh;dh=BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4;"
         "p256ecdsa=" +
             k,
         VapidScheme::webpush},
        {"Bearer with a quoted, padded standard-base64 p256ecdsa", "Bearer " + *jwt,
         "keyid=p256dh;dh=BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4, "
         "p256ecdsa=\"" +
             to_standard_padded(k) + "\"",
         VapidScheme::webpush},
    };
    for (const auto& form : forms) {
      SCOPED_TRACE(std::string(form.desc) + ", sub '" + sub + "'");
      auto creds = parse_vapid_headers(form.authorization, form.crypto_key);
      ASSERT_TRUE(creds) << creds.error();
      EXPECT_EQ(creds->scheme, form.scheme);
      EXPECT_EQ(creds->key, key_bytes);
      const auto parts = split_jwt(creds->jwt);
      ASSERT_EQ(parts.size(), 3u);
      EXPECT_EQ(b64(parts[2]).size(), 64u);
      auto back = vapid_verify(*creds, {.audience = kAud, .now = kNow + 1, .registered_key = key_bytes});
      ASSERT_TRUE(back) << back.error();
      EXPECT_EQ(back->aud, kAud);
      EXPECT_EQ(back->exp, kNow + 12 * 60 * 60);
      EXPECT_EQ(back->sub, sub);
    }
  }
}

TEST(Vapid, VerifyAcceptsBoundaryAndExtraClaims) {
  const auto key = test::key_from_b64(kKeyA);
  const std::string k = public_b64(key);
  struct OkRow {
    const char* desc;
    std::string claims;
    std::string sub;
  };
  const OkRow rows[] = {
      {"exp exactly 24 h ahead", claims_json(kAud, kNow + kVapidMaxLifetime), ""},
      {"exp one second ahead", claims_json(kAud, kNow + 1), ""},
      {"extra claims, sub not a string",
       R"({"aud":"https://push.example.net","exp":1700000100,"sub":42,"jti":"x","nested":{"a":[1,2]}})", ""},
      {"https sub", R"({"sub":"https://example.com/contact","exp":1700000100,"aud":"https://push.example.net"})",
       "https://example.com/contact"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.desc);
    auto creds = parse_vapid_headers(vapid_auth(craft(key, kEs256Header, row.claims), k), "");
    ASSERT_TRUE(creds) << creds.error();
    auto claims = vapid_verify(*creds, {.audience = kAud, .now = kNow});
    ASSERT_TRUE(claims) << claims.error();
    EXPECT_EQ(claims->sub, row.sub);
  }
  // A header with only alg (no typ) is enough: typ is optional in RFC 7515.
  auto creds = parse_vapid_headers(vapid_auth(craft(key, R"({"alg":"ES256"})", claims_json(kAud, kNow + 5)), k), "");
  ASSERT_TRUE(creds);
  EXPECT_TRUE(vapid_verify(*creds, {.audience = kAud, .now = kNow}));
}

// ---- err rows ------------------------------------------------------------------

struct ErrRow {
  std::string desc;
  std::string authorization;
  std::string crypto_key;
  Errc code;
  std::string message;  ///< a substring of the error message
  std::string audience = kAud;
  std::int64_t now = kNow;
  std::optional<Bytes> registered_key;
};

std::vector<ErrRow> err_rows() {
  const auto a = test::key_from_b64(kKeyA);
  const auto b = test::key_from_b64(kKeyB);
  const std::string ka = public_b64(a);
  const std::string kb = public_b64(b);
  const std::string good_claims = claims_json(kAud, kNow + 3600);
  const std::string good = craft(a, kEs256Header, good_claims);
  const auto parts = split_jwt(good);

  Bytes flipped = b64(parts[2]);
  flipped[10] ^= 0x01;
  const std::string tampered_sig = parts[0] + "." + parts[1] + "." + base64url_encode(flipped);
  const std::string tampered_claims =
      parts[0] + "." + enc(claims_json("https://evil.example.net", kNow + 3600)) + "." + parts[2];

  Bytes off_curve = b64(ka);
  off_curve[64] ^= 0x01;
  Bytes compressed_prefix = b64(ka);
  compressed_prefix[0] = 0x02;
  const std::string deep(100000, '[');

  std::vector<ErrRow> rows = {
      // -- signature
      {"tampered signature", vapid_auth(tampered_sig, ka), "", Errc::bad_signature, "does not verify"},
      {"tampered claims (aud changed, signature kept)", vapid_auth(tampered_claims, ka), "", Errc::bad_signature,
       "does not verify"},
      {"token signed by A presented with k=B", vapid_auth(good, kb), "", Errc::bad_signature, "does not verify"},
      {"DER signature instead of raw r || s", vapid_auth(craft(a, kEs256Header, good_claims, SigForm::der), ka), "",
       Errc::bad_signature, "must be 64 bytes"},
      {"63-byte signature", vapid_auth(parts[0] + "." + parts[1] + "." + base64url_encode(Bytes(63, 1)), ka), "",
       Errc::bad_signature, "got 63"},
      {"empty signature", vapid_auth(parts[0] + "." + parts[1] + ".", ka), "", Errc::bad_signature, "got 0"},
      {"r = s = 0", vapid_auth(parts[0] + "." + parts[1] + "." + base64url_encode(Bytes(64, 0)), ka), "",
       Errc::bad_signature, "does not verify"},
      {"r = s = 2^256 - 1 (beyond the order)",
       vapid_auth(parts[0] + "." + parts[1] + "." + base64url_encode(Bytes(64, 0xff)), ka), "", Errc::bad_signature,
       "does not verify"},
      // -- time
      {"expired token", vapid_auth(craft(a, kEs256Header, claims_json(kAud, kNow - 1)), ka), "", Errc::token_expired,
       "expired"},
      {"exp equal to now", vapid_auth(craft(a, kEs256Header, claims_json(kAud, kNow)), ka), "", Errc::token_expired,
       "expired"},
      {"negative exp", vapid_auth(craft(a, kEs256Header, claims_json(kAud, -5)), ka), "", Errc::token_expired,
       "expired"},
      {"exp 24 h + 1 s ahead", vapid_auth(craft(a, kEs256Header, claims_json(kAud, kNow + kVapidMaxLifetime + 1)), ka),
       "", Errc::token_expiry_too_far, "more than 86400 s"},
      {"exp beyond int64",
       vapid_auth(craft(a, kEs256Header, R"({"aud":"https://push.example.net","exp":18446744073709551615})"), ka), "",
       Errc::token_expiry_too_far, "more than 86400 s"},
      // -- audience and key binding
      {"wrong audience (other host)", vapid_auth(good, ka), "", Errc::wrong_audience, "is not the endpoint origin",
       "https://updates.push.services.mozilla.com"},
      {"wrong audience (path added)",
       vapid_auth(craft(a, kEs256Header, claims_json("https://push.example.net/", kNow + 60)), ka), "",
       Errc::wrong_audience, "is not the endpoint origin"},
      {"k differs from the registered key", vapid_auth(good, ka), "", Errc::key_mismatch, "differs", kAud, kNow,
       b64(kb)},
      // -- JWT structure
      {"alg none", vapid_auth(enc(R"({"typ":"JWT","alg":"none"})") + "." + parts[1] + ".", ka), "", Errc::invalid_jwt,
       "alg is 'none'"},
      {"alg HS256", vapid_auth(craft(a, R"({"typ":"JWT","alg":"HS256"})", good_claims), ka), "", Errc::invalid_jwt,
       "alg is 'HS256'"},
      {"alg missing", vapid_auth(craft(a, R"({"typ":"JWT"})", good_claims), ka), "", Errc::invalid_jwt, "no alg"},
      {"alg not a string", vapid_auth(craft(a, R"({"alg":7})", good_claims), ka), "", Errc::invalid_jwt, "no alg"},
      {"header not JSON", vapid_auth(craft(a, "{alg:ES256}", good_claims), ka), "", Errc::invalid_jwt,
       "header is not a JSON object"},
      {"header a JSON array", vapid_auth(craft(a, R"(["ES256"])", good_claims), ka), "", Errc::invalid_jwt,
       "header is not a JSON object"},
      {"header nested 100000 deep, unterminated", vapid_auth(enc(deep) + "." + parts[1] + "." + parts[2], ka), "",
       Errc::invalid_jwt, "header is not a JSON object"},
      {"two segments", vapid_auth(parts[0] + "." + parts[1], ka), "", Errc::invalid_jwt, "3 segments, has 2"},
      {"four segments", vapid_auth(good + ".", ka), "", Errc::invalid_jwt, "3 segments, has 4"},
      {"one segment", vapid_auth("abc", ka), "", Errc::invalid_jwt, "3 segments, has 1"},
      {"claims segment not base64url", vapid_auth(parts[0] + ".e*J9." + parts[2], ka), "", Errc::invalid_jwt,
       "claims segment is not base64url"},
      {"padded header segment", vapid_auth(enc(R"({"alg":"ES256"} )") + "==." + parts[1] + "." + parts[2], ka), "",
       Errc::invalid_jwt, "header segment has '=' padding"},
      {"signature in standard base64", vapid_auth(parts[0] + "." + parts[1] + "." + std::string(85, '+') + "/", ka), "",
       Errc::invalid_jwt, "signature segment is not base64url"},
      {"claims not JSON (signed)", vapid_auth(craft(a, kEs256Header, R"({"aud":)"), ka), "", Errc::invalid_jwt,
       "claims are not valid JSON"},
      {"claims a JSON array (signed)", vapid_auth(craft(a, kEs256Header, "[1,2]"), ka), "", Errc::invalid_jwt,
       "claims are not a JSON object"},
      {"claims nested 100000 deep (signed)", vapid_auth(craft(a, kEs256Header, deep + std::string(100000, ']')), ka),
       "", Errc::invalid_jwt, "claims are not a JSON object"},
      // -- claims
      {"missing exp", vapid_auth(craft(a, kEs256Header, R"({"aud":"https://push.example.net"})"), ka), "",
       Errc::missing_claim, "no exp claim"},
      {"exp as string",
       vapid_auth(craft(a, kEs256Header, R"({"aud":"https://push.example.net","exp":"1700003600"})"), ka), "",
       Errc::missing_claim, "exp claim is not an integer"},
      {"exp as float",
       vapid_auth(craft(a, kEs256Header, R"({"aud":"https://push.example.net","exp":1700003600.5})"), ka), "",
       Errc::missing_claim, "exp claim is not an integer"},
      {"exp null", vapid_auth(craft(a, kEs256Header, R"({"aud":"https://push.example.net","exp":null})"), ka), "",
       Errc::missing_claim, "exp claim is not an integer"},
      {"missing aud", vapid_auth(craft(a, kEs256Header, R"({"exp":1700003600})"), ka), "", Errc::missing_claim,
       "no aud claim"},
      {"aud not a string",
       vapid_auth(craft(a, kEs256Header, R"({"aud":["https://push.example.net"],"exp":1700003600})"), ka), "",
       Errc::missing_claim, "aud claim is not a string"},
      // -- keys
      {"k off the curve", vapid_auth(good, base64url_encode(off_curve)), "", Errc::invalid_key,
       "not a point on the curve"},
      {"k with a compressed-point prefix", vapid_auth(good, base64url_encode(compressed_prefix)), "", Errc::invalid_key,
       "uncompressed"},
      // -- header forms
      {"no k", "vapid t=" + good, "", Errc::invalid_vapid_header, "Authorization has no k= parameter"},
      {"no t", "vapid k=" + ka, "", Errc::invalid_vapid_header, "Authorization has no t= parameter"},
      {"empty t", "vapid t=, k=" + ka, "", Errc::invalid_vapid_header, "empty t= parameter"},
      {"t without '='", "vapid t" + good + ", k=" + ka, "", Errc::invalid_vapid_header, "no t= parameter"},
      {"vapid scheme alone", "vapid", "", Errc::invalid_vapid_header, "no t= parameter"},
      {"two t parameters", vapid_auth(good, ka) + ", t=" + good, "", Errc::invalid_vapid_header,
       "more than one t= parameter"},
      {"two k parameters", vapid_auth(good, ka) + ", K=" + kb, "", Errc::invalid_vapid_header,
       "more than one k= parameter"},
      {"unknown scheme", "Basic dXNlcjpwYXNz", "", Errc::invalid_vapid_header, "unknown scheme 'Basic'"},
      {"scheme only a prefix of vapid", "vapi t=" + good + ", k=" + ka, "", Errc::invalid_vapid_header,
       "unknown scheme 'vapi'"},
      {"empty Authorization", "  ", "", Errc::invalid_vapid_header, "Authorization is empty"},
      {"legacy without p256ecdsa", "WebPush " + good, "dh=" + kb, Errc::invalid_vapid_header,
       "Crypto-Key has no p256ecdsa"},
      {"legacy without Crypto-Key", "WebPush " + good, "", Errc::invalid_vapid_header, "Crypto-Key has no p256ecdsa"},
      {"legacy with two p256ecdsa", "WebPush " + good, "p256ecdsa=" + ka + ",p256ecdsa=" + kb,
       Errc::invalid_vapid_header, "more than one p256ecdsa"},
      {"legacy without token", "WebPush ", "p256ecdsa=" + ka, Errc::invalid_vapid_header, "no token after the WebPush"},
      {"k not base64", "vapid t=" + good + ", k=" + ka.substr(0, 40) + "!" + ka.substr(41), "",
       Errc::invalid_vapid_header, "k= is not base64url"},
      {"k of 64 bytes", "vapid t=" + good + ", k=" + base64url_encode(Bytes(64, 4)), "", Errc::invalid_vapid_header,
       "must be a 65-byte P-256 public key, got 64 bytes"},
      {"k empty", "vapid t=" + good + ", k=", "", Errc::invalid_vapid_header, "got 0 bytes"},
      {"p256ecdsa not base64", "WebPush " + good, "p256ecdsa=" + ka + "*", Errc::invalid_vapid_header,
       "p256ecdsa= is not base64url"},
      {"p256ecdsa of 33 bytes", "WebPush " + good, "p256ecdsa=" + base64url_encode(Bytes(33, 2)),
       Errc::invalid_vapid_header, "got 33 bytes"},
  };
  return rows;
}

TEST(Vapid, ErrRows) {
  for (const auto& row : err_rows()) {
    SCOPED_TRACE(row.desc);
    auto creds = parse_vapid_headers(row.authorization, row.crypto_key);
    Result<VapidClaims> result =
        creds
            ? vapid_verify(*creds, {.audience = row.audience,
                                    .now = row.now,
                                    .registered_key = row.registered_key ? std::optional<ByteView>(*row.registered_key)
                                                                         : std::nullopt})
            : tl::unexpected(creds.error());
    ASSERT_FALSE(result) << "accepted";
    EXPECT_EQ(result.error(), row.code) << result.error();
    EXPECT_NE(result.error().message().find(row.message), std::string::npos) << result.error();
    EXPECT_EQ(result.error().message().rfind("vapid: ", 0), 0u) << result.error();
  }
}

// Sanity for the err rows above: the untampered token verifies under the same expectations.
TEST(Vapid, ErrRowBaseTokenVerifies) {
  const auto a = test::key_from_b64(kKeyA);
  auto creds =
      parse_vapid_headers(vapid_auth(craft(a, kEs256Header, claims_json(kAud, kNow + 3600)), public_b64(a)), "");
  ASSERT_TRUE(creds) << creds.error();
  const Bytes registered = b64(public_b64(a));
  auto claims = vapid_verify(*creds, {.audience = kAud, .now = kNow, .registered_key = registered});
  ASSERT_TRUE(claims) << claims.error();
  EXPECT_EQ(claims->exp, kNow + 3600);
}

// ---- vapid_claims_for ----------------------------------------------------------

TEST(VapidClaimsFor, AudienceIsTheEndpointOrigin) {
  struct Row {
    const char* endpoint;
    const char* aud;
  };
  const Row rows[] = {
      {"https://updates.push.services.mozilla.com/wpush/v2/gAAA", "https://updates.push.services.mozilla.com"},
      {"https://push.example.net:8443/wpush/v1/x?q=1", "https://push.example.net:8443"},
      {"https://PUSH.example.net:443/x", "https://push.example.net"},
      {"http://localhost:8082/wpush/v1/x", "http://localhost:8082"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.endpoint);
    auto claims = vapid_claims_for(row.endpoint, "mailto:ops@example.com", 1000);
    ASSERT_TRUE(claims) << claims.error();
    EXPECT_EQ(claims->aud, row.aud);
    EXPECT_EQ(claims->exp, 1000 + 12 * 60 * 60);
    EXPECT_EQ(claims->sub, "mailto:ops@example.com");
  }
  auto day = vapid_claims_for("https://push.example.net/x", "", 1000, kVapidMaxLifetime);
  ASSERT_TRUE(day) << day.error();
  EXPECT_EQ(day->exp, 1000 + kVapidMaxLifetime);
  EXPECT_EQ(day->sub, "");
}

TEST(VapidClaimsFor, ErrRows) {
  const auto too_far = vapid_claims_for("https://push.example.net/x", "", 1000, kVapidMaxLifetime + 1);
  ASSERT_FALSE(too_far);
  EXPECT_EQ(too_far.error(), Errc::token_expiry_too_far);
  EXPECT_NE(too_far.error().message().find("exceeds the maximum"), std::string::npos) << too_far.error();

  const auto zero = vapid_claims_for("https://push.example.net/x", "", 1000, 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error(), Errc::token_expired);
  EXPECT_NE(zero.error().message().find("not positive"), std::string::npos) << zero.error();

  const auto overflow =
      vapid_claims_for("https://push.example.net/x", "", std::numeric_limits<std::int64_t>::max(), 60);
  ASSERT_FALSE(overflow);
  EXPECT_EQ(overflow.error(), Errc::token_expiry_too_far);
  EXPECT_NE(overflow.error().message().find("overflows"), std::string::npos) << overflow.error();

  for (const char* endpoint : {"push.example.net/wpush", "ftp://push.example.net/x", ""}) {
    SCOPED_TRACE(endpoint);
    const auto bad = vapid_claims_for(endpoint, "", 1000);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error(), core::Errc::bad_url) << bad.error();
    EXPECT_EQ(bad.error().message().rfind("vapid: ", 0), 0u) << bad.error();
  }
}

TEST(VapidSign, RefusesClaimsThatAreNotUtf8) {
  const auto key = test::key_from_b64(kKeyA);
  auto jwt = vapid_sign(key, {.aud = kAud, .exp = kNow + 60, .sub = "mailto:\xff@example.com"});
  ASSERT_FALSE(jwt);
  EXPECT_EQ(jwt.error(), Errc::internal);
  EXPECT_NE(jwt.error().message().find("not valid UTF-8"), std::string::npos) << jwt.error();
}

}  // namespace crypto_vapid_test
}  // namespace webpush::crypto
