// Error codes of the crypto layer. Each failure has its own code; the Error's
// message says which record, header or field was wrong.
#pragma once

#include <string_view>

#include "webpush/core/error.h"

namespace webpush::crypto {

enum class Errc {
  internal,                 ///< OpenSSL failed where it should not (out of memory, provider missing)
  invalid_key,              ///< not a 65-byte point on P-256, or not a valid private scalar
  invalid_auth_secret,      ///< auth secret is not 16 bytes
  invalid_salt,             ///< salt missing its 16 bytes, or not base64url
  truncated_header,         ///< aes128gcm body shorter than its header (21 bytes + idlen)
  invalid_record_size,      ///< rs below the minimum (18 aes128gcm, 2 aesgcm) or beyond the maximum
  invalid_key_id,           ///< keyid of the wrong length for Web Push (idlen must be 65)
  empty_ciphertext,         ///< no ciphertext after the header, or an empty body
  body_too_large,           ///< body beyond the size limit in force
  truncated_record,         ///< a record holding no more than its tag, or aesgcm ending on a record boundary
  decrypt_failed,           ///< AES-GCM tag mismatch: wrong key, wrong auth secret or corrupted data
  missing_delimiter,        ///< aes128gcm record of only zero bytes
  missing_final_delimiter,  ///< last aes128gcm record ends with delimiter 0x01 (stream truncated)
  early_final_record,       ///< delimiter 0x02 in a record that is not the last
  nonzero_padding,          ///< padding holds a non-zero byte
  invalid_padding_length,   ///< aesgcm padding length beyond the record
  plaintext_too_large,      ///< encrypt: plaintext and padding do not fit the record or size limit
  unsupported_encoding,     ///< Content-Encoding other than aes128gcm / aesgcm, or missing
  invalid_header,           ///< Encryption / Crypto-Key header syntax error
  missing_salt,             ///< aesgcm: Encryption has no salt
  missing_dh,               ///< aesgcm: Crypto-Key has no dh (for the keyid in use)
  unknown_key_id,           ///< aesgcm: Encryption names a keyid no Crypto-Key entry has
  invalid_vapid_header,     ///< Authorization / Crypto-Key cannot be parsed as VAPID
  invalid_jwt,              ///< JWT malformed: segments, base64url, JSON, alg
  missing_claim,            ///< JWT lacks aud or exp, or has them with the wrong type
  bad_signature,            ///< JWT signature does not verify with the key
  token_expired,            ///< exp is in the past
  token_expiry_too_far,     ///< exp more than 24 h ahead
  wrong_audience,           ///< aud is not the origin of the endpoint
  key_mismatch,             ///< VAPID key differs from the one the subscription was bound to
};

std::string_view to_string(Errc e) noexcept;

}  // namespace webpush::crypto

WEBPUSH_ERROR_DOMAIN(webpush::crypto::Errc, webpush::Domain::crypto, webpush::crypto::to_string);
