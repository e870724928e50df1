// A 90-day soak on fake time: daemon::Agent with a real store in a temporary
// directory and a recording sink, against a model of an autopush service behind
// the fake connection. One message a simulated minute (129,600), real aes128gcm
// payloads encrypted to each subscription's keys, and at seeded random times:
// suspend/resume, network changes, service restarts (close codes, downtime),
// uaid resets, agent restarts and crashes, and sink outages. Half of the faults
// are held back until the agent sends an ack or a registration, so that they
// strike with a frame in flight (random times alone almost never do). The inbox
// is pruned as the Daemon's timer does.
//
// At the end, by message number: every message the service accepted for a live
// channel reached the sink exactly once with its plaintext, and the service saw
// it acked; none twice. Messages lost by the service itself (to an endpoint it
// had forgotten, or dropped unacked at a uaid reset) are counted apart, and
// must stay within the time it takes to announce the new subscription. Each
// simulated day the inbox (the dedup ledger), its undelivered rows, the live
// connections and the scheduler's timers are checked against fixed bounds.
//
// SOAK_SEED=N replays a run (the seed is printed); SOAK_LOG=debug|info|warn
// shows the daemon's log (off by default: thousands of expected disconnects).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "../unit/store/store_fixtures.h"
#include "fake_clock.h"
#include "fake_connection.h"
#include "fake_scheduler.h"
#include "webpush/core/base64url.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/webpush.h"
#include "webpush/daemon/agent.h"

namespace webpush::soak_test {
namespace {

using nlohmann::json;
using protocol::DisconnectReason;
using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

/// A span of time as a count of wall-clock milliseconds.
constexpr std::int64_t ms(Duration d) { return d.count(); }

constexpr const char* kServer = "wss://push.example.net/";
constexpr int kDays = 90;
constexpr std::int64_t kMessages = std::int64_t{kDays} * 24 * 60;  // one a minute
constexpr int kSubscriptions = 3;
constexpr Duration kMinute = minutes(1);
constexpr Duration kPruneInterval = hours(24);  // Daemon::prune re-arms itself so
constexpr Duration kCloseLinger{300};           // DaemonConfig::close_linger
constexpr store::RetentionPolicy kRetention{};  // the daemon's defaults: 30 days, 10,000 rows

// ---- the plan: how often each fault strikes, and for how long ----------------------------

constexpr Duration kSuspendEvery = hours(12);
constexpr Duration kSuspendMin = minutes(2);
constexpr Duration kSuspendMax = hours(10);
constexpr Duration kSurvivableSuspend = minutes(2);  // a socket may outlive a sleep this short
constexpr Duration kNetworkDownEvery = hours(16);
constexpr Duration kNetworkDownMax = minutes(20);
constexpr Duration kNetworkBlipEvery = hours(16);
constexpr Duration kServiceRestartEvery = days(3);
constexpr Duration kServiceDownMax = minutes(10);
constexpr Duration kUaidResetEvery = days(15);
constexpr Duration kAgentRestartEvery = days(4);
constexpr Duration kAgentCrashEvery = days(6);
constexpr Duration kSinkOutageEvery = days(9);
constexpr Duration kSinkOutageMax = hours(2);
constexpr int kCloseCodes[] = {1000, 1001, 1011, 1012, 1013, 4774};

// ---- the bounds checked every simulated day ----------------------------------------------

// A prune runs at each start and after every 24 h awake; between two, a day
// awake plus the suspends within it: under three days of messages at one a minute.
constexpr std::int64_t kInboxRowBound = kRetention.max_rows + 3 * 24 * 60;
// Undelivered rows wait while the sink refuses, and the backlog of a sleep may
// arrive meanwhile: at a message a minute, an outage and a sleep's worth.
constexpr std::int64_t kUndeliveredBound = (kSinkOutageMax + kSuspendMax) / kMinute;
// The current connection and those lingering for their close frame.
constexpr std::size_t kLiveConnectionBound = 3;
// The agent's wakeup, reaper and sink retry, the service model's agenda, the prune timer.
constexpr std::size_t kTimerBound = 5;
// A subscription the service forgot is announced anew once the agent reconnects;
// messages to the old endpoint after that are not the service's loss but ours.
constexpr Duration kAnnounceBound = hours(12);

// ---- chance -------------------------------------------------------------------------------

/// splitmix64: the same sequence on every platform for a seed.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return uniform() < p; }
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(uniform() * static_cast<double>(hi - lo + 1));
  }
  Duration between(Duration lo, Duration hi) { return Duration(between(lo.count(), hi.count())); }
  /// Gaps of a Poisson process with this mean.
  Duration exponential(Duration mean) {
    return Duration(static_cast<std::int64_t>(-std::log1p(-uniform()) * static_cast<double>(mean.count())));
  }
  /// Short ones as likely as long ones, per order of magnitude.
  Duration log_uniform(Duration lo, Duration hi) {
    const double ratio = static_cast<double>(hi.count()) / static_cast<double>(lo.count());
    return Duration(static_cast<std::int64_t>(static_cast<double>(lo.count()) * std::pow(ratio, uniform())));
  }

 private:
  std::uint64_t state_;
};

class SeededJitter final : public Jitter {
 public:
  explicit SeededJitter(Rng& rng) : rng_(&rng) {}
  double next() override { return rng_->uniform(); }

 private:
  Rng* rng_;
};

/// CPU time of this thread: the machine may be shared, so wall time alone says little.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::uint64_t seed_from_env() {
  if (const char* s = std::getenv("SOAK_SEED"); s != nullptr && *s != '\0') return std::strtoull(s, nullptr, 0);
  return std::random_device{}();
}

// ---- messages and what became of each ------------------------------------------------------

std::string version_of(std::int64_t n) { return "m" + std::to_string(n); }
std::optional<std::int64_t> number_of(std::string_view version) {
  if (version.size() < 2 || version[0] != 'm') return std::nullopt;
  return std::stoll(std::string(version.substr(1)));
}
std::string plaintext_of(std::int64_t n) { return fmt::format("soak message {}", n); }
std::string subscription_name(int s) { return "sub-" + std::to_string(s); }

