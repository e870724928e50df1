// Message: one received push message on its way through the user agent — made
// by the receive path (protocol::Receiver) from a notification frame, kept in
// the inbox (store::InboxEntry is a Message with its delivery state), handed to
// the sinks (sinks::event_of) and re-dispatched from the inbox after a restart.
// One shape from the frame to the sink; the wire form (protocol::Notification)
// and the sinks' events are the only others, at the layer boundaries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "webpush/core/bytes.h"

namespace webpush {

struct Message {
  std::int64_t id = 0;                          ///< the inbox row; 0 until stored
  std::optional<std::int64_t> subscription_id;  ///< null for a channel no subscription owns (any more)
  std::string subscription;                     ///< the subscription's name, where known (not kept in the inbox row)
  std::string channel_id;
  std::string version;               ///< the push service's message id: with channel_id, the idempotency key
  std::int64_t received_at = 0;      ///< Unix ms
  std::optional<Bytes> payload;      ///< plaintext; null for a push without data or a failure
  std::string encoding;              ///< "aes128gcm", "aesgcm", or "" without data
  std::optional<std::string> error;  ///< why it could not be decrypted
  /// Set for a UnifiedPush app's subscription: the app's bus name. The payload
  /// is then the encrypted body, forwarded as is to the app, never to the sinks.
  /// Derived from the subscription (not kept in the inbox row).
  std::optional<std::string> app;

  bool operator==(const Message&) const = default;
};

}  // namespace webpush
