#include "web_push.h"

#include <sstream>

#include "service_process.h"
#include "webpush/core/base64url.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/webpush.h"

namespace webpush::testing {

PushSubscription parse_subscription(const nlohmann::json& j) {
  return {j.at("endpoint").get<std::string>(), j.at("keys").at("p256dh").get<std::string>(),
          j.at("keys").at("auth").get<std::string>()};
}

PushSubscription subscribe(const std::filesystem::path& state_dir, const std::string& server, const std::string& name) {
  std::string output;
  const int rc = ServiceProcess::run_once(
      {"--state-dir", state_dir.string(), "--server", server, "subscribe", "--name", name}, output);
  if (rc != 0) throw SupportError("subscribe failed (" + std::to_string(rc) + "): " + output);
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.front() == '{') return parse_subscription(nlohmann::json::parse(line));
  }
  throw SupportError("subscribe printed no JSON: " + output);
}

HttpResult post_message(std::uint16_t port, const PushSubscription& sub, const std::string& text, int ttl) {
  auto key = crypto::PublicKey::from_bytes(*base64url_decode(sub.p256dh));
  if (!key) throw SupportError("bad p256dh");
  auto body = crypto::webpush_encrypt(as_bytes(text), *key, *base64url_decode(sub.auth));
  if (!body) throw SupportError("encrypt: " + body.error().to_string());
  return http_request(port, "POST", url_path(sub.endpoint),
                      {{"TTL", std::to_string(ttl)}, {"Content-Encoding", "aes128gcm"}}, std::string(as_chars(*body)));
}

}  // namespace webpush::testing