struct MessageRecord {
  int subscription = 0;
  std::int64_t posted_at = 0;  // wall ms
  bool accepted = false;       // the service took it for a live channel
  bool refused = false;        // its endpoint was gone (a uaid reset not yet announced)
  bool discarded = false;      // the service dropped it unacked at a uaid reset
  bool corrupt = false;        // reached the sink with the wrong payload or name
  int delivered = 0;           // taken by the sink
  int acks_100 = 0;            // acks the agent sent, by code
  int acks_other = 0;
  int removed = 0;  // times the service removed it on an ack
};

struct Ledger {
  std::vector<MessageRecord> messages = std::vector<MessageRecord>(kMessages);
  std::int64_t sink_refusals = 0;
  std::int64_t decrypt_errors = 0;
  std::int64_t subscription_changes = 0;
  std::int64_t stray_acks = 0;  // for messages the service no longer held (a redelivery's 102)
  std::int64_t foreign = 0;     // events or acks for no message of this run

  MessageRecord* find(std::string_view version) {
    const auto n = number_of(version);
    if (!n || *n < 0 || *n >= kMessages) {
      ++foreign;
      return nullptr;
    }
    return &messages[static_cast<std::size_t>(*n)];
  }
};

// ---- the application server: knows each subscription as its PushSubscription ------------------

class AppServer {
 public:
  struct Target {
    std::string endpoint;
    std::shared_ptr<const crypto::PublicKey> key;
    Bytes auth;
  };

  void learn(const std::string& name, std::string endpoint, ByteView p256dh, ByteView auth) {
    auto key = crypto::PublicKey::from_bytes(p256dh);
    if (!key) throw std::runtime_error("app server: bad p256dh for " + name);
    targets_[name] = Target{std::move(endpoint), std::make_shared<const crypto::PublicKey>(std::move(*key)),
                            Bytes(auth.begin(), auth.end())};
  }
  /// From a subscription_changed event: the new PushSubscription JSON.
  void learn_json(const std::string& name, const std::string& text) {
    const json j = json::parse(text);
    const auto p256dh = base64url_decode(j["keys"]["p256dh"].get<std::string>()).value();
    const auto auth = base64url_decode(j["keys"]["auth"].get<std::string>()).value();
    learn(name, j["endpoint"].get<std::string>(), p256dh, auth);
  }
  [[nodiscard]] const Target& target(const std::string& name) const { return targets_.at(name); }
  [[nodiscard]] std::size_t known() const { return targets_.size(); }

  /// The body as an application server POSTs it (aes128gcm), base64url.
  std::string encrypt(const Target& t, std::string_view plaintext) {
    const double started = cpu_seconds();
    auto body = crypto::webpush_encrypt(as_bytes(plaintext), *t.key, t.auth);
    if (!body) throw std::runtime_error("app server: " + body.error().to_string());
    std::string text = base64url_encode(*body);
    encrypt_cpu_seconds += cpu_seconds() - started;
    return text;
  }

  double encrypt_cpu_seconds = 0;

 private:
  std::map<std::string, Target> targets_;
};

// ---- the sink: what the agent hands over, checked against the ledger --------------------------

class LedgerSink final : public sinks::Sink {
 public:
  LedgerSink(Ledger& ledger, AppServer& app) : ledger_(&ledger), app_(&app) {}

  /// A sink that cannot take messages (a full disk): they stay undelivered in the inbox.
  bool refusing = false;

  [[nodiscard]] std::string_view name() const override { return "ledger"; }
  Result<void> deliver(const sinks::Event& event) override {
    if (const auto* m = std::get_if<sinks::MessageEvent>(&event)) return on_message(*m);
    if (const auto* c = std::get_if<sinks::SubscriptionChangedEvent>(&event)) {
      // Taken even in an outage: the agent does not offer it again.
      ++ledger_->subscription_changes;
      app_->learn_json(c->subscription, c->new_subscription_json);
    } else if (std::get_if<sinks::DecryptErrorEvent>(&event)) {
      ++ledger_->decrypt_errors;
    }
    return {};
  }

 private:
  Result<void> on_message(const sinks::MessageEvent& m) {
    if (refusing) {
      ++ledger_->sink_refusals;
      return fail(sinks::Errc::io, "ledger sink: simulated full disk");
    }
    MessageRecord* r = ledger_->find(m.version);
    if (r == nullptr) return {};
    ++r->delivered;
    const std::string expected = plaintext_of(*number_of(m.version));
    if (m.payload != to_bytes(expected) || m.subscription != subscription_name(r->subscription)) r->corrupt = true;
    return {};
  }

  Ledger* ledger_;
  AppServer* app_;
};

// ---- connections the service model hears about --------------------------------------------------

/// The fake factory, telling the service model of each connection attempt.
class ObservedConnections final : public transport::ConnectionFactory {
 public:
  Result<std::unique_ptr<transport::Connection>> connect(transport::ConnectionListener& listener) override {
    auto c = fake.connect(listener);
    if (c && on_connection) on_connection(fake.links().back());
    return c;
  }

  fakes::FakeConnectionFactory fake;
  std::function<void(std::shared_ptr<fakes::FakeLink>)> on_connection;
};

bool usable(const fakes::FakeLink& link) { return !link.closed() && !link.destroyed() && !link.dropped(); }

// ---- the push service model --------------------------------------------------------------------
//
// autopush as the agent sees it: hello keeps a known uaid or hands out a new one;
// register makes an endpoint; a POST to an endpoint stores the message on its
// channel and sends it if the uaid is connected; every message not acked is sent
// again after the next hello; an ack removes it. Frames take a per-connection
// latency each way (in order, as TCP), and everything in flight on a connection
// that dies is lost. It runs on the fake scheduler (a boot-clock timer: the
// service keeps time while the agent's machine sleeps).
class PushService {
 public:
  PushService(fakes::FakeScheduler& scheduler, const fakes::FakeClock& clock, Ledger& ledger, Rng& rng)
      : scheduler_(&scheduler), clock_(&clock), ledger_(&ledger), rng_(&rng) {}

