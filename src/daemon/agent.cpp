#include "webpush/daemon/agent.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "internal.h"
#include "link_keeper.h"
#include "store_inbox.h"
#include "webpush/core/base64url.h"
#include "webpush/core/log.h"
#include "webpush/core/utf8.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/webpush.h"
#include "webpush/event/trace.h"
#include "webpush/protocol/messages.h"

namespace webpush::daemon {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::bad_request: return "bad_request";
    case Errc::registration: return "registration";
    case Errc::store: return "store";
    case Errc::stopped: return "stopped";
    case Errc::timeout: return "timeout";
  }
  return "unknown";
}

namespace detail {

spdlog::logger& log() { return layer_logger("daemon"); }

}  // namespace detail

namespace {

using detail::log;

// At trace level (-vv) each frame is logged, up to this many bytes of it.
constexpr std::size_t kTracedFrameBytes = 1024;

}  // namespace

std::string subscription_json(const store::Subscription& sub) {
  nlohmann::ordered_json j;
  j["endpoint"] = sub.endpoint;
  j["expirationTime"] = nullptr;
  j["keys"] = {{"p256dh", base64url_encode(sub.public_key)}, {"auth", base64url_encode(sub.auth_secret)}};
  return j.dump();
}

// ---- Agent ---------------------------------------------------------------------------

Agent::Agent(store::Store& store, transport::ConnectionFactory& connections, event::Scheduler& scheduler,
             AgentOptions options, const Clock& clock, Jitter& jitter)
    : store_(&store),
      connections_(&connections),
      scheduler_(&scheduler),
      options_(std::move(options)),
      clock_(&clock),
      inbox_(std::make_unique<StoreInbox>(store)),
      receiver_(*inbox_),
      session_(options_.session, jitter, [this] { return new_channel_id(); }),
      graveyard_(std::make_unique<Graveyard<transport::Connection>>(clock)),
      wakeup_(std::make_unique<WakeupTimer>()),
      dispatcher_(store, scheduler, clock) {}

Agent::~Agent() {
  *alive_ = false;
  if (conn_) conn_->close();
}

void Agent::retire_connection(Duration linger) {
  // Closing may happen inside the connection's own callback: the object is
  // destroyed later, from a timer, after the close frame had time to go out.
  if (!conn_) return;
  conn_->close();
  graveyard_->bury(std::move(conn_), linger);
}

namespace {

// Firefox sends the applicationServerKey with '=' padding; every service accepts it.
std::optional<std::string> register_key(const std::optional<Bytes>& app_server_key) {
  if (!app_server_key) return std::nullopt;
  std::string text = base64url_encode(*app_server_key);
  while (text.size() % 4 != 0) text += '=';
  return text;
}

}  // namespace

Result<std::string> Agent::new_channel_id() {
  auto bytes = crypto::random_bytes(16);
  if (!bytes) return tl::unexpected(bytes.error().with_context("channel ID"));
  std::array<std::uint8_t, 16> random{};
  std::copy(bytes->begin(), bytes->end(), random.begin());
  return protocol::uuid_v4(random);
}

Result<void> Agent::refresh_identity() {
  auto uaid = store_->get_uaid(options_.server);
  if (!uaid) return tl::unexpected(uaid.error());
  auto subs = store_->list_subscriptions(options_.server);
  if (!subs) return tl::unexpected(subs.error());
  session_.set_identity(*uaid, !subs->empty());
  return {};
}

Result<void> Agent::start() {
  if (started_) return {};
  if (auto ok = wakeup_->start(*scheduler_, [this] { apply(session_.on_timer(clock_->now())); }); !ok) return ok;
  if (auto ok = graveyard_->start(*scheduler_); !ok) return ok;
  if (auto ok = refresh_identity(); !ok) return ok;

  started_ = true;
  if (!options_.deliver) {
    apply(session_.start(clock_->now()));
    return {};
  }
  if (auto ok = dispatcher_.redispatch_undelivered(); !ok) return ok;
  apply(session_.start(clock_->now()));
  return {};
}

void Agent::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  if (!batch_.empty()) flush_batch();  // commit (and ack) what already arrived
  dispatcher_.stop();
  for (auto& [id, p] : subscribes_) {
    if (p.done) p.done(fail(Errc::stopped, "webpushd is shutting down"));
  }
  subscribes_.clear();
  apply(session_.stop(clock_->now()));
  wakeup_->cancel();
}

void Agent::on_network_change() {
  if (stopped_) return;
  log().info("network changed");
  apply(session_.on_network_change(clock_->now()));
}

void Agent::on_open() { apply(session_.on_connected(clock_->now())); }

