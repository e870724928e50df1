#include "ossl.h"

#include <openssl/core_names.h>
#include <openssl/err.h>

#include <fmt/format.h>

namespace webpush::crypto::detail {
namespace {

// Fetched once; OpenSSL algorithm objects are immutable and thread-safe.
EVP_MAC* hmac_algorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

const EVP_CIPHER* aes_gcm_algorithm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  return cipher;
}

// One reusable HMAC context per thread, with the digest set once.
EVP_MAC_CTX* hmac_context() {
  thread_local MacCtxPtr ctx = [] {
    MacCtxPtr c(hmac_algorithm() ? EVP_MAC_CTX_new(hmac_algorithm()) : nullptr);
    if (c) {
      char digest[] = "SHA256";
      const OSSL_PARAM params[] = {
          OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
          OSSL_PARAM_construct_end(),
      };
      if (EVP_MAC_CTX_set_params(c.get(), params) != 1) c.reset();
    }
    return c;
  }();
  return ctx.get();
}

EVP_CIPHER_CTX* cipher_context() {
  thread_local CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  return ctx.get();
}

}  // namespace

Error openssl_error(std::string_view what) {
  std::string detail;
  while (const unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!detail.empty()) detail += "; ";
    detail += buf;
  }
  if (detail.empty()) detail = "no OpenSSL error queued";
  return Error(Errc::internal, fmt::format("{} failed: {}", what, detail));
}

Result<Sha256> hmac_sha256(ByteView key, ByteView part1, ByteView part2, ByteView part3) {
  EVP_MAC_CTX* ctx = hmac_context();
  if (ctx == nullptr) return tl::unexpected(openssl_error("HMAC-SHA-256 setup"));
  Sha256 out{};
  std::size_t len = 0;
  // EVP_MAC_init rejects a zero-length key pointer, so give it a valid address.
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* key_ptr = key.empty() ? &kEmpty : key.data();
  if (EVP_MAC_init(ctx, key_ptr, key.size(), nullptr) != 1 ||
      (!part1.empty() && EVP_MAC_update(ctx, part1.data(), part1.size()) != 1) ||
      (!part2.empty() && EVP_MAC_update(ctx, part2.data(), part2.size()) != 1) ||
      (!part3.empty() && EVP_MAC_update(ctx, part3.data(), part3.size()) != 1) ||
      EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1 || len != out.size()) {
    return tl::unexpected(openssl_error("HMAC-SHA-256"));
  }
  return out;
}

Result<Sha256> hkdf_sha256(ByteView salt, ByteView ikm, ByteView info1, ByteView info2, ByteView info3) {
  auto prk = hmac_sha256(salt, ikm);
  if (!prk) return tl::unexpected(prk.error());
  // T(1) = HMAC(PRK, info || 0x01); L <= 32 needs only T(1). The counter byte is
  // appended to the last non-empty part without copying the info.
  static constexpr std::uint8_t kOne[] = {0x01};
  if (info2.empty()) return hmac_sha256(*prk, info1, kOne);
  if (info3.empty()) return hmac_sha256(*prk, info1, info2, kOne);
  // Three info parts plus the counter: fold the first two through a small buffer.
  Bytes joined(info1.begin(), info1.end());
  append(joined, info2);
  return hmac_sha256(*prk, joined, info3, kOne);
}

Result<void> aes128gcm_seal(const Cek& key, const Nonce& nonce, ByteView plaintext, Bytes& out) {
  EVP_CIPHER_CTX* ctx = cipher_context();
  const EVP_CIPHER* cipher = aes_gcm_algorithm();
  if (ctx == nullptr || cipher == nullptr) return tl::unexpected(openssl_error("AES-128-GCM setup"));
  const std::size_t start = out.size();
  out.resize(start + plaintext.size() + kTagSize);
  int len = 0;
  int final_len = 0;
  if (EVP_EncryptInit_ex2(ctx, cipher, key.data(), nonce.data(), nullptr) != 1 ||
      (!plaintext.empty() &&
       EVP_EncryptUpdate(ctx, out.data() + start, &len, plaintext.data(), static_cast<int>(plaintext.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx, out.data() + start + len, &final_len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          out.data() + start + plaintext.size()) != 1) {
    out.resize(start);
    return tl::unexpected(openssl_error("AES-128-GCM encrypt"));
  }
  return {};
}

Result<bool> aes128gcm_open(const Cek& key, const Nonce& nonce, ByteView sealed, Bytes& out) {
  if (sealed.size() < kTagSize) return false;
  EVP_CIPHER_CTX* ctx = cipher_context();
  const EVP_CIPHER* cipher = aes_gcm_algorithm();
  if (ctx == nullptr || cipher == nullptr) return tl::unexpected(openssl_error("AES-128-GCM setup"));
  const std::size_t data_len = sealed.size() - kTagSize;
  const std::size_t start = out.size();
  out.resize(start + data_len);
  int len = 0;
  int final_len = 0;
  if (EVP_DecryptInit_ex2(ctx, cipher, key.data(), nonce.data(), nullptr) != 1 ||
      (data_len > 0 &&
       EVP_DecryptUpdate(ctx, out.data() + start, &len, sealed.data(), static_cast<int>(data_len)) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                          const_cast<std::uint8_t*>(sealed.data() + data_len)) != 1) {
    out.resize(start);
    return tl::unexpected(openssl_error("AES-128-GCM decrypt"));
  }
  if (EVP_DecryptFinal_ex(ctx, out.data() + start + len, &final_len) != 1) {
    ERR_clear_error();  // a tag mismatch is an expected outcome, not an OpenSSL fault
    out.resize(start);
    return false;
  }
  return true;
}

Nonce record_nonce(const Nonce& base, std::uint64_t seq) noexcept {
  Nonce n = base;
  for (int i = 0; i < 8; ++i) {
    n[11 - i] ^= static_cast<std::uint8_t>(seq >> (8 * i));
  }
  return n;
}

}  // namespace webpush::crypto::detail
