// RFC 8188 record layer and RFC 8291 Web Push encryption: the published
// vectors (ok rows) and one err row per failure, each with its exact code.
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include "test_util.h"
#include "webpush/crypto/ece.h"
#include "webpush/crypto/webpush.h"

namespace webpush::crypto {
namespace crypto_aes128gcm_test {

using test::b64;
using test::str;

// ---- RFC 8291 Appendix A ---------------------------------------------------
constexpr const char* kPlaintext = "When I grow up, I want to be a watermelon";
constexpr const char* kAsPublic =
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
constexpr const char* kAsPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
constexpr const char* kUaPublic =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
constexpr const char* kUaPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
constexpr const char* kSalt = "DGv6ra1nlYgDCS1FRnbzlw";
constexpr const char* kAuth = "BTBZMqHH6r4Tts7J_aSIgg";
constexpr const char* kBody =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml"
    "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT"
    "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";
// The published content key of that message, for crafting malformed records.
constexpr const char* kCek = "oIhVW04MRdy2XN9CiKLxTg";
constexpr const char* kNonce = "4h_95klXJ5E_qnoN";

TEST(Rfc8291, PublishedMessageDecrypts) {
  const auto ua = test::key_from_b64(kUaPrivate);
  const Bytes auth = b64(kAuth);
  auto plain = webpush_decrypt(b64(kBody), {ua, auth});
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(str(*plain), kPlaintext);
}

TEST(Rfc8291, EncryptWithKeysReproducesPublishedBody) {
  const auto as = test::key_from_b64(kAsPrivate);
  const auto ua_pub = test::public_from_b64(kUaPublic);
  auto body = webpush_encrypt_with_keys(as_bytes(kPlaintext), ua_pub, b64(kAuth), as, b64(kSalt));
  ASSERT_TRUE(body) << body.error();
  EXPECT_EQ(body->size(), 144u);
  EXPECT_EQ(*body, b64(kBody));
}

TEST(Rfc8291, DerivesPublishedContentKey) {
  // Checks the record layer's key schedule against the published PRK-derived values.
  auto key = derive_aes128gcm_key(b64("S4lYMb_L0FxCeq0WhDx813KgSYqU26kOyzWUdsXYyrg"), b64(kSalt));
  ASSERT_TRUE(key);
  EXPECT_EQ(Bytes(key->cek.begin(), key->cek.end()), b64(kCek));
  EXPECT_EQ(Bytes(key->nonce.begin(), key->nonce.end()), b64(kNonce));
}

TEST(Rfc8291, RandomEncryptDecryptRoundTrip) {
  auto ua = KeyPair::generate();
  ASSERT_TRUE(ua);
  auto ua_pub = ua->public_key();
  ASSERT_TRUE(ua_pub);
  auto auth = generate_auth_secret();
  ASSERT_TRUE(auth);
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{3993}}) {
    const Bytes plain(size, 0x5a);
    auto body = webpush_encrypt(plain, *ua_pub, *auth, {.padding = size == 100 ? 50u : 0u});
    ASSERT_TRUE(body) << size << ": " << body.error();
    EXPECT_LE(body->size(), kWebPushMaxBody);
    auto back = webpush_decrypt(*body, {*ua, *auth});
    ASSERT_TRUE(back) << size << ": " << back.error();
    EXPECT_EQ(*back, plain);
  }
}

TEST(Rfc8291, EncryptRefusesWhatDoesNotFit) {
  auto ua = KeyPair::generate();
  ASSERT_TRUE(ua);
  const Bytes auth(16, 1);
  auto ua_pub = ua->public_key();
  ASSERT_TRUE(ua_pub);
  // 3994 bytes of plaintext make a 4097-byte body: over the Web Push limit.
  auto big = webpush_encrypt(Bytes(3994, 0), *ua_pub, auth);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), Errc::body_too_large);
  // A record must hold the whole message (one record only).
  auto split = webpush_encrypt(Bytes(100, 0), *ua_pub, auth, {.rs = 100});
  ASSERT_FALSE(split);
  EXPECT_EQ(split.error(), Errc::plaintext_too_large);
  auto small_rs = webpush_encrypt(Bytes(1, 0), *ua_pub, auth, {.rs = 17});
  ASSERT_FALSE(small_rs);
  EXPECT_EQ(small_rs.error(), Errc::invalid_record_size);
  auto bad_auth = webpush_encrypt(Bytes(1, 0), *ua_pub, Bytes(15, 0));
  ASSERT_FALSE(bad_auth);
  EXPECT_EQ(bad_auth.error(), Errc::invalid_auth_secret);
}

