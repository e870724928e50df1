// Any body through the aes128gcm Web Push decrypt path: must return a value or
// an error, never crash, leak or read out of bounds. Half the inputs also go
// through the bare RFC 8188 record layer with a fixed IKM, where a valid tag is
// reachable without an ECDH.
#include <cstddef>
#include <cstdint>

#include "fuzz_keys.h"
#include "webpush/crypto/ece.h"
#include "webpush/crypto/webpush.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace webpush;
  const ByteView body(data, size);
  auto out = crypto::webpush_decrypt(body, {fuzz::receiver_key(), fuzz::auth_secret()});
  if (out && out->size() > size) __builtin_trap();  // plaintext can never exceed the body
  static const std::uint8_t kIkm[16] = {0xca, 0xa7, 0x65, 0x67, 0xeb, 0x58, 0x7a, 0x67,
                                        0xe8, 0x81, 0x29, 0xaf, 0xed, 0x6b, 0x39, 0x3d};
  auto raw = crypto::aes128gcm_decrypt(body, kIkm);
  if (raw && raw->size() > size) __builtin_trap();
  return 0;
}
