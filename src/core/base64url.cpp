#include "webpush/core/base64url.h"

#include <array>
#include <cstdint>

#include <fmt/format.h>

namespace webpush {
namespace {

constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::uint8_t kBad = 0xff;

// Decoding table; `standard` also maps '+' and '/' (the standard alphabet).
constexpr std::array<std::uint8_t, 256> make_table(bool standard) {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = kBad;
  for (std::uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(kUrlAlphabet[i])] = i;
  if (standard) {
    t['+'] = 62;
    t['/'] = 63;
  }
  return t;
}

constexpr auto kUrlTable = make_table(false);
constexpr auto kAnyTable = make_table(true);

Result<Bytes> decode(std::string_view text, const std::array<std::uint8_t, 256>& table) {
  // Padding is optional, but when present it must be at the end and complete.
  std::size_t len = text.size();
  std::size_t pad = 0;
  while (len > 0 && text[len - 1] == '=') {
    --len;
    ++pad;
  }
  if (pad > 2) {
    return fail(core::Errc::bad_base64, fmt::format("base64url: too much '=' padding at offset {}", len));
  }
  if (pad > 0 && (len + pad) % 4 != 0) {
    return fail(core::Errc::bad_base64, fmt::format("base64url: wrong amount of '=' padding at offset {}", len));
  }

  Bytes out;
  out.reserve(len / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < len; ++i) {
    const std::uint8_t v = table[static_cast<unsigned char>(text[i])];
    if (v == kBad) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c >= 0x21 && c < 0x7f) {
        return fail(core::Errc::bad_base64, fmt::format("base64url: invalid character '{}' at offset {}", text[i], i));
      }
      return fail(core::Errc::bad_base64, fmt::format("base64url: invalid byte 0x{:02x} at offset {}", c, i));
    }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  // Checked after the characters, so that a stray '=' is reported where it is.
  if (len % 4 == 1) {
    return fail(core::Errc::bad_base64, fmt::format("base64url: impossible length {} (one character too many)", len));
  }
  return out;
}

}  // namespace

std::string base64url_encode(ByteView data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kUrlAlphabet[(v >> 18) & 63];
    out += kUrlAlphabet[(v >> 12) & 63];
    out += kUrlAlphabet[(v >> 6) & 63];
    out += kUrlAlphabet[v & 63];
  }
  const std::size_t rest = data.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{data[i]} << 16;
    out += kUrlAlphabet[(v >> 18) & 63];
    out += kUrlAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out += kUrlAlphabet[(v >> 18) & 63];
    out += kUrlAlphabet[(v >> 12) & 63];
    out += kUrlAlphabet[(v >> 6) & 63];
  }
  return out;
}

Result<Bytes> base64url_decode(std::string_view text) { return decode(text, kUrlTable); }

Result<Bytes> base64_any_decode(std::string_view text) { return decode(text, kAnyTable); }

std::string to_hex(ByteView b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(b.size() * 2);
  for (const auto byte : b) {
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

}  // namespace webpush
