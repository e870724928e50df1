#include "webpush/unifiedpush/distributor.h"

#include <algorithm>

#include <fmt/format.h>

#include "internal.h"
#include "webpush/core/utf8.h"

namespace webpush::unifiedpush {

namespace {

constexpr std::size_t kMaxPlainToken = 64;

AppAddress address_of(const store::Subscription& sub) {
  return {sub.app->service, sub.app->token, sub.app->api == 1 ? ApiVersion::v1 : ApiVersion::v2};
}

bool plain_token(const std::string& token) {
  if (token.size() > kMaxPlainToken) return false;
  return std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f && c != '/'; });
}

// FNV-1a, 64 bits: a stable short name for a token that cannot be shown as is.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

RegisterOutcome failed(FailReason reason, std::string detail) { return {false, reason, std::move(detail)}; }

}  // namespace

std::string subscription_name(const std::string& service, const std::string& token) {
  if (plain_token(token)) return fmt::format("up/{}/{}", service, token);
  return fmt::format("up/{}/{:016x}", service, fnv1a(token));
}

struct Distributor::Lane {
  store::Subscription sub;
  std::int64_t next_id = 0;  // the first inbox row not yet forwarded
  bool busy = false;         // a call to the app is under way
  bool waiting = false;      // a retry is armed
  bool endpoint_owed = false;
  Duration delay{0};
  std::int64_t forwarded = 0;
  std::optional<std::string> last_error;
  std::unique_ptr<event::ScheduledTimer> retry;
};

Distributor::Distributor(store::Store& store, Registrar& registrar, Bus& bus, event::Scheduler& scheduler,
                         const Clock& clock, DistributorOptions options)
    : store_(&store), registrar_(&registrar), bus_(&bus), scheduler_(&scheduler), clock_(&clock), options_(options) {}

Distributor::~Distributor() { *alive_ = false; }

Result<void> Distributor::start() {
  auto subs = store_->list_subscriptions();
  if (!subs) return tl::unexpected(subs.error());
  for (const auto& sub : *subs) {
    if (sub.app) add_lane(sub);
  }
  if (auto ok = bus_->start(*this); !ok) return ok;
  started_ = true;
  if (!lanes_.empty()) detail::log().info("{} app registration(s)", lanes_.size());
  for (auto& [id, lane] : lanes_) pump(*lane);
  return {};
}

void Distributor::stop() {
  stopped_ = true;
  for (auto& [id, lane] : lanes_) {
    if (lane->retry) lane->retry->cancel();
  }
}

void Distributor::add_lane(const store::Subscription& sub) {
  auto lane = std::make_unique<Lane>();
  lane->sub = sub;
  lane->delay = options_.first_retry;
  lane->endpoint_owed = sub.app->notified_endpoint != sub.endpoint;
  const std::int64_t id = sub.id;
  auto timer = scheduler_->make_timer(event::TimerClock::monotonic, [this, id] {
    if (Lane* l = find_lane(id)) {
      l->waiting = false;
      pump(*l);
    }
  });
  if (timer) {
    lane->retry = std::move(*timer);
  } else {
    detail::log().error("no retry timer for {}: {}", sub.name, timer.error().message());
  }
  lanes_[id] = std::move(lane);
}

Distributor::Lane* Distributor::find_lane(std::int64_t id) {
  const auto it = lanes_.find(id);
  return it == lanes_.end() ? nullptr : it->second.get();
}

void Distributor::forward(const Message& m) {
  if (!m.subscription_id) return;
  Lane* lane = find_lane(*m.subscription_id);
  if (lane == nullptr) {
    auto sub = store_->find_subscription_by_id(*m.subscription_id);
    if (!sub || !*sub || !(*sub)->app) return;  // gone meanwhile: the store failed its rows
    add_lane(**sub);
    lane = find_lane(*m.subscription_id);
  }
  pump(*lane);
}

void Distributor::endpoint_changed(const store::Subscription& sub) {
  Lane* lane = find_lane(sub.id);
  if (lane == nullptr) {
    if (sub.app) add_lane(sub);
    lane = find_lane(sub.id);
    if (lane == nullptr) return;
  }
  lane->sub = sub;
  lane->endpoint_owed = true;
  pump(*lane);
}

