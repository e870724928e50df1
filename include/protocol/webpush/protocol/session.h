// protocol::Session — the user agent's side of one push-service connection, as
// a pure state machine: events in (connected, frame, closed, timer, requests),
// actions out (send a frame, open or close the socket, report results). It does
// no I/O and reads no clock; the transport adapter feeds it and carries out its
// actions, and asks next_wakeup() when to call on_timer().
//
// Rules it implements (docs/protocol.md §1, §2, §6):
//  - hello right after the upgrade, once per socket; uaid only when subscriptions
//    exist, byte for byte as the service gave it; use_webpush true; no channelIDs.
//  - register/unregister issued before the hello reply are queued and sent after it.
//  - register: 200 + URL-parsable endpoint → RegisterOk; 409 → fresh channel ID,
//    retried once; 400 → RegisterFailed (not retryable); 500/503/other → failed,
//    retryable; no reply within request_timeout → failed and the socket is
//    considered dead (reconnect with backoff).
//  - a frame it cannot use (not JSON, unknown messageType, missing fields, out
//    of place, oversized) is logged and ignored (BadFrameGuard); only a flood
//    of them, or a hello reply naming another uaid mid-session, ends the
//    connection as a protocol violation.
//  - keepalive: `{}` after ping_interval without any inbound frame; no frame
//    within pong_timeout → dead. The ping deadline runs on the boot clock, and a
//    resume (boot clock jumped ahead of the monotonic one) pings at once.
//  - reconnect with Backoff; reset only when a connection lived reset_window past
//    its hello; close 4774 pauses automatic reconnection until a network change,
//    new work or pause_after_4774; a healthy connection is refreshed after
//    max_connection_age so the service renews the uaid record.
//
// Thread: single-threaded (the event loop).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/protocol/backoff.h"
#include "webpush/protocol/bad_frames.h"
#include "webpush/protocol/messages.h"

namespace webpush::protocol {

/// Why a connection ended or could not be made; logged once per disconnect.
enum class DisconnectReason {
  server_close,        ///< the service closed the socket (close code attached)
  ping_timeout,        ///< no frame within pong_timeout after our ping
  hello_timeout,       ///< no hello reply within request_timeout
  request_timeout,     ///< a register/unregister reply did not come in time
  protocol_violation,  ///< unparsable frame or a reply out of place
  hello_refused,       ///< hello reply with a status other than 200
  tls_error,
  dns_failure,
  connect_refused,
  connect_timeout,
  io_error,          ///< reset, EOF without a close frame, write failure
  network_change,    ///< the network changed under an idle socket
  periodic_refresh,  ///< max_connection_age reached on a healthy link
  store_failure,     ///< a message could not be stored, so it could not be acked
  shutdown,          ///< we are stopping
};

std::string_view to_string(DisconnectReason r) noexcept;

enum class SessionState {
  idle,         ///< not started, or stopped
  connecting,   ///< Connect issued, waiting for on_connected / on_closed
  handshaking,  ///< socket open, hello sent, waiting for the reply
  ready,        ///< hello done; requests and notifications flow
  backing_off,  ///< waiting to reconnect
  paused,       ///< close 4774: no automatic reconnection for now
};

std::string_view to_string(SessionState s) noexcept;

struct SessionConfig {
  Duration ping_interval{5 * 60 * 1000};
  Duration pong_timeout{10 * 1000};
  Duration request_timeout{10 * 1000};
  BackoffPolicy backoff;
  Duration reset_window{10 * 1000};
  Duration pause_after_4774{30 * 60 * 1000};
  Duration max_connection_age{7LL * 24 * 60 * 60 * 1000};
  /// A boot-clock lead over the monotonic clock beyond this means we were suspended.
  Duration suspend_threshold{5 * 1000};
  /// More bad frames than this within a minute end the connection.
  int max_bad_frames_per_minute = 20;
};

using RequestId = std::uint64_t;

// ---- actions ----------------------------------------------------------------------
namespace action {
struct Send {
  std::string frame;
};
struct Connect {};
struct Close {
  DisconnectReason reason;
};
struct Notify {  ///< a notification to process; answer with Session::ack()
  Notification notification;
};
struct UaidAssigned {
  std::string uaid;
  std::optional<std::string> previous;
  bool subscriptions_lost;  ///< the uaid changed while subscriptions existed
};
struct RegisterOk {
  RequestId request;
  std::string channel_id;
  std::string endpoint;
};
struct RegisterFailed {
  RequestId request;
  std::string reason;
  bool retryable;
};
struct UnregisterDone {
  RequestId request;
  std::string channel_id;
  bool ok;
};
struct StateChanged {
  SessionState state;
  std::string detail;  ///< e.g. "server close 1011", "retry in 4.0 s"
};
struct Warn {  ///< a line for the log (already rate-limited)
  std::string text;
};
}  // namespace action

using Action =
    std::variant<action::Send, action::Connect, action::Close, action::Notify, action::UaidAssigned, action::RegisterOk,
                 action::RegisterFailed, action::UnregisterDone, action::StateChanged, action::Warn>;
using Actions = std::vector<Action>;

class Session {
 public:
  /// `jitter` is borrowed (must outlive the session). `new_channel_id` returns a
  /// fresh lower-case UUIDv4 (random in production, scripted in tests), or the
  /// error that kept it from drawing one (the request then fails, retryable).
  Session(SessionConfig config, Jitter& jitter, std::function<Result<std::string>()> new_channel_id);

