// fcm::McsSession — the receiver's side of one MCS connection to Chrome's push
// service (docs/fcm.md §3–6), as a pure state machine: events in (connected,
// bytes, closed, timer, acks), actions out (send bytes, open or close the
// socket, deliver a message, report results). It does no I/O and reads no
// clock; the transport adapter feeds it and carries out its actions, and asks
// next_wakeup() when to call on_timer(). The counterpart of protocol::Session.
//
// Rules it implements:
//  - on connect: the version byte 41 and a LoginRequest carrying the device
//    identity and unconfirmed persistent ids (see below), once per socket. No
//    LoginResponse within login_timeout → dead (reconnect with backoff); a
//    LoginResponse with an error → refused (backoff of at least
//    refused_min_delay). A good one: ready; the ids it presented are
//    confirmed (AcksConfirmed) and leave the unconfirmed list; the server's
//    heartbeat_config.interval_ms is adopted when within [30 s, 1 h].
//  - the server's stream, in pieces of any size: a bad version byte, a framing
//    error or a frame over max_frame_size ends the connection as a protocol
//    violation. HeartbeatPing → HeartbeatAck; DataMessageStanza → Deliver;
//    IqStanza: acks from the server are counted, other IQs ignored; Close →
//    reconnect with backoff; StreamErrorStanza → Warn and protocol violation.
//    A LoginResponse or message out of place, a tag a receiver has no use for
//    and a body that does not decode are logged and ignored (BadFrameGuard);
//    only a flood of them ends the connection as a protocol violation.
//  - liveness: a HeartbeatPing heartbeat_interval after the last one (on the
//    boot clock, so a resume pings at once); nothing at all within
//    heartbeat_timeout after it → dead. Any inbound byte counts as alive.
//  - stream ids: every frame received counts (1-based, per connection). What
//    goes out as last_stream_id_received (in pings, heartbeat acks and every
//    IqStanza) is the committed stream position: the highest stream id S such
//    that every DataMessageStanza with a stream id up to S was delivered and
//    then acked by the caller; any other frame (also one ignored as unusable)
//    counts as done at once. A server may read any last_stream_id_received as
//    acknowledging its messages up to it, so a message the caller has not
//    stored yet is never covered by one.
//  - acknowledgement: ack() (after the messages are stored) sends a
//    selective ack for the batch (split so that no IqStanza body exceeds
//    kMaxSentMessageBytes), advances the committed position and keeps the ids
//    in the unconfirmed list until a LoginResponse confirms them. A stream ack
//    goes out when the committed position has passed stream_ack_every
//    DataMessageStanzas since the last one, or has passed one with
//    immediate_ack; never ahead of the committed position.
//  - the LoginRequest presents the newest unconfirmed ids that fit a body of
//    kMaxSentMessageBytes (measured with the real encoder; an id that would
//    overflow it is skipped). The others stay unconfirmed for a later login
//    (they fall off the front only through max_unconfirmed).
//  - reconnect with protocol::Backoff; reset only when a connection lived
//    reset_window past its LoginResponse.
//
// Thread: single-threaded (the event loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/fcm/mcs_framing.h"
#include "webpush/fcm/messages.h"
#include "webpush/protocol/backoff.h"
#include "webpush/protocol/bad_frames.h"
#include "webpush/protocol/messages.h"
#include "webpush/protocol/session.h"

