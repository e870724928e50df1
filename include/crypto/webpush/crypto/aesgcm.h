// Legacy "aesgcm" Web Push encryption (draft-ietf-webpush-encryption-04 over
// draft-ietf-httpbis-encryption-encoding-03), still sent by older application
// servers and accepted by autopush.
//
// Parameters travel in HTTP headers, which autopush forwards as `encryption` and
// `crypto_key`:   Encryption: keyid=p256dh;salt=<b64url>;rs=4096
//                 Crypto-Key: keyid=p256dh;dh=<b64url>,p256ecdsa=<vapid key>
// Each header is a comma-separated list of `;`-separated name=value parameters.
// Records are  padlen (2 bytes BE) || padlen zero bytes || data, sealed to
// rs + 16 bytes (rs excludes the tag, unlike aes128gcm); a body that ends exactly
// on a record boundary is truncated.
//
//   IKM        = HKDF(auth, ecdh_secret, "Content-Encoding: auth\0", 32)
//   context    = "P-256\0" || 0x0041 || ua_public || 0x0041 || as_public
//   CEK        = HKDF(salt, IKM, "Content-Encoding: aesgcm\0" || context, 16)
//   NONCE      = HKDF(salt, IKM, "Content-Encoding: nonce\0" || context, 12)
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/crypto/errc.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/webpush.h"

namespace webpush::crypto {

inline constexpr std::uint64_t kAesgcmDefaultRs = 4096;
inline constexpr std::uint64_t kAesgcmMaxRs = (std::uint64_t{1} << 36) - 31;

/// The parameters of one aesgcm message, resolved from both headers.
struct AesgcmParams {
  std::array<std::uint8_t, 16> salt{};
  std::uint64_t rs = kAesgcmDefaultRs;  ///< record size without the tag; 2..2^36-31
  Bytes dh;                             ///< sender public key, 65 bytes (validated at decrypt)
};

/// Parses `Encryption` and `Crypto-Key` values. Rules (as Firefox and ecec):
/// the first Encryption element is used; values may be quoted and may carry
/// `=` padding; whitespace around names and values is ignored; unknown
/// parameters (p256ecdsa, …) are ignored; `dh` is taken from the Crypto-Key
/// element whose keyid equals the Encryption keyid, else from the first element
/// with a dh. Errors: invalid_header (syntax), missing_salt, invalid_salt (not
/// base64url or not 16 bytes), invalid_record_size (rs not a number, < 2 or
/// > 2^36-31), missing_dh, unknown_key_id (keyid named by Encryption absent from
/// Crypto-Key), invalid_key (dh not base64url).
Result<AesgcmParams> parse_aesgcm_params(std::string_view encryption, std::string_view crypto_key);

/// Decrypts an aesgcm body. Errors: empty_ciphertext, body_too_large,
/// invalid_key, invalid_auth_secret, invalid_record_size (hand-built params),
/// truncated_record (ends on a record boundary, or a record shorter than its
/// tag), decrypt_failed, invalid_padding_length, nonzero_padding.
Result<Bytes> aesgcm_decrypt(ByteView body, const AesgcmParams& params, const ReceiverKeys& keys,
                             const DecryptOptions& options = {});

/// An aesgcm message ready to POST: body and the two header values.
struct AesgcmMessage {
  Bytes body;
  std::string encryption;  ///< "salt=<b64url>" (plus ";rs=N" when rs is not 4096)
  std::string crypto_key;  ///< "dh=<b64url>"
};

struct AesgcmEncryptOptions {
  std::uint64_t rs = kAesgcmDefaultRs;
  std::size_t padding = 0;                 ///< zero bytes, at most 65535 per record
  std::size_t max_body = kWebPushMaxBody;  ///< 0: no limit
};

/// Encrypts with a fresh ephemeral key and salt. Errors: invalid_auth_secret,
/// invalid_salt, invalid_record_size (rs < 3: no record could end the message),
/// plaintext_too_large (padding that cannot be placed), body_too_large.
Result<AesgcmMessage> aesgcm_encrypt(ByteView plaintext, const PublicKey& ua_public, ByteView auth_secret,
                                     const AesgcmEncryptOptions& options = {});

/// Deterministic form: the caller gives the ephemeral key and salt.
Result<AesgcmMessage> aesgcm_encrypt_with_keys(ByteView plaintext, const PublicKey& ua_public, ByteView auth_secret,
                                               const KeyPair& as_key, ByteView salt,
                                               const AesgcmEncryptOptions& options = {});

}  // namespace webpush::crypto
