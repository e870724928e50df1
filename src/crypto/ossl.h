// Internal: RAII owners for OpenSSL objects and the few primitives every
// content coding needs (HMAC-SHA-256, AES-128-GCM). Algorithms are fetched once
// per process and contexts are reused per thread: per-call fetches cost more
// than the AES-GCM itself.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/crypto/errc.h"

namespace webpush::crypto::detail {

template <auto Fn>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};

using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;

/// The error of an OpenSSL call that failed; drains and names the OpenSSL error queue.
Error openssl_error(std::string_view what);

/// Overwrites a secret the decrypt path derives (the ECDH output, the IKM, the
/// content key) when it goes out of scope, on every return path.
template <class T>
class CleanseOnExit {
  static_assert(std::is_trivially_copyable_v<T>, "cleansed as raw bytes");

 public:
  explicit CleanseOnExit(T& value) noexcept : value_(&value) {}
  ~CleanseOnExit() { OPENSSL_cleanse(value_, sizeof(T)); }
  CleanseOnExit(const CleanseOnExit&) = delete;
  CleanseOnExit& operator=(const CleanseOnExit&) = delete;

 private:
  T* value_;
};

inline constexpr std::size_t kSha256Size = 32;
using Sha256 = std::array<std::uint8_t, kSha256Size>;

/// HMAC-SHA-256(key, part1 || part2 || part3).
Result<Sha256> hmac_sha256(ByteView key, ByteView part1, ByteView part2 = {}, ByteView part3 = {});

/// RFC 5869 HKDF with L <= 32: HMAC(HMAC(salt, ikm), info || 0x01)[0..L).
/// `info` may be given in up to three parts (concatenated), to avoid copies.
Result<Sha256> hkdf_sha256(ByteView salt, ByteView ikm, ByteView info1, ByteView info2 = {}, ByteView info3 = {});

using Cek = std::array<std::uint8_t, 16>;
using Nonce = std::array<std::uint8_t, 12>;
inline constexpr std::size_t kTagSize = 16;

/// AES-128-GCM with empty AAD; `out` gets ciphertext || tag appended.
Result<void> aes128gcm_seal(const Cek& key, const Nonce& nonce, ByteView plaintext, Bytes& out);
/// AES-128-GCM open of ciphertext || tag; plaintext appended to `out`. false on tag mismatch.
Result<bool> aes128gcm_open(const Cek& key, const Nonce& nonce, ByteView sealed, Bytes& out);

/// The record nonce: base XOR seq (seq as a 96-bit big-endian integer, RFC 8188 §2.3).
Nonce record_nonce(const Nonce& base, std::uint64_t seq) noexcept;

}  // namespace webpush::crypto::detail
