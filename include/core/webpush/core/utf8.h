// UTF-8 checks for text that arrives from the network (payloads, headers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "webpush/core/bytes.h"

namespace webpush {

/// Decodes the sequence starting at s[i]: its length (1 to 4) with the code
/// point in `cp`, or 0 where the bytes are not UTF-8 (overlong, surrogate,
/// beyond U+10FFFF, truncated, a stray continuation byte).
std::size_t utf8_decode(std::string_view s, std::size_t i, char32_t& cp) noexcept;

/// Whether all of `bytes` is valid UTF-8.
bool is_valid_utf8(ByteView bytes) noexcept;

/// Untrusted text made safe to quote in an error message or a log line: at most
/// `max` bytes, anything but printable ASCII as '?', "..." when cut.
std::string printable_prefix(std::string_view text, std::size_t max);

}  // namespace webpush
