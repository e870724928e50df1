// Helpers for the crypto unit tests: literal keys and bodies from the RFCs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "webpush/core/bytes.h"
#include "webpush/crypto/keys.h"

namespace webpush::test {

/// Decodes base64url test data; whitespace inside the literal is ignored (RFC
/// examples are wrapped). Aborts the test program on malformed data.
Bytes b64(std::string_view text);

/// Decodes hex test data; aborts on malformed data.
Bytes hex(std::string_view text);

/// Imports a private scalar given in base64url; aborts on failure.
crypto::KeyPair key_from_b64(std::string_view d);

/// Imports a public point given in base64url; aborts on failure.
crypto::PublicKey public_from_b64(std::string_view point);

/// Seals plaintext records with AES-128-GCM (record i under nonce XOR i) using
/// OpenSSL directly, so that tests can craft malformed records without our encoder.
Bytes seal_gcm_records(ByteView cek, ByteView base_nonce, const std::vector<Bytes>& records);

inline std::string str(ByteView b) { return std::string(as_chars(b)); }

}  // namespace webpush::test
