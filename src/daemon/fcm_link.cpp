#include "webpush/daemon/fcm_link.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "internal.h"
#include "link_keeper.h"
#include "store_inbox.h"
#include "webpush/core/base64url.h"
#include "webpush/crypto/keys.h"
#include "webpush/fcm/errc.h"
#include "webpush/protocol/messages.h"

namespace webpush::daemon {

namespace {

using detail::log;

// How many recorded persistent ids a login presents (McsSession keeps the newest that fit).
constexpr std::int64_t kFcmAcksAtLogin = 100;
// The x-firebase-client header of the Firebase JS SDK: base64 of {"heartbeats":[],"version":2}.
constexpr std::string_view kFirebaseClient = "eyJoZWFydGJlYXRzIjpbXSwidmVyc2lvbiI6Mn0=";
// The register3 error Google answers while a fresh device is not known everywhere yet.
constexpr std::string_view kPhoneRegistrationError = "PHONE_REGISTRATION_ERROR";
// status().detail while the link stays idle for want of subscriptions.
constexpr std::string_view kNoSubscriptions = "no FCM subscriptions: not connected";

Result<std::string> fcm_uuid(std::string_view what) {
  auto bytes = crypto::random_bytes(16);
  if (!bytes) return tl::unexpected(bytes.error().with_context(what));
  std::array<std::uint8_t, 16> random{};
  std::copy(bytes->begin(), bytes->end(), random.begin());
  return protocol::uuid_v4(random);
}

// The register3 `sender`: the application server key, else the default one.
std::string sender_of(const std::optional<Bytes>& app_server_key) {
  return app_server_key ? base64url_encode(*app_server_key) : std::string(fcm::default_sender_key());
}

// `text` with every occurrence of `secret` cut out: an endpoint's token is a
// capability and stays out of the log.
std::string without(std::string text, std::string_view secret) {
  constexpr std::string_view kCut = "<token>";
  if (secret.empty()) return text;
  // The search goes on after the replacement, which may itself hold `secret`.
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + kCut.size())) {
    text.replace(at, secret.size(), kCut);
  }
  return text;
}

// An HTTP answer's body, read by `decode`, as a Result of what it gives.
template <class Decode>
auto decode_answer(Result<transport::HttpResponse>& response, Decode decode)
    -> decltype(decode(0, std::string_view{})) {
  if (!response) return tl::unexpected(response.error());
  return decode(response->status, response->body);
}

}  // namespace

struct FcmLink::PendingSubscribe {
  PendingSubscribe(std::string n, std::optional<Bytes> key_of_server, crypto::KeyPair k, SecretBytes auth)
      : name(std::move(n)), app_server_key(std::move(key_of_server)), key(std::move(k)), auth_secret(std::move(auth)) {}

  std::string name;
  std::optional<Bytes> app_server_key;
  crypto::KeyPair key;
  SecretBytes auth_secret;
  std::string app_id;
  std::string channel_id;
  int attempts = 0;  // register3 calls made
  std::string gcm_token;
  std::string installation_id;
  std::string installation_auth;  // a credential: never logged
  std::string fcm_token;
  std::unique_ptr<event::ScheduledTimer> retry;
  SubscribeCallback done;
};

struct FcmLink::PendingUnsubscribe {
  std::string name;
  store::FcmRegistration fcm;
  std::optional<Bytes> app_server_key;
  bool told = true;  // false once a call to the service failed
};

FcmLink::FcmLink(store::Store& store, transport::HttpClient& http, transport::StreamConnectionFactory& streams,
                 event::Scheduler& scheduler, Dispatcher& dispatcher, FcmOptions options, const Clock& clock,
                 Jitter& jitter)
    : store_(&store),
      http_(&http),
      streams_(&streams),
      scheduler_(&scheduler),
      dispatcher_(&dispatcher),
      options_(std::move(options)),
      clock_(&clock),
      inbox_(std::make_unique<StoreInbox>(store)),
      receiver_(*inbox_),
      session_(options_.session, fcm::DeviceIdentity{}, jitter),
      graveyard_(std::make_unique<Graveyard<transport::StreamConnection>>(clock)),
      wakeup_(std::make_unique<WakeupTimer>()) {}