  void start() {
    timer_ = scheduler_->make_timer(event::TimerClock::boot, [this] { run_due(); }).value();
  }
  /// Called after each notification reaches the agent (a crash may be due then).
  void set_after_notification(std::function<void()> f) { after_notification_ = std::move(f); }
  /// Called with the messageType of each frame the agent sends ("ping" for `{}`),
  /// before the frame reaches the service.
  void set_on_frame_sent(std::function<void(const std::string&)> f) { on_frame_sent_ = std::move(f); }

  // ---- the application server's side ----
  /// A POST to `endpoint`: true when accepted for a live channel, false when gone (410).
  bool post(const std::string& endpoint, std::int64_t n, std::string data) {
    const auto e = by_endpoint_.find(endpoint);
    if (e == by_endpoint_.end()) return false;
    Channel& ch = channels_.at(e->second);
    ch.stored.emplace(n, std::move(data));
    if (Conn* c = connected(ch.uaid)) send_notification(*c, e->second, n, ch.stored.at(n));
    return true;
  }

  // ---- the user agent's side ----
  void on_connection(std::shared_ptr<fakes::FakeLink> link) {
    forget_gone_connections();
    const int id = next_conn_++;
    link->set_send_observer([this, id](std::string_view frame) { from_agent(id, frame); });
    const Duration latency = rng_->between(milliseconds(5), milliseconds(100));
    conns_.emplace(id, Conn{id, std::move(link), latency});
    ++connections_;
    schedule(rng_->between(milliseconds(20), milliseconds(300)), [this, id] { accept(id); });
  }

  // ---- faults ----
  /// Down: the agent's socket fails and new connections are refused, at once.
  void set_network(bool up) {
    network_up_ = up;
    if (!up) end_connections(true, DisconnectReason::io_error, 0, "fake: the network went away");
  }
  /// Every connection dies without a word: frames in flight either way are lost.
  void kill_connections() { end_connections(false, DisconnectReason::io_error, 0, ""); }
  /// The service restarts: it closes each connection with `code` (unheard by a
  /// sleeping agent) and forgets what was in flight.
  void restart(int code, bool agent_hears) {
    end_connections(agent_hears, DisconnectReason::server_close, code, fmt::format("fake: close {}", code));
  }
  /// Refuses connections while down.
  void set_up(bool up) { up_ = up; }
  /// The service loses its user records: every uaid, channel and stored message.
  void forget_uaids(bool agent_hears) {
    for (auto& [chid, ch] : channels_) {
      for (const auto& [n, data] : ch.stored) ledger_->messages[static_cast<std::size_t>(n)].discarded = true;
    }
    channels_.clear();
    by_endpoint_.clear();
    uaids_.clear();
    restart(1000, agent_hears);
  }

  // ---- inspection ----
  [[nodiscard]] std::size_t unacked() const {
    std::size_t n = 0;
    for (const auto& [chid, ch] : channels_) n += ch.stored.size();
    return n;
  }
  [[nodiscard]] int connections() const noexcept { return connections_; }
  [[nodiscard]] int uaids_issued() const noexcept { return next_uaid_ - 1; }
  [[nodiscard]] std::int64_t frames_lost() const noexcept { return frames_lost_; }

 private:
  struct Conn {
    int id;
    std::shared_ptr<fakes::FakeLink> link;
    Duration latency;
    bool dead = false;  // nothing more goes either way
    std::optional<std::string> uaid;
    Duration last_down{0};  // boot time of the last frame scheduled to the agent (TCP keeps order)
  };
  struct Channel {
    std::string uaid;
    std::string endpoint;
    std::map<std::int64_t, std::string> stored;  // message number → body, until acked
  };

  // -- the agenda, on the boot clock --
  void schedule(Duration delay, std::function<void()> work) { schedule_at(now() + delay, std::move(work)); }
  void schedule_at(Duration at, std::function<void()> work) {
    agenda_.emplace(at, std::move(work));
    timer_->arm(std::max(Duration{0}, agenda_.begin()->first - now()));
  }
  void run_due() {
    while (!agenda_.empty() && agenda_.begin()->first <= now()) {
      auto work = std::move(agenda_.begin()->second);
      agenda_.erase(agenda_.begin());
      work();
    }
    if (!agenda_.empty()) timer_->arm(std::max(Duration{0}, agenda_.begin()->first - now()));
  }
  [[nodiscard]] Duration now() const { return clock_->now().boot; }

  Conn* live(int id) {
    const auto it = conns_.find(id);
    if (it == conns_.end() || it->second.dead) return nullptr;
    return &it->second;
  }
  Conn* connected(const std::string& uaid) {
    Conn* c = current_ ? live(*current_) : nullptr;
    return c != nullptr && c->uaid == uaid && usable(*c->link) ? c : nullptr;
  }
  void forget_gone_connections() {
    // A connection closed by the agent still delivers what it sent before the
    // close; once the agent destroyed it, nothing more can come.
    std::erase_if(conns_, [](const auto& kv) { return kv.second.dead || kv.second.link->destroyed(); });
  }

  // -- connecting --
  void accept(int id) {
    Conn* c = live(id);
    if (c == nullptr) {
      // Killed before it opened: the transport gives up after its connect timeout.
      if (const auto it = conns_.find(id); it != conns_.end()) {
        schedule(seconds(10), [link = it->second.link] {
          if (usable(*link)) link->drop(DisconnectReason::connect_timeout, 0, "fake: connect timeout");
        });
      }
      return;
    }
    if (!usable(*c->link)) return;  // the agent gave up on it
    if (!network_up_ || !up_) {
      c->dead = true;
      c->link->drop(DisconnectReason::connect_refused, 0, network_up_ ? "fake: service down" : "fake: unreachable");
      return;
    }
    c->link->open();  // the agent sends its hello from inside
  }
  void end_connections(bool agent_hears, DisconnectReason reason, int code, const std::string& detail) {
    std::vector<std::shared_ptr<fakes::FakeLink>> told;  // told after the loop: the agent may connect again
    for (auto& [id, c] : conns_) {
      if (c.dead) continue;
      c.dead = true;
      if (agent_hears && usable(*c.link)) told.push_back(c.link);
    }
    current_.reset();
    for (const auto& link : told) {
      const bool opened = link->opened();
      link->drop(opened ? reason : DisconnectReason::connect_refused, opened ? code : 0, detail);
    }
  }

