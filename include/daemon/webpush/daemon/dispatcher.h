// daemon::Dispatcher — hands stored messages to the sinks, and keeps what a
// sink cannot take yet in the inbox rather than in memory.
//
// A sink that refuses a message (the exec sink's queue is full, the JSON-lines
// file cannot be written because the disk is full) falls *behind*: it is owed
// that message and every later one, which stay `stored` in the inbox. It is not
// offered new messages while it is behind. A retry timer hands it what it is
// owed from the inbox, oldest first, a batch at a time — soon after a batch it
// took, backing off while it keeps refusing — until it has caught up. A message
// is marked delivered once no sink is owed it.
//
// A UnifiedPush app's messages (Message::app) are not the sinks': they go to
// the forwarder, which marks them itself, and are skipped when reading back.
//
// So a flood costs memory for one batch and each sink's own queue, however long
// it lasts; a sink that fell behind gets every message once and in order; and
// the other sinks are not held up by it.
//
// Thread: the loop thread only. The store and scheduler are borrowed and must
// outlive the Dispatcher.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/core/message.h"
#include "webpush/event/scheduler.h"
#include "webpush/sinks/sink.h"
#include "webpush/store/store.h"

namespace webpush::daemon {

/// A sink that is behind: what it is owed and why.
struct SinkBacklog {
  std::string sink;          ///< Sink::name()
  std::int64_t from_id = 0;  ///< the first inbox row it is owed
  std::string error;         ///< why it refused the last time
};

struct DispatcherOptions {
  std::int64_t batch = 256;           ///< inbox rows read per catch-up pass
  Duration retry_after_progress{20};  ///< next pass after one that handed something over
  Duration first_retry{100};          ///< after a refusal; doubles while nothing is taken
  Duration max_retry{5'000};
};

class Dispatcher {
 public:
  using EventObserver = std::function<void(const sinks::Event&)>;

  Dispatcher(store::Store& store, event::Scheduler& scheduler, const Clock& clock, DispatcherOptions options = {});
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// The sinks (borrowed). On a reload, a sink with the name of one that was
  /// behind is owed what that one was; a new sink is owed nothing.
  void set_sinks(const std::vector<sinks::Sink*>& sinks);
  /// Also told every message and event once, as it is first handed over
  /// (control-socket watchers); not told again when a sink catches up.
  void set_observer(EventObserver observer) { observer_ = std::move(observer); }
  /// Where a UnifiedPush app's new messages go (Message::app set): they are
  /// never offered to the sinks or the observer, nor marked here. Without a
  /// forwarder they wait in the inbox.
  void set_forwarder(std::function<void(const Message&)> forward) { forward_ = std::move(forward); }

  /// Messages just stored (ascending ids, subscription names filled in): each
  /// goes to every sink that is not behind, and is marked delivered when every
  /// sink has it. Messages that failed to decrypt are handed over and never
  /// marked (they stay `failed`).
  void deliver(const std::vector<const Message*>& messages);
  /// At start: the `stored` rows, after each sink's recover(), as deliver().
  /// After a stop while sinks were behind (stop() recorded where they stood),
  /// each of them is owed what it was and the others get nothing twice; after
  /// a crash every sink gets every row (at least once).
  Result<void> redispatch_undelivered();
  /// An event that is not an inbox row (a subscription change): every sink,
  /// once; a refusal is logged, not retried.
  void broadcast(const sinks::Event& event);

  /// No more catch-up passes (the daemon is stopping); where each sink that
  /// is behind stands is recorded in the store, and what it is owed is handed
  /// to it alone at the next start.
  void stop();

  [[nodiscard]] std::vector<SinkBacklog> behind() const;

 private:
  struct Lane {
    sinks::Sink* sink = nullptr;
    std::optional<std::int64_t> owed_from;  // set while behind
    std::string error;
  };
  /// Offers `m` to each lane that is not behind; true unless it failed to
  /// decrypt (such a row is never marked).
  bool offer_new(const Message& m, const sinks::Event& event);
  Result<void> redispatch_all();
  /// The stored rows below `floor`, a batch at a time.
  Result<void> redispatch_before(std::int64_t floor);
  Result<void> redispatch(std::vector<store::InboxEntry>& rows);
  void fall_behind(Lane& lane, const Message& m, const Error& why);
  /// One pass: each sink that is behind gets what it is owed, a batch at most,
  /// until it refuses; then rows no sink owes any more are marked delivered.
  void catch_up();
  /// False on a store error.
  bool catch_up_lane(Lane& lane, std::vector<std::int64_t>& read, bool& progress);
  /// Rows only a sink removed by a reload was owed.
  void read_orphans(std::vector<std::int64_t>& read);
  void mark_if_complete(std::vector<std::int64_t>& ids);
  void schedule_catch_up(bool progress);
  void mark_delivered(const std::vector<std::int64_t>& ids);
  [[nodiscard]] bool any_behind() const;
  std::string subscription_name(std::int64_t id);

  store::Store* store_;
  event::Scheduler* scheduler_;
  const Clock* clock_;
  DispatcherOptions options_;
  std::vector<Lane> lanes_;
  EventObserver observer_;
  std::function<void(const Message&)> forward_;
  std::unique_ptr<event::ScheduledTimer> retry_;  // made when first needed
  bool retry_armed_ = false;
  bool stopped_ = false;
  std::optional<std::int64_t> orphans_from_;  // set by a reload that removed a sink that was behind
  Duration retry_delay_;
  std::map<std::int64_t, std::string> names_;  // subscription id → name, for rows read back
};

}  // namespace webpush::daemon