FcmLink::~FcmLink() {
  *alive_ = false;
  if (conn_) conn_->close();
}

std::string FcmLink::mcs_server() const { return fmt::format("mcs://{}:{}", options_.mcs_host, options_.mcs_port); }

// ---- start and stop -------------------------------------------------------------------

Result<void> FcmLink::start() {
  if (started_) return {};
  if (auto ok = wakeup_->start(*scheduler_, [this] { apply(session_.on_timer(clock_->now())); }); !ok) return ok;
  if (auto ok = graveyard_->start(*scheduler_); !ok) return ok;
  auto device = store_->get_fcm_device();
  if (!device) return tl::unexpected(device.error());
  auto subs = store_->list_subscriptions(mcs_server());
  if (!subs) return tl::unexpected(subs.error());
  started_ = true;
  if (*device) device_ = fcm::DeviceIdentity{(*device)->android_id, (*device)->security_token};
  if (subs->empty()) {
    state_detail_ = kNoSubscriptions;  // idle until a subscribe
    return {};
  }
  if (device_) {
    connect_session();
    return {};
  }
  log().warn("FCM subscriptions are stored but no device identity: checking in again");
  ensure_device([this](Result<void> r) {
    if (!r) {
      log().error("FCM checkin failed: {}; messages from Chrome's push service are not received", r.error().message());
      return;
    }
    // The subscriptions may have gone while the checkin ran.
    if (connection_needed()) connect_session();
  });
  return {};
}

void FcmLink::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  if (!batch_.empty()) flush_batch();
  auto pending = std::move(subscribes_);
  subscribes_.clear();
  for (auto& [id, p] : pending) {
    if (p->done) p->done(fail(Errc::stopped, "webpushd is shutting down"));
  }
  // Removed locally already: the unsubscribe itself has succeeded.
  auto leaving = std::move(unsubscribes_);
  unsubscribes_.clear();
  for (auto& [id, p] : leaving) {
    log().warn("subscription {} removed; Chrome's push service was not told: webpushd is shutting down", p->name);
  }
  finish_device_waiters(fail(Errc::stopped, "webpushd is shutting down"));
  if (running_) apply(session_.stop(clock_->now()));
  wakeup_->cancel();
}

void FcmLink::on_network_change() {
  if (stopped_ || !running_) return;
  apply(session_.on_network_change(clock_->now()));
}

void FcmLink::connect_session() {
  if (running_ || stopped_ || !device_ || !started_) return;
  session_.set_device(*device_);
  auto acks = store_->list_fcm_acks(kFcmAcksAtLogin);
  if (acks) {
    session_.set_unconfirmed(std::move(*acks));
  } else {
    // Only costs redeliveries, which the inbox recognises.
    log().warn("cannot read the FCM persistent ids to present at login: {}", acks.error().message());
  }
  running_ = true;
  apply(session_.start(clock_->now()));
}

bool FcmLink::connection_needed() {
  if (!subscribes_.empty()) return true;
  auto subs = store_->list_subscriptions(mcs_server());
  if (!subs) {
    // A needless connection costs less than messages not received.
    log().warn("cannot tell whether FCM subscriptions are stored: {}; keeping the MCS connection",
               subs.error().message());
    return true;
  }
  return !subs->empty();
}

void FcmLink::disconnect_if_unneeded() {
  if (stopped_ || !started_ || connection_needed()) return;
  if (running_) {
    // What arrived is committed and acked while the stream still carries acks;
    // the ids not yet confirmed stay in fcm_acks for the next login.
    if (!batch_.empty()) flush_batch();
    running_ = false;
    apply(session_.stop(clock_->now()));
    log().info("no FCM subscriptions left: disconnected from {}", mcs_server());
  }
  state_detail_ = kNoSubscriptions;
}

// ---- identity ------------------------------------------------------------------------------