void Agent::on_text(std::string_view frame) {
  log().trace("frame in: {}", printable_prefix(frame, kTracedFrameBytes));
  if (trace_ping_sent_) trace_pong(frame);
  apply(session_.on_frame(frame, clock_->now()));
}

void Agent::trace_pong(std::string_view frame) {
  // Any frame answers a ping as far as the session is concerned; only `{}` is the pong.
  const auto sent = *trace_ping_sent_;
  trace_ping_sent_.reset();
  auto parsed = protocol::parse_server_message(frame);
  if (!parsed || !std::holds_alternative<protocol::Pong>(*parsed)) return;
  event::trace("pong.received",
               [&](event::TraceFields& f) { f.add_ms("rtt_ms", std::chrono::steady_clock::now() - sent); });
}

void Agent::on_oversized_frame(std::size_t bytes) { apply(session_.on_oversized_frame(bytes, clock_->now())); }

void Agent::on_closed(protocol::DisconnectReason reason, int close_code, std::string detail) {
  transport_detail_ = std::move(detail);
  // Closed already: keep the object alive until its callback has returned.
  if (conn_) graveyard_->bury(std::move(conn_), Duration{0});
  apply(session_.on_closed(reason, close_code, clock_->now()));
}

void Agent::apply(protocol::Actions actions) {
  for (auto& a : actions) {
    if (!apply_one(a)) return;  // a failed connect applied its own actions and rearmed
  }
  rearm();
}

bool Agent::apply_one(protocol::Action& a) {
  using namespace protocol::action;
  if (auto* send = std::get_if<Send>(&a)) {
    if (conn_) {
      log().trace("frame out: {}", printable_prefix(send->frame, kTracedFrameBytes));
      if (event::Trace::enabled() && send->frame == protocol::serialize(protocol::ClientMessage{protocol::Ping{}})) {
        // Trace timing only (nothing depends on it): the round trip of the keepalive.
        trace_ping_sent_ = std::chrono::steady_clock::now();
        event::Trace::emit("ping.sent", "");
      }
      conn_->send(std::move(send->frame));
    }
  } else if (std::get_if<Connect>(&a)) {
    return on_connect();
  } else if (auto* close = std::get_if<Close>(&a)) {
    on_close(*close);
  } else if (auto* notify = std::get_if<Notify>(&a)) {
    on_notify(*notify);
  } else if (auto* assigned = std::get_if<UaidAssigned>(&a)) {
    on_uaid_assigned(*assigned);
  } else if (auto* ok = std::get_if<RegisterOk>(&a)) {
    on_register_ok(*ok);
  } else if (auto* failed = std::get_if<RegisterFailed>(&a)) {
    on_register_failed(*failed);
  } else if (auto* done = std::get_if<UnregisterDone>(&a)) {
    on_unregister_done(*done);
  } else if (auto* changed = std::get_if<StateChanged>(&a)) {
    on_state_changed(*changed);
  } else if (auto* warn = std::get_if<Warn>(&a)) {
    log().warn("{}", warn->text);
  }
  return true;
}

bool Agent::on_connect() {
  retire_connection(Duration{0});
  auto c = connections_->connect(*this);
  if (!c) {
    transport_detail_ = c.error().message();
    apply(session_.on_closed(protocol::DisconnectReason::io_error, 0, clock_->now()));
    return false;
  }
  conn_ = std::move(*c);
  return true;
}

void Agent::on_close(const protocol::action::Close& close) {
  if (close.reason != protocol::DisconnectReason::shutdown &&
      close.reason != protocol::DisconnectReason::periodic_refresh) {
    log().debug("closing the connection: {}", protocol::to_string(close.reason));
  }
  retire_connection(Duration{2000});  // time for the close frame
}

void Agent::on_notify(protocol::action::Notify& notify) {
  batch_.push_back(std::move(notify.notification));
  // Everything that arrives in this loop turn is committed in one transaction.
  if (flush_pending_) return;
  flush_pending_ = true;
  scheduler_->defer([this, alive = alive_] {
    if (!*alive) return;
    flush_pending_ = false;
    flush_batch();
  });
}

void Agent::on_uaid_assigned(const protocol::action::UaidAssigned& assigned) {
  if (auto ok = store_->set_uaid(options_.server, assigned.uaid); !ok) {
    log().error("cannot store the uaid: {}", ok.error().message());
  }
  connected_since_ms_ = clock_->now().wall_ms;
  if (assigned.subscriptions_lost) {
    log().warn("the push service assigned a new uaid: every subscription must be registered again");
    reregister_all();
  } else {
    resume_reregistrations();
  }
}