  // -- frames from the agent --
  void from_agent(int id, std::string_view frame) {
    json j = json::parse(frame, nullptr, false);
    count_acks_sent(j);
    if (on_frame_sent_) on_frame_sent_(j.is_object() ? j.value("messageType", "ping") : "");
    Conn* c = live(id);
    if (c == nullptr) {
      ++frames_lost_;
      return;
    }
    c->link->clear_sent();  // the fake keeps every frame otherwise; the service has them here
    schedule(c->latency, [this, id, j = std::move(j)] { arrive(id, j); });
  }
  void count_acks_sent(const json& j) {
    if (!j.is_object() || j.value("messageType", "") != "ack") return;
    for (const auto& u : j["updates"]) {
      MessageRecord* r = ledger_->find(u.value("version", ""));
      if (r == nullptr) continue;
      ++(u.value("code", 0) == 100 ? r->acks_100 : r->acks_other);
    }
  }
  void arrive(int id, const json& j) {
    Conn* c = live(id);
    if (c == nullptr) {
      ++frames_lost_;
      return;
    }
    const std::string type = j.is_object() ? j.value("messageType", "") : "";
    if (type == "hello") {
      on_hello(*c, j);
    } else if (type == "register") {
      on_register(*c, j);
    } else if (type == "unregister") {
      reply(*c, json{{"messageType", "unregister"}, {"channelID", j["channelID"]}, {"status", 200}});
    } else if (type == "ack") {
      on_ack(j);
    } else if (j.is_object() && j.empty()) {
      reply(*c, json::object());  // ping → pong
    }
  }
  void on_hello(Conn& c, const json& j) {
    const std::string asked = j.value("uaid", "");
    std::string uaid = uaids_.count(asked) ? asked : fmt::format("{:032x}", next_uaid_++);
    uaids_.insert(uaid);
    c.uaid = uaid;
    current_ = c.id;
    reply(c,
          json{{"messageType", "hello"}, {"uaid", uaid}, {"status", 200}, {"use_webpush", true}, {"broadcasts", {}}});
    flush(c);
  }
  void on_register(Conn& c, const json& j) {
    const std::string chid = j.value("channelID", "");
    if (!c.uaid || channels_.count(chid)) {
      reply(c, json{{"messageType", "register"}, {"channelID", chid}, {"status", 409}});
      return;
    }
    const std::string endpoint = fmt::format("https://push.example.net/wpush/v2/{}", next_endpoint_++);
    channels_.emplace(chid, Channel{*c.uaid, endpoint, {}});
    by_endpoint_.emplace(endpoint, chid);
    reply(c, json{{"messageType", "register"}, {"channelID", chid}, {"status", 200}, {"pushEndpoint", endpoint}});
  }
  void on_ack(const json& j) {
    for (const auto& u : j["updates"]) {
      const auto ch = channels_.find(u.value("channelID", ""));
      const auto n = number_of(u.value("version", ""));
      if (ch == channels_.end() || !n || ch->second.stored.erase(*n) == 0) {
        ++ledger_->stray_acks;
        continue;
      }
      ++ledger_->messages[static_cast<std::size_t>(*n)].removed;
    }
  }

  // -- frames to the agent --
  /// Everything not acked, after the hello: autopush's flush of stored messages.
  void flush(Conn& c) {
    std::vector<std::pair<std::int64_t, const std::string*>> due;
    for (const auto& [chid, ch] : channels_) {
      if (ch.uaid != c.uaid) continue;
      for (const auto& [n, data] : ch.stored) due.emplace_back(n, &chid);
    }
    std::sort(due.begin(), due.end());
    c.last_down = std::max(c.last_down, now() + c.latency);
    for (std::size_t i = 0; i < due.size(); ++i) {
      // Some frames per read: the agent commits each loop turn's batch at once.
      if (i % 50 == 49) c.last_down += milliseconds(1);
      const Channel& ch = channels_.at(*due[i].second);
      send_notification(c, *due[i].second, due[i].first, ch.stored.at(due[i].first));
    }
  }
  void send_notification(Conn& c, const std::string& chid, std::int64_t n, const std::string& data) {
    json frame{{"messageType", "notification"},
               {"channelID", chid},
               {"version", version_of(n)},
               {"data", data},
               {"headers", {{"encoding", "aes128gcm"}}}};
    send(c, frame.dump(), /*notification=*/true);
  }
  void reply(Conn& c, const json& frame) { send(c, frame.dump(), false); }
  void send(Conn& c, std::string frame, bool notification) {
    const Duration at = std::max(now() + c.latency, c.last_down);
    c.last_down = at;
    schedule_at(at, [this, id = c.id, frame = std::move(frame), notification] {
      Conn* target = live(id);
      if (target == nullptr || !usable(*target->link)) {
        ++frames_lost_;
        return;
      }
      target->link->receive(frame);
      if (notification && after_notification_) after_notification_();
    });
  }
  fakes::FakeScheduler* scheduler_;
  const fakes::FakeClock* clock_;
  Ledger* ledger_;
  Rng* rng_;
  std::unique_ptr<event::ScheduledTimer> timer_;
  std::multimap<Duration, std::function<void()>> agenda_;  // equal times keep their order
  std::function<void()> after_notification_;
  std::function<void(const std::string&)> on_frame_sent_;
  std::map<int, Conn> conns_;
  std::optional<int> current_;  // the connection of the last hello
  std::set<std::string> uaids_;
  std::map<std::string, Channel> channels_;         // by channel ID
  std::map<std::string, std::string> by_endpoint_;  // endpoint → channel ID
  bool network_up_ = true;
  bool up_ = true;
  int next_conn_ = 1;
  int next_uaid_ = 1;
  int next_endpoint_ = 1;
  int connections_ = 0;
  std::int64_t frames_lost_ = 0;
};

