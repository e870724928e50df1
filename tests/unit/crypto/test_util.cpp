#include "test_util.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <openssl/evp.h>

#include "webpush/core/base64url.h"

namespace webpush::test {

namespace {
[[noreturn]] void die(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "bad test data (%.*s): %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}
}  // namespace

Bytes b64(std::string_view text) {
  std::string compact;
  for (const char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  }
  auto out = base64url_decode(compact);
  if (!out) die("base64url", out.error().to_string());
  return *out;
}

Bytes hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) die("hex", text);
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) die("hex", "odd number of digits");
  return out;
}

crypto::KeyPair key_from_b64(std::string_view d) {
  auto key = crypto::KeyPair::from_private(b64(d));
  if (!key) die("private key", key.error().to_string());
  return std::move(*key);
}

crypto::PublicKey public_from_b64(std::string_view point) {
  auto key = crypto::PublicKey::from_bytes(b64(point));
  if (!key) die("public key", key.error().to_string());
  return std::move(*key);
}

Bytes seal_gcm_records(ByteView cek, ByteView base_nonce, const std::vector<Bytes>& records) {
  if (cek.size() != 16 || base_nonce.size() != 12) die("seal_gcm_records", "key or nonce size");
  Bytes body;
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  for (std::size_t i = 0; i < records.size(); ++i) {
    Bytes nonce(base_nonce.begin(), base_nonce.end());
    nonce[11] ^= static_cast<std::uint8_t>(i);
    nonce[10] ^= static_cast<std::uint8_t>(i >> 8);
    Bytes out(records[i].size() + 16);
    int len = 0;
    int fin = 0;
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, cek.data(), nonce.data()) != 1 ||
        EVP_EncryptUpdate(ctx.get(), out.data(), &len, records[i].data(), static_cast<int>(records[i].size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out.data() + records[i].size()) != 1) {
      die("seal_gcm_records", "OpenSSL failed");
    }
    append(body, out);
  }
  return body;
}

}  // namespace webpush::test
