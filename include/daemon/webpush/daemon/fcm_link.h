// daemon::FcmLink — the daemon's connection to Chrome's push service (FCM,
// docs/fcm.md), next to the autopush Agent: it shares the Agent's store, its
// receive path (protocol::Receiver over the same inbox) and its Dispatcher.
//
//   identity:     stored FcmDevice, else checkin → stored
//   subscribe:    keys → GCM register3 → [Firebase installation → FCM
//                 registration] → stored (server "mcs://<host>:<port>")
//   unsubscribe:  record removed → [Firebase installation → FCM registration
//                 DELETE] → GCM register3 delete=true (failures only logged)
//   MCS stream:   bytes → fcm::McsSession → Deliver → app id → subscription
//                 → Receiver (dedup, decrypt, inbox commit) → fcm_acks row
//                 → McsSession::ack → sinks
//
// The MCS connection is kept only while FCM subscriptions are stored: the
// first subscribe connects, removing the last one disconnects (idle, with
// status().detail saying why). A subscribe in progress needs the device
// identity, not the connection. The persistent ids not yet confirmed stay in
// the store's fcm_acks and are presented at the next login.
//
// Subscriptions are stored with server = mcs_server() so the Agent, which lists
// those of its own server URL, never sees them; each gets a fresh channel ID,
// the inbox's dedup key with the MCS persistent id as the version. Without a
// FirebaseApp, registration stops after GCM register3 and the endpoint carries
// the GCM token; with one, the FCM token. Unsubscribing removes the record
// first, then tells Google as Chrome does.
//
// Its I/O goes through seams: HTTPS through transport::HttpClient, the MCS
// stream through transport::StreamConnectionFactory, time through
// event::Scheduler and Clock, backoff randomness through Jitter.
//
// Thread: the loop thread only. Everything passed to the constructor is
// borrowed and must outlive the FcmLink.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/daemon/agent.h"
#include "webpush/daemon/dispatcher.h"
#include "webpush/event/scheduler.h"
#include "webpush/fcm/mcs_session.h"
#include "webpush/fcm/registration.h"
#include "webpush/protocol/receiver.h"
#include "webpush/store/store.h"
#include "webpush/transport/http_client.h"
#include "webpush/transport/stream.h"

namespace webpush::daemon {

template <class Conn>
class Graveyard;    // retired connections, destroyed once they had time to close (internal)
class WakeupTimer;  // the session's next wakeup, on the boot clock (internal)

/// Where the HTTPS calls go: Google's by default, all overridable (a private or test stack).
struct FcmUrls {
  std::string checkin = "https://android.clients.google.com/checkin";
  std::string register3 = "https://android.clients.google.com/c2dm/register3";
  /// + "/projects/<project id>/installations"
  std::string installations = "https://firebaseinstallations.googleapis.com/v1";
  /// + "/projects/<project id>/registrations"
  std::string registrations = "https://fcmregistrations.googleapis.com/v1";
  /// The endpoints given out: "<send>/<token>".
  std::string send = "https://fcm.googleapis.com/fcm/send";
};

struct FcmOptions {
  FcmUrls urls;
  std::string mcs_host = "mtalk.google.com";
  int mcs_port = 5228;
  /// The user's Firebase project; without it registration stops after GCM
  /// register3 and endpoints carry the GCM token.
  std::optional<fcm::FirebaseApp> firebase;
  fcm::McsSessionConfig session;
  Duration request_timeout{20 * 1000};
  /// A register3 answered Error=PHONE_REGISTRATION_ERROR is tried again this
  /// many times, register_retry_delay apart.
  int register_retries = 3;
  Duration register_retry_delay{1000};
};

struct FcmCounters {
  std::int64_t received = 0;        ///< data messages processed
  std::int64_t duplicates = 0;      ///< already stored, or for no known subscription
  std::int64_t decrypt_errors = 0;  ///< stored as failed
  std::int64_t reconnects = 0;
};

struct FcmStatus {
  protocol::SessionState state = protocol::SessionState::idle;
  std::string detail;
  std::optional<std::int64_t> connected_since_ms;  ///< wall clock, since the last LoginResponse
  std::optional<std::int64_t> last_heartbeat_ms;   ///< wall clock of the last bytes from the server
  FcmCounters counters;
  bool device_known = false;  ///< a checkin identity is stored (the identity itself is never shown)
  /// Why the last batch could not be stored; cleared by the next batch that is.
  std::optional<std::string> store_error;
};

class FcmLink final : public transport::StreamListener {
 public:
  using DoneCallback = std::function<void(Result<void>)>;
  using SubscribeCallback = std::function<void(Result<store::Subscription>)>;

