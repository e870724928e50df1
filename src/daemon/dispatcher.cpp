#include "webpush/daemon/dispatcher.h"

#include <algorithm>
#include <limits>
#include <variant>

#include <spdlog/spdlog.h>

#include "internal.h"
#include "webpush/event/trace.h"

namespace webpush::daemon {

namespace {

using detail::log;

std::string_view name_of(const Message& m) { return m.subscription.empty() ? m.channel_id : m.subscription; }

// A sink's answer to one message (`--trace`): sink.delivered, or sink.failed with why.
void trace_sink(const Message& m, std::string_view sink, const Result<void>& outcome, bool catching_up) {
  event::trace(outcome ? "sink.delivered" : "sink.failed", [&](event::TraceFields& f) {
    f.add("id", m.version).add("sink", sink);
    if (catching_up) f.add("from", "inbox");
    if (!outcome) f.add("error", outcome.error().message());
  });
}

// The event's "type" as the JSON-lines sink writes it.
std::string_view event_type(const sinks::Event& event) {
  if (std::holds_alternative<sinks::MessageEvent>(event)) return "message";
  if (std::holds_alternative<sinks::DecryptErrorEvent>(event)) return "decrypt_error";
  return "subscription_changed";
}

}  // namespace

Dispatcher::Dispatcher(store::Store& store, event::Scheduler& scheduler, const Clock& clock, DispatcherOptions options)
    : store_(&store), scheduler_(&scheduler), clock_(&clock), options_(options), retry_delay_(options.first_retry) {}

Dispatcher::~Dispatcher() = default;

void Dispatcher::set_sinks(const std::vector<sinks::Sink*>& sinks) {
  std::vector<Lane> fresh;
  fresh.reserve(sinks.size());
  for (auto* sink : sinks) {
    Lane lane{.sink = sink};
    const auto old = std::find_if(lanes_.begin(), lanes_.end(),
                                  [&](const Lane& l) { return l.owed_from && l.sink->name() == sink->name(); });
    if (old != lanes_.end()) {
      lane.owed_from = old->owed_from;
      lane.error = old->error;
    }
    fresh.push_back(std::move(lane));
  }
  // What only a sink that is gone was owed is owed to no one now: a pass marks it.
  for (const auto& old : lanes_) {
    const bool kept =
        std::any_of(fresh.begin(), fresh.end(), [&](const Lane& l) { return l.sink->name() == old.sink->name(); });
    if (!old.owed_from || kept) continue;
    orphans_from_ = std::min(orphans_from_.value_or(*old.owed_from), *old.owed_from);
  }
  lanes_ = std::move(fresh);
  if (orphans_from_) schedule_catch_up(false);
}

void Dispatcher::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (retry_) retry_->cancel();
  retry_armed_ = false;
  // Where each sink that is behind stands, for the next start.
  std::map<std::string, std::int64_t> owed;
  for (const auto& lane : lanes_) {
    if (lane.owed_from) owed[std::string(lane.sink->name())] = *lane.owed_from;
  }
  if (auto ok = store_->save_sink_backlog(owed); !ok) {
    log().error("cannot record where the sinks stand: {}; the next start hands every sink every undelivered message",
                ok.error().message());
  }
}

void Dispatcher::deliver(const std::vector<const Message*>& messages) {
  std::vector<std::int64_t> handed;  // taken by every sink that is not behind
  for (const Message* m : messages) {
    if (m->app) {
      if (forward_) forward_(*m);  // a UnifiedPush app's: encrypted, never for the sinks
      continue;
    }
    const auto event = sinks::event_of(*m);  // one copy of the payload for every sink and the observer
    if (offer_new(*m, event)) handed.push_back(m->id);
    if (observer_) observer_(event);
  }
  mark_if_complete(handed);
}

Result<void> Dispatcher::redispatch_undelivered() {
  // What was stored but not marked delivered before a stop is handed over now,
  // with its channel ID and version as the idempotency key, in arrival order
  // (the order a sink that falls behind catches up in).
  auto saved = store_->take_sink_backlog();
  if (!saved) log().error("cannot read where the sinks stood at the last stop: {}", saved.error().message());
  if (!saved || saved->empty()) return redispatch_all();
  // A stop while sinks were behind: each of them is owed what it was; the others
  // had everything from the first row any of them is owed.
  std::int64_t floor = std::numeric_limits<std::int64_t>::max();
  for (auto& lane : lanes_) {
    const auto it = saved->find(std::string(lane.sink->name()));
    if (it == saved->end()) continue;
    lane.owed_from = it->second;
    lane.error = "behind at the last stop";
    floor = std::min(floor, it->second);
  }
  log().info("{} sink(s) were behind at the last stop: each gets what it was owed", saved->size());
  if (auto ok = redispatch_before(floor); !ok) return ok;
  schedule_catch_up(true);
  return {};
}