std::vector<AppStatus> Distributor::apps() {
  std::vector<AppStatus> out;
  for (const auto& [id, lane] : lanes_) {
    const auto& app = *lane->sub.app;
    auto pending = store_->count_undelivered_of(id);
    out.push_back(
        {app.service, app.token, lane->sub.name, app.api, pending.value_or(-1), lane->forwarded, lane->last_error});
  }
  return out;
}

// ---- registration --------------------------------------------------------------

void Distributor::on_register(RegisterCall call, std::function<void(RegisterOutcome)> reply) {
  auto reg = validate(call);
  if (!reg) {
    detail::log().warn("registration from {} refused: {}", printable_prefix(call.sender, 64), reg.error().message());
    reply(failed(FailReason::internal_error, reg.error().message()));
    return;
  }
  auto known = store_->find_subscription_by_app(reg->service, reg->token);
  if (!known) {
    reply(failed(FailReason::internal_error, known.error().message()));
    return;
  }
  if (*known) {
    // Registered before: the same endpoint, told again.
    detail::log().info("{} registered again ({})", reg->service, (*known)->name);
    if (find_lane((*known)->id) == nullptr) add_lane(**known);
    Lane& lane = *find_lane((*known)->id);
    lane.endpoint_owed = true;
    pump(lane);
    reply({true, FailReason::internal_error, ""});
    return;
  }
  const auto key = std::make_pair(reg->service, reg->token);
  if (!registering_.insert(key).second) {
    reply(failed(FailReason::internal_error, "a registration for this token is already under way"));
    return;
  }
  store::AppRegistration app{reg->service, reg->token, reg->description, static_cast<int>(reg->version), {}};
  const std::string name = subscription_name(reg->service, reg->token);
  registrar_->subscribe(name, reg->vapid, std::move(app),
                        [this, alive = alive_, reg = *reg, reply](Result<store::Subscription> sub) {
                          if (!*alive) return;
                          on_subscribed(reg, std::move(sub), reply);
                        });
}

void Distributor::on_subscribed(const Registration& reg, Result<store::Subscription> sub,
                                const std::function<void(RegisterOutcome)>& reply) {
  registering_.erase({reg.service, reg.token});
  if (!sub) {
    const bool network = sub.error().is(Errc::timeout);
    detail::log().warn("cannot register {}: {}", reg.service, sub.error().message());
    reply(failed(network ? FailReason::network : FailReason::internal_error, sub.error().message()));
    return;
  }
  detail::log().info("{} registered as {}", reg.service, sub->name);
  add_lane(*sub);
  reply({true, FailReason::internal_error, ""});
  pump(*find_lane(sub->id));
}

void Distributor::on_unregister(UnregisterCall call) {
  if (auto ok = validate_token(call.token); !ok) {
    detail::log().warn("unregistration refused: {}", ok.error().message());
    return;
  }
  std::vector<Lane*> matches;
  for (auto& [id, lane] : lanes_) {
    if (lane->sub.app->token == call.token) matches.push_back(lane.get());
  }
  if (matches.size() != 1) {
    detail::log().warn("unregistration from {}: {} registrations have that token; none removed",
                       printable_prefix(call.sender, 64), matches.size());
    return;
  }
  const std::int64_t id = matches.front()->sub.id;
  const AppAddress app = address_of(matches.front()->sub);
  registrar_->unsubscribe(id, [this, alive = alive_, id, app](Result<void> outcome) {
    if (*alive) on_unsubscribed(id, app, outcome);
  });
}

void Distributor::on_unsubscribed(std::int64_t id, const AppAddress& app, const Result<void>& outcome) {
  auto still = store_->find_subscription_by_id(id);
  if (still && *still) {
    detail::log().error("cannot unregister {}: {}", app.service,
                        outcome ? std::string("the subscription is still stored") : outcome.error().message());
    return;
  }
  if (!outcome)
    detail::log().warn("the push service did not confirm the unregistration: {}", outcome.error().message());
  lanes_.erase(id);
  detail::log().info("{} unregistered", app.service);
  if (stopped_) return;
  bus_->unregistered(app, [service = app.service](Result<void> told) {
    if (!told) detail::log().warn("cannot tell {} it is unregistered: {}", service, told.error().message());
  });
}

// ---- forwarding ------------------------------------------------------------------

void Distributor::pump(Lane& lane) {
  if (stopped_ || !started_ || lane.busy || lane.waiting) return;
  if (lane.endpoint_owed) {
    send_endpoint(lane);
    return;
  }
  if (auto m = next_message(lane)) send_message(lane, *m);
}

