// GCM register3 (form) and the Firebase installation and FCM registration
// calls (JSON) of registration.h, and their undoing; the checkin half is in
// checkin.cpp.
#include "webpush/fcm/registration.h"

#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <utility>

#include "webpush/core/base64url.h"

namespace webpush::fcm {

// Named rather than anonymous: the unity build merges this file with the
// layer's others, whose anonymous namespaces would then be the same one.
namespace registration_impl {

using Json = nlohmann::json;

// The Firebase JS SDK's default VAPID key (DEFAULT_VAPID_KEY), which the
// push-receiver libraries send as `sender` as well: 65 bytes, an uncompressed P-256 point.
constexpr std::string_view kDefaultSenderKey =
    "BDOU99-h67HcA6JeFXHbSNMu7e2yNNu3RzoMj8TM4W88jITfq7ZmPvIM1Iv-4_l2LxQcYwhqby2xGpWwzjfAnG4";

// How much of a text from the network an error message quotes.
constexpr std::size_t kQuoteLimit = 120;

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

std::string form_encode(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out += ch;
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// Text from the network, made safe for a one-line log: printable ASCII kept,
// everything else as \xNN, cut at kQuoteLimit bytes.
std::string quote(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text.substr(0, kQuoteLimit)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\') {
      out += ch;
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  out += text.size() > kQuoteLimit ? "\"..." : "\"";
  return out;
}

bool is_token(std::string_view text) {
  if (text.empty() || text.size() > kMaxTokenLength) return false;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

Result<std::string> check_token(std::string_view where, std::string_view field, std::string_view text) {
  if (is_token(text)) return std::string(text);
  return fail(Errc::bad_value, fmt::format("{}: {} is not 1 to {} printable ASCII characters (it has {} bytes)", where,
                                           field, kMaxTokenLength, text.size()));
}

bool is_success(int status) { return status >= 200 && status <= 299; }

// The string member `name` of `object` (reported as `field`).
Result<std::string_view> string_member(std::string_view where, const Json& object, const char* name,
                                       std::string_view field) {
  const auto it = object.find(name);
  if (it == object.end()) return fail(Errc::bad_response, fmt::format("{}: no {}", where, field));
  if (!it->is_string()) {
    return fail(Errc::bad_response, fmt::format("{}: {} is {}, not a string", where, field, it->type_name()));
  }
  return std::string_view(it->get_ref<const std::string&>());
}

Result<std::string> token_member(std::string_view where, const Json& object, const char* name, std::string_view field) {
  auto text = string_member(where, object, name, field);
  if (!text) return tl::unexpected(text.error());
  return check_token(where, field, *text);
}

// Google's error answer: {"error": {"code": 403, "message": "...", "status": "..."}}.
std::string error_detail(const Json& body) {
  if (!body.is_object()) return "";
  const auto error = body.find("error");
  if (error == body.end()) return "";
  if (!error->is_object()) return fmt::format(": error is {}", error->type_name());
  const auto message = error->find("message");
  if (message == error->end() || !message->is_string()) return ": an error without a message";
  return ": " + quote(message->get_ref<const std::string&>());
}

// The parsed body of a JSON answer, or the error the status or the body makes.
Result<Json> json_answer(std::string_view where, int status, std::string_view body) {
  if (body.size() > kMaxAnswerSize) {
    return fail(is_success(status) ? Errc::bad_response : Errc::refused,
                fmt::format("{}: HTTP status {}, a {}-byte answer (over the limit of {})", where, status, body.size(),
                            kMaxAnswerSize));
  }
  Json json = Json::parse(body, nullptr, false);
  if (!is_success(status)) {
    return fail(Errc::refused,
                fmt::format("{}: HTTP status {}{}", where, status, json.is_discarded() ? "" : error_detail(json)));
  }
  if (json.is_discarded()) {
    return fail(Errc::bad_response, fmt::format("{}: the {}-byte answer is not JSON", where, body.size()));
  }
  if (!json.is_object()) {
    return fail(Errc::bad_response, fmt::format("{}: the answer is {}, not an object", where, json.type_name()));
  }
  if (json.contains("error")) return fail(Errc::refused, fmt::format("{}: refused{}", where, error_detail(json)));
  return json;
}

// "604800s": a Duration in protobuf's JSON form, whole seconds only.
Result<std::int64_t> seconds(std::string_view where, std::string_view field, std::string_view text) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || text.front() < '0' || text.front() > '9' || ec != std::errc() || ptr + 1 != end || *ptr != 's') {
    return fail(Errc::bad_value,
                fmt::format("{}: {} {} is not a whole number of seconds (\"<n>s\")", where, field, quote(text)));
  }
  return value;
}

// A register3 answer, "<prefix><value>" or "Error=<value>": the value after
// `prefix`. Google answers some errors with status 200, so Error= is looked for
// first, wherever it is (as Chromium does).
Result<std::string_view> gcm_answer(std::string_view where, int status, std::string_view body, std::string_view prefix,
                                    std::string_view shape) {
  constexpr std::string_view kError = "Error=";
  if (body.size() > kMaxAnswerSize) body = body.substr(0, kMaxAnswerSize);  // the rest could only be quoted
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  const bool has_value = body.starts_with(prefix);
  const std::size_t error_at = body.find(kError);
  if (!has_value && error_at != std::string_view::npos) {
    const std::string_view value = body.substr(error_at + kError.size());
    return fail(Errc::refused, fmt::format("{}: HTTP status {}, Error={}", where, status, quote(value)));
  }
  if (!is_success(status))
    return fail(Errc::refused, fmt::format("{}: HTTP status {}: {}", where, status, quote(body)));
  if (!has_value)
    return fail(Errc::bad_response, fmt::format("{}: the answer {} is not {}", where, quote(body), shape));
  return body.substr(prefix.size());
}

// What a URL path segment may hold as it is (RFC 3986 pchar); the rest is percent-encoded.
std::string path_segment_encode(std::string_view value) {
  constexpr std::string_view kAlsoAllowed = "!$&'()*+,;=:@";
  std::string out;
  out.reserve(value.size());
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || kAlsoAllowed.find(ch) != std::string_view::npos) {
      out += ch;
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace registration_impl

using registration_impl::check_token;
using registration_impl::form_encode;
using registration_impl::quote;

// ---- GCM register3 --------------------------------------------------------------

std::string encode_gcm_register_form(const GcmRegisterParams& params) {
  return fmt::format("app=org.chromium.linux&X-subtype={}&device={}&sender={}", form_encode(params.app_id),
                     params.device.android_id, form_encode(params.sender));
}

std::string gcm_register_authorization(const DeviceIdentity& device) {
  return fmt::format("AidLogin {}:{}", device.android_id, device.security_token);
}

Result<std::string> decode_gcm_register_response(int status, std::string_view body) {
  constexpr std::string_view kWhere = "GCM register";
  auto value = registration_impl::gcm_answer(kWhere, status, body, "token=", "token=<token>");
  if (!value) return tl::unexpected(value.error());
  return check_token(kWhere, "token", *value);
}

std::string_view default_sender_key() noexcept { return registration_impl::kDefaultSenderKey; }

std::string encode_gcm_unregister_form(const GcmRegisterParams& params) {
  return encode_gcm_register_form(params) + "&delete=true";
}

Result<void> decode_gcm_unregister_response(int status, std::string_view body, std::string_view app_id) {
  constexpr std::string_view kWhere = "GCM unregister";
  auto value = registration_impl::gcm_answer(kWhere, status, body, "deleted=", "deleted=<app id>");
  if (!value) return tl::unexpected(value.error());
  // Chromium counts another app id as a failure too (INCORRECT_APP_ID).
  if (*value != app_id) {
    return fail(Errc::bad_value,
                fmt::format("{}: deleted {}, not the app id {}", kWhere, quote(*value), quote(app_id)));
  }
  return {};
}

// ---- Firebase installation ---------------------------------------------------------

Result<std::string> make_installation_id(ByteView random17) {
  if (random17.size() != 17) {
    return fail(Errc::bad_value, fmt::format("installation id: {} random bytes, expected 17", random17.size()));
  }
  Bytes bytes(random17.begin(), random17.end());
  bytes[0] = static_cast<std::uint8_t>(0x70 | (bytes[0] & 0x0f));  // Firebase's FID header, 0b0111
  std::string fid = base64url_encode(bytes);
  fid.resize(22);
  return fid;
}

std::string encode_installation_request(const FirebaseApp& app, std::string_view fid) {
  const nlohmann::ordered_json body = {
      {"appId", app.app_id},
      {"authVersion", kFirebaseAuthVersion},
      {"fid", fid},
      {"sdkVersion", kFirebaseSdkVersion},
  };
  // replace: a configured string that is not UTF-8 must not throw.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Installation> decode_installation_response(int status, std::string_view body) {
  using registration_impl::token_member;
  constexpr std::string_view kWhere = "installation";
  auto json = registration_impl::json_answer(kWhere, status, body);
  if (!json) return tl::unexpected(json.error());
  Installation out;
  auto fid = token_member(kWhere, *json, "fid", "fid");
  if (!fid) return tl::unexpected(fid.error());
  auto refresh = token_member(kWhere, *json, "refreshToken", "refreshToken");
  if (!refresh) return tl::unexpected(refresh.error());
  const auto auth = json->find("authToken");
  if (auth == json->end()) return fail(Errc::bad_response, "installation: no authToken");
  if (!auth->is_object()) {
    return fail(Errc::bad_response, fmt::format("installation: authToken is {}, not an object", auth->type_name()));
  }
  auto token = token_member(kWhere, *auth, "token", "authToken.token");
  if (!token) return tl::unexpected(token.error());
  auto expires = registration_impl::string_member(kWhere, *auth, "expiresIn", "authToken.expiresIn");
  if (!expires) return tl::unexpected(expires.error());
  auto expires_s = registration_impl::seconds(kWhere, "authToken.expiresIn", *expires);
  if (!expires_s) return tl::unexpected(expires_s.error());
  out.fid = std::move(*fid);
  out.refresh_token = std::move(*refresh);
  out.auth_token = std::move(*token);
  out.expires_in_s = *expires_s;
  return out;
}

// ---- FCM registration ---------------------------------------------------------------

std::string encode_fcm_registration_request(const FcmRegistrationParams& params) {
  nlohmann::ordered_json web = {
      {"endpoint", params.endpoint},
      {"p256dh", params.p256dh},
      {"auth", params.auth},
  };
  if (params.application_pub_key) web["applicationPubKey"] = *params.application_pub_key;
  const nlohmann::ordered_json body = {{"web", std::move(web)}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::string> decode_fcm_registration_response(int status, std::string_view body) {
  constexpr std::string_view kWhere = "FCM registration";
  auto json = registration_impl::json_answer(kWhere, status, body);
  if (!json) return tl::unexpected(json.error());
  return registration_impl::token_member(kWhere, *json, "token", "token");
}

std::string fcm_unregistration_url(std::string_view registrations_base, std::string_view project_id,
                                   std::string_view fcm_token) {
  using registration_impl::path_segment_encode;
  return fmt::format("{}/projects/{}/registrations/{}", registrations_base, path_segment_encode(project_id),
                     path_segment_encode(fcm_token));
}

Result<void> decode_fcm_unregistration_response(int status, std::string_view body) {
  constexpr std::string_view kWhere = "FCM unregistration";
  const bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank && registration_impl::is_success(status)) return {};
  auto json = registration_impl::json_answer(kWhere, status, body);
  if (!json) return tl::unexpected(json.error());
  return {};
}

}  // namespace webpush::fcm
