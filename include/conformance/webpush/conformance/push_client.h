// PushClient: the user agent's side of a check — one WebSocket connection
// speaking the autopush protocol step by step (hello, register, unregister,
// ack, nack, ping), with the subscriptions' keys to decrypt what arrives.
// Replies are awaited by messageType; notifications that arrive meanwhile are
// queued for next_notification(), so a check never loses one it waits for.
//
// Cleanup: the destructor unregisters every channel this client registered
// and did not unregister, reconnecting with its uaid when the connection has
// ended; a check leaves nothing behind on the service.
//
// Thread: one thread at a time per object.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "webpush/conformance/ws_probe.h"
#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/crypto/keys.h"
#include "webpush/load/push_request.h"

namespace webpush::conformance {

/// A registered channel: its id, endpoint and the subscription's secrets.
struct Channel {
  std::string id;
  std::string endpoint;
  std::shared_ptr<const crypto::KeyPair> key;  ///< the user agent's P-256 key
  SecretBytes auth;                            ///< 16 bytes
  bool vapid_bound = false;                    ///< registered with the application server's key

  /// The PushSubscription an application server is given.
  [[nodiscard]] load::PushTarget target() const;
};

/// A new lower-case hyphenated UUIDv4, as autopush requires channel IDs.
[[nodiscard]] std::string new_channel_id();

class PushClient {
 public:
  /// Connects and says hello (`uaid` when given, use_webpush true), then waits
  /// for the hello reply. Errors: those of WsProbe::open; bad_reply when the
  /// reply is not a hello with status 200 and a uaid; timeout; closed.
  static Result<std::unique_ptr<PushClient>> connect(std::unique_ptr<WsProbe> ws,
                                                     const std::optional<std::string>& uaid, Millis timeout,
                                                     std::string reconnect_url, ProbeOptions reconnect_options);
  ~PushClient();
  PushClient(const PushClient&) = delete;
  PushClient& operator=(const PushClient&) = delete;

  [[nodiscard]] const std::string& uaid() const noexcept { return uaid_; }
  /// The hello reply as received.
  [[nodiscard]] const nlohmann::json& hello_reply() const noexcept { return hello_; }
  [[nodiscard]] WsProbe& ws() noexcept { return *ws_; }
  [[nodiscard]] Millis timeout() const noexcept { return timeout_; }

  /// Sends one JSON object as a text frame. Errors: those of WsProbe::send_text.
  Result<void> send(const nlohmann::json& message);
  /// The next message of `type` within timeout() (ignoring `{}` pongs and
  /// broadcasts; queuing notifications, at most kMaxQueued). Errors: timeout,
  /// closed (with the close code), bad_reply (text that is not a JSON object,
  /// a binary frame, too many notifications), protocol and io from WsProbe.
  Result<nlohmann::json> await(std::string_view type);
  /// The next notification (queued ones first). Errors: as await.
  Result<nlohmann::json> next_notification(Millis timeout);
  /// Notifications that arrive within `quiet` of each other (queued ones
  /// first); stops at the first pause of `quiet`, after `max` of them, or
  /// after `overall`. Errors: as await, but for timeout.
  Result<std::vector<nlohmann::json>> drain_notifications(Millis quiet, std::size_t max = 1'000,
                                                          Millis overall = Millis(60'000));
  static constexpr std::size_t kMaxQueued = 10'000;

  /// Registers a new channel, bound to `vapid`'s public key when given, and
  /// creates its secrets. Errors: bad_reply naming the status (and
  /// pushEndpoint text) when it is not 200 with a URL; those of await.
  Result<Channel> subscribe(const crypto::KeyPair* vapid = nullptr);
  /// Sends a register with exactly these fields and returns the reply (any
  /// status); the channel is remembered for cleanup when the status is 200.
  Result<nlohmann::json> register_raw(const nlohmann::json& request);
  /// Unregisters; returns the reply. Errors: those of await.
  Result<nlohmann::json> unregister(const std::string& channel_id);
  /// Acks one notification with `code` (100 delivered). Errors: those of send.
  Result<void> ack(const nlohmann::json& notification, int code = 100);

  /// Decrypts a notification for `channel` (empty for a push without data).
  /// Errors: bad_reply (no channelID, data not base64url, headers missing), crypto errors.
  static Result<Bytes> decrypt(const nlohmann::json& notification, const Channel& channel);

  /// Unregisters what is left and closes. Idempotent; the destructor calls it.
  void cleanup();
  /// Forgets the channels (for a check that expects the service to have dropped them).
  void forget_channels() { registered_.clear(); }

 private:
  PushClient(std::unique_ptr<WsProbe> ws, Millis timeout, std::string url, ProbeOptions options);
  Result<nlohmann::json> read_message(Millis timeout);
  Result<void> reconnect_for_cleanup();

  std::unique_ptr<WsProbe> ws_;
  Millis timeout_;
  std::string url_;
  ProbeOptions options_;
  std::string uaid_;
  nlohmann::json hello_;
  std::deque<nlohmann::json> notifications_;
  std::vector<std::string> registered_;
  bool cleaned_ = false;
};

/// Readers for JSON from the service, which may hold anything: the field when
/// it is there with the right type, else the fallback. Never throw.
[[nodiscard]] std::string text_field(const nlohmann::json& message, std::string_view key);
[[nodiscard]] std::int64_t int_field(const nlohmann::json& message, std::string_view key, std::int64_t fallback = 0);

/// "closed with 1011 SM", "ended without a Close frame".
[[nodiscard]] std::string describe_close(const CloseInfo& close);

}  // namespace webpush::conformance