// ---- the timeline of faults -----------------------------------------------------------------

enum class Kind {
  day,  // the daily check of the bounds
  suspend,
  wake,
  network_down,
  network_up,
  network_blip,  // a network change the socket may or may not survive
  service_restart,
  service_up,
  uaid_reset,
  agent_restart,
  agent_crash,  // at the next notification, before its batch is committed (or held back)
  sink_outage,
  sink_back,
};

struct Event {
  std::int64_t at = 0;  // wall ms
  Kind kind = Kind::day;
  Duration length{0};
  int code = 0;
  bool timed = false;     // held back for the worst moment already (World::hold_back)
  std::uint64_t seq = 0;  // ties keep the order of planning
};

class Timeline {
 public:
  void add(Event e) {
    e.seq = seq_++;
    queue_.push(e);
  }
  [[nodiscard]] bool due(std::int64_t until) const { return !queue_.empty() && queue_.top().at <= until; }
  [[nodiscard]] std::int64_t next_at() const { return queue_.top().at; }
  [[nodiscard]] bool empty() const { return queue_.empty(); }
  Event pop() {
    Event e = queue_.top();
    queue_.pop();
    return e;
  }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const { return a.at != b.at ? a.at > b.at : a.seq > b.seq; }
  };
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::uint64_t seq_ = 0;
};

/// Worst with a frame in flight: an ack the service never hears, a registration
/// never answered.
bool worst_with_a_frame_in_flight(Kind k) {
  return k == Kind::suspend || k == Kind::network_down || k == Kind::network_blip || k == Kind::service_restart ||
         k == Kind::uaid_reset || k == Kind::agent_restart || k == Kind::agent_crash;
}

/// A fault held back until the agent sends a frame of one type.
struct Strike {
  Event event;
  std::string frame;      // messageType awaited
  std::int64_t deadline;  // wall ms: strikes then anyway
  bool due = false;
};

/// Happens to the agent's machine, so waits while it sleeps.
bool needs_the_agent_awake(Kind k) {
  return k == Kind::network_down || k == Kind::network_up || k == Kind::network_blip || k == Kind::agent_restart ||
         k == Kind::agent_crash || k == Kind::sink_outage || k == Kind::sink_back;
}

struct Tally {
  int suspends = 0;
  int network_downs = 0;
  int network_blips = 0;
  int service_restarts = 0;
  int uaid_resets = 0;
  int agent_restarts = 0;
  int agent_crashes = 0;
  int sink_outages = 0;
  int prunes = 0;
  int timed_to_ack = 0;  // held back until an ack was in flight
  int timed_to_register = 0;
  std::int64_t pruned_rows = 0;
  std::int64_t reconnects = 0;
  std::int64_t duplicates = 0;  // acked 102 by the agent
  std::int64_t max_inbox_rows = 0;
  std::int64_t max_undelivered = 0;
  std::size_t max_live_connections = 0;
  std::vector<std::int64_t> resets_at;  // wall ms
};

// ---- the world: the agent's machine, its store and sink, and the service ---------------------

class World {
 public:
  explicit World(std::uint64_t seed) : rng_(seed) {
    start_ = clock_.now().wall_ms;
    service_.start();
    service_.set_after_notification([this] {
      if (crash_pending_) crash();
    });
    service_.set_on_frame_sent([this](const std::string& type) {
      for (auto* strike : {&after_ack_, &after_register_}) {
        if (*strike && (*strike)->frame == type) (*strike)->due = true;
      }
    });
    connections_.on_connection = [this](std::shared_ptr<fakes::FakeLink> link) {
      service_.on_connection(std::move(link));
    };
    prune_timer_ = scheduler_.make_timer(event::TimerClock::monotonic, [this] { prune(); }).value();
    plan();
  }

  void run() {
    boot_agent();
    subscribe_all();
    for (std::int64_t n = 0; n < kMessages; ++n) {
      advance_to(start_ + (n + 1) * kMinute.count());
      post(n);
    }
    drain();
  }

  void verify();
  [[nodiscard]] std::string summary(double wall_seconds, double cpu_seconds) const;

 private:
  // -- planning --
  void plan() {
    const std::int64_t first = start_ + ms(hours(1));
    const std::int64_t last = start_ + kMessages * kMinute.count() - ms(hours(2));
    for (int d = 1; d <= kDays; ++d) timeline_.add(Event{start_ + d * ms(days(1)), Kind::day});
    plan_each(kSuspendEvery, first, last, [&](Event& e) {
      e.kind = Kind::suspend;
      e.length = rng_.log_uniform(kSuspendMin, kSuspendMax);
    });
    plan_each(kNetworkDownEvery, first, last, [&](Event& e) {
      e.kind = Kind::network_down;
      e.length = rng_.log_uniform(seconds(30), kNetworkDownMax);
    });
    plan_each(kNetworkBlipEvery, first, last, [&](Event& e) { e.kind = Kind::network_blip; });
    plan_each(kServiceRestartEvery, first, last, [&](Event& e) {
      e.kind = Kind::service_restart;
      e.code = kCloseCodes[rng_.between(0, static_cast<std::int64_t>(std::size(kCloseCodes)) - 1)];
      e.length = rng_.chance(0.5) ? Duration{0} : rng_.between(seconds(5), kServiceDownMax);
    });
    plan_each(kUaidResetEvery, first, last, [&](Event& e) { e.kind = Kind::uaid_reset; });
    plan_each(kAgentRestartEvery, first, last, [&](Event& e) { e.kind = Kind::agent_restart; });
    plan_each(kAgentCrashEvery, first, last, [&](Event& e) { e.kind = Kind::agent_crash; });
    plan_each(kSinkOutageEvery, first, last, [&](Event& e) {
      e.kind = Kind::sink_outage;
      e.length = rng_.log_uniform(minutes(1), kSinkOutageMax);
    });
  }
  template <class Fill>
  void plan_each(Duration mean, std::int64_t first, std::int64_t last, Fill fill) {
    for (std::int64_t t = first + rng_.exponential(mean).count(); t < last; t += rng_.exponential(mean).count()) {
      Event e;
      e.at = t;
      fill(e);
      timeline_.add(e);
    }
  }