  /// What the next hello says: the stored uaid, and whether subscriptions exist.
  void set_identity(std::optional<std::string> uaid, bool has_subscriptions);

  // ---- events ------------------------------------------------------------------
  Actions start(Instant now);  ///< begin connecting
  Actions stop(Instant now);   ///< close and stay idle
  Actions on_connected(Instant now);
  Actions on_frame(std::string_view frame, Instant now);
  /// The transport dropped a frame over its size limit without reading it.
  Actions on_oversized_frame(std::size_t bytes, Instant now);
  /// The socket closed or could not be opened. close_code: the server's close
  /// code if it sent one (0 otherwise).
  Actions on_closed(DisconnectReason reason, int close_code, Instant now);
  Actions on_timer(Instant now);
  /// Messages of this connection could not be stored, so they cannot be acked:
  /// close it and reconnect with backoff, so that the service redelivers them.
  Actions on_store_failure(Instant now);
  Actions on_network_change(Instant now);

  // ---- requests ----------------------------------------------------------------
  /// Registers a channel; the result comes as RegisterOk / RegisterFailed.
  Actions request_register(RequestId id, std::string channel_id, std::optional<std::string> key, Instant now);
  Actions request_unregister(RequestId id, std::string channel_id, int code, Instant now);
  /// Acknowledges a notification (after the message is stored).
  Actions ack(std::string channel_id, std::string version, AckCode code, Instant now);

  // ---- queries -----------------------------------------------------------------
  [[nodiscard]] SessionState state() const noexcept { return state_; }
  /// How long until on_timer() should be called; nullopt if no timer is needed.
  [[nodiscard]] std::optional<Duration> next_wakeup(Instant now) const;
  [[nodiscard]] int backoff_failures() const noexcept { return backoff_.failures(); }
  [[nodiscard]] const std::optional<std::string>& uaid() const noexcept { return uaid_; }
  /// Frames ignored as unusable since the session was made.
  [[nodiscard]] std::uint64_t bad_frames() const noexcept { return bad_frames_.total(); }

 private:
  struct Pending {
    RequestId id;
    bool is_register;
    std::string channel_id;
    std::optional<std::string> key;
    int code = 0;
    bool retried = false;
    std::optional<Duration> sent_at;  // mono; nullopt while queued
  };

  void set_state(SessionState s, std::string detail, Actions& out);
  void send_request(Pending& p, Instant now, Actions& out);
  void connect_now(Instant now, Actions& out);
  void fail(DisconnectReason reason, Instant now, Actions& out, std::string detail = {});  // close + back off
  void schedule_reconnect(DisconnectReason reason, int close_code, Instant now, Actions& out,
                          const std::string& detail = {});
  bool note_inbound(Instant now);  // a frame arrived: the link lives; false when not connected
  void bad_frame(BadFrame kind, std::string_view detail, Instant now, Actions& out);
  void on_message(ServerMessage message, Instant now, Actions& out);
  void on_hello_mid_session(const HelloReply& reply, Instant now, Actions& out);
  void on_hello(HelloReply reply, Instant now, Actions& out);
  void on_register(const RegisterReply& reply, Instant now, Actions& out);
  void on_unregister(const UnregisterReply& reply, Actions& out);
  void fail_pending_requests(const std::string& why, bool retryable_socket_loss, Actions& out);
  [[nodiscard]] bool connected() const noexcept {
    return state_ == SessionState::handshaking || state_ == SessionState::ready;
  }

  SessionConfig config_;
  Backoff backoff_;
  BadFrameGuard bad_frames_;
  std::function<Result<std::string>()> new_channel_id_;

  SessionState state_ = SessionState::idle;
  std::optional<std::string> uaid_;
  bool has_subscriptions_ = false;

  std::deque<Pending> pending_;  // in issue order; sent ones have sent_at

  // Liveness (valid while connected).
  Duration connected_at_{0};              // mono
  Duration hello_sent_at_{0};             // mono
  std::optional<Duration> hello_at_;      // mono, when the hello reply came
  Duration last_rx_boot_{0};              // boot clock of the last inbound frame
  std::optional<Duration> ping_sent_at_;  // mono
  Instant last_seen_{};                   // last event time, for suspend detection

  // Reconnection.
  std::optional<Duration> reconnect_at_;  // mono
  std::optional<Duration> paused_until_;  // mono
};

}  // namespace webpush::protocol
