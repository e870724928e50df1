// Message Encryption for Web Push (RFC 8291) on top of the RFC 8188 record
// layer, and one entry point that decrypts whatever a push service delivers
// (aes128gcm, or legacy aesgcm with its Encryption / Crypto-Key headers).
//
//   ecdh_secret = ECDH(ua_private, as_public)
//   IKM = HKDF(auth_secret, ecdh_secret, "WebPush: info\0" || ua_public || as_public, 32)
//   then RFC 8188 with salt and rs from the header; keyid = as_public (65 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/crypto/ece.h"
#include "webpush/crypto/errc.h"
#include "webpush/crypto/keys.h"

namespace webpush::crypto {

/// Push services need not accept bodies over 4096 bytes (RFC 8030 §7.2, RFC 8291 §4).
inline constexpr std::size_t kWebPushMaxBody = 4096;
/// The largest body a receiver accepts by default: above autopush's 5630-byte limit.
inline constexpr std::size_t kReceiveMaxBody = 8192;
/// Web Push header: 21 bytes + a 65-byte keyid.
inline constexpr std::size_t kWebPushHeaderSize = 86;

struct DecryptOptions {
  std::size_t max_body = kReceiveMaxBody;  ///< body_too_large above this
};

struct EncryptOptions {
  std::uint32_t rs = 4096;  ///< one record must hold plaintext + 1 + padding + 16
  std::size_t padding = 0;
  std::size_t max_body = kWebPushMaxBody;  ///< body_too_large above this (0: no limit)
};

/// The user agent's secrets for one subscription. Borrowed, must outlive the call.
struct ReceiverKeys {
  const KeyPair& key;
  ByteView auth_secret;  ///< 16 bytes
};

/// Decrypts an aes128gcm Web Push body. Errors: every record-layer error, plus
/// invalid_key_id (idlen != 65), invalid_key (sender key not on the curve),
/// invalid_auth_secret, body_too_large.
Result<Bytes> webpush_decrypt(ByteView body, const ReceiverKeys& keys, const DecryptOptions& options = {});

/// Encrypts as an application server with a fresh ephemeral key and salt, in one record.
Result<Bytes> webpush_encrypt(ByteView plaintext, const PublicKey& ua_public, ByteView auth_secret,
                              const EncryptOptions& options = {});

/// Deterministic form of webpush_encrypt: the caller gives the ephemeral key and salt.
/// Errors: invalid_auth_secret, invalid_salt, plaintext_too_large, body_too_large.
Result<Bytes> webpush_encrypt_with_keys(ByteView plaintext, const PublicKey& ua_public, ByteView auth_secret,
                                        const KeyPair& as_key, ByteView salt, const EncryptOptions& options = {});

/// A message as a push service delivers it: the Content-Encoding and, for
/// aesgcm, the Encryption and Crypto-Key header values.
struct PushPayload {
  std::string_view encoding;
  std::string_view encryption;
  std::string_view crypto_key;
  ByteView body;
};

/// Decrypts either content coding. Error unsupported_encoding for anything but
/// "aes128gcm" and "aesgcm"; otherwise as webpush_decrypt / aesgcm_decrypt.
Result<Bytes> decrypt_push(const PushPayload& payload, const ReceiverKeys& keys, const DecryptOptions& options = {});

/// How a delivered body was cut into records: what a decryption shows besides
/// the plaintext, for diagnostics (`run --trace`).
struct RecordLayout {
  std::uint64_t rs = 0;       ///< record size as the sender set it (aes128gcm counts the tag, aesgcm does not)
  std::size_t records = 0;    ///< how many records the body holds
  std::size_t padding = 0;    ///< zero bytes of padding, all records together
  std::size_t plaintext = 0;  ///< bytes of data
  std::size_t header = 0;     ///< aes128gcm header bytes (21 + idlen); 0 for aesgcm
  std::size_t body = 0;       ///< bytes of the whole body, header included
};

/// The layout of a body that decrypted to `plaintext_size` bytes, worked out
/// from its public parts only (the aes128gcm header; the aesgcm Encryption
/// header) and the sizes: no key is used, nothing is decrypted. Errors:
/// unsupported_encoding, the header errors of parse_aes128gcm_header and
/// parse_aesgcm_params, plaintext_too_large when the sizes do not add up (the
/// body did not decrypt to that many bytes).
Result<RecordLayout> record_layout(const PushPayload& payload, std::size_t plaintext_size);

}  // namespace webpush::crypto