  // -- time --
  [[nodiscard]] std::int64_t now() const { return clock_.now().wall_ms; }
  /// Moves time to `at`, handling the timeline's events on the way, each at its time.
  void advance_to(std::int64_t at) {
    for (;;) {
      const std::int64_t target = timeline_.due(at) ? timeline_.next_at() : at;
      if (now() < target) {
        run_until(target);  // back early when a held-back fault struck: it may have planned more
      } else if (timeline_.due(at)) {
        handle(timeline_.pop());
      } else {
        return;
      }
    }
  }
  /// Moves time towards `at` one timer at a time, so that a held-back fault
  /// strikes right after the timer whose work it waited for; returns after it.
  void run_until(std::int64_t at) {
    if (asleep_) {
      clock_.suspend(Duration{at - now()});  // nothing runs; the service's timers fire at resume
      return;
    }
    while (now() < at) {
      const auto next = scheduler_.next_deadline();
      scheduler_.advance(next ? std::min(*next, Duration{at - now()}) : Duration{at - now()});
      if (strike(after_ack_) || strike(after_register_)) return;
    }
  }
  bool strike(std::optional<Strike>& held) {
    if (!held || !(held->due || now() >= held->deadline)) return false;
    const Event e = held->event;
    held.reset();
    handle(e);
    return true;
  }
  void later(Kind kind, Duration after, Duration length = Duration{0}) {
    timeline_.add(Event{now() + after.count(), kind, length});
  }

  // -- the agent's life, as the Daemon runs it --
  void boot_agent() {
    store_.emplace(store::test::open_or_die(tmp_.state(), store::OpenMode::daemon));
    daemon::AgentOptions options;
    options.server = kServer;
    agent_ = std::make_unique<daemon::Agent>(*store_, connections_, scheduler_, options, clock_, jitter_);
    agent_->set_sinks({&sink_});
    if (auto ok = agent_->start(); !ok) throw std::runtime_error("agent start: " + ok.error().to_string());
    prune();  // Daemon::run prunes once the agent has started
  }
  void stop_agent(bool graceful) {
    check_bounds();  // the undelivered rows of a sink outage peak now
    if (graceful) {
      agent_->shutdown();
      scheduler_.advance(kCloseLinger);  // Daemon::stop lets the close frame go out
    }
    const auto counters = agent_->status().counters;
    tally_.reconnects += counters.reconnects;
    tally_.duplicates += counters.duplicates;
    agent_.reset();
    store_.reset();  // a new process opens the database anew
  }
  void restart_agent() {
    ++tally_.agent_restarts;
    stop_agent(true);
    boot_agent();
  }
  void crash() {
    // Inside the service's delivery: the notification just handed over is in the
    // agent's batch, neither committed nor acked.
    crash_pending_ = false;
    ++tally_.agent_crashes;
    stop_agent(false);
    boot_agent();
  }
  void prune() {
    auto n = store_->prune(now(), kRetention);
    if (!n) throw std::runtime_error("prune: " + n.error().to_string());
    tally_.pruned_rows += *n;
    ++tally_.prunes;
    prune_timer_->arm(kPruneInterval);
  }

  void subscribe_all() {
    const auto vapid = crypto::KeyPair::generate().value();
    for (int s = 0; s < kSubscriptions; ++s) {
      std::optional<Bytes> key;
      if (s == 0) key = Bytes(vapid.public_bytes().begin(), vapid.public_bytes().end());
      agent_->subscribe(subscription_name(s), key, [this](Result<store::Subscription> sub) {
        if (!sub) throw std::runtime_error("subscribe: " + sub.error().to_string());
        app_.learn(sub->name, sub->endpoint, sub->public_key, sub->auth_secret);
      });
    }
    advance_to(start_ + ms(seconds(30)));
    if (app_.known() != kSubscriptions) throw std::runtime_error("the subscriptions were not created in 30 s");
  }

  /// The application server sends message `n`.
  void post(std::int64_t n) {
    MessageRecord& r = ledger_.messages[static_cast<std::size_t>(n)];
    r.subscription = static_cast<int>(n % kSubscriptions);
    r.posted_at = now();
    const auto& target = app_.target(subscription_name(r.subscription));
    std::string data = app_.encrypt(target, plaintext_of(n));
    if (service_.post(target.endpoint, n, std::move(data))) {
      r.accepted = true;
    } else {
      r.refused = true;  // a uaid reset the application server has not heard of yet
    }
  }

