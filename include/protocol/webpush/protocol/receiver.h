// The receive path of one notification: find the subscription, recognise a
// redelivered message, decrypt, store — and only then say which ack to send.
//
//   unknown channel                 → ack 102, nothing stored
//   (channel, version) already kept → ack 102, no second dispatch
//   decrypts (or carries no data)   → stored, ack 100, dispatch
//   for a UnifiedPush app: aes128gcm → stored encrypted, ack 100, forwarded
//                          aesgcm    → stored as failed, ack 101 (cannot be forwarded)
//   does not decrypt / bad base64   → stored as failed with its error, ack 101
//   the store fails                 → NO ack (the service will redeliver)
//
// The store is reached through InboxPort, which the daemon implements over
// store::Store and tests implement with a fake. Work is done in batches: every
// notification that arrived in one event-loop turn is committed in one
// transaction, then acked (group commit).
//
// Thread: single-threaded (the event loop).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/core/message.h"
#include "webpush/crypto/keys.h"
#include "webpush/protocol/messages.h"

namespace webpush::protocol {

/// What the receive path needs of a subscription.
struct ChannelKeys {
  std::int64_t subscription_id = 0;
  std::string subscription_name;
  crypto::KeyPair key;
  SecretBytes auth_secret;
  /// Set for a UnifiedPush app's subscription (its bus name): the message is
  /// not decrypted but kept as the app server sent it (aes128gcm only), for the
  /// app, which holds its own keys.
  std::optional<std::string> app;
};

class InboxPort {
 public:
  virtual ~InboxPort() = default;
  /// The subscription owning a channel, or nullptr when none does. Errors are store failures.
  virtual Result<std::shared_ptr<const ChannelKeys>> find_channel(const std::string& channel_id) = 0;
  /// Whether (channel, version) is already in the inbox.
  virtual Result<bool> contains(const std::string& channel_id, const std::string& version) = 0;
  /// Stores the messages in one transaction; returns, for each, its inbox id if
  /// it was new, nullopt if (channel, version) was already there.
  virtual Result<std::vector<std::optional<std::int64_t>>> put(std::span<const Message> messages) = 0;
};

/// The outcome for one notification.
struct Received {
  std::string channel_id;
  std::string version;
  std::optional<AckCode> ack;      ///< nullopt: do not ack (store failure)
  std::optional<Message> message;  ///< set when it was stored new: dispatch it to sinks
  std::optional<Error> failure;    ///< why it was not stored (with ack nullopt)
};

class Receiver {
 public:
  /// `inbox` is borrowed and must outlive the Receiver.
  explicit Receiver(InboxPort& inbox) : inbox_(&inbox) {}

  /// Processes a batch of notifications; one Received per input, in order.
  /// A store failure yields no ack for every message of the batch that needed storing.
  std::vector<Received> process(std::span<const Notification> batch, std::int64_t now_ms);

 private:
  InboxPort* inbox_;  // not owned
};

}  // namespace webpush::protocol
