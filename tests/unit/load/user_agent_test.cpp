// load::UserAgent over a scripted connection, a hand-moved clock and scheduler,
// zero jitter, a test-controlled µs counter and a recording UserAgentEvents:
// the hello and the registrations it sends, what it reports when the service
// answers, notifications decrypted for real (aes128gcm and aesgcm) and acked
// 100, or reported as errors and acked 101, reconnection after the backoff,
// registration again when the service forgets the uaid, and silence after
// stop(). Nothing here sleeps or reads a real clock.
#include "webpush/load/user_agent.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_clock.h"
#include "fake_connection.h"
#include "fake_scheduler.h"
#include "webpush/core/base64url.h"
#include "webpush/crypto/aesgcm.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/webpush.h"
#include "webpush/event/errc.h"
#include "webpush/protocol/messages.h"

namespace webpush::load {
namespace user_agent_test {

using nlohmann::json;
using protocol::DisconnectReason;
using protocol::SessionState;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr const char* kUaid = "5f0b3c1e9a7d4e21b6c3a8f04d2e7b19";
constexpr const char* kNewUaid = "9e8d7c6b5a4f4e3d8c2b1a0f9e8d7c6b";
constexpr const char* kVapidKey =
    "BNoRDbb84JGm8g5Z5CFxurSqsXWJ11ItfXEWYVLE85Y7CYkDjXsIEc4aqxYaQ1G8BqkXCJ6DPpDrWtdWj_mugHU";

// ---- frames ------------------------------------------------------------------------------

std::string hello_reply(std::string_view uaid) {
  return json{{"messageType", "hello"}, {"uaid", uaid}, {"status", 200}, {"use_webpush", true}, {"broadcasts", {}}}
      .dump();
}

std::string register_reply(std::string_view chid, int status, std::string_view push_endpoint) {
  return json{{"messageType", "register"}, {"channelID", chid}, {"status", status}, {"pushEndpoint", push_endpoint}}
      .dump();
}

std::string notification_frame(std::string_view chid, std::string_view version, std::optional<std::string> data,
                               std::optional<json> headers) {
  json j{{"messageType", "notification"}, {"channelID", chid}, {"version", version}};
  if (data) j["data"] = *data;
  if (headers) j["headers"] = *headers;
  return j.dump();
}

json hello_frame(std::optional<std::string> uaid) {
  json j{{"messageType", "hello"}, {"use_webpush", true}, {"broadcasts", json::object()}};
  if (uaid) j["uaid"] = *uaid;
  return j;
}

json ack_frame(std::string_view chid, std::string_view version, int code) {
  return json{{"messageType", "ack"}, {"updates", {{{"channelID", chid}, {"version", version}, {"code", code}}}}};
}

std::string endpoint(int n) { return "https://push.example.net/wpush/v2/ep" + std::to_string(n); }

/// `plaintext` as an application server sends it with aes128gcm, in the
/// notification frame the push service makes of it.
std::string aes128gcm_notification(std::string_view chid, std::string_view version, const PushTarget& target,
                                   std::string_view plaintext) {
  const auto body =
      crypto::webpush_encrypt(as_bytes(plaintext), crypto::PublicKey::from_bytes(target.p256dh).value(), target.auth);
  EXPECT_TRUE(body) << body.error();
  return notification_frame(chid, version, base64url_encode(body.value()), json{{"encoding", "aes128gcm"}});
}

/// The same with legacy aesgcm: the parameters travel as the headers' copies.
std::string aesgcm_notification(std::string_view chid, std::string_view version, const PushTarget& target,
                                std::string_view plaintext) {
  const auto m =
      crypto::aesgcm_encrypt(as_bytes(plaintext), crypto::PublicKey::from_bytes(target.p256dh).value(), target.auth);
  EXPECT_TRUE(m) << m.error();
  return notification_frame(
      chid, version, base64url_encode(m.value().body),
      json{{"encoding", "aesgcm"}, {"encryption", m.value().encryption}, {"crypto_key", m.value().crypto_key}});
}

// ---- what the agent reports ----------------------------------------------------------------

struct Ready {
  std::int64_t connect_us;
};
struct Down {
  bool was_ready;
  DisconnectReason reason;
  int close_code;
};
struct Registered {
  int slot;
  PushTarget target;
};
struct RegisterFailed {
  int slot;
  std::string reason;
};
struct Message {
  int slot;
  Result<Bytes> plaintext;
};

class Recorder final : public UserAgentEvents {
 public:
  std::vector<Ready> ready;
  std::vector<Down> down;
  std::vector<Registered> registered;
  std::vector<RegisterFailed> register_failed;
  std::vector<Message> messages;
  const UserAgent* expected_agent = nullptr;