void Agent::on_unregister_done(const protocol::action::UnregisterDone& done) {
  const auto it = unsubscribes_.find(done.request);
  if (it == unsubscribes_.end()) return;
  if (!done.ok) log().warn("the push service did not confirm unregistering channel {}", done.channel_id);
  auto cb = std::move(it->second.done);
  unsubscribes_.erase(it);
  if (cb) cb({});
}

void Agent::on_state_changed(const protocol::action::StateChanged& changed) {
  const auto previous = state_;
  state_ = changed.state;
  state_detail_ = changed.detail;
  using protocol::SessionState;
  if (changed.state == SessionState::backing_off || changed.state == SessionState::paused) {
    on_disconnected(changed.detail);
    if (event::Trace::enabled()) trace_reconnect(changed);
  } else if (changed.state == SessionState::ready) {
    log().info("connected to {} ({})", options_.server, changed.detail);
  } else if (changed.state != previous) {
    log().debug("state: {}", protocol::to_string(changed.state));
  }
  notify_state();
}

void Agent::trace_reconnect(const protocol::action::StateChanged& changed) const {
  const auto delay = session_.next_wakeup(clock_->now());
  event::trace("reconnect.scheduled", [&](event::TraceFields& f) {
    if (delay) f.add("delay_ms", delay->count());
    f.add("state", protocol::to_string(changed.state)).add("reason", changed.detail);
  });
}

void Agent::on_disconnected(const std::string& detail) {
  ++counters_.reconnects;
  connected_since_ms_.reset();
  if (transport_detail_.empty()) {
    log().warn("disconnected: {}", detail);
  } else {
    log().warn("disconnected: {} [{}]", detail, transport_detail_);
  }
  transport_detail_.clear();
}

void Agent::rearm() { wakeup_->rearm(session_.next_wakeup(clock_->now())); }

void Agent::notify_state() {
  if (state_observer_) state_observer_(status());
}

AgentStatus Agent::status() const {
  AgentStatus s;
  s.state = state_;
  s.detail = state_detail_;
  s.uaid = session_.uaid();
  s.server = options_.server;
  s.connected_since_ms = connected_since_ms_;
  s.last_message_ms = last_message_ms_;
  s.sinks_behind = dispatcher_.behind();
  s.counters = counters_;
  s.counters.ignored_frames = static_cast<std::int64_t>(session_.bad_frames());
  s.store_error = store_error_;
  return s;
}

void Agent::flush_batch() {
  if (batch_.empty()) return;
  std::vector<protocol::Notification> batch;
  batch.swap(batch_);
  const std::int64_t now_ms = clock_->now().wall_ms;
  const bool tracing = event::Trace::enabled();
  if (tracing) inbox_->trace_batch(&batch);
  auto results = receiver_.process(batch, now_ms);
  inbox_->trace_batch(nullptr);

  bool store_failed = false;
  protocol::Actions acks;
  for (const auto& r : results) {
    ++counters_.received;
    if (!r.ack) {
      store_failed = true;
      continue;
    }
    if (*r.ack == protocol::AckCode::not_delivered) ++counters_.duplicates;
    if (*r.ack == protocol::AckCode::decrypt_error) ++counters_.decrypt_errors;
    // Acked only now: the inbox transaction has committed.
    auto a = session_.ack(r.channel_id, r.version, *r.ack, clock_->now());
    if (tracing && !a.empty()) {
      event::trace("ack.sent", [&](event::TraceFields& f) {
        f.add("id", r.version).add("channel", r.channel_id).add("code", static_cast<int>(*r.ack));
      });
    }
    acks.insert(acks.end(), a.begin(), a.end());
  }
  apply(std::move(acks));
  deliver(results);
  if (store_failed) {
    on_store_failure(results);
  } else {
    store_error_.reset();
  }
}

void Agent::on_store_failure(const std::vector<protocol::Received>& results) {
  const auto failed = std::count_if(results.begin(), results.end(), [](const auto& r) { return !r.ack; });
  const auto why = std::find_if(results.begin(), results.end(), [](const auto& r) { return r.failure.has_value(); });
  store_error_ = why != results.end() ? why->failure->message() : std::string("the inbox refused the batch");
  // Unacked messages stay with the service; a new connection gets them again.
  log().error("the inbox could not store {} message(s): {}; reconnecting so that the service redelivers them", failed,
              *store_error_);
  apply(session_.on_store_failure(clock_->now()));
}

