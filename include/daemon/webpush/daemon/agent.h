// daemon::Agent — one user agent: the connection to a push service and the
// receive path, wired on one event loop.
//
//   frame → Session → Receiver (find channel, dedup, decrypt, inbox commit)
//         → ack → sinks → mark delivered
//
// It also carries subscription management: subscribe (keys generated and
// stored before the subscription is reported), unsubscribe, and re-registration
// of every subscription when the service hands out a new uaid (each keeps its
// name and id; a subscription_changed event carries the new PushSubscription).
//
// Its I/O goes through seams, so every rule here is unit-tested with fakes: the
// link to the push service through transport::ConnectionFactory, time through
// event::Scheduler and Clock, randomness of backoff through Jitter.
//
// Thread: the loop thread only. The store, factory, scheduler, clock and jitter
// are borrowed and must outlive the Agent.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/daemon/dispatcher.h"
#include "webpush/event/scheduler.h"
#include "webpush/protocol/receiver.h"
#include "webpush/protocol/session.h"
#include "webpush/sinks/sink.h"
#include "webpush/store/store.h"
#include "webpush/transport/connection.h"

namespace webpush::daemon {

class StoreInbox;  // the receive path's inbox over the store (internal)
template <class Conn>
class Graveyard;    // retired connections, destroyed once they had time to close (internal)
class WakeupTimer;  // the session's next wakeup, on the boot clock (internal)

enum class Errc {
  bad_request,   ///< a subscribe/unsubscribe request that cannot be served (name taken, unknown id, …)
  registration,  ///< the push service did not register the subscription
  store,         ///< the store failed
  stopped,       ///< the agent is shutting down
  timeout,       ///< the push service did not answer in time
};

std::string_view to_string(Errc e) noexcept;

struct AgentOptions {
  std::string server = "wss://push.services.mozilla.com/";
  bool insecure = false;
  protocol::SessionConfig session;
  std::size_t max_frame = 64 * 1024;
  /// false for a short-lived CLI connection: messages that arrive are stored and
  /// acked but left undelivered, for the daemon to dispatch when it starts.
  bool deliver = true;
};

struct AgentCounters {
  std::int64_t received = 0;        ///< notifications processed
  std::int64_t duplicates = 0;      ///< acked 102 as already seen / unknown channel
  std::int64_t decrypt_errors = 0;  ///< acked 101
  std::int64_t reconnects = 0;
  std::int64_t ignored_frames = 0;  ///< frames from the service that could not be used
};

struct AgentStatus {
  protocol::SessionState state = protocol::SessionState::idle;
  std::string detail;
  std::optional<std::string> uaid;
  std::string server;
  std::optional<std::int64_t> connected_since_ms;
  std::optional<std::int64_t> last_message_ms;
  AgentCounters counters;
  /// Why the last batch of messages could not be stored (e.g. the disk is full);
  /// cleared by the next batch that is stored.
  std::optional<std::string> store_error;
  /// Sinks that refused a message and get it, and the later ones, from the inbox.
  std::vector<SinkBacklog> sinks_behind;
};

/// The PushSubscription JSON web apps send to their servers.
std::string subscription_json(const store::Subscription& sub);

class Agent final : public transport::ConnectionListener {
 public:
  using SubscribeCallback = std::function<void(Result<store::Subscription>)>;
  using UnsubscribeCallback = std::function<void(Result<void>)>;
  using EventObserver = std::function<void(const sinks::Event&)>;
  using StateObserver = std::function<void(const AgentStatus&)>;

  Agent(store::Store& store, transport::ConnectionFactory& connections, event::Scheduler& scheduler,
        AgentOptions options, const Clock& clock, Jitter& jitter);
  ~Agent() override;

  /// Sinks every event goes to (borrowed; replaced on reload).
  void set_sinks(const std::vector<sinks::Sink*>& sinks) { dispatcher_.set_sinks(sinks); }
  /// Also told every event once (control-socket watchers).
  void set_event_observer(EventObserver observer) { dispatcher_.set_observer(std::move(observer)); }
  void set_state_observer(StateObserver observer) { state_observer_ = std::move(observer); }
  /// A UnifiedPush app's new messages go here instead of to the sinks.
  void set_forwarder(std::function<void(const Message&)> forward) { dispatcher_.set_forwarder(std::move(forward)); }
  /// Told when a UnifiedPush app's subscription got a new endpoint (after a
  /// uaid change); a plain subscription's change goes to the sinks instead.
  void set_endpoint_observer(std::function<void(const store::Subscription&)> observer) {
    endpoint_observer_ = std::move(observer);
  }
  /// The Dispatcher that hands this Agent's messages to the sinks, for another
  /// receive path of the same daemon (the FCM link) to share.
  [[nodiscard]] Dispatcher& dispatcher() noexcept { return dispatcher_; }

