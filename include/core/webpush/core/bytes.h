// Byte buffers and views used across every layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace webpush {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

/// Views the characters of a string as bytes (no copy; the string must outlive the view).
inline ByteView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Views bytes as characters (no copy; the bytes must outlive the view).
inline std::string_view as_chars(ByteView b) noexcept { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

inline Bytes to_bytes(std::string_view s) { return {s.begin(), s.end()}; }

/// Lower-case hex, two characters per byte.
std::string to_hex(ByteView b);

/// Appends `tail` to `out`.
inline void append(Bytes& out, ByteView tail) { out.insert(out.end(), tail.begin(), tail.end()); }

}  // namespace webpush