  /// `dispatcher` is the Agent's (Agent::dispatcher()): new messages reach the
  /// same sinks, forwarder and observers.
  FcmLink(store::Store& store, transport::HttpClient& http, transport::StreamConnectionFactory& streams,
          event::Scheduler& scheduler, Dispatcher& dispatcher, FcmOptions options, const Clock& clock, Jitter& jitter);
  ~FcmLink() override;
  FcmLink(const FcmLink&) = delete;
  FcmLink& operator=(const FcmLink&) = delete;

  /// "mcs://<host>:<port>": the server stored with every FCM subscription.
  [[nodiscard]] std::string mcs_server() const;

  /// Connects when FCM subscriptions are stored (their unacked persistent ids
  /// presented at login), checking in first if no device is stored; otherwise
  /// stays idle until a subscribe. Errors: store, event::Errc::setup (no timer).
  Result<void> start();
  /// Commits what arrived, fails pending subscribes with Errc::stopped,
  /// abandons telling the service of pending unsubscribes (a warning each),
  /// closes the stream. Safe to call twice.
  void shutdown();
  void on_network_change();

  /// Calls `done` once the device has a checkin identity: the stored one at
  /// once, else after a checkin (stored before `done` runs). Errors: the HTTP
  /// client's, fcm::Errc (a bad answer), store, Errc::stopped.
  void ensure_device(DoneCallback done);

  /// Registers a new subscription with Chrome's push service and stores it.
  /// Errors: Errc::bad_request (name taken, not a P-256 key), Errc::registration
  /// (with the service's reason), the HTTP client's, store, Errc::stopped.
  void subscribe(std::string name, std::optional<Bytes> app_server_key, SubscribeCallback done);
  /// Removes an FCM subscription: its record and keys first, then tells
  /// Chrome's push service — when it has an FCM token and installation id and
  /// a FirebaseApp is configured, a DELETE of its FCM registration (with a
  /// fresh installation auth token), then GCM register3 with delete=true.
  /// `done` runs once the record is gone; the service is told afterwards, and
  /// a failure to tell it is a warning in the log, never an error. Removing the
  /// last FCM subscription (no subscribe pending) commits what arrived and
  /// closes the MCS connection. Errors:
  /// Errc::bad_request (unknown id, not an FCM subscription), store,
  /// Errc::stopped (after shutdown; the record stays).
  void unsubscribe(std::int64_t subscription_id, DoneCallback done);

  [[nodiscard]] FcmStatus status() const;

  // transport::StreamListener
  void on_open() override;
  void on_data(std::string_view bytes) override;
  void on_closed(protocol::DisconnectReason reason, std::string detail) override;

 private:
  struct PendingSubscribe;
  struct PendingUnsubscribe;
  using Headers = std::vector<std::pair<std::string, std::string>>;
  using HttpDone = std::function<void(Result<transport::HttpResponse>)>;