  void on_ready(UserAgent& agent, std::int64_t connect_us) override {
    check(agent);
    ready.push_back({connect_us});
  }
  void on_down(UserAgent& agent, bool was_ready, DisconnectReason reason, int close_code) override {
    check(agent);
    down.push_back({was_ready, reason, close_code});
  }
  void on_registered(UserAgent& agent, int slot, const PushTarget& target) override {
    check(agent);
    registered.push_back({slot, target});
  }
  void on_register_failed(UserAgent& agent, int slot, const std::string& reason) override {
    check(agent);
    register_failed.push_back({slot, reason});
  }
  void on_message(UserAgent& agent, int slot, const Result<Bytes>& plaintext) override {
    check(agent);
    messages.push_back({slot, plaintext});
  }

  [[nodiscard]] std::size_t total() const {
    return ready.size() + down.size() + registered.size() + register_failed.size() + messages.size();
  }

 private:
  void check(const UserAgent& agent) const { EXPECT_EQ(&agent, expected_agent) << "an event names another agent"; }
};

// ---- the harness -------------------------------------------------------------------------

struct Harness {
  fakes::FakeClock clock;
  fakes::FixedJitter jitter{0.0};
  fakes::FakeScheduler scheduler{clock};
  fakes::FakeConnectionFactory connections;
  Recorder events;
  std::int64_t now_us = 1'000'000;  // the run's µs clock, moved by the test
  UserAgentContext context;
  std::unique_ptr<UserAgent> agent;  // last: destroyed first

  Harness() {
    context.connections = &connections;
    context.scheduler = &scheduler;
    context.clock = &clock;
    context.jitter = &jitter;
    context.now_us = [this] { return now_us; };
    context.events = &events;
  }

  void start(int index = 3, int subscriptions = 2) {
    agent = std::make_unique<UserAgent>(index, subscriptions, context);
    events.expected_agent = agent.get();
    const auto ok = agent->start();
    ASSERT_TRUE(ok) << ok.error();
  }
  [[nodiscard]] fakes::FakeLink& link() const { return connections.last(); }

