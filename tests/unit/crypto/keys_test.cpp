#include "webpush/crypto/keys.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace webpush::crypto {
namespace crypto_keys_test {

using test::b64;

// RFC 8291 Appendix A user agent key.
constexpr const char* kUaPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
constexpr const char* kUaPublic =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
constexpr const char* kAsPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
constexpr const char* kAsPublic =
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";

TEST(KeyPair, ImportComputesThePublishedPublicKey) {
  auto key = KeyPair::from_private(b64(kUaPrivate));
  ASSERT_TRUE(key) << key.error();
  EXPECT_EQ(Bytes(key->public_bytes().begin(), key->public_bytes().end()), b64(kUaPublic));
  EXPECT_EQ(to_hex(key->private_bytes()), to_hex(b64(kUaPrivate)));
}

TEST(KeyPair, GenerateExportImportRoundTrip) {
  auto key = KeyPair::generate();
  ASSERT_TRUE(key) << key.error();
  EXPECT_EQ(key->public_bytes().size(), kPublicKeySize);
  EXPECT_EQ(key->public_bytes()[0], 0x04);
  const SecretBytes d = key->private_bytes();
  ASSERT_EQ(d.size(), kPrivateKeySize);
  auto again = KeyPair::from_private(d);
  ASSERT_TRUE(again) << again.error();
  EXPECT_TRUE(std::equal(key->public_bytes().begin(), key->public_bytes().end(), again->public_bytes().begin()));
  auto other = KeyPair::generate();
  ASSERT_TRUE(other);
  EXPECT_NE(other->private_bytes(), d);
}

TEST(Ecdh, MatchesRfc8291SharedSecret) {
  const auto ua = test::key_from_b64(kUaPrivate);
  const auto as = test::key_from_b64(kAsPrivate);
  const auto ua_pub = test::public_from_b64(kUaPublic);
  const auto as_pub = test::public_from_b64(kAsPublic);
  auto s1 = ecdh(ua, as_pub);
  auto s2 = ecdh(as, ua_pub);
  ASSERT_TRUE(s1 && s2);
  const Bytes expected = b64("kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs");
  EXPECT_EQ(Bytes(s1->begin(), s1->end()), expected);
  EXPECT_EQ(Bytes(s2->begin(), s2->end()), expected);
}

TEST(PublicKey, RejectsErrRows) {
  Bytes off_curve = b64(kUaPublic);
  off_curve[64] ^= 0x01;  // Y changed: no longer on the curve
  Bytes compressed = b64(kUaPublic);
  compressed.resize(33);
  compressed[0] = 0x02;
  Bytes wrong_prefix = b64(kUaPublic);
  wrong_prefix[0] = 0x05;
  Bytes zero(65, 0);
  zero[0] = 0x04;
  const struct {
    const char* desc;
    Bytes point;
    const char* why;
  } rows[] = {
      {"empty", {}, "must be 65 bytes"},
      {"1 byte", {0x04}, "must be 65 bytes"},
      {"compressed", compressed, "must be 65 bytes"},
      {"wrong prefix", wrong_prefix, "uncompressed"},
      {"off the curve", off_curve, "not a point on the curve"},
      {"all-zero coordinates", zero, "not a point on the curve"},
  };
  for (const auto& row : rows) {
    auto key = PublicKey::from_bytes(row.point);
    ASSERT_FALSE(key) << row.desc;
    EXPECT_EQ(key.error(), Errc::invalid_key) << row.desc;
    EXPECT_NE(key.error().message().find(row.why), std::string::npos) << row.desc << ": " << key.error().message();
  }
}

TEST(KeyPair, RejectsBadPrivateScalars) {
  const Bytes order = test::hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  const struct {
    const char* desc;
    Bytes d;
  } rows[] = {
      {"short", Bytes(31, 1)}, {"long", Bytes(33, 1)},        {"zero", Bytes(32, 0)},
      {"group order", order},  {"all ones", Bytes(32, 0xff)},
  };
  for (const auto& row : rows) {
    auto key = KeyPair::from_private(row.d);
    ASSERT_FALSE(key) << row.desc;
    EXPECT_EQ(key.error(), Errc::invalid_key) << row.desc;
  }
}

TEST(AuthSecret, IsSixteenRandomBytes) {
  auto a = generate_auth_secret();
  auto b = generate_auth_secret();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), kAuthSecretSize);
  EXPECT_NE(*a, *b);
}

}  // namespace crypto_keys_test
}  // namespace webpush::crypto