// ---- RFC 8188 §3.1 and §3.2 -------------------------------------------------

TEST(Rfc8188, Section31SingleRecord) {
  const Bytes ikm = b64("yqdlZ-tYemfogSmv7Ws5PQ");
  const Bytes body = b64("I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg");
  auto plain = aes128gcm_decrypt(body, ikm);
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(str(*plain), "I am the walrus");
  auto again = aes128gcm_encrypt(as_bytes("I am the walrus"), ikm, b64("I1BsxtFttlv3u_Oo94xnmw"), {}, {.rs = 4096});
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(*again, body);
}

TEST(Rfc8188, Section32MultipleRecords) {
  const Bytes ikm = b64("BO3ZVPxUlnLORbVGMpbT1Q");
  const Bytes body =
      b64("uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF"
          "1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA");
  auto header = parse_aes128gcm_header(body);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->rs, 25u);
  EXPECT_EQ(str(header->keyid), "a1");
  EXPECT_EQ(header->size, 23u);
  auto plain = aes128gcm_decrypt(body, ikm);
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(str(*plain), "I am the walrus");
  auto exact = aes128gcm_encrypt(as_bytes("I am the walrus"), ikm, ByteView(body).first(16), as_bytes("a1"),
                                 {.rs = 25, .padding = 1});
  ASSERT_TRUE(exact) << exact.error();
  EXPECT_EQ(*exact, body);
}

// ---- Firefox / ecec extra vectors (docs/protocol.md §3.9 E) ---------------------

struct FirefoxOkRow {
  const char* desc;
  const char* d;
  const char* auth;
  const char* body;
  const char* plaintext;
};

const FirefoxOkRow kFirefoxOk[] = {
    {"rs = 18, pad = 0", "J0M_q4lws8tShLYRg--0YoZWLNKnMw2MrpYJEaVXHQw", "1loE35Xy215gSDn3F9zeeQ",
     "fK69vCCTjuNAqUbxvU9o8QAAABJBBDfP21Ij2fleqgL27ZQP8i6vBbNiLpSdw86fM15u-bJq6qzKD3QICos2RZLyzMbV7d1DAEtwuRiH0UTZ-"
     "pPxbDvH6mj0_VR6lOyoSxbhOKYIAXc",
     "1"},
    {"rs = 49, pad = 84, ends on a record boundary", "ZwBKTqgg3u2OSdtelIDmPT6jzOGujhpgYJcT1SfQAe8",
     "lfF1cOUI72orKtG09creMw",
     "-yiDzsHE_K3W0TcfbqSR4AAAADFBBC1EHuf5_2oDKaZJJ9BST9vnsixvtl4Qq0_cA4-UQgoMo_oo2tNshOyRoWLq4Hj6rSwc7XjegRPhlgKyDolP"
     "SXa5c-L89oL6DIzNmvPVv_Ht4W-tWjHOGdOLXh_h94pPrYQrvBAlTCxs3ZaitVKE2XLFPK2MO6yxD19X6w1KQzO2BBAroRfK4pEI-9n2Kai6aWD"
     "dAZRbOe03unBsQ0oQ_SvSCU_5JJvNrUUTX1_kX804Bx-LLTlBr9pDmBDXeqyvfOULVDJb9YyVAzN9BzeFoyPfo0M",
     "Hello, world"},
};

TEST(Firefox, OkRowsDecrypt) {
  for (const auto& row : kFirefoxOk) {
    const auto key = test::key_from_b64(row.d);
    const Bytes auth = b64(row.auth);
    auto plain = webpush_decrypt(b64(row.body), {key, auth});
    ASSERT_TRUE(plain) << row.desc << ": " << plain.error();
    EXPECT_EQ(str(*plain), row.plaintext) << row.desc;
  }
}

// ---- err rows ------------------------------------------------------------------

// Seals hand-made plaintext records with the RFC 8291 example's content key,
// using OpenSSL directly so that a bug shared by our encoder cannot hide here.
Bytes seal_records(const std::vector<Bytes>& records, std::uint32_t rs) {
  const Bytes cek = b64(kCek);
  const Bytes base = b64(kNonce);
  Bytes body = b64(kBody);
  body.resize(kWebPushHeaderSize);
  body[16] = static_cast<std::uint8_t>(rs >> 24);
  body[17] = static_cast<std::uint8_t>(rs >> 16);
  body[18] = static_cast<std::uint8_t>(rs >> 8);
  body[19] = static_cast<std::uint8_t>(rs);
  append(body, test::seal_gcm_records(cek, base, records));
  return body;
}