  // ---- identity and registration (fcm_link.cpp) ----
  void on_checkin(Result<transport::HttpResponse> response);
  void finish_device_waiters(const Result<void>& result);
  void register_gcm(std::uint64_t id);
  void on_gcm_registered(std::uint64_t id, Result<transport::HttpResponse> response);
  void retry_gcm(std::uint64_t id);
  void install(std::uint64_t id);
  void on_installed(std::uint64_t id, Result<transport::HttpResponse> response);
  void on_fcm_registered(std::uint64_t id, Result<transport::HttpResponse> response);
  void store_subscription(std::uint64_t id);
  void fail_subscribe(std::uint64_t id, Error error);
  [[nodiscard]] PendingSubscribe* pending(std::uint64_t id);
  void unregister_fcm(std::uint64_t id);
  void on_reinstalled(std::uint64_t id, Result<transport::HttpResponse> response);
  void on_fcm_unregistered(std::uint64_t id, Result<transport::HttpResponse> response);
  void unregister_gcm(std::uint64_t id);
  void on_gcm_unregistered(std::uint64_t id, Result<transport::HttpResponse> response);
  void finish_unsubscribe(std::uint64_t id);
  void not_told(PendingUnsubscribe& p, std::string_view why);
  [[nodiscard]] PendingUnsubscribe* leaving(std::uint64_t id);
  void post_register3(std::string form, HttpDone done);         // needs device_
  void post_installation(std::string_view fid, HttpDone done);  // needs options_.firebase
  void post(std::string url, Headers headers, std::string body, HttpDone done);
  void send(std::string method, std::string url, Headers headers, std::string body, HttpDone done);

  // ---- the MCS stream ----
  void connect_session();
  [[nodiscard]] bool connection_needed();
  void disconnect_if_unneeded();
  void apply(fcm::McsActions actions);
  bool apply_one(fcm::McsAction& a);
  bool on_connect();
  void on_deliver(fcm::action::Deliver& deliver);
  void on_state_changed(const fcm::action::StateChanged& changed);
  void on_acks_confirmed(const fcm::action::AcksConfirmed& confirmed);
  void flush_batch();
  void settle(const std::vector<protocol::Received>& results, std::vector<std::string>& versions);
  void deliver(const std::vector<protocol::Received>& results);
  void retire_connection(Duration linger);
  void rearm();

  store::Store* store_;
  transport::HttpClient* http_;
  transport::StreamConnectionFactory* streams_;
  event::Scheduler* scheduler_;
  Dispatcher* dispatcher_;
  FcmOptions options_;
  const Clock* clock_;
  std::unique_ptr<StoreInbox> inbox_;
  protocol::Receiver receiver_;
  fcm::McsSession session_;
  std::optional<fcm::DeviceIdentity> device_;
  bool checkin_in_flight_ = false;
  std::vector<DoneCallback> device_waiters_;
  std::uint64_t next_subscribe_ = 1;
  std::map<std::uint64_t, std::unique_ptr<PendingSubscribe>> subscribes_;
  std::uint64_t next_unsubscribe_ = 1;
  std::map<std::uint64_t, std::unique_ptr<PendingUnsubscribe>> unsubscribes_;

  std::unique_ptr<transport::StreamConnection> conn_;
  // Retired connections, some closed inside their own callbacks.
  std::unique_ptr<Graveyard<transport::StreamConnection>> graveyard_;
  std::unique_ptr<WakeupTimer> wakeup_;  // the McsSession's next_wakeup
  std::vector<protocol::Notification> batch_;
  std::vector<bool> batch_persistent_;  // per batch_ entry: its version is a server persistent id
  bool flush_pending_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // callbacks outliving the link check it

  bool started_ = false;
  bool running_ = false;  // the McsSession was started
  bool stopped_ = false;
  protocol::SessionState state_ = protocol::SessionState::idle;
  std::string state_detail_;
  std::string transport_detail_;
  std::optional<std::int64_t> connected_since_ms_;
  std::optional<std::int64_t> last_heartbeat_ms_;
  FcmCounters counters_;
  std::optional<std::string> store_error_;
};

}  // namespace webpush::daemon