  /// Re-dispatches undelivered inbox rows, then starts connecting. Errors: store,
  /// event::Errc::setup (no timer).
  Result<void> start();
  /// Stops: pending inbox work committed, a close frame sent. Safe to call twice.
  void shutdown();

  /// Registers a new subscription; `app` makes it a UnifiedPush app's (stored
  /// with it, in the same transaction).
  void subscribe(std::string name, std::optional<Bytes> app_server_key, SubscribeCallback done,
                 std::optional<store::AppRegistration> app = std::nullopt);
  void unsubscribe(std::int64_t subscription_id, UnsubscribeCallback done);
  void on_network_change();

  [[nodiscard]] AgentStatus status() const;

  // transport::ConnectionListener
  void on_open() override;
  void on_text(std::string_view frame) override;
  void on_oversized_frame(std::size_t bytes) override;
  void on_closed(protocol::DisconnectReason reason, int close_code, std::string detail) override;

 private:
  struct PendingSubscribe {
    std::string name;
    std::optional<Bytes> app_server_key;
    std::optional<store::AppRegistration> app;
    crypto::KeyPair key;
    SecretBytes auth_secret;
    std::optional<std::int64_t> reregister_id;  // set when replacing a lost registration
    std::string old_endpoint;
    SubscribeCallback done;
  };
  struct PendingUnsubscribe {
    UnsubscribeCallback done;
  };

  void apply(protocol::Actions actions);
  /// Carries out one action; false when the rest of the batch is to be dropped.
  bool apply_one(protocol::Action& a);
  /// Opens a new connection; false if that failed (the session was told).
  bool on_connect();
  void on_close(const protocol::action::Close& close);
  void on_notify(protocol::action::Notify& notify);
  void on_uaid_assigned(const protocol::action::UaidAssigned& assigned);
  void on_unregister_done(const protocol::action::UnregisterDone& done);
  void on_state_changed(const protocol::action::StateChanged& changed);
  void on_disconnected(const std::string& detail);
  void trace_reconnect(const protocol::action::StateChanged& changed) const;
  void trace_pong(std::string_view frame);
  void retire_connection(Duration linger);
  void rearm();
  void flush_batch();
  void on_store_failure(const std::vector<protocol::Received>& results);
  void deliver(const std::vector<protocol::Received>& results);
  void reregister_all();
  /// Re-registers the subscriptions still marked needs_resubscribe whose
  /// re-registration is not under way: one a stop or a timeout cut short.
  void resume_reregistrations();
  void reregister(const store::Subscription& sub);
  [[nodiscard]] bool reregistration_pending(std::int64_t subscription_id) const;
  void on_register_ok(const protocol::action::RegisterOk& ok);
  void on_register_failed(const protocol::action::RegisterFailed& failed);
  void notify_state();
  Result<void> refresh_identity();
  Result<std::string> new_channel_id();
  void mark_needs_resubscribe(std::int64_t id, const std::string& name);

  store::Store* store_;
  transport::ConnectionFactory* connections_;
  event::Scheduler* scheduler_;
  AgentOptions options_;
  const Clock* clock_;
  std::unique_ptr<StoreInbox> inbox_;
  protocol::Receiver receiver_;
  protocol::Session session_;
  std::unique_ptr<transport::Connection> conn_;
  // Retired connections, some closed inside their own callbacks.
  std::unique_ptr<Graveyard<transport::Connection>> graveyard_;
  std::unique_ptr<WakeupTimer> wakeup_;                         // the Session's next_wakeup
  bool flush_pending_ = false;                                  // a deferred flush_batch() is scheduled
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // deferred work outliving the Agent checks it
  std::vector<protocol::Notification> batch_;
  Dispatcher dispatcher_;
  StateObserver state_observer_;
  std::function<void(const store::Subscription&)> endpoint_observer_;
  protocol::RequestId next_request_ = 1;
  std::map<protocol::RequestId, PendingSubscribe> subscribes_;
  std::map<protocol::RequestId, PendingUnsubscribe> unsubscribes_;
  protocol::SessionState state_ = protocol::SessionState::idle;
  std::string state_detail_;
  std::string transport_detail_;  // what the transport said about the last disconnect
  std::optional<std::int64_t> connected_since_ms_;
  std::optional<std::int64_t> last_message_ms_;
  AgentCounters counters_;
  std::optional<std::string> store_error_;
  bool started_ = false;
  bool stopped_ = false;
  // While tracing: when the keepalive ping now unanswered was queued (trace timing only).
  std::optional<std::chrono::steady_clock::time_point> trace_ping_sent_;
};

}  // namespace webpush::daemon

WEBPUSH_ERROR_DOMAIN(webpush::daemon::Errc, webpush::Domain::daemon, webpush::daemon::to_string);