Bytes rec(std::string_view data, std::initializer_list<std::uint8_t> tail) {
  Bytes r = to_bytes(data);
  r.insert(r.end(), tail);
  return r;
}

struct ErrRow {
  const char* desc;
  Bytes body;
  Errc code;
  const char* message_part;
  std::string auth = kAuth;
  std::string d = kUaPrivate;
  std::size_t max_body = kReceiveMaxBody;
};

std::vector<ErrRow> err_rows() {
  const Bytes good = b64(kBody);
  Bytes flipped_tag = good;
  flipped_tag.back() ^= 0x01;
  Bytes flipped_data = good;
  flipped_data[kWebPushHeaderSize + 3] ^= 0x80;
  Bytes rs17 = good;
  rs17[19] = 17;
  rs17[16] = rs17[17] = rs17[18] = 0;
  Bytes idlen_past = good;
  idlen_past.resize(21 + 40);
  Bytes off_curve_key = good;
  off_curve_key[21 + 64] ^= 0x01;
  Bytes header_only = good;
  header_only.resize(kWebPushHeaderSize);
  Bytes cut_mid_record = good;
  cut_mid_record.pop_back();
  Bytes oversize = seal_records({Bytes(4100, 'a')}, 5000);
  oversize.back() = 0;  // never reached: the size check comes first

  std::vector<ErrRow> rows;
  rows.push_back({"empty body", {}, Errc::empty_ciphertext, "empty body"});
  rows.push_back({"truncated header", Bytes(good.begin(), good.begin() + 20), Errc::truncated_header,
                  "shorter than the 21-byte header"});
  rows.push_back({"idlen past the body", idlen_past, Errc::truncated_header, "keyid of 65 bytes runs past"});
  rows.push_back({"rs < 18", rs17, Errc::invalid_record_size, "record size 17 is below the minimum of 18"});
  rows.push_back({"header without ciphertext", header_only, Errc::empty_ciphertext, "no ciphertext"});
  rows.push_back({"1-byte sender key (Firefox vector)", b64("3ltpa4fxoVy2revdedb5ngAAABIBALa8GCbDfJ9z3WtIWcK1BRgZUg"),
                  Errc::invalid_key_id, "keyid must be the sender's 65-byte public key", "XDHg2W2aE5iZrAlp01n3QA",
                  "zojo4LMFekdS60yPqTHrYhwwLaWtA7ga9FnPZzVWDK4"});
  rows.push_back({"missing header block (Firefox vector)", b64("RbdNK2m-mwdN47NaqH58FWEd"), Errc::truncated_header,
                  "shorter than", "NHG7mEgeAlM785VCvPPbpA", "G-g_ODMu8JaB-vPzB7H_LhDKt4zHzatoOsDukqw_buE"});
  rows.push_back({"sender key off the curve", off_curve_key, Errc::invalid_key, "sender key"});
  rows.push_back({"flipped tag bit", flipped_tag, Errc::decrypt_failed, "record 1 failed authentication"});
  rows.push_back({"flipped ciphertext bit", flipped_data, Errc::decrypt_failed, "record 1 failed authentication"});
  rows.push_back({"truncated inside the record", cut_mid_record, Errc::decrypt_failed, "record 1"});
  rows.push_back({"wrong auth secret", good, Errc::decrypt_failed, "failed authentication", "AAAAAAAAAAAAAAAAAAAAAA"});
  rows.push_back({"wrong private key", good, Errc::decrypt_failed, "failed authentication", kAuth,
                  "J0M_q4lws8tShLYRg--0YoZWLNKnMw2MrpYJEaVXHQw"});
  rows.push_back(
      {"auth secret of 15 bytes", good, Errc::invalid_auth_secret, "must be 16 bytes", "AAAAAAAAAAAAAAAAAAAA"});
  rows.push_back({"missing final delimiter", seal_records({rec("hello", {0x01})}, 4096), Errc::missing_final_delimiter,
                  "last record 1 has delimiter 0x01"});
  rows.push_back({"record of zeros only", seal_records({rec("", {0, 0, 0})}, 4096), Errc::missing_delimiter,
                  "record 1 ends without a padding delimiter"});
  rows.push_back({"delimiter 0x02 before the last record",
                  seal_records({rec("hello", {0x02, 0, 0, 0}), rec("world", {0x02})}, 25), Errc::early_final_record,
                  "record 1 has the final delimiter but more records follow"});
  rows.push_back({"second record missing its delimiter",
                  seal_records({rec("hello", {0x01, 0, 0, 0}), rec("", {0, 0})}, 25), Errc::missing_delimiter,
                  "record 2 ends without a padding delimiter"});
  rows.push_back({"non-zero padding", seal_records({rec("hello", {0x02, 0, 7, 0})}, 4096), Errc::nonzero_padding,
                  "non-zero padding byte 0x07"});
  rows.push_back({"truncated record (tag only)",
                  [] {
                    Bytes b = seal_records({rec("hello", {0x01, 0, 0, 0}), rec("world", {0x02})}, 25);
                    b.resize(kWebPushHeaderSize + 25 + 16);
                    return b;
                  }(),
                  Errc::truncated_record, "record 2 has 16 bytes"});
  rows.push_back({"body over 4096 bytes where the Web Push limit applies", oversize, Errc::body_too_large,
                  "exceeds the limit of 4096", kAuth, kUaPrivate, kWebPushMaxBody});
  rows.push_back({"early final record (Firefox vector)",
                  b64("2-IVUH0a09Lq6r6ubodNjwAAABJBBHvEND80qDSM3E5GL_x8QKpqjGGnOcTEHUUSVQX3Dp_F-e-oaFLdSI3Pjo6iyvt14Hq9"
                      "XufJ1cA4uv7weVcbC9opRBHOmMdt0DHA5YBXekmAo3XkXtMEKb4OLunafm34aW0BuOw"),
                  Errc::early_final_record, "final delimiter", "QMJB_eQmnuHm1yVZLZgnGA",
                  "XdodkYvEB7o82hLLgBTUmqfgJpACggMERmvIADTKkkA"});
  return rows;
}

