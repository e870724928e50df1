// One control-socket request line (control.h) decoded and its arguments
// checked, before the daemon acts on it; and the error reply. Pure: no I/O, no
// store, so that a fuzz target (tests/fuzz) drives exactly what the daemon runs
// on every line a client sends.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <tl/expected.hpp>

#include "webpush/core/bytes.h"

namespace webpush::daemon {

struct StatusRequest {};
struct ListRequest {};
struct WatchRequest {};

/// Which push service a subscription is made with ("service": "autopush" or "fcm").
enum class PushServiceKind { autopush, fcm };

struct SubscribeRequest {
  std::string name;                ///< 1 to 128 bytes
  std::optional<Bytes> vapid_key;  ///< decoded (base64url or standard base64); not yet checked as a key
  PushServiceKind service = PushServiceKind::autopush;  ///< absent: autopush
};

/// At least one of the two is set; the id wins when both are.
struct UnsubscribeRequest {
  std::optional<std::int64_t> id;
  std::optional<std::string> name;
};

using ControlRequest = std::variant<StatusRequest, ListRequest, WatchRequest, SubscribeRequest, UnsubscribeRequest>;

/// Decodes one request line (without its newline). A field of the wrong type
/// counts as absent, except subscribe's "service": anything but "autopush" or
/// "fcm" is refused. The error is the message to reply with (error_reply):
/// "request is not a JSON object", "unknown command '…'", "subscribe needs a
/// \"name\" of 1 to 128 characters", …
tl::expected<ControlRequest, std::string> parse_control_request(std::string_view line);

/// The reply line (without its newline) {"ok":false,"error":message}; bytes of
/// the message that are not UTF-8 become U+FFFD.
std::string error_reply(std::string_view message);

}  // namespace webpush::daemon
