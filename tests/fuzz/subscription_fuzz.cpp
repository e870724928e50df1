// The PushSubscription JSON `webpushd send` reads, on hostile text:
// parse_push_subscription, then what send does with the endpoint before any
// network (the VAPID claims, whose audience is the endpoint's origin). Nothing
// may crash or leak; what parses must hold a P-256 point and a 16-byte secret.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "push_subscription.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/vapid.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace webpush;
  auto sub = cli::parse_push_subscription(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!sub) return 0;
  if (sub->p256dh.size() != crypto::kPublicKeySize || sub->auth.size() != crypto::kAuthSecretSize) __builtin_trap();
  auto claims = crypto::vapid_claims_for(sub->endpoint, "mailto:fuzz@example.com", 1453520000);
  if (claims && claims->aud.empty()) __builtin_trap();
  return 0;
}