void Agent::deliver(const std::vector<protocol::Received>& results) {
  std::vector<const Message*> stored;
  for (const auto& r : results) {
    if (!r.message) continue;
    last_message_ms_ = clock_->now().wall_ms;
    stored.push_back(&*r.message);
    if (const auto& m = *r.message; m.error) {
      log().warn("message {} on {} could not be decrypted: {}", m.version,
                 m.subscription.empty() ? m.channel_id : m.subscription, *m.error);
    }
  }
  if (options_.deliver) dispatcher_.deliver(stored);
}

void Agent::subscribe(std::string name, std::optional<Bytes> app_server_key, SubscribeCallback done,
                      std::optional<store::AppRegistration> app) {
  if (stopped_) {
    done(fail(Errc::stopped, "webpushd is shutting down"));
    return;
  }
  auto existing = store_->find_subscription_by_name(name);
  if (!existing) {
    done(tl::unexpected(existing.error()));
    return;
  }
  if (*existing) {
    done(fail(Errc::bad_request, fmt::format("a subscription named '{}' already exists", name)));
    return;
  }
  for (const auto& [id, p] : subscribes_) {
    if (p.name == name) {
      done(fail(Errc::bad_request, fmt::format("a subscription named '{}' is being created", name)));
      return;
    }
  }
  if (app_server_key) {
    if (auto k = crypto::PublicKey::from_bytes(*app_server_key); !k) {
      done(fail(Errc::bad_request, "the application server key is not a P-256 public key: " + k.error().message()));
      return;
    }
  }
  auto key = crypto::KeyPair::generate();
  auto auth = crypto::generate_auth_secret();
  auto channel = new_channel_id();
  if (!key || !auth || !channel) {
    done(tl::unexpected(!key ? key.error() : !auth ? auth.error() : channel.error()));
    return;
  }
  const protocol::RequestId id = next_request_++;
  const auto key_text = register_key(app_server_key);
  subscribes_.emplace(id, PendingSubscribe{std::move(name), std::move(app_server_key), std::move(app), std::move(*key),
                                           std::move(*auth), std::nullopt, "", std::move(done)});
  apply(session_.request_register(id, std::move(*channel), key_text, clock_->now()));
}

void Agent::on_register_ok(const protocol::action::RegisterOk& ok) {
  const auto it = subscribes_.find(ok.request);
  if (it == subscribes_.end()) return;
  PendingSubscribe p = std::move(it->second);
  subscribes_.erase(it);
  const auto pub = p.key.public_bytes();
  const std::int64_t now_ms = clock_->now().wall_ms;

  if (p.reregister_id) {
    store::Reregistration reg;
    reg.channel_id = ok.channel_id;
    reg.endpoint = ok.endpoint;
    reg.private_key = p.key.private_bytes();
    reg.public_key = Bytes(pub.begin(), pub.end());
    reg.auth_secret = p.auth_secret;
    reg.state = store::SubscriptionState::active;
    reg.changed_at = now_ms;
    reg.previous_endpoint = p.old_endpoint;
    if (auto r = store_->replace_registration(*p.reregister_id, reg); !r) {
      log().error("cannot store the new registration of subscription {}: {}", p.name, r.error().message());
      return;
    }
    inbox_->clear();
    auto sub = store_->find_subscription_by_id(*p.reregister_id);
    if (!sub) {
      log().error("subscription {} was registered again but cannot be read back to announce it: {}", p.name,
                  sub.error().message());
    }
    if (sub && *sub && (*sub)->app) {
      log().info("subscription {} has a new endpoint; telling the app {}", p.name, (*sub)->app->service);
      if (endpoint_observer_) endpoint_observer_(**sub);
    } else if (sub && *sub) {
      log().warn("subscription {} has a new endpoint; tell its application server", p.name);
      dispatcher_.broadcast(
          sinks::SubscriptionChangedEvent{p.name, p.old_endpoint, ok.endpoint, subscription_json(**sub)});
    }
    return;
  }

  store::Subscription sub;
  sub.name = p.name;
  sub.server = options_.server;
  sub.channel_id = ok.channel_id;
  sub.endpoint = ok.endpoint;
  sub.private_key = p.key.private_bytes();
  sub.public_key = Bytes(pub.begin(), pub.end());
  sub.auth_secret = p.auth_secret;
  sub.app_server_key = p.app_server_key;
  sub.app = std::move(p.app);
  sub.created_at = now_ms;
  sub.state = store::SubscriptionState::active;
  auto id = store_->add_subscription(sub);
  if (!id) {
    // The service has the channel but we could not keep the keys: take it back.
    apply(session_.request_unregister(next_request_++, ok.channel_id, 200, clock_->now()));
    if (p.done) p.done(tl::unexpected(id.error()));
    return;
  }
  sub.id = *id;
  log().info("subscription {} created", sub.name);
  if (p.done) p.done(std::move(sub));
}

