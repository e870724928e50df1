// RFC 8188 "aes128gcm" Encrypted Content-Encoding: the record layer.
//
// A body is a header followed by records of `rs` bytes (the last may be shorter):
//
//   +-----------+--------+-----------+---------------+---------------------------+
//   | salt (16) | rs (4) | idlen (1) | keyid (idlen) | records (each <= rs bytes) |
//   +-----------+--------+-----------+---------------+---------------------------+
//
// rs counts the 16-byte tag. A decrypted record is  data || delimiter || 0x00*,
// the delimiter being 0x02 in the last record and 0x01 in every other one.
// Keys: PRK = HMAC(salt, IKM); CEK = HKDF-Expand(PRK, "Content-Encoding: aes128gcm\0", 16);
// NONCE = HKDF-Expand(PRK, "Content-Encoding: nonce\0", 12); record i uses NONCE XOR i.
//
// Web Push (RFC 8291) puts the sender's public key in keyid; see webpush.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/crypto/errc.h"

namespace webpush::crypto {

inline constexpr std::size_t kAes128gcmHeaderMin = 21;  ///< salt + rs + idlen
inline constexpr std::uint32_t kAes128gcmMinRs = 18;    ///< tag + delimiter + 1

struct Aes128gcmHeader {
  std::array<std::uint8_t, 16> salt{};
  std::uint32_t rs = 0;
  ByteView keyid;        ///< borrowed from the body
  std::size_t size = 0;  ///< header length: 21 + idlen
};

/// Parses the header. Errors: truncated_header, invalid_record_size (rs < 18).
Result<Aes128gcmHeader> parse_aes128gcm_header(ByteView body);

/// Content-encryption key and base nonce (RFC 8188 §2.2, §2.3).
struct ContentKey {
  std::array<std::uint8_t, 16> cek{};
  std::array<std::uint8_t, 12> nonce{};
};

Result<ContentKey> derive_aes128gcm_key(ByteView ikm, ByteView salt);

/// Decrypts the records that follow the header. Errors: empty_ciphertext,
/// truncated_record, decrypt_failed (naming the record), missing_delimiter,
/// missing_final_delimiter, early_final_record, nonzero_padding.
Result<Bytes> aes128gcm_decrypt_records(ByteView records, const ContentKey& key, std::uint32_t rs);

/// Decrypts a whole body with a known IKM (RFC 8188 without Web Push key agreement).
Result<Bytes> aes128gcm_decrypt(ByteView body, ByteView ikm);

struct RecordOptions {
  std::uint32_t rs = 4096;  ///< record size including the tag; >= 18
  std::size_t padding = 0;  ///< total zero bytes of padding, spread from the first record on
};

/// Encrypts into records (no header). Errors: invalid_record_size.
Result<Bytes> aes128gcm_encrypt_records(ByteView plaintext, const ContentKey& key, const RecordOptions& options);

/// Writes a header. Errors: invalid_record_size, invalid_key_id (keyid over 255 bytes), invalid_salt.
Result<Bytes> make_aes128gcm_header(ByteView salt, std::uint32_t rs, ByteView keyid);

/// Header + records with a known IKM and salt.
Result<Bytes> aes128gcm_encrypt(ByteView plaintext, ByteView ikm, ByteView salt, ByteView keyid,
                                const RecordOptions& options);

}  // namespace webpush::crypto
