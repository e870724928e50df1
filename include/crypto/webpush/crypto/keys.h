// P-256 keys for ECDH (message encryption) and ECDSA (VAPID), and the random
// material a subscription needs. OpenSSL 3 EVP only; every object has an owner.
//
// Thread: key objects are immutable after creation and may be shared between
// threads for reading.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <openssl/types.h>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/crypto/errc.h"

namespace webpush::crypto {

inline constexpr std::size_t kPublicKeySize = 65;   ///< 0x04 || X || Y
inline constexpr std::size_t kPrivateKeySize = 32;  ///< the scalar d, big-endian
inline constexpr std::size_t kAuthSecretSize = 16;
inline constexpr std::size_t kSaltSize = 16;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const noexcept;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

/// A P-256 public key: a point checked to lie on the curve.
class PublicKey {
 public:
  /// Imports a 65-byte uncompressed point. Errors: invalid_key (length, prefix, or
  /// not on the curve — the validation RFC 8291 §3 asks for).
  static Result<PublicKey> from_bytes(ByteView point);

  /// The 65-byte uncompressed encoding.
  [[nodiscard]] ByteView bytes() const noexcept { return point_; }
  /// Borrowed; valid as long as this object.
  [[nodiscard]] EVP_PKEY* pkey() const noexcept { return pkey_.get(); }

 private:
  PublicKey(PkeyPtr pkey, ByteView point);
  PkeyPtr pkey_;
  std::array<std::uint8_t, kPublicKeySize> point_{};
};

/// A P-256 key pair.
class KeyPair {
 public:
  /// A fresh key pair from the OpenSSL CSPRNG.
  static Result<KeyPair> generate();
  /// Imports a stored 32-byte private scalar; the public key is recomputed.
  /// Errors: invalid_key (length, zero, or not below the group order).
  static Result<KeyPair> from_private(ByteView scalar);

  [[nodiscard]] ByteView public_bytes() const noexcept { return point_; }
  /// The 32-byte private scalar for storage. Key material: never log it.
  [[nodiscard]] SecretBytes private_bytes() const;
  /// Borrowed; valid as long as this object.
  [[nodiscard]] EVP_PKEY* pkey() const noexcept { return pkey_.get(); }
  /// The public half as a PublicKey.
  [[nodiscard]] Result<PublicKey> public_key() const;

 private:
  KeyPair(PkeyPtr pkey, ByteView point);
  PkeyPtr pkey_;
  std::array<std::uint8_t, kPublicKeySize> point_{};
};

/// ECDH on P-256: the 32-byte X coordinate of mine.d * peer.
Result<std::array<std::uint8_t, 32>> ecdh(const KeyPair& mine, const PublicKey& peer);

/// `n` bytes from the OpenSSL CSPRNG. Error: internal.
Result<Bytes> random_bytes(std::size_t n);

/// A 16-byte auth secret for a new subscription (RFC 8291 §3.2).
Result<SecretBytes> generate_auth_secret();

}  // namespace webpush::crypto