void FcmLink::ensure_device(DoneCallback done) {
  if (stopped_) {
    done(fail(Errc::stopped, "webpushd is shutting down"));
    return;
  }
  if (!device_) {
    auto stored = store_->get_fcm_device();
    if (!stored) {
      done(tl::unexpected(stored.error()));
      return;
    }
    if (*stored) device_ = fcm::DeviceIdentity{(*stored)->android_id, (*stored)->security_token};
  }
  if (device_) {
    done({});
    return;
  }
  device_waiters_.push_back(std::move(done));
  if (checkin_in_flight_) return;
  checkin_in_flight_ = true;
  post(options_.urls.checkin, {{"Content-Type", "application/x-protobuf"}}, fcm::encode_checkin_request({}),
       [this](Result<transport::HttpResponse> r) { on_checkin(std::move(r)); });
}

void FcmLink::on_checkin(Result<transport::HttpResponse> response) {
  checkin_in_flight_ = false;
  auto identity = decode_answer(response, fcm::decode_checkin_response);
  if (!identity) {
    finish_device_waiters(tl::unexpected(identity.error().with_context("FCM checkin")));
    return;
  }
  const store::FcmDevice device{identity->android_id, identity->security_token, clock_->now().wall_ms};
  if (auto ok = store_->set_fcm_device(device); !ok) {
    finish_device_waiters(tl::unexpected(ok.error()));
    return;
  }
  device_ = *identity;
  log().info("checked in with Chrome's push service");
  finish_device_waiters({});
}

void FcmLink::finish_device_waiters(const Result<void>& result) {
  auto waiters = std::move(device_waiters_);
  device_waiters_.clear();
  for (auto& w : waiters) w(result);
}

void FcmLink::post(std::string url, Headers headers, std::string body, HttpDone done) {
  send("POST", std::move(url), std::move(headers), std::move(body), std::move(done));
}

void FcmLink::send(std::string method, std::string url, Headers headers, std::string body, HttpDone done) {
  transport::HttpRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.headers = std::move(headers);
  request.body = std::move(body);
  request.timeout = options_.request_timeout;
  http_->request(std::move(request), [alive = alive_, done = std::move(done)](Result<transport::HttpResponse> r) {
    if (*alive) done(std::move(r));
  });
}

// ---- subscribe ---------------------------------------------------------------------------

void FcmLink::subscribe(std::string name, std::optional<Bytes> app_server_key, SubscribeCallback done) {
  if (stopped_) {
    done(fail(Errc::stopped, "webpushd is shutting down"));
    return;
  }
  auto existing = store_->find_subscription_by_name(name);
  if (!existing) {
    done(tl::unexpected(existing.error()));
    return;
  }
  const bool pending_name =
      std::any_of(subscribes_.begin(), subscribes_.end(), [&](const auto& kv) { return kv.second->name == name; });
  if (*existing || pending_name) {
    done(fail(Errc::bad_request, fmt::format("a subscription named '{}' already exists", name)));
    return;
  }
  if (app_server_key) {
    if (auto k = crypto::PublicKey::from_bytes(*app_server_key); !k) {
      done(fail(Errc::bad_request, "the application server key is not a P-256 public key: " + k.error().message()));
      return;
    }
  }
  auto key = crypto::KeyPair::generate();
  auto auth = crypto::generate_auth_secret();
  auto app_uuid = fcm_uuid("FCM app id");
  auto channel = fcm_uuid("channel ID");
  if (!key || !auth || !app_uuid || !channel) {
    done(tl::unexpected(!key ? key.error() : !auth ? auth.error() : !app_uuid ? app_uuid.error() : channel.error()));
    return;
  }
  const std::uint64_t id = next_subscribe_++;
  auto p =
      std::make_unique<PendingSubscribe>(std::move(name), std::move(app_server_key), std::move(*key), std::move(*auth));
  p->app_id = "wp:webpushd#" + *app_uuid;
  p->channel_id = std::move(*channel);
  p->done = std::move(done);
  subscribes_.emplace(id, std::move(p));
  ensure_device([this, id](Result<void> r) {
    if (!r) {
      fail_subscribe(id, r.error());
      return;
    }
    register_gcm(id);
  });
}

