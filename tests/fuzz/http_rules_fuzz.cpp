// A push POST as `serve` judges it, through the functions PushService::push
// calls: the VAPID headers (parse_push_vapid, then vapid_verify as for a known
// subscription), then the body size and the push headers
// (validate_push_request), then the error body. The input is header lines
// "name: value" (names lower-cased, as the HTTP adapter hands them over) up
// to an empty line, then the body. Nothing may crash or leak; an accepted
// push must hold what http_rules.h promises, a refusal must be one of its
// statuses with an error body in autopush's shape.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webpush/service/config.h"
#include "webpush/service/http_rules.h"

namespace http_rules_fuzz {

using namespace webpush;
using namespace webpush::service;

constexpr std::string_view kAudience = "https://push.example.net";  // the vapid corpus tokens' aud
constexpr std::int64_t kNow = 1453520000;                           // seconds; before they expire

struct Request {
  HttpHeaders headers;
  std::string_view body;
};

// Header lines up to the first empty line (or the end), then the body.
Request split(std::string_view in) {
  Request r;
  while (!in.empty()) {
    const auto nl = in.find('\n');
    const std::string_view line = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    if (line.empty()) break;
    const auto colon = line.find(':');
    std::string name(line.substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    r.headers.insert_or_assign(std::move(name), std::string(value));
  }
  r.body = in;
  return r;
}

bool holds_promises(const PushMeta& m, const Request& r) {
  if (m.ttl < 0 || m.ttl > kMaxTtlSeconds) return false;
  if (m.topic && (m.topic->size() > 32 || !is_base64url_token(*m.topic))) return false;
  if (r.body.empty()) return m.encoding.empty() && m.encryption.empty() && m.crypto_key.empty();
  return m.encoding == "aes128gcm" || m.encoding == "aesgcm";
}

// One of the statuses http_rules.h names, with its body (checked by its start rather than parsed back,
// which would compile nlohmann/json into this target for little more).
bool is_refusal(const ApiError& e) {
  if (e.status != 400 && e.status != 401 && e.status != 413) return false;
  return error_body(e).rfind(R"({"code":)" + std::to_string(e.status) + R"(,"errno":)", 0) == 0;
}

// Every value the rules read is visible ASCII (or tab), else it counts as absent.
bool is_visible(const std::optional<std::string>& v) {
  if (!v) return true;
  for (const char c : *v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u > 0x7e) return false;
  }
  return true;
}

void judge(const Request& r) {
  const auto authorization = header_value(r.headers, "authorization");
  const auto crypto_key = header_value(r.headers, "crypto-key");
  if (!is_visible(authorization) || !is_visible(crypto_key)) __builtin_trap();
  auto vapid = parse_push_vapid(authorization, crypto_key);
  if (!vapid) {
    if (!is_refusal(vapid.error())) __builtin_trap();
  } else if (*vapid) {
    (void)crypto::vapid_verify(**vapid, {.audience = kAudience, .now = kNow});
  }
  auto meta = validate_push_request(r.headers, r.body.size(), kDefaultMaxDataBytes, kMaxTtlSeconds);
  if (meta ? !holds_promises(*meta, r) : !is_refusal(meta.error())) __builtin_trap();
}

}  // namespace http_rules_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http_rules_fuzz::judge(http_rules_fuzz::split(std::string_view(reinterpret_cast<const char*>(data), size)));
  return 0;
}