TEST(WebPushDecrypt, ErrRowsFailWithTheirCode) {
  for (const auto& row : err_rows()) {
    const auto key = test::key_from_b64(row.d);
    const Bytes auth = b64(row.auth);
    auto plain = webpush_decrypt(row.body, {key, auth}, {.max_body = row.max_body});
    ASSERT_FALSE(plain) << row.desc;
    EXPECT_EQ(plain.error(), row.code) << row.desc << ": got " << plain.error();
    EXPECT_NE(plain.error().message().find(row.message_part), std::string::npos)
        << row.desc << ": " << plain.error().message();
  }
}

TEST(WebPushDecrypt, SameCraftedRecordsDecryptWhenWellFormed) {
  // Shows that the err rows above fail because of what they break, not because
  // the crafting is wrong: the same construction with valid delimiters decrypts.
  const auto key = test::key_from_b64(kUaPrivate);
  const Bytes auth = b64(kAuth);
  auto one = webpush_decrypt(seal_records({rec("hello", {0x02, 0, 0, 0})}, 4096), {key, auth});
  ASSERT_TRUE(one) << one.error();
  EXPECT_EQ(str(*one), "hello");
  auto two = webpush_decrypt(seal_records({rec("hello", {0x01, 0, 0, 0}), rec("world", {0x02})}, 25), {key, auth});
  ASSERT_TRUE(two) << two.error();
  EXPECT_EQ(str(*two), "helloworld");
}

TEST(DecryptPush, DispatchesOnEncoding) {
  const auto key = test::key_from_b64(kUaPrivate);
  const Bytes auth = b64(kAuth);
  const Bytes body = b64(kBody);
  auto ok = decrypt_push({.encoding = "aes128gcm", .body = body}, {key, auth});
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(str(*ok), kPlaintext);
  auto none = decrypt_push({.encoding = "", .body = body}, {key, auth});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), Errc::unsupported_encoding);
  auto other = decrypt_push({.encoding = "aesgcm128", .body = body}, {key, auth});
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error(), Errc::unsupported_encoding);
  EXPECT_NE(other.error().message().find("aesgcm128"), std::string::npos);
}

// ---- record_layout: what the body shows besides the plaintext ----------------------

struct LayoutRow {
  const char* desc;
  Bytes body;
  std::size_t plaintext;
  RecordLayout expected;
};

