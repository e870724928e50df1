// The answers of GCM register3, the Firebase installation, the FCM
// registration and their undoing (registration.h). The first input byte picks
// the parser (its low 7 bits modulo 5) and, with the second, the HTTP status: 100 + 2 * second
// byte + the first byte's top bit (2xx for a second byte of 50 to 99), the
// rest is the body. Nothing may crash or leak; every error is of a declared code, on one
// printable line; every token, id and auth string returned is 1 to
// kMaxTokenLength printable ASCII characters.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "webpush/fcm/registration.h"

namespace fcm_registration_fuzz {

using namespace webpush::fcm;

void check_token(const std::string& token) {
  if (token.empty() || token.size() > kMaxTokenLength) __builtin_trap();
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) __builtin_trap();
  }
}

template <class T>
void check_error(const webpush::Result<T>& result, std::initializer_list<Errc> allowed) {
  if (result) return;
  bool known = false;
  for (Errc c : allowed) known = known || result.error().is(c);
  if (!known) __builtin_trap();
  const std::string& message = result.error().message();
  if (message.size() > 1024) __builtin_trap();  // quoted text is cut
  for (char c : message) {
    if (c < 0x20 || c > 0x7e) __builtin_trap();
  }
}

}  // namespace fcm_registration_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fcm_registration_fuzz;
  if (size < 2) return 0;
  const int status = 100 + 2 * data[1] + (data[0] >> 7);
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  switch ((data[0] & 0x7f) % 5) {
    case 0: {
      auto token = decode_gcm_register_response(status, body);
      check_error(token, {Errc::refused, Errc::bad_response, Errc::bad_value});
      if (token) check_token(*token);
      break;
    }
    case 1: {
      auto installation = decode_installation_response(status, body);
      check_error(installation, {Errc::refused, Errc::bad_response, Errc::bad_value});
      if (!installation) break;
      check_token(installation->fid);
      check_token(installation->refresh_token);
      check_token(installation->auth_token);
      if (installation->expires_in_s < 0) __builtin_trap();
      break;
    }
    case 2: {
      auto token = decode_fcm_registration_response(status, body);
      check_error(token, {Errc::refused, Errc::bad_response, Errc::bad_value});
      if (token) check_token(*token);
      break;
    }
    case 3: {
      constexpr std::string_view kApp = "wp:webpushd#1";
      auto deleted = decode_gcm_unregister_response(status, body, kApp);
      check_error(deleted, {Errc::refused, Errc::bad_response, Errc::bad_value});
      if (deleted && !(status >= 200 && status <= 299)) __builtin_trap();
      break;
    }
    default: {
      auto deleted = decode_fcm_unregistration_response(status, body);
      check_error(deleted, {Errc::refused, Errc::bad_response});
      if (deleted && !(status >= 200 && status <= 299)) __builtin_trap();
      break;
    }
  }
  return 0;
}