namespace webpush::fcm {

/// The range a server's heartbeat interval is adopted from (Chromium never pings
/// more often than every 30 s); outside it the configured interval stays.
inline constexpr Duration kMinHeartbeatInterval{30 * 1000};
inline constexpr Duration kMaxHeartbeatInterval{60 * 60 * 1000};

/// The largest message body (LoginRequest, IqStanza) the session sends:
/// Chromium's kMaxMessageBytes ("like the server").
inline constexpr std::size_t kMaxSentMessageBytes = 4096;

/// protocol::to_string(reason) in MCS terms ("login timeout", "login refused"
/// and "heartbeat timeout" for hello_timeout, hello_refused and ping_timeout),
/// for log lines about an McsSession.
[[nodiscard]] std::string_view describe_disconnect(protocol::DisconnectReason reason) noexcept;

struct McsSessionConfig {
  Duration login_timeout{30 * 1000};
  Duration heartbeat_interval{5 * 60 * 1000};
  Duration heartbeat_timeout{60 * 1000};
  protocol::BackoffPolicy backoff;
  Duration reset_window{10 * 1000};
  /// A refused login waits at least this long before the next attempt.
  Duration refused_min_delay{60 * 1000};
  /// A boot-clock lead over the monotonic clock beyond this means we were suspended.
  Duration suspend_threshold{5 * 1000};
  /// More bad frames than this within a minute end the connection.
  int max_bad_frames_per_minute = 20;
  /// A received body over this ends the connection.
  std::size_t max_frame_size = kDefaultMaxFrameSize;
  /// The unconfirmed list keeps the newest this many ids (see ack()). 100 ids
  /// of Google's size (about 35 bytes) fit one LoginRequest of
  /// kMaxSentMessageBytes; longer ids may leave some for a later login.
  std::size_t max_unconfirmed = 100;
  /// DataMessageStanzas between two stream acks (Chromium's kUnackedMessageBeforeStreamAck).
  int stream_ack_every = 10;
  std::string chrome_version{kChromeVersion};
};

// ---- actions ----------------------------------------------------------------------
namespace action {
struct Send {  ///< bytes to write to the TLS stream, in order
  std::string bytes;
};
struct Connect {};  ///< open the TLS connection; answer with on_connected / on_closed
struct Close {      ///< close the socket; no on_closed is expected for it
  protocol::DisconnectReason reason;
};
/// A DataMessageStanza to store; once stored (or deliberately dropped), pass
/// notification.version to McsSession::ack(): until then the committed stream
/// position stays before this message.
struct Deliver {
  /// The server's id of the message; empty when it gave none (then
  /// notification.version is one the session made up, and ack() takes that).
  std::string persistent_id;
  /// The app id given at registration: app_data "subtype" when present (Chrome
  /// files Web Push messages under a product category and puts the app id
  /// there), else the category.
  std::string app_id;
  /// channel_id empty (the caller maps app_id to its subscription); version =
  /// persistent_id, or "stream-<connection>-<stream id>" without one (unique
  /// within this McsSession, not across restarts); data = base64url(raw_data)
  /// with headers from app_data content-encoding / encryption / crypto-key,
  /// both absent when the message has no raw_data.
  protocol::Notification notification;
};
/// A LoginResponse confirmed these ids (presented in its LoginRequest): the
/// caller may forget them durably.
struct AcksConfirmed {
  std::vector<std::string> persistent_ids;
};
struct StateChanged {
  protocol::SessionState state;
  std::string detail;  ///< e.g. "login refused: code 401: …; retry in 60.0 s"
};
struct Warn {  ///< a line for the log (bad frames already rate-limited)
  std::string text;
};
}  // namespace action

using McsAction = std::variant<action::Send, action::Connect, action::Close, action::Deliver, action::AcksConfirmed,
                               action::StateChanged, action::Warn>;
using McsActions = std::vector<McsAction>;

class McsSession {
 public:
  /// `jitter` is borrowed (must outlive the session). `device` is the checkin's identity.
  McsSession(McsSessionConfig config, DeviceIdentity device, Jitter& jitter);

  /// A new identity (after a re-checkin), used from the next login on.
  void set_device(DeviceIdentity device) noexcept { device_ = device; }
  /// Replaces the unconfirmed list (ids stored but not yet confirmed, e.g.
  /// loaded from the store after a restart; oldest first); the newest
  /// max_unconfirmed are kept. Presented at the next login.
  void set_unconfirmed(std::vector<std::string> persistent_ids);

  // ---- events ------------------------------------------------------------------
  McsActions start(Instant now);  ///< begin connecting
  McsActions stop(Instant now);   ///< close and stay idle
  McsActions on_connected(Instant now);
  /// Bytes read from the TLS stream, cut anywhere.
  McsActions on_bytes(std::string_view bytes, Instant now);
  /// The socket closed or could not be opened.
  McsActions on_closed(protocol::DisconnectReason reason, Instant now);
  McsActions on_timer(Instant now);
  /// Messages of this connection could not be stored, so they cannot be acked:
  /// close it and reconnect with backoff, so that the server redelivers them.
  McsActions on_store_failure(Instant now);
  McsActions on_network_change(Instant now);

  // ---- requests ----------------------------------------------------------------
  /// The messages with these ids are stored (a batch; empty ids are skipped).
  /// An id is a Deliver's notification.version: its persistent_id, or
  /// "stream-<connection>-<stream id>" for a message without one. Each id
  /// delivered on the current connection is settled, and the committed stream
  /// position advances past every message settled with all before it (which
  /// may send a stream ack). Made-up "stream-<n>-<m>" versions stop there:
  /// the server knows no such id. Persistent ids: when ready, selective acks
  /// list them (as many IqStanzas as kMaxSentMessageBytes needs; an id too long
  /// for one alone is left out with a Warn, the stream ack covers it); in any
  /// state they join the unconfirmed list, which the next LoginRequest presents
  /// (ids acked between a LoginRequest and its LoginResponse go out as a
  /// selective ack right after it). The list keeps the newest max_unconfirmed
  /// ids and none over kMaxSentMessageBytes: one dropped only means the server
  /// may deliver that message again, and the store recognises its persistent id.
  McsActions ack(std::vector<std::string> persistent_ids, Instant now);

