// aesgcm: header parsing and decryption. The input is split at the first two
// newlines into Encryption, Crypto-Key and the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_keys.h"
#include "webpush/crypto/aesgcm.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace webpush;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nl1 = in.find('\n');
  if (nl1 == std::string_view::npos) {
    (void)crypto::parse_aesgcm_params(in, in);
    return 0;
  }
  const auto nl2 = in.find('\n', nl1 + 1);
  const std::string_view encryption = in.substr(0, nl1);
  const std::string_view crypto_key =
      in.substr(nl1 + 1, nl2 == std::string_view::npos ? std::string_view::npos : nl2 - nl1 - 1);
  const std::string_view body = nl2 == std::string_view::npos ? std::string_view{} : in.substr(nl2 + 1);
  auto params = crypto::parse_aesgcm_params(encryption, crypto_key);
  if (!params) return 0;
  auto out = crypto::aesgcm_decrypt(as_bytes(body), *params, {fuzz::receiver_key(), fuzz::auth_secret()});
  if (out && out->size() > body.size()) __builtin_trap();
  return 0;
}