  // -- faults --
  void handle(Event e) {
    if (asleep_ && needs_the_agent_awake(e.kind)) {
      e.at = wake_at_ + rng_.between(seconds(1), minutes(1)).count();
      timeline_.add(e);
      return;
    }
    if (!e.timed && !asleep_ && worst_with_a_frame_in_flight(e.kind) && rng_.chance(0.5) && hold_back(e)) return;
    switch (e.kind) {
      case Kind::day: check_bounds(); break;
      case Kind::suspend: suspend(e.length); break;
      case Kind::wake: wake(); break;
      case Kind::network_down: network_down(e.length); break;
      case Kind::network_up: network_up(); break;
      case Kind::network_blip: network_blip(); break;
      case Kind::service_restart: service_restart(e.code, e.length); break;
      case Kind::service_up:
        service_up_ = true;
        service_.set_up(true);
        break;
      case Kind::uaid_reset: uaid_reset(); break;
      case Kind::agent_restart: restart_agent(); break;
      case Kind::agent_crash:
        if (e.timed) {
          crash();
        } else {
          crash_pending_ = true;  // at the next notification, before its batch is committed
        }
        break;
      case Kind::sink_outage: sink_outage(e.length); break;
      case Kind::sink_back: sink_back(); break;
    }
  }
  /// Faults at random times almost never meet the ~0.1 s a frame is in flight:
  /// half of them wait for one. Most wait for the next ack (5 minutes at most);
  /// some for the next registration, which only a uaid reset brings (days).
  bool hold_back(Event e) {
    e.timed = true;
    if (!after_register_ && rng_.chance(0.2)) {
      after_register_ = Strike{e, "register", std::numeric_limits<std::int64_t>::max()};
      ++tally_.timed_to_register;
      return true;
    }
    if (after_ack_) return false;
    after_ack_ = Strike{e, "ack", now() + ms(minutes(5))};
    ++tally_.timed_to_ack;
    return true;
  }
  void suspend(Duration length) {
    if (asleep_) return;
    ++tally_.suspends;
    scheduler_.run_deferred();
    asleep_ = true;
    wake_at_ = now() + length.count();
    // A socket may outlive a short sleep; a long one the service has given up on.
    if (length > kSurvivableSuspend || rng_.chance(0.5)) service_.kill_connections();
    timeline_.add(Event{wake_at_, Kind::wake});
  }
  void wake() {
    asleep_ = false;
    scheduler_.resume();
    // Waking up, the Wi-Fi often joins again: a network change soon after.
    if (rng_.chance(0.5)) later(Kind::network_blip, rng_.between(seconds(1), seconds(30)));
  }
  void network_down(Duration length) {
    if (!network_up_) return;
    ++tally_.network_downs;
    network_up_ = false;
    service_.set_network(false);
    // The next attempt fails in connect() itself (no route); later ones at the service model.
    connections_.fake.fail_next_connect(transport::Errc::connect, "fake: network is unreachable");
    later(Kind::network_up, length);
  }
  void network_up() {
    network_up_ = true;
    service_.set_network(true);
    agent_->on_network_change();
  }
  void network_blip() {
    if (!network_up_) return;
    ++tally_.network_blips;
    if (rng_.chance(0.5)) service_.kill_connections();
    // Not every change reaches the agent: roaming between access points, a NAT
    // that forgot the mapping.
    if (rng_.chance(0.75)) agent_->on_network_change();
  }
  void service_restart(int code, Duration down) {
    if (!service_up_) return;
    ++tally_.service_restarts;
    service_.restart(code, !asleep_);
    if (down == Duration{0}) return;
    service_up_ = false;
    service_.set_up(false);
    later(Kind::service_up, down);
  }
  void uaid_reset() {
    ++tally_.uaid_resets;
    tally_.resets_at.push_back(now());
    service_.forget_uaids(!asleep_);
  }
  void sink_back() {
    sink_.refusing = false;
    // The agent's retry catches the sink up; or the operator restarts the
    // daemon, which hands the undelivered rows over at start.
    if (rng_.chance(0.5)) restart_agent();
  }
  void sink_outage(Duration length) {
    if (sink_.refusing) return;
    ++tally_.sink_outages;
    sink_.refusing = true;
    later(Kind::sink_back, length);
  }

  /// The end: the last recoveries, then an hour (and a network change) to settle.
  void drain() {
    if (after_register_) after_register_->deadline = now();  // no uaid reset is coming
    // Until every fault has run its course (a held-back one plans its own end).
    while (!timeline_.empty() || after_ack_ || after_register_) {
      advance_to(timeline_.empty() ? now() + ms(minutes(5)) : timeline_.next_at());
    }
    advance_to(now() + ms(hours(1)));
    if (agent_->status().state != protocol::SessionState::ready) {
      agent_->on_network_change();
      advance_to(now() + ms(hours(1)));
    }
    const auto counters = agent_->status().counters;
    tally_.reconnects += counters.reconnects;
    tally_.duplicates += counters.duplicates;
  }

  void check_bounds();
  [[nodiscard]] std::size_t live_connections() const {
    const auto& links = connections_.fake.links();
    return static_cast<std::size_t>(
        std::count_if(links.begin(), links.end(), [](const auto& l) { return !l->destroyed(); }));
  }
  [[nodiscard]] bool refused_in_time(const MessageRecord& r) const;

  // Declared in dependency order: the scheduler outlives every timer, the
  // directory the store.
  Rng rng_;
  Ledger ledger_;
  fakes::FakeClock clock_;
  fakes::FakeScheduler scheduler_{clock_};
  SeededJitter jitter_{rng_};
  ObservedConnections connections_;
  store::test::TempDir tmp_;
  std::optional<store::Store> store_;
  AppServer app_;
  PushService service_{scheduler_, clock_, ledger_, rng_};
  LedgerSink sink_{ledger_, app_};
  std::unique_ptr<event::ScheduledTimer> prune_timer_;
  std::unique_ptr<daemon::Agent> agent_;
  Timeline timeline_;
  Tally tally_;
  std::int64_t start_ = 0;
  std::int64_t wake_at_ = 0;
  bool asleep_ = false;
  bool network_up_ = true;
  bool service_up_ = true;
  bool crash_pending_ = false;
  std::optional<Strike> after_ack_;
  std::optional<Strike> after_register_;
};

void World::check_bounds() {
  const auto stats = store_->inbox_stats();
  ASSERT_TRUE(stats) << stats.error();
  const std::int64_t rows = stats->stored + stats->delivered + stats->failed;
  const std::int64_t day = (now() - start_) / ms(days(1));
  EXPECT_LE(rows, kInboxRowBound) << "inbox rows on day " << day;
  EXPECT_LE(stats->stored, kUndeliveredBound) << "undelivered rows on day " << day;
  EXPECT_LE(live_connections(), kLiveConnectionBound) << "connections not yet freed on day " << day;
  EXPECT_LE(scheduler_.timers(), kTimerBound) << "timers on day " << day;
  EXPECT_LE(agent_->status().sinks_behind.size(), 1u) << "day " << day;  // one sink: one backlog at most
  tally_.max_inbox_rows = std::max(tally_.max_inbox_rows, rows);
  tally_.max_undelivered = std::max(tally_.max_undelivered, stats->stored);
  tally_.max_live_connections = std::max(tally_.max_live_connections, live_connections());
}