  // ---- queries -----------------------------------------------------------------
  [[nodiscard]] protocol::SessionState state() const noexcept { return state_; }
  /// How long until on_timer() should be called; nullopt if no timer is needed.
  [[nodiscard]] std::optional<Duration> next_wakeup(Instant now) const;
  [[nodiscard]] int backoff_failures() const noexcept { return backoff_.failures(); }
  /// Frames ignored as unusable since the session was made.
  [[nodiscard]] std::uint64_t bad_frames() const noexcept { return bad_frames_.total(); }
  /// The ids stored but not confirmed by a LoginResponse, oldest first.
  [[nodiscard]] std::vector<std::string> unconfirmed() const;
  /// The heartbeat interval of the current connection (configured or the server's).
  [[nodiscard]] Duration heartbeat_interval() const noexcept { return heartbeat_interval_; }
  /// What the session reports as last_stream_id_received on the current
  /// connection: the committed stream position (see the rules above),
  /// saturated at INT32_MAX. Never more than frames_received().
  [[nodiscard]] std::int32_t last_stream_id_received() const noexcept;
  /// Frames received on the current connection, committed or not.
  [[nodiscard]] std::int64_t frames_received() const noexcept { return stream_in_; }
  /// Data messages delivered on the current connection that the committed
  /// position has not passed yet (acked or not).
  [[nodiscard]] std::size_t uncommitted_messages() const noexcept { return inflight_.size(); }
  /// Selective and stream acks received from the server since the session was made.
  [[nodiscard]] std::uint64_t server_acks() const noexcept { return server_acks_; }

 private:
  void set_state(protocol::SessionState s, std::string detail, McsActions& out);
  void connect_now(Instant now, McsActions& out);
  void fail(protocol::DisconnectReason reason, Instant now, McsActions& out, const std::string& detail = {},
            Duration min_delay = Duration{0});  // close + back off
  void schedule_reconnect(protocol::DisconnectReason reason, Instant now, McsActions& out, const std::string& detail,
                          Duration min_delay);
  void send_frame(Tag tag, std::string_view body, McsActions& out);
  void send_ping(Instant now, McsActions& out);
  void send_stream_ack(McsActions& out);
  void send_selective_ack(std::span<const std::string> ids, McsActions& out);
  void remember(std::string id);
  [[nodiscard]] std::vector<std::string> ids_to_present() const;
  /// Marks `version` acked if this connection delivered it.
  void settle(const std::string& version);
  /// Pops the acked messages off the front of inflight_; true if any.
  bool commit_settled();
  void reset_stream();
  void bad_frame(protocol::BadFrame kind, std::string_view detail, Instant now, McsActions& out);
  void on_frame(Frame frame, Instant now, McsActions& out);
  void on_login_response(std::string_view body, Instant now, McsActions& out);
  void adopt_heartbeat(std::optional<std::int32_t> interval_ms, McsActions& out);
  void confirm_presented(McsActions& out);
  void on_heartbeat(Tag tag, std::string_view body, Instant now, McsActions& out);
  void on_data_message(std::string_view body, Instant now, McsActions& out);
  void on_iq(std::string_view body, Instant now, McsActions& out);
  void on_stream_error(std::string_view body, Instant now, McsActions& out);
  [[nodiscard]] action::Deliver to_deliver(const DataMessage& message) const;
  [[nodiscard]] bool connected() const noexcept {
    return state_ == protocol::SessionState::handshaking || state_ == protocol::SessionState::ready;
  }

  McsSessionConfig config_;
  DeviceIdentity device_;
  protocol::Backoff backoff_;
  protocol::BadFrameGuard bad_frames_;

  protocol::SessionState state_ = protocol::SessionState::idle;
  std::deque<std::string> unconfirmed_;  // oldest first, at most max_unconfirmed
  std::vector<std::string> presented_;   // the ids the pending LoginRequest carried
  std::vector<std::string> late_;        // the ids acked while that LoginRequest was pending
  std::uint64_t server_acks_ = 0;

  // The current connection (valid while connected).
  McsDecoder decoder_;
  std::uint64_t connections_ = 0;  // sockets opened so far, for stream-<n>-<id> versions
  std::int64_t stream_in_ = 0;     // frames received
  struct Inflight {                // a delivered data message not yet committed
    std::int64_t stream_id;
    std::string version;
    bool immediate_ack;
  };
  struct Settlement {  // the inflight messages of one version
    int count = 0;
    bool acked = false;
  };
  std::deque<Inflight> inflight_;  // stream order; the front is the first not acked
  std::unordered_map<std::string, Settlement> settlements_;
  int committed_since_stream_ack_ = 0;       // data messages the position passed since the last stream ack
  bool immediate_committed_ = false;         // one of them asked for an immediate ack
  Duration heartbeat_interval_;              // this connection's
  Duration login_sent_at_{0};                // mono
  std::optional<Duration> ready_at_;         // mono, when the LoginResponse came
  Duration last_ping_boot_{0};               // boot clock of the last ping (or of the login)
  std::optional<Duration> ping_pending_at_;  // mono; a ping nothing has answered yet
  Instant last_seen_{};                      // last event time, for suspend detection

  // Reconnection.
  std::optional<Duration> reconnect_at_;  // mono
};

}  // namespace webpush::fcm
