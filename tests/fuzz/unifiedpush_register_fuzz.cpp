// A Register call as an app could send it, on hostile fields: validate() and
// validate_token(). The input is the call's fields, one per line: a first
// byte (its low bits the interface version — 1, 2 or one that does not exist —
// and bit 2 whether a VAPID key is given), then service, token, description and
// VAPID key. Nothing may crash or leak; what passes must hold what
// registration.h promises, and an error must be bad_request with a message of
// printable ASCII (it quotes the app's bytes only through printable_prefix).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/core/utf8.h"
#include "webpush/unifiedpush/registration.h"

namespace unifiedpush_register_fuzz {

using namespace webpush;
using namespace webpush::unifiedpush;

std::vector<std::string> split_lines(std::string_view in, std::size_t fields) {
  std::vector<std::string> out;
  while (out.size() + 1 < fields) {
    const auto nl = in.find('\n');
    if (nl == std::string_view::npos) break;
    out.emplace_back(in.substr(0, nl));
    in.remove_prefix(nl + 1);
  }
  out.emplace_back(in);
  out.resize(fields);
  return out;
}

// The D-Bus specification's bus name, written apart from validate.cpp.
bool spec_bus_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  const bool unique = name[0] == ':';
  if (unique) name.remove_prefix(1);
  int elements = 0;
  bool at_start = true;
  for (const char c : name) {
    if (c == '.') {
      if (at_start) return false;
      at_start = true;
      continue;
    }
    const bool digit = c >= '0' && c <= '9';
    const bool ok = digit || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '-';
    if (!ok || (at_start && digit && !unique)) return false;
    if (at_start) ++elements;
    at_start = false;
  }
  return !at_start && elements >= 2;
}

bool clean_text(std::string_view s, std::size_t max) {
  if (s.size() > max || !is_valid_utf8(ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()))) {
    return false;
  }
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool printable_ascii(std::string_view s) {
  for (const char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

void check(const RegisterCall& call) {
  const auto token_ok = validate_token(call.token);
  if (!token_ok && (!token_ok.error().is(Errc::bad_request) || !printable_ascii(token_ok.error().message()))) {
    __builtin_trap();
  }
  if (token_ok.has_value() != (!call.token.empty() && clean_text(call.token, kMaxTokenSize))) __builtin_trap();
  if (is_valid_bus_name(call.service) != spec_bus_name(call.service)) __builtin_trap();

  const auto r = validate(call);
  if (!r) {
    if (!r.error().is(Errc::bad_request) || r.error().message().empty()) __builtin_trap();
    if (!printable_ascii(r.error().message())) __builtin_trap();
    return;
  }
  if (call.version != ApiVersion::v1 && call.version != ApiVersion::v2) __builtin_trap();
  if (r->version != call.version || r->service != call.service || r->token != call.token) __builtin_trap();
  if (r->description != call.description || !clean_text(r->description, kMaxDescriptionSize)) __builtin_trap();
  if (!spec_bus_name(r->service) || !token_ok) __builtin_trap();
  const bool key_given = call.vapid && !call.vapid->empty();
  if (r->vapid.has_value() != key_given) __builtin_trap();
  if (r->vapid && (r->vapid->size() != 65 || (*r->vapid)[0] != 0x04)) __builtin_trap();
}

}  // namespace unifiedpush_register_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace webpush::unifiedpush;
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const auto fields =
      unifiedpush_register_fuzz::split_lines(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), 4);
  RegisterCall call;
  const int version = flags & 3;
  call.version = version == 1 ? ApiVersion::v1 : version == 2 ? ApiVersion::v2 : static_cast<ApiVersion>(version);
  call.sender = ":1.42";
  call.service = fields[0];
  call.token = fields[1];
  call.description = fields[2];
  if ((flags & 4) != 0) call.vapid = fields[3];
  unifiedpush_register_fuzz::check(call);
  return 0;
}