bool World::refused_in_time(const MessageRecord& r) const {
  const auto& resets = tally_.resets_at;
  const auto after = std::upper_bound(resets.begin(), resets.end(), r.posted_at);
  return after != resets.begin() && r.posted_at - *std::prev(after) <= kAnnounceBound.count();
}

/// Counts of one kind of failure, with the first message it struck.
struct Failures {
  std::int64_t count = 0;
  std::int64_t first = -1;
  void add(std::int64_t n) {
    if (count++ == 0) first = n;
  }
};

void World::verify() {
  Failures lost, duplicated, corrupt, not_acked, acked_twice, refused_late, refused_delivered;
  for (std::int64_t n = 0; n < kMessages; ++n) {
    const MessageRecord& r = ledger_.messages[static_cast<std::size_t>(n)];
    const bool owed = r.accepted && !r.discarded;  // the service holds it for a live channel
    if (owed && r.delivered == 0) lost.add(n);
    if (r.delivered > 1) duplicated.add(n);
    if (r.corrupt) corrupt.add(n);
    if (owed && r.removed != 1) not_acked.add(n);
    if (r.acks_100 > 1) acked_twice.add(n);
    if (r.refused && !refused_in_time(r)) refused_late.add(n);
    if (r.refused && r.delivered != 0) refused_delivered.add(n);
  }
  EXPECT_EQ(lost.count, 0) << "first lost: message " << lost.first;
  EXPECT_EQ(duplicated.count, 0) << "first duplicated: message " << duplicated.first;
  EXPECT_EQ(corrupt.count, 0) << "first with a wrong payload or name: message " << corrupt.first;
  EXPECT_EQ(not_acked.count, 0) << "first the service saw no ack for: message " << not_acked.first;
  EXPECT_EQ(acked_twice.count, 0) << "first acked 100 twice: message " << acked_twice.first;
  EXPECT_EQ(refused_late.count, 0) << "first refused long after a uaid reset: message " << refused_late.first;
  EXPECT_EQ(refused_delivered.count, 0) << "first delivered although refused: message " << refused_delivered.first;
  EXPECT_EQ(ledger_.decrypt_errors, 0);
  EXPECT_EQ(ledger_.foreign, 0);
  EXPECT_EQ(service_.unacked(), 0u) << "messages the service still holds";
  EXPECT_EQ(agent_->status().state, protocol::SessionState::ready);

  // Every subscription survived its re-registrations, and the application
  // server knows each one as the store does.
  const auto subs = store_->list_subscriptions().value();
  ASSERT_EQ(subs.size(), static_cast<std::size_t>(kSubscriptions));
  for (const auto& sub : subs) {
    EXPECT_EQ(sub.state, store::SubscriptionState::active) << sub.name;
    EXPECT_EQ(app_.target(sub.name).endpoint, sub.endpoint) << sub.name;
  }
}

std::string World::summary(double wall_seconds, double cpu_seconds) const {
  std::int64_t accepted = 0, refused = 0, discarded = 0, delivered = 0, lost = 0, duplicated = 0;
  for (const auto& r : ledger_.messages) {
    accepted += r.accepted;
    refused += r.refused;
    discarded += r.discarded;
    delivered += r.delivered;
    lost += r.accepted && !r.discarded && r.delivered == 0;
    duplicated += r.delivered > 1;
  }
  std::string out = fmt::format(
      "[soak] messages: {} posted, {} accepted, {} refused (endpoint gone after a uaid reset), {} dropped unacked "
      "by the service at a reset; {} delivered, {} lost, {} duplicated; {} redeliveries acked 102, {} acks for "
      "messages the service no longer held\n",
      kMessages, accepted, refused, discarded, delivered, lost, duplicated, tally_.duplicates, ledger_.stray_acks);
  out += fmt::format(
      "[soak] faults: {} suspends, {} network outages, {} network changes, {} service restarts, {} uaid resets "
      "({} uaids issued, {} subscription changes announced), {} agent restarts, {} crashes, {} sink outages ({} "
      "refusals); timed to a frame in flight: {} acks, {} registrations; {} connections, {} reconnects, {} frames "
      "lost in flight\n",
      tally_.suspends, tally_.network_downs, tally_.network_blips, tally_.service_restarts, tally_.uaid_resets,
      service_.uaids_issued(), ledger_.subscription_changes, tally_.agent_restarts, tally_.agent_crashes,
      tally_.sink_outages, ledger_.sink_refusals, tally_.timed_to_ack, tally_.timed_to_register, service_.connections(),
      tally_.reconnects, service_.frames_lost());
  out += fmt::format(
      "[soak] bounds: inbox max {} rows (bound {}), max {} undelivered (bound {}), max {} live connections "
      "(bound {}); {} prunes removed {} rows\n",
      tally_.max_inbox_rows, kInboxRowBound, tally_.max_undelivered, kUndeliveredBound, tally_.max_live_connections,
      kLiveConnectionBound, tally_.prunes, tally_.pruned_rows);
  out += fmt::format("[soak] {} days in {:.1f} s wall, {:.1f} s CPU ({:.1f} s of it encrypting in the app server)",
                     kDays, wall_seconds, cpu_seconds, app_.encrypt_cpu_seconds);
  return out;
}

void configure_logging() {
  const char* level = std::getenv("SOAK_LOG");
  spdlog::set_level(level != nullptr ? spdlog::level::from_str(level) : spdlog::level::off);
}

TEST(Soak, NinetyDaysOfFaultsLoseNothingAndDuplicateNothing) {
  configure_logging();
  const std::uint64_t seed = seed_from_env();
  std::printf("[soak] seed %llu (SOAK_SEED=%llu replays this run)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  const auto started = std::chrono::steady_clock::now();
  const double cpu_started = cpu_seconds();
  World world(seed);
  world.run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double cpu = cpu_seconds() - cpu_started;
  world.verify();
  std::printf("%s\n", world.summary(wall, cpu).c_str());
}

}  // namespace
}  // namespace webpush::soak_test
