#include "test_util.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "webpush/core/base64url.h"

namespace webpush::test {

namespace {
[[noreturn]] void die(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "bad test data (%.*s): %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}
}  // namespace

Bytes b64(std::string_view text) {
  std::string compact;
  for (const char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  }
  auto out = base64url_decode(compact);
  if (!out) die("base64url", out.error().to_string());
  return *out;
}

Bytes hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) die("hex", text);
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) die("hex", "odd number of digits");
  return out;
}

crypto::KeyPair key_from_b64(std::string_view d) {
  auto key = crypto::KeyPair::from_private(b64(d));
  if (!key) die("private key", key.error().to_string());
  return std::move(*key);
}

crypto::PublicKey public_from_b64(std::string_view point) {
  auto key = crypto::PublicKey::from_bytes(b64(point));
  if (!key) die("public key", key.error().to_string());
  return std::move(*key);
}

}  // namespace webpush::test
