// VAPID header parsing and token verification on hostile input. The input is
// split at the first newline into Authorization and Crypto-Key.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "webpush/crypto/vapid.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace webpush;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nl = in.find('\n');
  const std::string_view authorization = in.substr(0, nl);
  const std::string_view crypto_key = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  auto creds = crypto::parse_vapid_headers(authorization, crypto_key);
  if (!creds) return 0;
  (void)crypto::vapid_verify(*creds, {.audience = "https://push.example.net", .now = 1453520000});
  return 0;
}