Result<void> Dispatcher::redispatch_all() {
  auto undelivered = store_->list_undelivered();
  if (!undelivered) return tl::unexpected(undelivered.error());
  std::sort(undelivered->begin(), undelivered->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return redispatch(*undelivered);
}

Result<void> Dispatcher::redispatch_before(std::int64_t floor) {
  std::vector<store::InboxEntry> rows;
  for (std::int64_t from = 0;;) {
    auto batch = store_->list_undelivered_from(from, options_.batch);
    if (!batch) return tl::unexpected(batch.error());
    for (auto& m : *batch) {
      if (m.id < floor) rows.push_back(std::move(m));
    }
    if (batch->size() < static_cast<std::size_t>(options_.batch) || batch->back().id >= floor) break;
    from = batch->back().id + 1;
  }
  return redispatch(rows);
}

Result<void> Dispatcher::redispatch(std::vector<store::InboxEntry>& rows) {
  std::erase_if(rows, [](const store::InboxEntry& m) { return m.app.has_value(); });  // the apps' own queues
  if (rows.empty()) return {};
  log().info("re-dispatching {} undelivered message(s)", rows.size());
  std::vector<const Message*> pending;
  pending.reserve(rows.size());
  for (auto& m : rows) {
    if (m.subscription_id) m.subscription = subscription_name(*m.subscription_id);
    pending.push_back(&m);
  }
  // A crash between a sink's write and the delivered mark: sinks that can tell
  // which of these they hold already will not take them twice.
  for (auto& lane : lanes_) lane.sink->recover(pending);
  deliver(pending);
  return {};
}

void Dispatcher::broadcast(const sinks::Event& event) {
  for (auto& lane : lanes_) {
    auto ok = lane.sink->deliver(event);
    if (event::Trace::enabled()) {
      event::trace(ok ? "sink.delivered" : "sink.failed", [&](event::TraceFields& f) {
        f.add("event", event_type(event)).add("sink", lane.sink->name());
        if (!ok) f.add("error", ok.error().message());
      });
    }
    if (!ok) log().error("{} sink: {}", lane.sink->name(), ok.error().message());
  }
  if (observer_) observer_(event);
}

std::vector<SinkBacklog> Dispatcher::behind() const {
  std::vector<SinkBacklog> out;
  for (const auto& lane : lanes_) {
    if (lane.owed_from) out.push_back({std::string(lane.sink->name()), *lane.owed_from, lane.error});
  }
  return out;
}

bool Dispatcher::offer_new(const Message& m, const sinks::Event& event) {
  for (auto& lane : lanes_) {
    if (lane.owed_from) continue;  // it gets this one from the inbox, after the ones before
    auto ok = lane.sink->deliver(event);
    if (event::Trace::enabled()) trace_sink(m, lane.sink->name(), ok, false);
    if (!ok) {
      if (m.error) {
        log().error("{} sink: {}", lane.sink->name(), ok.error().message());  // nothing to catch up on
      } else {
        fall_behind(lane, m, ok.error());
      }
    }
  }
  return !m.error;  // one that failed stays `failed` in the inbox, never marked delivered
}

void Dispatcher::fall_behind(Lane& lane, const Message& m, const Error& why) {
  lane.owed_from = m.id;
  lane.error = why.message();
  log().warn(
      "{} sink cannot take message {} on {}: {}; it gets that one and the later ones from the inbox once it "
      "takes messages again",
      lane.sink->name(), m.version, name_of(m), lane.error);
  schedule_catch_up(false);
}

void Dispatcher::catch_up() {
  if (stopped_) return;
  names_.clear();
  bool progress = false;
  std::vector<std::int64_t> read;  // rows read in this pass: marked if no sink owes them any more
  for (auto& lane : lanes_) {
    // Each sink reads from where it stands, so one that refuses does not hold up another.
    if (lane.owed_from && !catch_up_lane(lane, read, progress)) break;
  }
  if (orphans_from_) read_orphans(read);
  mark_if_complete(read);
  if (any_behind() || orphans_from_) {
    schedule_catch_up(progress);
  } else {
    retry_delay_ = options_.first_retry;
  }
}

bool Dispatcher::catch_up_lane(Lane& lane, std::vector<std::int64_t>& read, bool& progress) {
  auto rows = store_->list_undelivered_from(*lane.owed_from, options_.batch);
  if (!rows) {
    log().error("cannot read the messages the {} sink is owed: {}", lane.sink->name(), rows.error().message());
    return false;
  }
  for (auto& m : *rows) {
    if (m.app) {  // a UnifiedPush app's row: its own queue, not this sink's
      lane.owed_from = m.id + 1;
      continue;
    }
    read.push_back(m.id);
    if (m.subscription_id) m.subscription = subscription_name(*m.subscription_id);
    auto ok = lane.sink->deliver(sinks::event_of(m));
    if (event::Trace::enabled()) trace_sink(m, lane.sink->name(), ok, true);
    if (!ok) {
      lane.owed_from = m.id;
      lane.error = ok.error().message();
      log().debug("{} sink still refuses message {} on {}: {}", lane.sink->name(), m.version, name_of(m), lane.error);
      return true;
    }
    lane.owed_from = m.id + 1;
    progress = true;
  }
  if (rows->size() < static_cast<std::size_t>(options_.batch)) {
    // Nothing stored is left from where it stood: it has caught up.
    log().info("{} sink has caught up with the inbox", lane.sink->name());
    lane.owed_from.reset();
    lane.error.clear();
  }
  return true;
}

void Dispatcher::read_orphans(std::vector<std::int64_t>& read) {
  auto rows = store_->list_undelivered_from(*orphans_from_, options_.batch);
  if (!rows) return;  // the next pass tries again
  for (const auto& m : *rows) {
    if (!m.app) read.push_back(m.id);
  }
  if (rows->size() < static_cast<std::size_t>(options_.batch)) {
    orphans_from_.reset();
  } else {
    orphans_from_ = rows->back().id + 1;
  }
}

void Dispatcher::mark_if_complete(std::vector<std::int64_t>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::erase_if(ids, [&](std::int64_t id) {
    return std::any_of(lanes_.begin(), lanes_.end(), [&](const Lane& l) { return l.owed_from && *l.owed_from <= id; });
  });
  mark_delivered(ids);
}

void Dispatcher::schedule_catch_up(bool progress) {
  if (stopped_) return;
  if (!retry_) {
    auto timer = scheduler_->make_timer(event::TimerClock::monotonic, [this] {
      retry_armed_ = false;
      catch_up();
    });
    if (!timer) {
      log().error("cannot arm the timer that hands a sink what it is owed: {}; it gets them at the next start",
                  timer.error().message());
      return;
    }
    retry_ = std::move(*timer);
  }
  if (progress) {
    retry_delay_ = options_.first_retry;
    retry_->arm(options_.retry_after_progress);
    retry_armed_ = true;
    return;
  }
  if (retry_armed_) return;  // a refusal of a new message does not postpone a pass already due
  retry_->arm(retry_delay_);
  retry_armed_ = true;
  retry_delay_ = std::min(retry_delay_ * 2, options_.max_retry);
}

void Dispatcher::mark_delivered(const std::vector<std::int64_t>& ids) {
  if (ids.empty()) return;
  if (auto ok = store_->mark_delivered_batch(ids, clock_->now().wall_ms); !ok) {
    // They are dispatched again at the next start: at-least-once, never lost.
    log().error("cannot mark {} message(s) delivered: {}", ids.size(), ok.error().message());
  }
}

bool Dispatcher::any_behind() const {
  return std::any_of(lanes_.begin(), lanes_.end(), [](const Lane& l) { return l.owed_from.has_value(); });
}

std::string Dispatcher::subscription_name(std::int64_t id) {
  auto [it, fresh] = names_.try_emplace(id);
  if (!fresh) return it->second;
  auto sub = store_->find_subscription_by_id(id);
  if (!sub) log().warn("cannot look up subscription {}: {}", id, sub.error().message());
  if (sub && *sub) it->second = (*sub)->name;
  return it->second;
}

}  // namespace webpush::daemon
