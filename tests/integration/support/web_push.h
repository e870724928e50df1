// The two ends of a Web Push subscription, driven through the real binary and
// the service's HTTP API: `webpushd subscribe` for the user agent's side, and
// an application server's POST of an RFC 8291 (aes128gcm) message.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "http_client.h"

namespace webpush::testing {

struct PushSubscription {
  std::string endpoint;
  std::string p256dh;
  std::string auth;
};

/// A PushSubscription JSON object ({"endpoint":…, "keys":{"p256dh":…, "auth":…}}).
PushSubscription parse_subscription(const nlohmann::json& j);

/// `webpushd --state-dir DIR --server URL subscribe --name NAME`. Throws SupportError on failure.
PushSubscription subscribe(const std::filesystem::path& state_dir, const std::string& server, const std::string& name);

/// POSTs `text` encrypted for `sub` to its endpoint on the service at `port`.
HttpResult post_message(std::uint16_t port, const PushSubscription& sub, const std::string& text, int ttl = 600);

}  // namespace webpush::testing
