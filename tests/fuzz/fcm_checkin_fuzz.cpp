// A checkin answer (registration.h): decode_checkin_response(200, input).
// Nothing may crash or leak; every error is of a declared code and names the
// checkin; an identity that decodes is non-zero and goes into a re-checkin
// request intact.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "webpush/fcm/registration.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace webpush::fcm;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto identity = decode_checkin_response(200, body);
  if (!identity) {
    const auto& e = identity.error();
    if (!e.is(Errc::bad_message) && !e.is(Errc::missing_field) && !e.is(Errc::bad_value)) __builtin_trap();
    if (e.message().rfind("checkin: ", 0) != 0) __builtin_trap();
    return 0;
  }
  if (identity->android_id == 0 || identity->security_token == 0) __builtin_trap();
  if (encode_checkin_request({.known = *identity}).empty()) __builtin_trap();
  return 0;
}
