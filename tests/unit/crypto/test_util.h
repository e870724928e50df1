// Helpers for the crypto unit tests: literal keys and bodies from the RFCs.
#pragma once

#include <string>
#include <string_view>

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

inline std::string str(ByteView b) { return std::string(as_chars(b)); }

}  // namespace webpush::test