  /// The socket opens and the service answers the hello with `uaid`.
  void handshake(std::string_view uaid = kUaid) {
    link().open();
    link().receive(hello_reply(uaid));
  }
  /// The channel IDs of the register frames sent on the current connection, in order.
  [[nodiscard]] std::vector<std::string> register_channels() const {
    std::vector<std::string> out;
    for (const auto& j : link().sent_of_type("register")) out.push_back(j.at("channelID").get<std::string>());
    return out;
  }
  /// Answers every register frame of the current connection with 200 and
  /// endpoint(first_endpoint + i).
  void answer_registers(int first_endpoint = 0) {
    const auto channels = register_channels();
    for (std::size_t i = 0; i < channels.size(); ++i) {
      link().receive(register_reply(channels[i], 200, endpoint(first_endpoint + static_cast<int>(i))));
    }
  }
  /// start(), handshake, every subscription registered; returns the channel
  /// ID of each slot.
  std::vector<std::string> start_registered(int subscriptions = 2) {
    start(3, subscriptions);
    handshake();
    answer_registers();
    EXPECT_EQ(events.registered.size(), static_cast<std::size_t>(subscriptions));
    std::vector<std::string> channels(static_cast<std::size_t>(subscriptions));
    const auto sent = register_channels();
    for (std::size_t i = 0; i < sent.size() && i < events.registered.size(); ++i) {
      channels.at(static_cast<std::size_t>(events.registered[i].slot)) = sent[i];
    }
    return channels;
  }
  [[nodiscard]] const PushTarget& target_of(int slot) const {
    for (auto it = events.registered.rbegin(); it != events.registered.rend(); ++it) {
      if (it->slot == slot) return it->target;
    }
    throw std::logic_error("slot " + std::to_string(slot) + " was never registered");
  }
  [[nodiscard]] std::vector<json> acks() const { return link().sent_of_type("ack"); }
};

class UserAgentTest : public ::testing::Test, protected Harness {};

// ---- connecting ----------------------------------------------------------------------------

TEST_F(UserAgentTest, StartConnectsAndSendsTheHelloOnceTheSocketOpens) {
  start();
  EXPECT_EQ(connections.attempts(), 1);
  EXPECT_EQ(agent->index(), 3);
  EXPECT_EQ(agent->state(), SessionState::connecting);
  EXPECT_TRUE(link().sent().empty());  // the hello waits for the upgrade
  EXPECT_EQ(events.total(), 0u);

  link().open();
  EXPECT_EQ(agent->state(), SessionState::handshaking);
  // No subscriptions yet: a hello without a uaid, and the registrations wait for its reply.
  EXPECT_EQ(link().sent_json(), std::vector<json>{hello_frame(std::nullopt)});
  EXPECT_FALSE(agent->ready());
}

TEST_F(UserAgentTest, TheHelloReplyMakesItReadyWithTheConnectTimeOnTheRunsClock) {
  now_us = 5'000'000;
  start();
  now_us = 5'000'250;  // the µs clock moves; the attempt began at 5,000,000
  link().open();
  EXPECT_TRUE(events.ready.empty());
  now_us = 5'000'750;
  link().receive(hello_reply(kUaid));

  EXPECT_TRUE(agent->ready());
  ASSERT_EQ(events.ready.size(), 1u);
  EXPECT_EQ(events.ready[0].connect_us, 750);
  EXPECT_TRUE(events.down.empty());
}

TEST_F(UserAgentTest, EachSubscriptionIsRegisteredAfterTheHelloWithTheVapidKey) {
  context.vapid_public_key = kVapidKey;
  start(0, 3);
  link().open();
  EXPECT_TRUE(link().sent_of_type("register").empty());
  link().receive(hello_reply(kUaid));

  const auto registers = link().sent_of_type("register");
  ASSERT_EQ(registers.size(), 3u);
  std::set<std::string> channels;
  for (const auto& r : registers) {
    const auto chid = r.at("channelID").get<std::string>();
    EXPECT_TRUE(protocol::is_canonical_uuid(chid)) << chid;
    channels.insert(chid);
    EXPECT_EQ(r.value("key", std::string()), kVapidKey) << r.dump();
  }
  EXPECT_EQ(channels.size(), 3u);  // one fresh channel ID each
}

TEST_F(UserAgentTest, WithoutAVapidKeyTheRegistrationsCarryNone) {
  start(0, 2);
  handshake();
  const auto registers = link().sent_of_type("register");
  ASSERT_EQ(registers.size(), 2u);
  for (const auto& r : registers) EXPECT_FALSE(r.contains("key")) << r.dump();
}

TEST_F(UserAgentTest, RegisterRepliesReportTheEndpointAndTheSubscriptionsKeys) {
  start(0, 2);
  handshake();
  const auto channels = register_channels();
  ASSERT_EQ(channels.size(), 2u);
  link().receive(register_reply(channels[1], 200, endpoint(11)));  // answers may come in any order
  link().receive(register_reply(channels[0], 200, endpoint(10)));

  ASSERT_EQ(events.registered.size(), 2u);
  EXPECT_EQ(events.registered[0].slot, 1);
  EXPECT_EQ(events.registered[0].target.endpoint, endpoint(11));
  EXPECT_EQ(events.registered[1].slot, 0);
  EXPECT_EQ(events.registered[1].target.endpoint, endpoint(10));
  for (const auto& r : events.registered) {
    ASSERT_EQ(r.target.p256dh.size(), crypto::kPublicKeySize);
    EXPECT_TRUE(crypto::PublicKey::from_bytes(r.target.p256dh)) << "slot " << r.slot;
    EXPECT_EQ(r.target.auth.size(), crypto::kAuthSecretSize);
  }
  // Fresh keys and secrets per subscription.
  EXPECT_NE(events.registered[0].target.p256dh, events.registered[1].target.p256dh);
  EXPECT_NE(events.registered[0].target.auth, events.registered[1].target.auth);
  EXPECT_TRUE(events.register_failed.empty());
}

TEST_F(UserAgentTest, ARefusedRegistrationIsReportedForItsSlot) {
  start(0, 2);
  handshake();
  const auto channels = register_channels();
  ASSERT_EQ(channels.size(), 2u);
  link().receive(register_reply(channels[0], 400, "no such app"));
  link().receive(register_reply(channels[1], 200, endpoint(1)));

  ASSERT_EQ(events.register_failed.size(), 1u);
  EXPECT_EQ(events.register_failed[0].slot, 0);
  EXPECT_NE(events.register_failed[0].reason.find("400"), std::string::npos) << events.register_failed[0].reason;
  ASSERT_EQ(events.registered.size(), 1u);
  EXPECT_EQ(events.registered[0].slot, 1);
  EXPECT_EQ(link().sent_of_type("register").size(), 2u);  // a 400 is not retried
}

TEST_F(UserAgentTest, AServerErrorOnRegisterIsReportedAndRetried) {
  start(0, 1);
  handshake();
  const auto first = register_channels();
  ASSERT_EQ(first.size(), 1u);
  link().receive(register_reply(first[0], 503, ""));

  ASSERT_EQ(events.register_failed.size(), 1u);
  EXPECT_EQ(events.register_failed[0].slot, 0);
  // A busy service is asked again after a pause, not at once.
  scheduler.advance(milliseconds(999));
  EXPECT_EQ(register_channels().size(), 1u);
  scheduler.advance(milliseconds(1));
  const auto again = register_channels();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_NE(again[1], again[0]);
  link().receive(register_reply(again[1], 200, endpoint(7)));
  ASSERT_EQ(events.registered.size(), 1u);
  EXPECT_EQ(events.registered[0].slot, 0);
  EXPECT_EQ(events.registered[0].target.endpoint, endpoint(7));
}

TEST_F(UserAgentTest, AChannelIdTakenElsewhereIsRegisteredUnderAFreshOne) {
  start(0, 1);
  handshake();
  const auto first = register_channels();
  ASSERT_EQ(first.size(), 1u);
  link().receive(register_reply(first[0], 409, ""));
  const auto sent = register_channels();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_NE(sent[1], first[0]);
  EXPECT_TRUE(events.register_failed.empty());
  link().receive(register_reply(sent[1], 200, endpoint(5)));
  ASSERT_EQ(events.registered.size(), 1u);
  EXPECT_EQ(events.registered[0].target.endpoint, endpoint(5));

  // Notifications for the channel the service took are this subscription's.
  link().receive(aes128gcm_notification(sent[1], "v1", target_of(0), "after a 409"));
  ASSERT_EQ(events.messages.size(), 1u);
  EXPECT_EQ(events.messages[0].slot, 0);
  ASSERT_TRUE(events.messages[0].plaintext) << events.messages[0].plaintext.error();
  EXPECT_EQ(acks(), std::vector<json>{ack_frame(sent[1], "v1", 100)});
}

TEST_F(UserAgentTest, ARegistrationWithoutAReplyIsReportedAsFailedAndTheConnectionAsDown) {
  context.session.request_timeout = seconds(10);
  start(0, 1);
  handshake();
  ASSERT_EQ(register_channels().size(), 1u);
  scheduler.advance(milliseconds(9'999));
  EXPECT_TRUE(events.register_failed.empty());
  scheduler.advance(milliseconds(1));

  ASSERT_EQ(events.register_failed.size(), 1u);
  EXPECT_EQ(events.register_failed[0].slot, 0);
  ASSERT_EQ(events.down.size(), 1u);
  EXPECT_TRUE(events.down[0].was_ready);
  EXPECT_EQ(events.down[0].reason, DisconnectReason::request_timeout);
  EXPECT_TRUE(connections.links().front()->closed());
}

TEST_F(UserAgentTest, ARegistrationWithoutAReplyIsRetriedOnANewConnection) {
  context.session.request_timeout = seconds(10);
  start(0, 1);
  handshake();
  ASSERT_EQ(register_channels().size(), 1u);
  scheduler.advance(seconds(10));
  ASSERT_EQ(events.down.size(), 1u);

  // The retry is made after its pause, on a new connection, which the agent
  // keeps (the Session waits on it).
  scheduler.advance(seconds(1));
  ASSERT_EQ(connections.attempts(), 2);
  fakes::FakeLink& retry = link();
  ASSERT_FALSE(retry.closed()) << "the only new connection was closed by the agent itself";
  retry.open();
  retry.receive(hello_reply(kUaid));
  const auto channels = register_channels();
  ASSERT_EQ(channels.size(), 1u);
  retry.receive(register_reply(channels[0], 200, endpoint(1)));
  ASSERT_EQ(events.registered.size(), 1u);
  EXPECT_EQ(events.registered[0].slot, 0);
}

// ---- notifications ---------------------------------------------------------------------------

TEST_F(UserAgentTest, ANotificationIsDecryptedReportedAndAcked100) {
  const auto channels = start_registered(2);
  link().receive(aes128gcm_notification(channels[1], "v1", target_of(1), "hello, slot one"));

  ASSERT_EQ(events.messages.size(), 1u);
  EXPECT_EQ(events.messages[0].slot, 1);
  ASSERT_TRUE(events.messages[0].plaintext) << events.messages[0].plaintext.error();
  EXPECT_EQ(*events.messages[0].plaintext, to_bytes("hello, slot one"));
  EXPECT_EQ(acks(), std::vector<json>{ack_frame(channels[1], "v1", 100)});
}

TEST_F(UserAgentTest, AnAesgcmNotificationIsDecryptedWithItsHeaders) {
  const auto channels = start_registered(2);
  link().receive(aesgcm_notification(channels[0], "v-legacy", target_of(0), "legacy coding"));

  ASSERT_EQ(events.messages.size(), 1u);
  EXPECT_EQ(events.messages[0].slot, 0);
  ASSERT_TRUE(events.messages[0].plaintext) << events.messages[0].plaintext.error();
  EXPECT_EQ(*events.messages[0].plaintext, to_bytes("legacy coding"));
  EXPECT_EQ(acks(), std::vector<json>{ack_frame(channels[0], "v-legacy", 100)});
}

TEST_F(UserAgentTest, EveryDeliveryIsReportedAndAckedDuplicatesToo) {
  const auto channels = start_registered(1);
  const std::string frame = aes128gcm_notification(channels[0], "v1", target_of(0), "twice");
  link().receive(frame);
  link().receive(frame);  // the run's ledger, not the agent, tells a duplicate
  ASSERT_EQ(events.messages.size(), 2u);
  for (const auto& m : events.messages) {
    ASSERT_TRUE(m.plaintext) << m.plaintext.error();
    EXPECT_EQ(*m.plaintext, to_bytes("twice"));
  }
  EXPECT_EQ(acks(), (std::vector<json>{ack_frame(channels[0], "v1", 100), ack_frame(channels[0], "v1", 100)}));
}

struct CorruptRow {
  const char* desc;
  // Builds the frame for the subscription's channel and target.
  std::function<std::string(const std::string& chid, const PushTarget& target)> frame;
};

TEST_F(UserAgentTest, AnUndecryptableNotificationIsReportedAsAnErrorAndAcked101) {
  const auto channels = start_registered(1);
  const PushTarget& target = target_of(0);
  const std::vector<CorruptRow> rows = {
      {"a flipped byte in the ciphertext",
       [](const std::string& chid, const PushTarget& t) {
         auto body = crypto::webpush_encrypt(as_bytes(std::string_view("secret")),
                                             crypto::PublicKey::from_bytes(t.p256dh).value(), t.auth)
                         .value();
         body.back() ^= 0x01;
         return notification_frame(chid, "v", base64url_encode(body), json{{"encoding", "aes128gcm"}});
       }},
      {"encrypted for another subscription's keys",
       [](const std::string& chid, const PushTarget& t) {
         const auto other = crypto::KeyPair::generate().value();
         const PushTarget wrong{t.endpoint, Bytes(other.public_bytes().begin(), other.public_bytes().end()), t.auth};
         return aes128gcm_notification(chid, "v", wrong, "not for you");
       }},
      {"data that is not base64url",
       [](const std::string& chid, const PushTarget&) {
         return notification_frame(chid, "v", "***", json{{"encoding", "aes128gcm"}});
       }},
      {"too short for the aes128gcm header",
       [](const std::string& chid, const PushTarget&) {
         return notification_frame(chid, "v", "AAAA", json{{"encoding", "aes128gcm"}});
       }},
      {"an encoding it does not know",
       [](const std::string& chid, const PushTarget& t) {
         const auto frame = json::parse(aes128gcm_notification(chid, "v", t, "x"));
         return notification_frame(chid, "v", frame.at("data").get<std::string>(), json{{"encoding", "br"}});
       }},
      {"aesgcm without its Encryption header",
       [](const std::string& chid, const PushTarget& t) {
         auto frame = json::parse(aesgcm_notification(chid, "v", t, "x"));
         frame["headers"].erase("encryption");
         return frame.dump();
       }},
      {"a push without data",
       [](const std::string& chid, const PushTarget&) {
         return notification_frame(chid, "v", std::nullopt, std::nullopt);
       }},
  };
  for (const auto& row : rows) {
    const std::size_t before = events.messages.size();
    link().clear_sent();
    link().receive(row.frame(channels[0], target));
    ASSERT_EQ(events.messages.size(), before + 1) << row.desc;
    EXPECT_EQ(events.messages.back().slot, 0) << row.desc;
    EXPECT_FALSE(events.messages.back().plaintext) << row.desc;
    EXPECT_EQ(acks(), std::vector<json>{ack_frame(channels[0], "v", 101)}) << row.desc;
  }
  EXPECT_TRUE(agent->ready());  // a bad message does not cost the connection
}

TEST_F(UserAgentTest, ANotificationForAChannelItDoesNotKnowIsAcked101AndNotReported) {
  const auto channels = start_registered(1);
  const std::string stranger = "00000000-0000-4000-8000-000000000099";
  link().receive(aes128gcm_notification(stranger, "v9", target_of(0), "stray"));
  EXPECT_TRUE(events.messages.empty());
  EXPECT_EQ(acks(), std::vector<json>{ack_frame(stranger, "v9", 101)});
}

// ---- the connection's life -------------------------------------------------------------------

TEST_F(UserAgentTest, AServiceCloseIsReportedAndTheAgentReconnectsAfterTheBackoff) {
  start_registered(2);
  fakes::FakeLink& first = link();
  first.drop(DisconnectReason::server_close, 1011, "going away");

  ASSERT_EQ(events.down.size(), 1u);
  EXPECT_TRUE(events.down[0].was_ready);
  EXPECT_EQ(events.down[0].reason, DisconnectReason::server_close);
  EXPECT_EQ(events.down[0].close_code, 1011);
  EXPECT_FALSE(agent->ready());
  EXPECT_EQ(agent->state(), SessionState::backing_off);
  EXPECT_EQ(connections.attempts(), 1);

  // Zero jitter: the first retry waits the backoff's initial delay, 1 s.
  ASSERT_EQ(scheduler.next_deadline(), std::optional<Duration>(seconds(1)));
  scheduler.advance(milliseconds(999));
  EXPECT_EQ(connections.attempts(), 1);
  now_us = 9'000'000;
  scheduler.advance(milliseconds(1));
  ASSERT_EQ(connections.attempts(), 2);
  EXPECT_TRUE(first.destroyed());  // the dropped connection was let go

  // The new socket says hello with the uaid the subscriptions belong to.
  link().open();
  EXPECT_EQ(link().sent_json(), std::vector<json>{hello_frame(std::string(kUaid))});
  now_us = 9'000'400;
  link().receive(hello_reply(kUaid));
  EXPECT_TRUE(agent->ready());
  ASSERT_EQ(events.ready.size(), 2u);
  EXPECT_EQ(events.ready[1].connect_us, 400);  // from the start of the new attempt
  // The same uaid: the subscriptions stand, nothing is registered again.
  EXPECT_TRUE(link().sent_of_type("register").empty());
  EXPECT_EQ(events.registered.size(), 2u);
}

TEST_F(UserAgentTest, AnAttemptThatFailsBeforeTheHelloIsReportedAsNotReady) {
  start();
  link().drop(DisconnectReason::connect_refused);
  ASSERT_EQ(events.down.size(), 1u);
  EXPECT_FALSE(events.down[0].was_ready);
  EXPECT_EQ(events.down[0].reason, DisconnectReason::connect_refused);
  EXPECT_EQ(events.down[0].close_code, 0);
  EXPECT_TRUE(events.ready.empty());

  scheduler.advance(seconds(1));
  ASSERT_EQ(connections.attempts(), 2);
  handshake();  // the registrations queued since start() go out after this hello
  EXPECT_EQ(link().sent_of_type("register").size(), 2u);
  EXPECT_EQ(events.ready.size(), 1u);
}

TEST_F(UserAgentTest, AConnectionThatCannotBeMadeIsReported) {
  connections.fail_next_connect();
  start(3, 0);
  EXPECT_EQ(connections.connections(), 0u);
  ASSERT_EQ(events.down.size(), 1u);
  EXPECT_FALSE(events.down[0].was_ready);

  // The same for a reconnection that cannot be made.
  scheduler.advance(seconds(1));
  handshake();
  link().drop(DisconnectReason::server_close, 1011);
  ASSERT_EQ(events.down.size(), 2u);
  connections.fail_next_connect();
  scheduler.advance(seconds(5));  // past the backoff
  ASSERT_EQ(events.down.size(), 3u);
  EXPECT_FALSE(events.down[2].was_ready);
}

TEST_F(UserAgentTest, AConnectionThatCannotBeMadeIsRetriedAfterTheBackoff) {
  connections.fail_next_connect();
  start(3, 0);
  EXPECT_EQ(connections.attempts(), 1);
  EXPECT_EQ(connections.connections(), 0u);
  EXPECT_EQ(agent->state(), SessionState::backing_off);

  scheduler.advance(milliseconds(999));
  EXPECT_EQ(connections.attempts(), 1);
  scheduler.advance(milliseconds(1));
  EXPECT_EQ(connections.attempts(), 2);
  ASSERT_EQ(connections.connections(), 1u);
  handshake();
  EXPECT_TRUE(agent->ready());
  EXPECT_EQ(events.ready.size(), 1u);
}

TEST_F(UserAgentTest, AConnectionThatCannotBeMadeAtStartIsRetriedAtOnceForTheRegistrations) {
  // The Session skips the backoff for new work: the registrations start() queues
  // after the failed attempt ask for the socket again straight away.
  connections.fail_next_connect();
  start(3, 2);
  EXPECT_EQ(connections.attempts(), 2);
  ASSERT_EQ(connections.connections(), 1u);
  handshake();
  EXPECT_TRUE(agent->ready());
  EXPECT_EQ(link().sent_of_type("register").size(), 2u);
  answer_registers();
  EXPECT_EQ(events.registered.size(), 2u);
}

TEST_F(UserAgentTest, NoHelloReplyWithinTheRequestTimeoutEndsTheAttempt) {
  context.session.request_timeout = seconds(10);
  start();
  link().open();
  scheduler.advance(milliseconds(9'999));
  EXPECT_TRUE(events.down.empty());
  scheduler.advance(milliseconds(1));

  ASSERT_EQ(events.down.size(), 1u);
  EXPECT_FALSE(events.down[0].was_ready);
  EXPECT_EQ(events.down[0].reason, DisconnectReason::hello_timeout);
  EXPECT_TRUE(connections.links().front()->closed());
  EXPECT_EQ(agent->state(), SessionState::backing_off);
}

TEST_F(UserAgentTest, AHelloReplyNamingAnotherUaidMidSessionIsAProtocolViolation) {
  start_registered(1);
  fakes::FakeLink& first = link();
  first.receive(hello_reply(kNewUaid));

  ASSERT_EQ(events.down.size(), 1u);
  EXPECT_TRUE(events.down[0].was_ready);
  EXPECT_EQ(events.down[0].reason, DisconnectReason::protocol_violation);
  EXPECT_TRUE(first.closed());
  scheduler.advance(seconds(1));
  EXPECT_EQ(connections.attempts(), 2);
}

TEST_F(UserAgentTest, ANewUaidMeansTheSubscriptionsWereLostAndAreRegisteredAgain) {
  context.vapid_public_key = kVapidKey;
  const auto old_channels = start_registered(2);
  link().drop(DisconnectReason::server_close, 1000);
  scheduler.advance(seconds(1));
  ASSERT_EQ(connections.attempts(), 2);

  link().open();
  link().receive(hello_reply(kNewUaid));  // the service forgot kUaid
  EXPECT_TRUE(agent->ready());
  ASSERT_EQ(events.ready.size(), 2u);

  const auto again = register_channels();
  ASSERT_EQ(again.size(), 2u);
  for (const auto& r : link().sent_of_type("register")) EXPECT_EQ(r.value("key", std::string()), kVapidKey);
  for (const auto& chid : again) {
    EXPECT_NE(chid, old_channels[0]);
    EXPECT_NE(chid, old_channels[1]);
  }
  answer_registers(100);

  ASSERT_EQ(events.registered.size(), 4u);
  std::set<int> slots;
  for (std::size_t i = 2; i < 4; ++i) {
    slots.insert(events.registered[i].slot);
    EXPECT_EQ(events.registered[i].target.endpoint, endpoint(100 + static_cast<int>(i) - 2));
  }
  EXPECT_EQ(slots, (std::set<int>{0, 1}));

  // What on_registered reported is what the agent now decrypts with, on the new channel.
  const int slot = events.registered[2].slot;
  link().receive(aes128gcm_notification(again[0], "v2", target_of(slot), "after the uaid changed"));
  ASSERT_EQ(events.messages.size(), 1u);
  EXPECT_EQ(events.messages[0].slot, slot);
  ASSERT_TRUE(events.messages[0].plaintext) << events.messages[0].plaintext.error();
  EXPECT_EQ(*events.messages[0].plaintext, to_bytes("after the uaid changed"));
  EXPECT_EQ(acks(), std::vector<json>{ack_frame(again[0], "v2", 100)});
}

// ---- stopping ----------------------------------------------------------------------------------

TEST_F(UserAgentTest, StopClosesTheConnectionAndNothingMoreIsReported) {
  start_registered(2);
  fakes::FakeLink& live = link();
  const std::size_t reported = events.total();

  agent->stop();
  EXPECT_TRUE(live.closed());
  EXPECT_EQ(agent->state(), SessionState::idle);
  EXPECT_EQ(events.total(), reported);  // not even an on_down

  scheduler.advance(minutes(30));  // no retry, no timer
  EXPECT_EQ(connections.attempts(), 1);
  EXPECT_EQ(events.total(), reported);
  EXPECT_TRUE(live.sent_after_close().empty());

  agent->stop();  // twice is harmless
  EXPECT_EQ(events.total(), reported);
}

TEST_F(UserAgentTest, StopDuringTheHandshakeFailsTheQueuedRegistrationsSilently) {
  start(0, 2);
  link().open();
  agent->stop();
  EXPECT_TRUE(link().closed());
  EXPECT_EQ(events.total(), 0u);  // no on_register_failed, no on_down
  scheduler.advance(minutes(30));
  EXPECT_EQ(connections.attempts(), 1);
  EXPECT_EQ(events.total(), 0u);
}

TEST_F(UserAgentTest, StopWhileBackingOffMakesNoFurtherAttempt) {
  start_registered(1);
  link().drop(DisconnectReason::io_error);
  ASSERT_EQ(events.down.size(), 1u);
  agent->stop();
  scheduler.advance(minutes(30));
  EXPECT_EQ(connections.attempts(), 1);
  EXPECT_EQ(events.down.size(), 1u);
}

TEST_F(UserAgentTest, DestroyingAnAgentClosesItsConnection) {
  start_registered(1);
  fakes::FakeLink& live = link();
  agent.reset();
  EXPECT_TRUE(live.closed());
  EXPECT_TRUE(live.destroyed());
  scheduler.advance(minutes(30));
  EXPECT_EQ(connections.attempts(), 1);
}

TEST(UserAgentStart, ATimerThatCannotBeMadeFailsStart) {
  Harness h;
  h.scheduler.fail_next_make_timer();
  h.agent = std::make_unique<UserAgent>(0, 1, h.context);
  const auto ok = h.agent->start();
  ASSERT_FALSE(ok);
  EXPECT_TRUE(ok.error().is(event::Errc::setup)) << ok.error();
  EXPECT_EQ(h.connections.attempts(), 0);
  EXPECT_EQ(h.events.total(), 0u);
}

}  // namespace user_agent_test
}  // namespace webpush::load
