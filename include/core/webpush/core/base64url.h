// base64url (RFC 4648 §5), the encoding of every key and payload in Web Push.
//
// Written here rather than taken from OpenSSL because EVP_EncodeBlock speaks only
// the standard alphabet with mandatory padding; translating would copy twice.
#pragma once

#include <string>
#include <string_view>

#include "webpush/core/bytes.h"
#include "webpush/core/errc.h"
#include "webpush/core/error.h"

namespace webpush {

/// Encodes without `=` padding.
std::string base64url_encode(ByteView data);

/// Decodes base64url with or without `=` padding. Errors (core::Errc::bad_base64):
/// a character outside the alphabet (the message gives its offset), padding that is
/// not at the end or not the right amount, or a length no encoding can have.
Result<Bytes> base64url_decode(std::string_view text);

/// As base64url_decode, but also accepts the standard alphabet (`+`, `/`). For keys
/// from outside that may have been written by a standard base64 encoder.
Result<Bytes> base64_any_decode(std::string_view text);

}  // namespace webpush