void Distributor::send_endpoint(Lane& lane) {
  lane.busy = true;
  const std::string endpoint = lane.sub.endpoint;
  bus_->new_endpoint(address_of(lane.sub), endpoint,
                     [this, alive = alive_, id = lane.sub.id, endpoint](Result<void> outcome) {
                       if (*alive) on_endpoint_done(id, endpoint, outcome);
                     });
}

Distributor::Lane* Distributor::settle(std::int64_t lane_id, const Result<void>& outcome) {
  Lane* lane = find_lane(lane_id);
  if (lane == nullptr) return nullptr;  // unregistered meanwhile
  lane->busy = false;
  // Connector1's methods are NoReply: no answer in time is no error.
  if (!outcome && !(outcome.error().is(Errc::timeout) && lane->sub.app->api == 1)) {
    retry_later(*lane, outcome.error());
    return nullptr;
  }
  return lane;
}

void Distributor::on_endpoint_done(std::int64_t lane_id, const std::string& endpoint, const Result<void>& outcome) {
  Lane* lane = settle(lane_id, outcome);
  if (lane == nullptr) return;
  if (auto ok = store_->set_app_notified_endpoint(lane_id, endpoint); !ok) {
    detail::log().warn("cannot record that {} has its endpoint: {}", lane->sub.name, ok.error().message());
  }
  lane->sub.app->notified_endpoint = endpoint;
  if (lane->sub.endpoint == endpoint) lane->endpoint_owed = false;
  lane->delay = options_.first_retry;
  lane->last_error.reset();
  detail::log().debug("{} has its endpoint", lane->sub.name);
  pump(*lane);
}

std::optional<store::InboxEntry> Distributor::next_message(Lane& lane) {
  for (;;) {
    auto rows = store_->list_undelivered_of(lane.sub.id, lane.next_id, 1);
    if (!rows) {
      detail::log().error("cannot read the messages for {}: {}", lane.sub.name, rows.error().message());
      return std::nullopt;
    }
    if (rows->empty()) return std::nullopt;
    store::InboxEntry& m = rows->front();
    const std::int64_t oldest = clock_->now().wall_ms - options_.max_age.count();
    if (m.received_at >= oldest) return std::move(m);
    detail::log().warn("dropping message {} for {}: not taken within {} days", m.version, lane.sub.app->service,
                       std::chrono::duration_cast<std::chrono::days>(options_.max_age).count());
    if (auto ok = store_->mark_failed(m.id, "dropped: the app did not take it within the retention age"); !ok) {
      detail::log().error("cannot mark message {} failed: {}", m.version, ok.error().message());
      return std::nullopt;
    }
    lane.next_id = m.id + 1;
  }
}

void Distributor::send_message(Lane& lane, const store::InboxEntry& m) {
  lane.busy = true;
  static const Bytes kEmpty;
  const Bytes& body = m.payload ? *m.payload : kEmpty;
  bus_->message(address_of(lane.sub), body, m.version,
                [this, alive = alive_, id = lane.sub.id, row = m.id](Result<void> outcome) {
                  if (*alive) on_message_done(id, row, outcome);
                });
}

void Distributor::on_message_done(std::int64_t lane_id, std::int64_t message_id, const Result<void>& outcome) {
  Lane* lane = settle(lane_id, outcome);
  if (lane == nullptr) return;
  if (auto ok = store_->mark_delivered(message_id, clock_->now().wall_ms); !ok) {
    // Forwarded again at the next start: at least once.
    detail::log().error("cannot mark message {} delivered: {}", message_id, ok.error().message());
  }
  lane->next_id = message_id + 1;
  ++lane->forwarded;
  lane->delay = options_.first_retry;
  lane->last_error.reset();
  pump(*lane);
}

void Distributor::retry_later(Lane& lane, const Error& why) {
  const bool news = lane.last_error != why.message();
  lane.last_error = why.message();
  if (news) {
    detail::log().warn("{} cannot be reached: {}; retrying", lane.sub.app->service, why.message());
  } else {
    detail::log().debug("{} still cannot be reached: {}", lane.sub.app->service, why.message());
  }
  if (stopped_ || !lane.retry) return;
  lane.waiting = true;
  lane.retry->arm(lane.delay);
  lane.delay = std::min(lane.delay * 2, options_.max_retry);
}

}  // namespace webpush::unifiedpush