TEST(RecordLayout, Aes128gcmOkRows) {
  const LayoutRow rows[] = {
      {"RFC 8291: one record, no padding",
       b64(kBody),
       41,
       {.rs = 4096, .records = 1, .padding = 0, .plaintext = 41, .header = 86}},
      {"RFC 8188 3.1",
       b64("I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg"),
       15,
       {.rs = 4096, .records = 1, .padding = 0, .plaintext = 15, .header = 21}},
      {"RFC 8188 3.2: rs 25, one byte of padding",
       b64("uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA"),
       15,
       {.rs = 25, .records = 2, .padding = 1, .plaintext = 15, .header = 23}},
      {kFirefoxOk[0].desc,
       b64(kFirefoxOk[0].body),
       1,
       {.rs = 18, .records = 1, .padding = 0, .plaintext = 1, .header = 86}},
      {kFirefoxOk[1].desc,
       b64(kFirefoxOk[1].body),
       12,
       {.rs = 49, .records = 3, .padding = 84, .plaintext = 12, .header = 86}},
  };
  for (const auto& row : rows) {
    auto l = record_layout({.encoding = "aes128gcm", .body = row.body}, row.plaintext);
    ASSERT_TRUE(l) << row.desc << ": " << l.error();
    EXPECT_EQ(l->rs, row.expected.rs) << row.desc;
    EXPECT_EQ(l->records, row.expected.records) << row.desc;
    EXPECT_EQ(l->padding, row.expected.padding) << row.desc;
    EXPECT_EQ(l->plaintext, row.expected.plaintext) << row.desc;
    EXPECT_EQ(l->header, row.expected.header) << row.desc;
    EXPECT_EQ(l->body, row.body.size()) << row.desc;
  }
}

TEST(RecordLayout, Aes128gcmMatchesWhatTheEncoderWrote) {
  const Bytes ikm = b64("BO3ZVPxUlnLORbVGMpbT1Q");
  const Bytes salt = b64("uNCkWiNYzKTnBN9ji3-qWA");
  struct Case {
    std::size_t size;
    RecordOptions options;
  };
  const Case cases[] = {{0, {.rs = 18}},
                        {1, {.rs = 18}},
                        {100, {.rs = 18, .padding = 7}},
                        {4000, {.rs = 4096}},
                        {300, {.rs = 40, .padding = 100}},
                        {10, {.rs = 4096, .padding = 3000}}};
  for (const auto& c : cases) {
    const Bytes plain(c.size, 'p');
    auto body = aes128gcm_encrypt(plain, ikm, salt, as_bytes("a1"), c.options);
    ASSERT_TRUE(body) << c.size << ": " << body.error();
    auto back = aes128gcm_decrypt(*body, ikm);
    ASSERT_TRUE(back && back->size() == c.size) << c.size;
    auto l = record_layout({.encoding = "aes128gcm", .body = *body}, c.size);
    ASSERT_TRUE(l) << c.size << ": " << l.error();
    EXPECT_EQ(l->padding, c.options.padding) << c.size << " rs " << c.options.rs;
    EXPECT_EQ(l->rs, c.options.rs);
    EXPECT_EQ(l->records, (body->size() - 23 + c.options.rs - 1) / c.options.rs);
    EXPECT_EQ(l->records * (16 + 1) + c.size + c.options.padding, body->size() - 23) << c.size;
  }
}

TEST(RecordLayout, ErrRowsFailWithTheirCode) {
  const Bytes body = b64(kBody);
  const Bytes header_only(body.begin(), body.begin() + 86);
  struct Row {
    const char* desc;
    std::string_view encoding;
    Bytes body;
    std::size_t plaintext;
    Errc code;
  };
  const Row rows[] = {
      {"more data than the body holds", "aes128gcm", b64(kBody), 42, Errc::plaintext_too_large},
      {"a header and no record", "aes128gcm", header_only, 0, Errc::plaintext_too_large},
      {"a short header", "aes128gcm", Bytes(10, 0), 0, Errc::truncated_header},
      {"no encoding", "", b64(kBody), 41, Errc::unsupported_encoding},
      {"another encoding", "aesgcm128", b64(kBody), 41, Errc::unsupported_encoding},
  };
  for (const auto& row : rows) {
    auto l = record_layout({.encoding = row.encoding, .body = row.body}, row.plaintext);
    ASSERT_FALSE(l) << row.desc;
    EXPECT_EQ(l.error(), row.code) << row.desc << ": " << l.error();
  }
}

}  // namespace crypto_aes128gcm_test
}  // namespace webpush::crypto