FcmLink::PendingSubscribe* FcmLink::pending(std::uint64_t id) {
  const auto it = subscribes_.find(id);
  return it == subscribes_.end() ? nullptr : it->second.get();
}

void FcmLink::fail_subscribe(std::uint64_t id, Error error) {
  const auto it = subscribes_.find(id);
  if (it == subscribes_.end()) return;
  auto p = std::move(it->second);
  subscribes_.erase(it);
  log().warn("subscription {} was not registered with Chrome's push service: {}", p->name, error.message());
  disconnect_if_unneeded();
  if (p->done) p->done(tl::unexpected(std::move(error)));
}

void FcmLink::register_gcm(std::uint64_t id) {
  PendingSubscribe* p = pending(id);
  if (p == nullptr || !device_) return;
  ++p->attempts;
  const fcm::GcmRegisterParams params{*device_, p->app_id, sender_of(p->app_server_key)};
  post_register3(fcm::encode_gcm_register_form(params),
                 [this, id](Result<transport::HttpResponse> r) { on_gcm_registered(id, std::move(r)); });
}

void FcmLink::post_register3(std::string form, HttpDone done) {
  post(options_.urls.register3,
       {{"Authorization", fcm::gcm_register_authorization(*device_)},
        {"Content-Type", "application/x-www-form-urlencoded"}},
       std::move(form), std::move(done));
}

void FcmLink::on_gcm_registered(std::uint64_t id, Result<transport::HttpResponse> response) {
  PendingSubscribe* p = pending(id);
  if (p == nullptr) return;
  auto token = decode_answer(response, fcm::decode_gcm_register_response);
  if (!token) {
    const bool retry = token.error().is(fcm::Errc::refused) &&
                       token.error().message().find(kPhoneRegistrationError) != std::string::npos &&
                       p->attempts <= options_.register_retries;
    if (retry) {
      retry_gcm(id);
      return;
    }
    const Error& e = token.error();
    fail_subscribe(id, e.is(fcm::Errc::refused) ? Error(Errc::registration, e.message()) : e);
    return;
  }
  p->gcm_token = std::move(*token);
  if (options_.firebase) {
    install(id);
  } else {
    store_subscription(id);
  }
}

void FcmLink::retry_gcm(std::uint64_t id) {
  PendingSubscribe* p = pending(id);
  log().info("GCM register answered {}; trying again ({} of {})", kPhoneRegistrationError, p->attempts,
             options_.register_retries);
  auto timer = scheduler_->make_timer(event::TimerClock::monotonic, [this, id] { register_gcm(id); });
  if (!timer) {
    fail_subscribe(id, timer.error());
    return;
  }
  p->retry = std::move(*timer);
  p->retry->arm(options_.register_retry_delay);
}

void FcmLink::install(std::uint64_t id) {
  auto random = crypto::random_bytes(17);
  auto fid = random ? fcm::make_installation_id(*random) : tl::unexpected(random.error());
  if (!fid) {
    fail_subscribe(id, fid.error());
    return;
  }
  post_installation(*fid, [this, id](Result<transport::HttpResponse> r) { on_installed(id, std::move(r)); });
}

void FcmLink::post_installation(std::string_view fid, HttpDone done) {
  const auto& app = *options_.firebase;
  post(fmt::format("{}/projects/{}/installations", options_.urls.installations, app.project_id),
       {{"Content-Type", "application/json"},
        {"x-goog-api-key", app.api_key},
        {"x-firebase-client", std::string(kFirebaseClient)}},
       fcm::encode_installation_request(app, fid), std::move(done));
}