void Agent::on_register_failed(const protocol::action::RegisterFailed& failed) {
  const auto it = subscribes_.find(failed.request);
  if (it == subscribes_.end()) return;
  PendingSubscribe p = std::move(it->second);
  subscribes_.erase(it);
  if (p.reregister_id) {
    log().error("re-registering subscription {} failed: {}", p.name, failed.reason);
    mark_needs_resubscribe(*p.reregister_id, p.name);
    return;
  }
  if (p.done) p.done(fail(Errc::registration, failed.reason));
}

void Agent::mark_needs_resubscribe(std::int64_t id, const std::string& name) {
  if (auto ok = store_->set_subscription_state(id, store::SubscriptionState::needs_resubscribe); !ok) {
    log().error("cannot mark subscription {} as needing a new registration: {}", name, ok.error().message());
  }
}

void Agent::reregister_all() {
  auto subs = store_->list_subscriptions(options_.server);
  if (!subs) {
    log().error("cannot list subscriptions to re-register: {}", subs.error().message());
    return;
  }
  inbox_->clear();
  for (const auto& sub : *subs) {
    // Marked first: if the process stops before the new registration is stored,
    // the subscription says so, and the next connection takes it up again.
    mark_needs_resubscribe(sub.id, sub.name);
    // One still under way from an earlier uaid change is sent again by the
    // session after this hello, on the new uaid: a second request would leave
    // an orphan channel.
    if (!reregistration_pending(sub.id)) reregister(sub);
  }
}

bool Agent::reregistration_pending(std::int64_t subscription_id) const {
  return std::any_of(subscribes_.begin(), subscribes_.end(),
                     [&](const auto& kv) { return kv.second.reregister_id == subscription_id; });
}

void Agent::resume_reregistrations() {
  // After a stop, or a registration that timed out, the next hello is no uaid
  // change any more (the new uaid is stored, or none is sent): the marks left
  // on the subscriptions are all that says their channels belong to a uaid
  // the service dropped.
  auto subs = store_->list_subscriptions(options_.server);
  if (!subs) {
    log().error("cannot list subscriptions to resume their re-registration: {}", subs.error().message());
    return;
  }
  for (const auto& sub : *subs) {
    if (sub.state != store::SubscriptionState::needs_resubscribe) continue;
    if (reregistration_pending(sub.id)) continue;  // the session sends it again after this hello
    log().warn("subscription {} was not registered again yet; registering it now", sub.name);
    reregister(sub);
  }
}

void Agent::reregister(const store::Subscription& sub) {
  auto key = crypto::KeyPair::generate();
  auto auth = crypto::generate_auth_secret();
  auto channel = new_channel_id();
  if (!key || !auth || !channel) {
    const Error& e = !key ? key.error() : !auth ? auth.error() : channel.error();
    log().error("cannot re-register subscription {}: {}; it stays marked needs_resubscribe", sub.name, e.message());
    return;
  }
  const auto key_text = register_key(sub.app_server_key);
  const protocol::RequestId id = next_request_++;
  subscribes_.emplace(id, PendingSubscribe{sub.name, sub.app_server_key, std::nullopt, std::move(*key),
                                           std::move(*auth), sub.id, sub.endpoint, nullptr});
  apply(session_.request_register(id, std::move(*channel), key_text, clock_->now()));
}

void Agent::unsubscribe(std::int64_t subscription_id, UnsubscribeCallback done) {
  if (stopped_) {
    // The record stays: a stopped agent could not tell the service.
    done(fail(Errc::stopped, "webpushd is shutting down"));
    return;
  }
  auto sub = store_->find_subscription_by_id(subscription_id);
  if (!sub) {
    done(tl::unexpected(sub.error()));
    return;
  }
  if (!*sub) {
    done(fail(Errc::bad_request, fmt::format("no subscription with id {}", subscription_id)));
    return;
  }
  // As Firefox: the local record goes first; telling the service is advisory.
  if (auto r = store_->remove_subscription(subscription_id); !r) {
    done(tl::unexpected(r.error()));
    return;
  }
  inbox_->forget((*sub)->channel_id);
  if (auto ok = refresh_identity(); !ok) {
    // The next hello may then still send the uaid; the service keeps it, harmless.
    log().warn("cannot re-read the identity after unsubscribing: {}", ok.error().message());
  }
  const protocol::RequestId id = next_request_++;
  unsubscribes_.emplace(id, PendingUnsubscribe{std::move(done)});
  apply(session_.request_unregister(id, (*sub)->channel_id, 200, clock_->now()));
}

}  // namespace webpush::daemon
