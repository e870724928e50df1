#include "webpush/load/user_agent.h"

#include <utility>

#include <fmt/format.h>

#include "webpush/core/base64url.h"
#include "webpush/crypto/webpush.h"

namespace webpush::load {

namespace {

Result<std::string> random_channel_id() {
  auto bytes = crypto::random_bytes(16);
  if (!bytes) return tl::unexpected(bytes.error().with_context("channel ID"));
  std::array<std::uint8_t, 16> random{};
  std::copy(bytes->begin(), bytes->end(), random.begin());
  return protocol::uuid_v4(random);
}

constexpr Duration kRegisterRetry{1000};

// Keeps a finished connection alive until the callback that reported it has returned.
void destroy_later(event::Scheduler& scheduler, std::unique_ptr<transport::Connection> conn) {
  if (!conn) return;
  scheduler.defer([c = std::shared_ptr<transport::Connection>(std::move(conn))] {});
}

}  // namespace

UserAgent::UserAgent(int index, int subscriptions, const UserAgentContext& context)
    : index_(index),
      context_(&context),
      session_(context.session, *context.jitter, &random_channel_id),
      subscriptions_(static_cast<std::size_t>(std::max(subscriptions, 0))) {}

UserAgent::~UserAgent() {
  if (conn_) conn_->close();
}

Result<void> UserAgent::start() {
  for (auto& s : subscriptions_) {
    auto key = crypto::KeyPair::generate();
    if (!key) return tl::unexpected(key.error());
    auto auth = crypto::generate_auth_secret();
    if (!auth) return tl::unexpected(auth.error());
    s.key = std::move(*key);
    s.auth = std::move(*auth);
  }
  auto timer = context_->scheduler->make_timer(event::TimerClock::monotonic,
                                               [this] { apply(session_.on_timer(context_->clock->now())); });
  if (!timer) return tl::unexpected(timer.error());
  wakeup_ = std::move(*timer);
  auto retry = context_->scheduler->make_timer(event::TimerClock::monotonic, [this] {
    auto slots = std::exchange(retry_slots_, {});
    for (const int slot : slots) register_slot(slot);
  });
  if (!retry) return tl::unexpected(retry.error());
  retry_timer_ = std::move(*retry);
  apply(session_.start(context_->clock->now()));
  for (int slot = 0; slot < static_cast<int>(subscriptions_.size()); ++slot) register_slot(slot);
  return {};
}

void UserAgent::stop() {
  if (stopped_) return;
  stopped_ = true;
  session_.stop(context_->clock->now());  // its Close action is ours to carry out, silently
  if (wakeup_) wakeup_->cancel();
  if (retry_timer_) retry_timer_->cancel();
  if (conn_) conn_->close();
  destroy_later(*context_->scheduler, std::move(conn_));
}

void UserAgent::register_slot(int slot) {
  auto channel = random_channel_id();
  if (!channel) {
    context_->events->on_register_failed(*this, slot, channel.error().message());
    return;
  }
  auto& s = subscriptions_[static_cast<std::size_t>(slot)];
  s.channel_id = *channel;
  s.endpoint.clear();
  std::optional<std::string> key;
  if (!context_->vapid_public_key.empty()) key = context_->vapid_public_key;
  apply(session_.request_register(static_cast<protocol::RequestId>(slot), std::move(*channel), std::move(key),
                                  context_->clock->now()));
}

void UserAgent::on_open() { apply(session_.on_connected(context_->clock->now())); }

void UserAgent::on_text(std::string_view frame) { apply(session_.on_frame(frame, context_->clock->now())); }

void UserAgent::on_oversized_frame(std::size_t bytes) {
  apply(session_.on_oversized_frame(bytes, context_->clock->now()));
}

void UserAgent::on_closed(protocol::DisconnectReason reason, int close_code, std::string /*detail*/) {
  destroy_later(*context_->scheduler, std::move(conn_));
  if (stopped_) return;
  context_->events->on_down(*this, was_ready_, reason, close_code);
  was_ready_ = false;
  apply(session_.on_closed(reason, close_code, context_->clock->now()));
}

void UserAgent::apply(protocol::Actions actions) {
  for (auto& a : actions) {
    if (stopped_) return;
    apply_one(a);
  }
  // Registrations to make again wait until the whole batch is carried out: a
  // request made mid-batch could open a connection that a Close later in the
  // same batch would then drop.
  auto slots = std::exchange(reregister_, {});
  for (const int slot : slots) register_slot(slot);
  if (stopped_ || !wakeup_) return;
  if (const auto d = session_.next_wakeup(context_->clock->now())) {
    wakeup_->arm(*d);
  } else {
    wakeup_->cancel();
  }
}

void UserAgent::apply_one(protocol::Action& a) {
  using namespace protocol::action;
  if (auto* send = std::get_if<Send>(&a)) {
    if (conn_) conn_->send(std::move(send->frame));
  } else if (std::get_if<Connect>(&a)) {
    connect();
  } else if (auto* close = std::get_if<Close>(&a)) {
    drop_connection();
    context_->events->on_down(*this, was_ready_, close->reason, 0);
    was_ready_ = false;
  } else if (auto* notify = std::get_if<Notify>(&a)) {
    on_notify(notify->notification);
  } else if (auto* assigned = std::get_if<UaidAssigned>(&a)) {
    if (assigned->subscriptions_lost) {
      for (int slot = 0; slot < static_cast<int>(subscriptions_.size()); ++slot) reregister_.push_back(slot);
    }
  } else if (auto* ok = std::get_if<RegisterOk>(&a)) {
    on_register_ok(*ok);
  } else if (auto* failed = std::get_if<RegisterFailed>(&a)) {
    on_register_failed(*failed);
  } else if (auto* changed = std::get_if<StateChanged>(&a)) {
    on_state(*changed);
  }
}

void UserAgent::connect() {
  drop_connection();
  attempt_started_us_ = context_->now_us();
  auto c = context_->connections->connect(*this);
  if (!c) {
    context_->events->on_down(*this, false, protocol::DisconnectReason::io_error, 0);
    apply(session_.on_closed(protocol::DisconnectReason::io_error, 0, context_->clock->now()));
    return;
  }
  conn_ = std::move(*c);
}

void UserAgent::drop_connection() {
  if (!conn_) return;
  conn_->close();
  destroy_later(*context_->scheduler, std::move(conn_));
}

void UserAgent::on_state(const protocol::action::StateChanged& changed) {
  if (changed.state != protocol::SessionState::ready || was_ready_) return;
  was_ready_ = true;
  context_->events->on_ready(*this, context_->now_us() - attempt_started_us_);
}

void UserAgent::on_register_ok(const protocol::action::RegisterOk& ok) {
  const auto slot = static_cast<int>(ok.request);
  if (slot < 0 || slot >= static_cast<int>(subscriptions_.size())) return;
  auto& s = subscriptions_[static_cast<std::size_t>(slot)];
  s.channel_id = ok.channel_id;  // a 409 makes the Session pick another
  s.endpoint = ok.endpoint;
  const ByteView p256dh = s.key->public_bytes();
  const ByteView auth(s.auth.data(), s.auth.size());
  context_->events->on_registered(
      *this, slot, PushTarget{s.endpoint, Bytes(p256dh.begin(), p256dh.end()), Bytes(auth.begin(), auth.end())});
}

void UserAgent::on_register_failed(const protocol::action::RegisterFailed& failed) {
  const auto slot = static_cast<int>(failed.request);
  if (slot < 0 || slot >= static_cast<int>(subscriptions_.size())) return;
  context_->events->on_register_failed(*this, slot, failed.reason);
  if (!failed.retryable) return;
  // A service that answers 5xx is busy: ask again in a second, not at once.
  if (retry_slots_.empty()) retry_timer_->arm(kRegisterRetry);
  retry_slots_.push_back(slot);
}

int UserAgent::slot_of(std::string_view channel_id) const noexcept {
  for (std::size_t i = 0; i < subscriptions_.size(); ++i) {
    if (subscriptions_[i].channel_id == channel_id) return static_cast<int>(i);
  }
  return -1;
}

void UserAgent::on_notify(const protocol::Notification& n) {
  const int slot = slot_of(n.channel_id);
  Result<Bytes> plain = fail(crypto::Errc::unsupported_encoding, "a push without data");
  if (slot < 0) {
    plain = fail(crypto::Errc::unsupported_encoding, "a push for an unknown channel");
  } else if (n.data && n.headers) {
    auto body = base64url_decode(*n.data);
    const auto& s = subscriptions_[static_cast<std::size_t>(slot)];
    plain = body ? crypto::decrypt_push({n.headers->encoding, n.headers->encryption, n.headers->crypto_key, *body},
                                        {*s.key, ByteView(s.auth.data(), s.auth.size())})
                 : Result<Bytes>(tl::unexpected(body.error()));
  }
  const auto code = plain ? protocol::AckCode::delivered : protocol::AckCode::decrypt_error;
  if (slot >= 0) context_->events->on_message(*this, slot, plain);
  apply(session_.ack(n.channel_id, n.version, code, context_->clock->now()));
}

}  // namespace webpush::load
