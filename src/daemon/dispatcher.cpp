#include "webpush/daemon/dispatcher.h"

#include <algorithm>
#include <limits>

#include <spdlog/spdlog.h>

#include "internal.h"

namespace webpush::daemon {

namespace {

using detail::log;

std::string_view name_of(const Message& m) { return m.subscription.empty() ? m.channel_id : m.subscription; }

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
  lanes_ = std::move(fresh);
}

void Dispatcher::deliver(const std::vector<const Message*>& messages) {
  std::vector<std::int64_t> delivered;
  for (const Message* m : messages) {
    if (offer_new(*m)) delivered.push_back(m->id);
    if (observer_) observer_(sinks::event_of(*m));
  }
  mark_delivered(delivered);
}

Result<void> Dispatcher::redispatch_undelivered() {
  // What was stored but not marked delivered before a stop is handed over now,
  // with its channel ID and version as the idempotency key; in arrival order,
  // which is also the order a sink that falls behind catches up in.
  auto undelivered = store_->list_undelivered();
  if (!undelivered) return tl::unexpected(undelivered.error());
  if (undelivered->empty()) return {};
  log().info("re-dispatching {} undelivered message(s)", undelivered->size());
  std::sort(undelivered->begin(), undelivered->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  std::vector<const Message*> pending;
  pending.reserve(undelivered->size());
  for (auto& m : *undelivered) {
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
    if (auto ok = lane.sink->deliver(event); !ok) log().error("{} sink: {}", lane.sink->name(), ok.error().message());
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

bool Dispatcher::offer_new(const Message& m) {
  const auto event = sinks::event_of(m);
  for (auto& lane : lanes_) {
    if (lane.owed_from) continue;  // it gets this one from the inbox, after the ones before
    if (auto ok = lane.sink->deliver(event); !ok) {
      if (m.error) {
        log().error("{} sink: {}", lane.sink->name(), ok.error().message());  // nothing to catch up on
      } else {
        fall_behind(lane, m, ok.error());
      }
    }
  }
  if (m.error) return false;  // stays `failed` in the inbox, never marked delivered
  return !any_behind();
}

bool Dispatcher::offer_owed(const Message& m, bool& took) {
  const auto event = sinks::event_of(m);
  bool complete = true;
  for (auto& lane : lanes_) {
    if (!lane.owed_from || *lane.owed_from > m.id) continue;  // it has this one
    if (lane.refused_this_pass) {
      complete = false;
      continue;
    }
    if (auto ok = lane.sink->deliver(event); !ok) {
      lane.refused_this_pass = true;
      lane.owed_from = m.id;
      lane.error = ok.error().message();
      log().debug("{} sink still refuses message {} on {}: {}", lane.sink->name(), m.version, name_of(m), lane.error);
      complete = false;
      continue;
    }
    lane.owed_from = m.id + 1;
    took = true;
  }
  return complete;
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
  if (!any_behind()) return;
  std::int64_t from = std::numeric_limits<std::int64_t>::max();
  for (auto& lane : lanes_) {
    lane.refused_this_pass = false;
    if (lane.owed_from) from = std::min(from, *lane.owed_from);
  }
  auto rows = store_->list_undelivered_from(from, options_.batch);
  if (!rows) {
    log().error("cannot read the messages a sink is owed: {}", rows.error().message());
    schedule_catch_up(false);
    return;
  }
  names_.clear();
  std::vector<std::int64_t> delivered;
  bool progress = false;
  for (auto& m : *rows) {
    if (m.subscription_id) m.subscription = subscription_name(*m.subscription_id);
    if (offer_owed(m, progress)) delivered.push_back(m.id);
  }
  mark_delivered(delivered);
  finish_pass(*rows, progress);
}

void Dispatcher::finish_pass(const std::vector<store::InboxEntry>& rows, bool progress) {
  const bool more = !rows.empty() && rows.size() == static_cast<std::size_t>(options_.batch);
  for (auto& lane : lanes_) {
    if (!lane.owed_from || lane.refused_this_pass) continue;
    if (more) {
      lane.owed_from = std::max(*lane.owed_from, rows.back().id + 1);
      continue;
    }
    // Nothing stored is left from where it stood: it has caught up.
    log().info("{} sink has caught up with the inbox", lane.sink->name());
    lane.owed_from.reset();
    lane.error.clear();
  }
  if (any_behind()) schedule_catch_up(progress);
}

void Dispatcher::schedule_catch_up(bool progress) {
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
