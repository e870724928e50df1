// A scripted autopush user agent on top of WsClient and the message codec:
// hello, register, ack … each checked, so a test says what it does and fails
// with a readable message when the service answers otherwise.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "webpush/protocol/messages.h"
#include "ws_client.h"

namespace webpush::testing {

/// A fresh lower-case hyphenated UUIDv4 (a channelID).
std::string new_channel_id();

class PushClient {
 public:
  /// Opens the WebSocket (offering the push-notification sub-protocol by default).
  static PushClient connect(std::uint16_t port, WsOptions options = {});

  [[nodiscard]] WsClient& ws() noexcept { return ws_; }

  /// Sends a hello (with `uaid` when given) and returns the reply's uaid. Checks
  /// status 200, use_webpush and the simple uaid form.
  std::string hello(const std::optional<std::string>& uaid = std::nullopt, const protocol::Broadcasts& broadcasts = {});
  /// The full hello reply.
  protocol::HelloReply hello_reply(const std::optional<std::string>& uaid = std::nullopt,
                                   const protocol::Broadcasts& broadcasts = {});

  /// Sends register and returns the reply (any status).
  protocol::RegisterReply register_channel(const std::string& channel_id,
                                           const std::optional<std::string>& key = std::nullopt);
  /// Registers and returns the endpoint; throws unless status 200.
  std::string subscribe(const std::string& channel_id, const std::optional<std::string>& key = std::nullopt);
  protocol::UnregisterReply unregister(const std::string& channel_id, std::optional<int> code = std::nullopt);

  void ack(const std::string& channel_id, const std::string& version, int code = 100);
  void nack(const std::string& version, int code = 301);

  /// The next server message, parsed. Throws on timeout / close / parse error.
  protocol::ServerMessage recv(Millis timeout = kDefaultTimeout);
  /// The next message, which must be a notification.
  protocol::Notification recv_notification(Millis timeout = kDefaultTimeout);

  /// Sends an unregister for an unknown channel and collects every notification
  /// that arrives before its reply: the service answers frames in order, so this
  /// tells exactly what it had sent up to now, without waiting on a timer.
  std::vector<protocol::Notification> barrier();

 private:
  explicit PushClient(WsClient ws) : ws_(std::move(ws)) {}
  WsClient ws_;
};

}  // namespace webpush::testing