void FcmLink::on_installed(std::uint64_t id, Result<transport::HttpResponse> response) {
  PendingSubscribe* p = pending(id);
  if (p == nullptr) return;
  auto installation = decode_answer(response, fcm::decode_installation_response);
  if (!installation) {
    const Error& e = installation.error();
    fail_subscribe(id, e.is(fcm::Errc::refused) ? Error(Errc::registration, e.message()) : e);
    return;
  }
  p->installation_id = std::move(installation->fid);
  p->installation_auth = std::move(installation->auth_token);
  const auto& app = *options_.firebase;
  fcm::FcmRegistrationParams params;
  params.endpoint = options_.urls.send + "/" + p->gcm_token;
  params.p256dh = base64url_encode(p->key.public_bytes());
  params.auth = base64url_encode(p->auth_secret);
  if (p->app_server_key) params.application_pub_key = base64url_encode(*p->app_server_key);
  post(fmt::format("{}/projects/{}/registrations", options_.urls.registrations, app.project_id),
       {{"Content-Type", "application/json"},
        {"x-goog-api-key", app.api_key},
        {"x-goog-firebase-installations-auth", p->installation_auth}},
       fcm::encode_fcm_registration_request(params),
       [this, id](Result<transport::HttpResponse> r) { on_fcm_registered(id, std::move(r)); });
}

void FcmLink::on_fcm_registered(std::uint64_t id, Result<transport::HttpResponse> response) {
  PendingSubscribe* p = pending(id);
  if (p == nullptr) return;
  auto token = decode_answer(response, fcm::decode_fcm_registration_response);
  if (!token) {
    const Error& e = token.error();
    fail_subscribe(id, e.is(fcm::Errc::refused) ? Error(Errc::registration, e.message()) : e);
    return;
  }
  p->fcm_token = std::move(*token);
  store_subscription(id);
}

void FcmLink::store_subscription(std::uint64_t id) {
  const auto it = subscribes_.find(id);
  if (it == subscribes_.end()) return;
  auto p = std::move(it->second);
  subscribes_.erase(it);
  const auto pub = p->key.public_bytes();
  store::Subscription sub;
  sub.name = p->name;
  sub.server = mcs_server();
  sub.channel_id = p->channel_id;
  // The token is used as it is: its ':' is allowed in a URL path segment.
  sub.endpoint = options_.urls.send + "/" + (p->fcm_token.empty() ? p->gcm_token : p->fcm_token);
  sub.private_key = p->key.private_bytes();
  sub.public_key = Bytes(pub.begin(), pub.end());
  sub.auth_secret = p->auth_secret;
  sub.app_server_key = p->app_server_key;
  sub.created_at = clock_->now().wall_ms;
  sub.state = store::SubscriptionState::active;
  sub.fcm = store::FcmRegistration{p->app_id, p->gcm_token, p->fcm_token, p->installation_id};
  auto stored = store_->add_subscription(sub);
  if (!stored) {
    disconnect_if_unneeded();
    if (p->done) p->done(tl::unexpected(stored.error()));
    return;
  }
  sub.id = *stored;
  log().info("subscription {} created with Chrome's push service", sub.name);
  connect_session();
  if (p->done) p->done(std::move(sub));
}

// ---- unsubscribe ---------------------------------------------------------------------------

void FcmLink::unsubscribe(std::int64_t subscription_id, DoneCallback done) {
  if (stopped_) {
    // The record stays: a stopped link could not tell the service.
    done(fail(Errc::stopped, "webpushd is shutting down"));
    return;
  }
  auto sub = store_->find_subscription_by_id(subscription_id);
  if (!sub) {
    done(tl::unexpected(sub.error()));
    return;
  }
  if (!*sub || !(*sub)->fcm) {
    done(fail(Errc::bad_request, fmt::format("no subscription of Chrome's push service with id {}", subscription_id)));
    return;
  }
  // As Chrome: the local record goes first; telling the service is advisory.
  if (auto r = store_->remove_subscription(subscription_id); !r) {
    done(tl::unexpected(r.error()));
    return;
  }
  inbox_->forget((*sub)->channel_id);
  log().info("subscription {} removed; unregistering it from Chrome's push service", (*sub)->name);
  disconnect_if_unneeded();
  const std::uint64_t id = next_unsubscribe_++;
  auto p = std::make_unique<PendingUnsubscribe>();
  p->name = (*sub)->name;
  p->fcm = *(*sub)->fcm;
  p->app_server_key = (*sub)->app_server_key;
  const bool has_fcm_token = !p->fcm.fcm_token.empty();
  const bool firebase = options_.firebase && has_fcm_token && !p->fcm.installation_id.empty();
  PendingUnsubscribe& pending = *unsubscribes_.emplace(id, std::move(p)).first->second;
  // The unsubscribe is done: the service is told in the background (up to
  // three HTTPS calls), and what it answers goes to the log.
  done({});
  if (firebase) {
    unregister_fcm(id);
    return;
  }
  if (has_fcm_token) not_told(pending, "FCM registration: no Firebase app is configured ([fcm] project_id)");
  unregister_gcm(id);
}

