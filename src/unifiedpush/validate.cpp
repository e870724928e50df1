#include <fmt/format.h>

#include "webpush/core/base64url.h"
#include "webpush/core/utf8.h"
#include "webpush/unifiedpush/registration.h"

namespace webpush::unifiedpush {

namespace {

constexpr std::size_t kMaxBusName = 255;
constexpr std::size_t kQuoted = 64;  // how much of a bad value an error message quotes

bool is_name_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// One element of a bus name: non-empty, [A-Za-z0-9_-]; a well-known name's
// elements do not start with a digit.
bool is_valid_element(std::string_view element, bool unique) noexcept {
  if (element.empty()) return false;
  if (!unique && element[0] >= '0' && element[0] <= '9') return false;
  for (char c : element) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

Result<void> check_text(std::string_view what, std::string_view text, std::size_t max) {
  if (text.size() > max) return fail(Errc::bad_request, fmt::format("the {} is longer than {} bytes", what, max));
  const ByteView bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  if (!is_valid_utf8(bytes)) return fail(Errc::bad_request, fmt::format("the {} is not valid UTF-8", what));
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return fail(Errc::bad_request, fmt::format("the {} contains a control character", what));
    }
  }
  return {};
}

Result<Bytes> check_vapid(std::string_view text) {
  auto key = base64_any_decode(text);
  if (!key || key->size() != 65 || (*key)[0] != 0x04) {
    return fail(Errc::bad_request, fmt::format("the VAPID key '{}' is not a base64url uncompressed P-256 public key",
                                               printable_prefix(text, kQuoted)));
  }
  return std::move(*key);
}

}  // namespace

bool is_valid_bus_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxBusName) return false;
  const bool unique = name[0] == ':';
  if (unique) name.remove_prefix(1);
  std::size_t elements = 0;
  while (true) {
    const auto dot = name.find('.');
    if (!is_valid_element(name.substr(0, dot), unique)) return false;
    ++elements;
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  return elements >= 2;
}

Result<void> validate_token(std::string_view token) {
  if (token.empty()) return fail(Errc::bad_request, "the token is empty");
  return check_text("token", token, kMaxTokenSize);
}

Result<Registration> validate(const RegisterCall& call) {
  if (call.version != ApiVersion::v1 && call.version != ApiVersion::v2) {
    return fail(Errc::bad_request, "unknown UnifiedPush interface version");
  }
  if (!is_valid_bus_name(call.service)) {
    return fail(Errc::bad_request,
                fmt::format("service '{}' is not a valid D-Bus bus name", printable_prefix(call.service, kQuoted)));
  }
  if (auto ok = validate_token(call.token); !ok) return tl::unexpected(ok.error());
  if (auto ok = check_text("description", call.description, kMaxDescriptionSize); !ok) {
    return tl::unexpected(ok.error());
  }
  Registration out{
      .version = call.version, .service = call.service, .token = call.token, .description = call.description};
  if (call.vapid && !call.vapid->empty()) {
    auto key = check_vapid(*call.vapid);
    if (!key) return tl::unexpected(key.error());
    out.vapid = std::move(*key);
  }
  return out;
}

}  // namespace webpush::unifiedpush
