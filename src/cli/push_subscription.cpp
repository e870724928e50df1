#include "push_subscription.h"

#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "webpush/core/base64url.h"
#include "webpush/crypto/keys.h"

namespace webpush::cli {

std::string_view to_string(SendErrc e) noexcept {
  switch (e) {
    case SendErrc::bad_subscription: return "bad_subscription";
    case SendErrc::bad_key: return "bad_key";
    case SendErrc::encrypt: return "encrypt";
    case SendErrc::http: return "http";
  }
  return "unknown";
}

Result<PushSubscription> parse_push_subscription(std::string_view json_text) {
  const auto j = nlohmann::json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(SendErrc::bad_subscription, "subscription is not a JSON object");
  const auto endpoint = j.find("endpoint");
  if (endpoint == j.end() || !endpoint->is_string()) {
    return fail(SendErrc::bad_subscription, "subscription has no \"endpoint\" string");
  }
  const auto keys = j.find("keys");
  if (keys == j.end() || !keys->is_object())
    return fail(SendErrc::bad_subscription, "subscription has no \"keys\" object");
  PushSubscription sub;
  sub.endpoint = endpoint->get<std::string>();
  for (const auto& [name, out, size] : {std::tuple{"p256dh", &sub.p256dh, crypto::kPublicKeySize},
                                        std::tuple{"auth", &sub.auth, crypto::kAuthSecretSize}}) {
    const auto it = keys->find(name);
    if (it == keys->end() || !it->is_string()) {
      return fail(SendErrc::bad_subscription, fmt::format("subscription has no keys.{} string", name));
    }
    auto bytes = base64_any_decode(it->get<std::string>());
    if (!bytes) return fail(SendErrc::bad_subscription, fmt::format("keys.{}: {}", name, bytes.error().message()));
    if (bytes->size() != size) {
      return fail(SendErrc::bad_subscription,
                  fmt::format("keys.{} must be {} bytes, got {}", name, size, bytes->size()));
    }
    *out = std::move(*bytes);
  }
  if (!crypto::PublicKey::from_bytes(sub.p256dh)) {
    return fail(SendErrc::bad_subscription, "keys.p256dh is not a P-256 public key");
  }
  return sub;
}

}  // namespace webpush::cli