FcmLink::PendingUnsubscribe* FcmLink::leaving(std::uint64_t id) {
  const auto it = unsubscribes_.find(id);
  return it == unsubscribes_.end() ? nullptr : it->second.get();
}

void FcmLink::not_told(PendingUnsubscribe& p, std::string_view why) {
  p.told = false;
  log().warn("subscription {} removed; Chrome's push service was not told: {}", p.name, why);
}

void FcmLink::unregister_fcm(std::uint64_t id) {
  PendingUnsubscribe* p = leaving(id);
  if (p == nullptr) return;
  // The installation auth token expires and is not stored: the installation is
  // created again under its stored id, which gives a fresh one.
  post_installation(p->fcm.installation_id,
                    [this, id](Result<transport::HttpResponse> r) { on_reinstalled(id, std::move(r)); });
}

void FcmLink::on_reinstalled(std::uint64_t id, Result<transport::HttpResponse> response) {
  PendingUnsubscribe* p = leaving(id);
  if (p == nullptr) return;
  auto installation = decode_answer(response, fcm::decode_installation_response);
  if (!installation) {
    not_told(*p, "FCM unregistration: " + installation.error().message());
    unregister_gcm(id);
    return;
  }
  if (installation->fid != p->fcm.installation_id) {
    // Its auth token would be another installation's: the DELETE would be refused.
    not_told(*p, "FCM unregistration: the Firebase installation came back under another id");
    unregister_gcm(id);
    return;
  }
  const auto& app = *options_.firebase;
  send("DELETE", fcm::fcm_unregistration_url(options_.urls.registrations, app.project_id, p->fcm.fcm_token),
       {{"x-goog-api-key", app.api_key}, {"x-goog-firebase-installations-auth", installation->auth_token}}, "",
       [this, id](Result<transport::HttpResponse> r) { on_fcm_unregistered(id, std::move(r)); });
}

void FcmLink::on_fcm_unregistered(std::uint64_t id, Result<transport::HttpResponse> response) {
  PendingUnsubscribe* p = leaving(id);
  if (p == nullptr) return;
  if (auto ok = decode_answer(response, fcm::decode_fcm_unregistration_response); !ok) {
    // A transport error names the URL, whose last segment is the token.
    const std::string url = fcm::fcm_unregistration_url("", "", p->fcm.fcm_token);
    not_told(*p, without(ok.error().message(), std::string_view(url).substr(url.rfind('/') + 1)));
  }
  unregister_gcm(id);
}

void FcmLink::unregister_gcm(std::uint64_t id) {
  PendingUnsubscribe* p = leaving(id);
  if (p == nullptr) return;
  if (!device_) {
    // A new checkin would not help: its identity does not own the registration.
    not_told(*p, "GCM unregister: no device identity is known");
    finish_unsubscribe(id);
    return;
  }
  const fcm::GcmRegisterParams params{*device_, p->fcm.app_id, sender_of(p->app_server_key)};
  post_register3(fcm::encode_gcm_unregister_form(params),
                 [this, id](Result<transport::HttpResponse> r) { on_gcm_unregistered(id, std::move(r)); });
}

void FcmLink::on_gcm_unregistered(std::uint64_t id, Result<transport::HttpResponse> response) {
  PendingUnsubscribe* p = leaving(id);
  if (p == nullptr) return;
  const std::string& app_id = p->fcm.app_id;
  auto ok = decode_answer(response, [&app_id](int status, std::string_view body) {
    return fcm::decode_gcm_unregister_response(status, body, app_id);
  });
  if (!ok) not_told(*p, ok.error().message());
  finish_unsubscribe(id);
}

