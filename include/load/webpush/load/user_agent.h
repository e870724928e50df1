// UserAgent: one simulated browser. A real autopush client — protocol::Session
// over a transport::Connection — that registers its subscriptions (fresh
// P-256 keys and auth secret each, bound to the sender's VAPID key when there
// is one), decrypts every notification for real (RFC 8291 or aesgcm), acks
// it, and reports what happened to the run. Reconnection with backoff is the
// Session's; when the service forgets the uaid, every subscription is
// registered again and the run hears the new endpoints.
//
// Thread: the loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "webpush/core/bytes.h"
#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/crypto/keys.h"
#include "webpush/event/scheduler.h"
#include "webpush/load/push_request.h"
#include "webpush/protocol/session.h"
#include "webpush/transport/connection.h"

namespace webpush::load {

class UserAgent;

/// What user agents report to the run.
class UserAgentEvents {
 public:
  virtual ~UserAgentEvents() = default;
  /// The hello was answered: the agent is connected. `connect_us`: since the attempt began.
  virtual void on_ready(UserAgent& agent, std::int64_t connect_us) = 0;
  /// A ready connection ended, or an attempt failed; the Session retries.
  virtual void on_down(UserAgent& agent, bool was_ready, protocol::DisconnectReason reason, int close_code) = 0;
  /// Subscription `slot` of this agent has (a new) endpoint.
  virtual void on_registered(UserAgent& agent, int slot, const PushTarget& target) = 0;
  virtual void on_register_failed(UserAgent& agent, int slot, const std::string& reason) = 0;
  /// A notification for `slot` was decrypted (or could not be: the error).
  virtual void on_message(UserAgent& agent, int slot, const Result<Bytes>& plaintext) = 0;
};

/// What every user agent of a run shares (all borrowed; they outlive the agents).
struct UserAgentContext {
  protocol::SessionConfig session;
  transport::ConnectionFactory* connections = nullptr;
  event::Scheduler* scheduler = nullptr;
  const Clock* clock = nullptr;
  Jitter* jitter = nullptr;
  std::function<std::int64_t()> now_us;  ///< the run's µs clock
  UserAgentEvents* events = nullptr;
  /// The application server's VAPID public key (base64url), registered with
  /// each subscription; empty for none.
  std::string vapid_public_key;
};

class UserAgent final : public transport::ConnectionListener {
 public:
  /// Agent number `index`, with `subscriptions` subscriptions.
  UserAgent(int index, int subscriptions, const UserAgentContext& context);
  ~UserAgent() override;
  UserAgent(const UserAgent&) = delete;
  UserAgent& operator=(const UserAgent&) = delete;

  /// Generates the keys, connects, and registers every subscription.
  /// Errors: crypto (no randomness), event::Errc::setup (no timer).
  Result<void> start();
  /// Closes the connection; nothing more is reported.
  void stop();

  [[nodiscard]] int index() const noexcept { return index_; }
  [[nodiscard]] bool ready() const noexcept { return session_.state() == protocol::SessionState::ready; }
  [[nodiscard]] protocol::SessionState state() const noexcept { return session_.state(); }

  // transport::ConnectionListener
  void on_open() override;
  void on_text(std::string_view frame) override;
  void on_oversized_frame(std::size_t bytes) override;
  void on_closed(protocol::DisconnectReason reason, int close_code, std::string detail) override;

 private:
  struct Subscription {
    std::optional<crypto::KeyPair> key;
    SecretBytes auth;
    std::string channel_id;
    std::string endpoint;
  };
  void apply(protocol::Actions actions);
  void apply_one(protocol::Action& action);
  void connect();
  void drop_connection();
  void register_slot(int slot);
  void on_register_ok(const protocol::action::RegisterOk& ok);
  void on_register_failed(const protocol::action::RegisterFailed& failed);
  void on_notify(const protocol::Notification& n);
  void on_state(const protocol::action::StateChanged& changed);
  [[nodiscard]] int slot_of(std::string_view channel_id) const noexcept;

  int index_;
  const UserAgentContext* context_;
  protocol::Session session_;
  std::vector<Subscription> subscriptions_;
  std::unique_ptr<transport::Connection> conn_;
  std::unique_ptr<event::ScheduledTimer> wakeup_;
  std::int64_t attempt_started_us_ = 0;
  bool was_ready_ = false;
  bool stopped_ = false;
  std::vector<int> reregister_;   // slots to register again once the current batch is done
  std::vector<int> retry_slots_;  // slots whose registration failed, retried after a pause
  std::unique_ptr<event::ScheduledTimer> retry_timer_;
};

}  // namespace webpush::load
