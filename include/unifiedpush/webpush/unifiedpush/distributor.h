// unifiedpush::Distributor — webpushd as a UnifiedPush distributor
// (docs/unifiedpush.md): apps on the session bus register through the Bus,
// each registration becomes a subscription on the user agent's push service
// connection (through the Registrar), and each message for it is forwarded to
// the app's connector encrypted, as the application server sent it.
//
// Delivery, per app (one lane per registration):
//   - a message is in the inbox (acked to the push service) before it gets here;
//   - it is forwarded in arrival order, one call at a time; it is marked
//     delivered when the connector has answered (Connector2), or when the call
//     went out and no error came back (Connector1, whose methods are NoReply);
//   - an error or a timeout is retried with backoff, the same message again
//     with the same id (the push service's message id): at least once;
//   - while an app cannot be reached its messages wait in the inbox, read
//     back one at a time, so waiting costs no memory; one older than
//     `max_age` is dropped: marked failed, with a warning;
//   - lanes are independent: an app that is not running holds up no other.
// NewEndpoint goes the same way, before the messages: after a registration,
// on a Register of a known token, when the endpoint changed (uaid reset), and
// after a restart only if the app was not yet told the current endpoint.
//
// Thread: the loop thread only. The store, registrar, bus, scheduler and clock
// are borrowed and must outlive the Distributor.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/core/message.h"
#include "webpush/event/scheduler.h"
#include "webpush/store/store.h"
#include "webpush/unifiedpush/bus.h"
#include "webpush/unifiedpush/registration.h"

namespace webpush::unifiedpush {

/// What the distributor needs of the user agent: registrations on the push
/// service. The daemon implements it over its Agent.
class Registrar {
 public:
  using Subscribed = std::function<void(Result<store::Subscription>)>;
  using Unsubscribed = std::function<void(Result<void>)>;

  virtual ~Registrar() = default;
  /// Registers a subscription named `name` for `app`, restricted to `vapid`
  /// when given, and stores it (with its app) before `done`. Errors: timeout
  /// (the push service did not answer: NETWORK), anything else (INTERNAL_ERROR).
  virtual void subscribe(std::string name, std::optional<Bytes> vapid, store::AppRegistration app, Subscribed done) = 0;
  /// Deletes the subscription (at once) and unregisters it at the push service.
  virtual void unsubscribe(std::int64_t subscription_id, Unsubscribed done) = 0;
};

struct DistributorOptions {
  Duration first_retry{500};
  Duration max_retry{60'000};
  /// A message waiting longer than this is dropped (the inbox's retention age).
  std::chrono::milliseconds max_age = std::chrono::days(30);
};

/// One registration, for `webpushd status`.
struct AppStatus {
  std::string service;
  std::string token;
  std::string subscription;
  int api = 2;
  std::int64_t pending = 0;    ///< messages waiting in the inbox
  std::int64_t forwarded = 0;  ///< since the daemon started
  std::optional<std::string> last_error;
};

/// The subscription name of a registration: `up/SERVICE/TOKEN`, or
/// `up/SERVICE/HASH` (16 hex digits) for a token that is long, has a '/', or
/// is not printable ASCII.
[[nodiscard]] std::string subscription_name(const std::string& service, const std::string& token);

class Distributor final : public DistributorApi {
 public:
  Distributor(store::Store& store, Registrar& registrar, Bus& bus, event::Scheduler& scheduler, const Clock& clock,
              DistributorOptions options = {});
  ~Distributor() override;
  Distributor(const Distributor&) = delete;
  Distributor& operator=(const Distributor&) = delete;

  /// Loads the registrations, starts the bus, and starts forwarding what waits.
  /// Errors: store, unavailable (the bus).
  Result<void> start();
  /// No more calls to apps (the daemon is stopping); what waits stays in the inbox.
  void stop();

  /// A new message for an app (Message::app set), already in the inbox.
  void forward(const Message& m);
  /// The subscription has a new endpoint (after a uaid change): the app is told.
  void endpoint_changed(const store::Subscription& sub);

  [[nodiscard]] std::vector<AppStatus> apps();

  // DistributorApi
  void on_register(RegisterCall call, std::function<void(RegisterOutcome)> reply) override;
  void on_unregister(UnregisterCall call) override;

 private:
  struct Lane;

  void add_lane(const store::Subscription& sub);
  void on_subscribed(const Registration& reg, Result<store::Subscription> sub,
                     const std::function<void(RegisterOutcome)>& reply);
  void on_unsubscribed(std::int64_t id, const AppAddress& app, const Result<void>& outcome);
  /// The next thing the lane owes its app, unless a call or a retry is under way.
  void pump(Lane& lane);
  void send_endpoint(Lane& lane);
  /// The next waiting message, past the ones too old to keep; nullopt if none (or a store error).
  std::optional<store::InboxEntry> next_message(Lane& lane);
  void send_message(Lane& lane, const store::InboxEntry& m);
  void on_message_done(std::int64_t lane_id, std::int64_t message_id, const Result<void>& outcome);
  void on_endpoint_done(std::int64_t lane_id, const std::string& endpoint, const Result<void>& outcome);
  /// The lane a call to the app ended for, or null when there is nothing
  /// more to do now (the lane is gone, or the call failed: a retry is armed).
  Lane* settle(std::int64_t lane_id, const Result<void>& outcome);
  void retry_later(Lane& lane, const Error& why);
  Lane* find_lane(std::int64_t id);

  store::Store* store_;
  Registrar* registrar_;
  Bus* bus_;
  event::Scheduler* scheduler_;
  const Clock* clock_;
  DistributorOptions options_;
  std::map<std::int64_t, std::unique_ptr<Lane>> lanes_;  // by subscription id
  std::set<std::pair<std::string, std::string>> registering_;
  bool started_ = false;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // bus callbacks outliving the Distributor check it
};

}  // namespace webpush::unifiedpush
