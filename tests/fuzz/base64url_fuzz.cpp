// base64url: decoding never crashes, and whatever decodes re-encodes to a
// string that decodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "webpush/core/base64url.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace webpush;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto out = base64url_decode(in);
  if (!out) return 0;
  auto again = base64url_decode(base64url_encode(*out));
  if (!again || *again != *out) __builtin_trap();
  (void)base64_any_decode(in);
  return 0;
}