void FcmLink::finish_unsubscribe(std::uint64_t id) {
  const auto it = unsubscribes_.find(id);
  if (it == unsubscribes_.end()) return;
  auto p = std::move(it->second);
  unsubscribes_.erase(it);
  if (p->told) log().info("subscription {} unregistered from Chrome's push service", p->name);
}

// ---- the MCS stream ------------------------------------------------------------------------

// A stream stopped for want of subscriptions was closed, and a closed stream
// reports nothing more; should it still, the idle link ignores it.

void FcmLink::on_open() {
  if (!running_) return;
  apply(session_.on_connected(clock_->now()));
}

void FcmLink::on_data(std::string_view bytes) {
  if (!running_) return;
  last_heartbeat_ms_ = clock_->now().wall_ms;
  apply(session_.on_bytes(bytes, clock_->now()));
}

void FcmLink::on_closed(protocol::DisconnectReason reason, std::string detail) {
  if (!running_) return;
  transport_detail_ = std::move(detail);
  // Closed already: keep the object alive until its callback has returned.
  if (conn_) graveyard_->bury(std::move(conn_), Duration{0});
  apply(session_.on_closed(reason, clock_->now()));
}

void FcmLink::apply(fcm::McsActions actions) {
  for (auto& a : actions) {
    if (!apply_one(a)) return;  // a failed connect applied its own actions and rearmed
  }
  rearm();
}

bool FcmLink::apply_one(fcm::McsAction& a) {
  using namespace fcm::action;
  if (auto* send = std::get_if<Send>(&a)) {
    if (conn_) conn_->send(std::move(send->bytes));
  } else if (std::get_if<Connect>(&a)) {
    return on_connect();
  } else if (std::get_if<Close>(&a)) {
    retire_connection(Duration{2000});  // time for what is queued to go out
  } else if (auto* deliver = std::get_if<Deliver>(&a)) {
    on_deliver(*deliver);
  } else if (auto* confirmed = std::get_if<AcksConfirmed>(&a)) {
    on_acks_confirmed(*confirmed);
  } else if (auto* changed = std::get_if<StateChanged>(&a)) {
    on_state_changed(*changed);
  } else if (auto* warn = std::get_if<Warn>(&a)) {
    log().warn("FCM: {}", warn->text);
  }
  return true;
}

bool FcmLink::on_connect() {
  retire_connection(Duration{0});
  auto c = streams_->connect(*this);
  if (!c) {
    transport_detail_ = c.error().message();
    apply(session_.on_closed(protocol::DisconnectReason::io_error, clock_->now()));
    return false;
  }
  conn_ = std::move(*c);
  return true;
}

void FcmLink::retire_connection(Duration linger) {
  // Closing may happen inside the stream's own callback: the object is
  // destroyed later, from a timer.
  if (!conn_) return;
  conn_->close();
  graveyard_->bury(std::move(conn_), linger);
}

void FcmLink::rearm() { wakeup_->rearm(session_.next_wakeup(clock_->now())); }

void FcmLink::on_state_changed(const fcm::action::StateChanged& changed) {
  const auto previous = state_;
  state_ = changed.state;
  state_detail_ = changed.detail;
  using protocol::SessionState;
  if (changed.state == SessionState::backing_off || changed.state == SessionState::paused) {
    ++counters_.reconnects;
    connected_since_ms_.reset();
    if (transport_detail_.empty()) {
      log().warn("FCM disconnected: {}", changed.detail);
    } else {
      log().warn("FCM disconnected: {} [{}]", changed.detail, transport_detail_);
    }
    transport_detail_.clear();
  } else if (changed.state == SessionState::ready) {
    connected_since_ms_ = clock_->now().wall_ms;
    log().info("connected to {} ({})", mcs_server(), changed.detail);
  } else if (changed.state == SessionState::idle) {
    connected_since_ms_.reset();
  } else if (changed.state != previous) {
    log().debug("FCM state: {}", protocol::to_string(changed.state));
  }
}

void FcmLink::on_acks_confirmed(const fcm::action::AcksConfirmed& confirmed) {
  if (auto ok = store_->remove_fcm_acks(confirmed.persistent_ids); !ok) {
    // They are presented again at the next login: harmless.
    log().warn("cannot forget the FCM persistent ids a login confirmed: {}", ok.error().message());
  }
}

// ---- the receive path ----------------------------------------------------------------------

void FcmLink::on_deliver(fcm::action::Deliver& deliver) {
  auto& n = deliver.notification;
  auto sub = store_->find_subscription_by_fcm_app(deliver.app_id);
  if (sub && *sub) {
    n.channel_id = (*sub)->channel_id;
  } else {
    if (!sub) log().warn("cannot look up FCM app id {}: {}", deliver.app_id, sub.error().message());
    // No subscription has such a channel: the Receiver treats it as autopush's unknown channel.
    n.channel_id = "fcm-app:" + deliver.app_id;
  }
  batch_.push_back(std::move(n));
  batch_persistent_.push_back(!deliver.persistent_id.empty());
  // Everything that arrives in this loop turn is committed in one transaction.
  if (flush_pending_) return;
  flush_pending_ = true;
  scheduler_->defer([this, alive = alive_] {
    if (!*alive) return;
    flush_pending_ = false;
    flush_batch();
  });
}

void FcmLink::flush_batch() {
  if (batch_.empty()) return;
  std::vector<protocol::Notification> batch;
  batch.swap(batch_);
  std::vector<bool> persistent;
  persistent.swap(batch_persistent_);
  const Instant now = clock_->now();
  auto results = receiver_.process(batch, now.wall_ms);

  std::vector<std::string> versions;
  std::vector<std::string> persistent_ids;
  bool store_failed = false;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    ++counters_.received;
    if (!r.ack) {
      store_failed = true;
      continue;
    }
    if (*r.ack == protocol::AckCode::not_delivered) ++counters_.duplicates;
    if (*r.ack == protocol::AckCode::decrypt_error) ++counters_.decrypt_errors;
    versions.push_back(r.version);
    if (persistent[i]) persistent_ids.push_back(r.version);
  }
  if (!persistent_ids.empty()) {
    if (auto ok = store_->add_fcm_acks(persistent_ids, now.wall_ms); !ok) {
      // Only the next login's list is short: the server may redeliver, and the inbox recognises it.
      log().warn("cannot record FCM persistent ids: {}", ok.error().message());
    }
  }
  // Acked only now: the inbox transaction has committed.
  if (!versions.empty() && running_) apply(session_.ack(std::move(versions), clock_->now()));
  deliver(results);
  if (!store_failed) {
    store_error_.reset();
    return;
  }
  const auto why = std::find_if(results.begin(), results.end(), [](const auto& r) { return r.failure.has_value(); });
  store_error_ = why != results.end() ? why->failure->message() : std::string("the inbox refused the batch");
  log().error("the inbox could not store FCM messages: {}; reconnecting so that the service redelivers them",
              *store_error_);
  if (running_) apply(session_.on_store_failure(clock_->now()));
}

void FcmLink::deliver(const std::vector<protocol::Received>& results) {
  std::vector<const Message*> stored;
  for (const auto& r : results) {
    if (!r.message) continue;
    stored.push_back(&*r.message);
    if (const auto& m = *r.message; m.error) {
      log().warn("FCM message {} on {} could not be decrypted: {}", m.version, m.subscription, *m.error);
    }
  }
  if (!stored.empty()) dispatcher_->deliver(stored);
}

FcmStatus FcmLink::status() const {
  FcmStatus s;
  s.state = state_;
  s.detail = state_detail_;
  s.connected_since_ms = connected_since_ms_;
  s.last_heartbeat_ms = last_heartbeat_ms_;
  s.counters = counters_;
  s.device_known = device_.has_value();
  s.store_error = store_error_;
  return s;
}

}  // namespace webpush::daemon
