// protocol::Session with a fake clock and zero jitter: every rule of the
// connection state machine, driven event by event.
#include "webpush/protocol/session.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fake_clock.h"
#include "fake_inbox.h"  // FakeErrc

namespace webpush::protocol {
namespace protocol_session_test {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr const char* kUaid = "5f0b3c1e9a7d4e21b6c3a8f04d2e7b19";
constexpr const char* kOtherUaid = "00000000000000000000000000000001";
constexpr const char* kChid = "3a2f1c58-8d5e-4b8e-4f3c-2e6a7d1b4c90";

template <class T>
std::vector<T> all_of(const Actions& actions) {
  std::vector<T> out;
  for (const auto& a : actions) {
    if (const T* t = std::get_if<T>(&a)) out.push_back(*t);
  }
  return out;
}

template <class T>
bool has(const Actions& actions) {
  return !all_of<T>(actions).empty();
}

std::vector<json> frames(const Actions& actions) {
  std::vector<json> out;
  for (const auto& s : all_of<action::Send>(actions)) out.push_back(json::parse(s.frame));
  return out;
}

std::string hello_reply(const std::string& uaid) {
  return json{{"messageType", "hello"}, {"uaid", uaid}, {"status", 200}, {"use_webpush", true}, {"broadcasts", {}}}
      .dump();
}

std::string register_reply(const std::string& chid, int status, const std::string& endpoint) {
  return json{{"messageType", "register"}, {"channelID", chid}, {"status", status}, {"pushEndpoint", endpoint}}.dump();
}

struct Harness {
  fakes::FakeClock clock;
  fakes::FixedJitter jitter{0.0};
  int channel_counter = 0;
  bool channel_ids_fail = false;  // the random source fails
  SessionConfig config;
  Session session;

  explicit Harness(SessionConfig c = {}) : config(c), session(c, jitter, [this] { return next_channel(); }) {}

  Result<std::string> next_channel() {
    if (channel_ids_fail) return fail(fakes::FakeErrc::injected, "no randomness");
    return fmt_channel(++channel_counter);
  }

  static std::string fmt_channel(int n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", n);
    return buf;
  }
  Instant now() const { return clock.now(); }
  Actions connect() {
    Actions a = session.start(now());
    EXPECT_TRUE(has<action::Connect>(a));
    Actions b = session.on_connected(now());
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  Actions ready(const std::string& uaid = kUaid) {
    Actions a = connect();
    Actions b = session.on_frame(hello_reply(uaid), now());
    a.insert(a.end(), b.begin(), b.end());
    EXPECT_EQ(session.state(), SessionState::ready);
    return a;
  }
  Actions tick(Duration d) {
    clock.advance(d);
    return session.on_timer(now());
  }
};

// ---- hello ------------------------------------------------------------------

TEST(SessionHello, SentOnceRightAfterTheUpgradeWithoutUaidWhenNoSubscriptions) {
  Harness h;
  h.session.set_identity(kUaid, /*has_subscriptions=*/false);
  const Actions a = h.connect();
  const auto sent = frames(a);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], json::parse(R"({"messageType":"hello","use_webpush":true,"broadcasts":{}})"));
  EXPECT_FALSE(sent[0].contains("channelIDs"));
  // Nothing else is sent while waiting for the reply, even on a timer.
  EXPECT_TRUE(frames(h.tick(seconds(5))).empty());
}

TEST(SessionHello, CarriesTheStoredUaidVerbatimWithSubscriptions) {
  Harness h;
  h.session.set_identity(std::string("5F0B-as-stored"), true);
  const auto sent = frames(h.connect());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["uaid"], "5F0B-as-stored");
}

TEST(SessionHello, SameUaidKeepsSubscriptions) {
  Harness h;
  h.session.set_identity(std::string(kUaid), true);
  const auto assigned = all_of<action::UaidAssigned>(h.ready(kUaid));
  ASSERT_EQ(assigned.size(), 1u);
  EXPECT_EQ(assigned[0].uaid, kUaid);
  EXPECT_FALSE(assigned[0].subscriptions_lost);
}

TEST(SessionHello, NewUaidWithSubscriptionsMeansTheyAreLost) {
  Harness h;
  h.session.set_identity(std::string(kUaid), true);
  const auto assigned = all_of<action::UaidAssigned>(h.ready(kOtherUaid));
  ASSERT_EQ(assigned.size(), 1u);
  EXPECT_EQ(assigned[0].uaid, kOtherUaid);
  EXPECT_EQ(assigned[0].previous, kUaid);
  EXPECT_TRUE(assigned[0].subscriptions_lost);
}

TEST(SessionHello, NewUaidWithoutSubscriptionsIsNoLoss) {
  Harness h;
  h.session.set_identity(std::string(kUaid), false);
  const auto assigned = all_of<action::UaidAssigned>(h.ready(kOtherUaid));
  ASSERT_EQ(assigned.size(), 1u);
  EXPECT_FALSE(assigned[0].subscriptions_lost);
}

TEST(SessionHello, TimeoutClosesAndBacksOff) {
  Harness h;
  h.connect();
  EXPECT_FALSE(has<action::Close>(h.tick(seconds(9))));
  const Actions a = h.tick(seconds(1));
  ASSERT_TRUE(has<action::Close>(a));
  EXPECT_EQ(all_of<action::Close>(a)[0].reason, DisconnectReason::hello_timeout);
  EXPECT_EQ(h.session.state(), SessionState::backing_off);
}

TEST(SessionHello, RefusedStatusReconnects) {
  Harness h;
  h.connect();
  const Actions a = h.session.on_frame(R"({"messageType":"hello","uaid":"x","status":503})", h.now());
  ASSERT_TRUE(has<action::Close>(a));
  EXPECT_EQ(all_of<action::Close>(a)[0].reason, DisconnectReason::hello_refused);
}

TEST(SessionHello, NotificationBeforeHelloIsIgnoredAndLogged) {
  Harness h;
  h.connect();
  const Actions a = h.session.on_frame(
      std::string(R"({"messageType":"notification","channelID":")") + kChid + R"(","version":"v"})", h.now());
  EXPECT_FALSE(has<action::Close>(a));
  EXPECT_FALSE(has<action::Notify>(a));
  ASSERT_EQ(all_of<action::Warn>(a).size(), 1u);
  EXPECT_NE(all_of<action::Warn>(a)[0].text.find("a notification before the hello reply"), std::string::npos);
  // The hello still completes the handshake.
  h.session.on_frame(hello_reply(kUaid), h.now());
  EXPECT_EQ(h.session.state(), SessionState::ready);
}

// ---- frames that cannot be used -------------------------------------------------

std::string notification(const std::string& version) {
  return json{{"messageType", "notification"}, {"channelID", kChid}, {"version", version}}.dump();
}

struct BadFrameRow {
  const char* name;
  const char* frame;
  const char* logged;  // in the warning
};

const BadFrameRow kBadFrames[] = {
    {"not JSON", "hello?", "not a JSON object"},
    {"a JSON array", "[1,2]", "not a JSON object"},
    {"a JSON string", "\"notification\"", "not a JSON object"},
    {"an unknown messageType", R"({"messageType":"weather","sunny":true})", "unknown messageType): \"weather\""},
    {"APY's error message", R"({"messageType":"error","reason":"overloaded","status":503})", "\"error\""},
    {"a notification without version",
     R"({"messageType":"notification","channelID":"3a2f1c58-8d5e-4b8e-4f3c-2e6a7d1b4c90"})", "malformed"},
    {"a notification with a numeric version", R"({"messageType":"notification","channelID":"x","version":7})",
     "malformed"},
    {"a register reply with a string status", R"({"messageType":"register","channelID":"x","status":"200"})",
     "malformed"},
    {"a second hello reply for the same uaid",
     R"({"messageType":"hello","uaid":"5f0b3c1e9a7d4e21b6c3a8f04d2e7b19","status":200})", "a second hello reply"},
};

TEST(SessionBadFrames, EachIsLoggedAndIgnoredAndLaterFramesStillCount) {
  for (const auto& row : kBadFrames) {
    SCOPED_TRACE(row.name);
    Harness h;
    h.ready();
    const Actions a = h.session.on_frame(row.frame, h.now());
    EXPECT_FALSE(has<action::Close>(a));
    EXPECT_EQ(h.session.state(), SessionState::ready);
    const auto warnings = all_of<action::Warn>(a);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].text.find(row.logged), std::string::npos) << warnings[0].text;
    EXPECT_EQ(h.session.bad_frames(), 1u);
    // The next good frame is processed as usual.
    const auto notified = all_of<action::Notify>(h.session.on_frame(notification("v1"), h.now()));
    ASSERT_EQ(notified.size(), 1u);
    EXPECT_EQ(notified[0].notification.version, "v1");
  }
}

TEST(SessionBadFrames, TheLogLineKeepsOnlyPrintableAsciiOfTheServicesBytes) {
  Harness h;
  h.ready();
  const std::string type = "\x1b[31mred\n" + std::string(500, 'x');
  const auto warnings = all_of<action::Warn>(h.session.on_frame(json{{"messageType", type}}.dump(), h.now()));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].text.find('\x1b'), std::string::npos);
  EXPECT_EQ(warnings[0].text.find('\n'), std::string::npos);
  EXPECT_NE(warnings[0].text.find("?[31mred?"), std::string::npos) << warnings[0].text;
  EXPECT_LT(warnings[0].text.size(), 300u);
}

TEST(SessionBadFrames, AnOversizedFrameIsLoggedAndIgnored) {
  Harness h;
  h.ready();
  const Actions a = h.session.on_oversized_frame(70000, h.now());
  EXPECT_FALSE(has<action::Close>(a));
  ASSERT_EQ(all_of<action::Warn>(a).size(), 1u);
  EXPECT_NE(all_of<action::Warn>(a)[0].text.find("too large): 70000 bytes"), std::string::npos);
}

TEST(SessionBadFrames, TheLogSaysOneLinePerKindPerMinuteWithACount) {
  Harness h;
  h.ready();
  int warnings = 0;
  for (int i = 0; i < 5; ++i) {
    warnings += static_cast<int>(all_of<action::Warn>(h.session.on_frame("[]", h.now())).size());
    h.clock.advance(seconds(5));
  }
  EXPECT_EQ(warnings, 1);
  // Another kind has its own allowance.
  EXPECT_EQ(all_of<action::Warn>(h.session.on_frame(R"({"messageType":"x"})", h.now())).size(), 1u);
  // A minute after the first line, the next one counts the four it stood for.
  h.clock.advance(seconds(40));
  const auto later = all_of<action::Warn>(h.session.on_frame("[]", h.now()));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_NE(later[0].text.find("(and 4 more like it"), std::string::npos) << later[0].text;
  EXPECT_EQ(h.session.bad_frames(), 7u);
}

TEST(SessionBadFrames, AFloodWithinAMinuteClosesTheConnectionAndSaysWhy) {
  SessionConfig config;
  config.max_bad_frames_per_minute = 20;
  Harness h(config);
  h.ready();
  for (int i = 0; i < 20; ++i) {
    ASSERT_FALSE(has<action::Close>(h.session.on_frame("[]", h.now()))) << i;
    h.clock.advance(milliseconds(100));
  }
  const Actions a = h.session.on_frame("[]", h.now());
  ASSERT_TRUE(has<action::Close>(a));
  EXPECT_EQ(all_of<action::Close>(a)[0].reason, DisconnectReason::protocol_violation);
  EXPECT_EQ(h.session.state(), SessionState::backing_off);
  const auto changed = all_of<action::StateChanged>(a);
  ASSERT_FALSE(changed.empty());
  EXPECT_NE(changed.back().detail.find("more than 20 unusable frames within a minute"), std::string::npos)
      << changed.back().detail;
}

TEST(SessionBadFrames, TheSameNumberSpreadOverMinutesKeepsTheConnection) {
  Harness h;
  h.ready();
  for (int i = 0; i < 100; ++i) {
    ASSERT_FALSE(has<action::Close>(h.session.on_frame("[]", h.now()))) << i;
    h.clock.advance(seconds(4));  // 15 a minute, under the limit of 20
  }
  EXPECT_EQ(h.session.state(), SessionState::ready);
}

TEST(SessionBadFrames, TheFloodCountStartsAgainOnANewConnection) {
  Harness h;
  h.ready();
  for (int i = 0; i < 15; ++i) h.session.on_frame("[]", h.now());
  h.session.on_closed(DisconnectReason::io_error, 0, h.now());
  h.tick(seconds(2));  // the backoff's first delay (zero jitter): reconnect
  h.session.on_connected(h.now());
  h.session.on_frame(hello_reply(kUaid), h.now());
  ASSERT_EQ(h.session.state(), SessionState::ready);
  for (int i = 0; i < 15; ++i) ASSERT_FALSE(has<action::Close>(h.session.on_frame("[]", h.now()))) << i;
}

TEST(SessionBadFrames, AHelloReplyForAnotherUaidMidSessionIsAProtocolViolation) {
  Harness h;
  h.ready(kUaid);
  const Actions a = h.session.on_frame(hello_reply(kOtherUaid), h.now());
  ASSERT_TRUE(has<action::Close>(a));
  EXPECT_EQ(all_of<action::Close>(a)[0].reason, DisconnectReason::protocol_violation);
  EXPECT_FALSE(has<action::UaidAssigned>(a));
  const auto changed = all_of<action::StateChanged>(a);
  ASSERT_FALSE(changed.empty());
  EXPECT_NE(changed.back().detail.find("a hello reply with a different uaid mid-session"), std::string::npos);
}

TEST(SessionBadFrames, RepliesBeforeTheHelloReplyAreIgnored) {
  Harness h;
  h.connect();
  const Actions a = h.session.on_frame(register_reply(kChid, 200, "https://push.example/x"), h.now());
  EXPECT_FALSE(has<action::Close>(a));
  EXPECT_FALSE(has<action::RegisterOk>(a));
  EXPECT_EQ(all_of<action::Warn>(a).size(), 1u);
  EXPECT_EQ(h.session.state(), SessionState::handshaking);
}

// ---- requests ----------------------------------------------------------------

TEST(SessionRequests, QueuedBeforeHelloAndSentAfterIt) {
  Harness h;
  h.connect();
  EXPECT_TRUE(frames(h.session.request_register(1, kChid, std::nullopt, h.now())).empty());
  EXPECT_TRUE(frames(h.session.request_unregister(2, "11111111-1111-4111-8111-111111111111", 200, h.now())).empty());
  const auto sent = frames(h.session.on_frame(hello_reply(kUaid), h.now()));
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0], json::parse(std::string(R"({"messageType":"register","channelID":")") + kChid + "\"}"));
  EXPECT_EQ(sent[1]["messageType"], "unregister");
  EXPECT_EQ(sent[1]["code"], 200);
}

TEST(SessionRequests, RegisterSendsTheKey) {
  Harness h;
  h.ready();
  const auto sent = frames(h.session.request_register(1, kChid, std::string("BA1H="), h.now()));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["key"], "BA1H=");
}

struct RegisterRow {
  const char* desc;
  int status;
  std::string endpoint;
  bool ok;
  bool retryable;
  const char* reason_part;
};

TEST(SessionRequests, RegisterStatusRows) {
  const RegisterRow rows[] = {
      {"200 with a URL", 200, "https://updates.push.services.mozilla.com/wpush/v1/gAAA", true, false, ""},
      {"200 with text instead of a URL", 200, "Failed to generate endpoint", false, false, "not an http(s) URL"},
      {"200 with a ws URL", 200, "wss://push.example.com/x", false, false, "not an http(s) URL"},
      {"400", 400, "Failed to generate endpoint", false, false, "refused the registration (400): Failed to generate"},
      {"500", 500, "", false, true, "failed the registration (500)"},
      {"503", 503, "", false, true, "(503)"},
  };
  for (const auto& row : rows) {
    Harness h;
    h.ready();
    h.session.request_register(7, kChid, std::nullopt, h.now());
    const Actions a = h.session.on_frame(register_reply(kChid, row.status, row.endpoint), h.now());
    const auto ok = all_of<action::RegisterOk>(a);
    const auto failed = all_of<action::RegisterFailed>(a);
    if (row.ok) {
      ASSERT_EQ(ok.size(), 1u) << row.desc;
      EXPECT_EQ(ok[0].request, 7u);
      EXPECT_EQ(ok[0].channel_id, kChid);
      EXPECT_EQ(ok[0].endpoint, row.endpoint);
    } else {
      ASSERT_EQ(failed.size(), 1u) << row.desc;
      EXPECT_EQ(failed[0].request, 7u) << row.desc;
      EXPECT_EQ(failed[0].retryable, row.retryable) << row.desc;
      EXPECT_NE(failed[0].reason.find(row.reason_part), std::string::npos) << row.desc << ": " << failed[0].reason;
    }
    EXPECT_FALSE(has<action::Close>(a)) << row.desc;  // a refused request does not kill the socket
  }
}

TEST(SessionRequests, ConflictRetriesOnceWithAFreshChannelId) {
  Harness h;
  h.ready();
  h.session.request_register(3, kChid, std::nullopt, h.now());
  const auto retry = frames(h.session.on_frame(register_reply(kChid, 409, ""), h.now()));
  ASSERT_EQ(retry.size(), 1u);
  const std::string fresh = Harness::fmt_channel(1);
  EXPECT_EQ(retry[0]["channelID"], fresh);
  const Actions second = h.session.on_frame(register_reply(fresh, 409, ""), h.now());
  const auto failed = all_of<action::RegisterFailed>(second);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_TRUE(frames(second).empty());  // only once
}

TEST(SessionRequests, ConflictWithoutAFreshChannelIdFailsRetryably) {
  Harness h;
  h.ready();
  h.session.request_register(3, kChid, std::nullopt, h.now());
  h.channel_ids_fail = true;
  const Actions a = h.session.on_frame(register_reply(kChid, 409, ""), h.now());
  EXPECT_TRUE(frames(a).empty());
  const auto failed = all_of<action::RegisterFailed>(a);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].request, 3u);
  EXPECT_TRUE(failed[0].retryable);
  EXPECT_NE(failed[0].reason.find("no randomness"), std::string::npos);
}

TEST(SessionRequests, ConflictThenSuccessReportsTheNewChannel) {
  Harness h;
  h.ready();
  h.session.request_register(3, kChid, std::nullopt, h.now());
  h.session.on_frame(register_reply(kChid, 409, ""), h.now());
  const std::string fresh = Harness::fmt_channel(1);
  const auto ok = all_of<action::RegisterOk>(h.session.on_frame(register_reply(fresh, 200, "https://p/x"), h.now()));
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].channel_id, fresh);
}

TEST(SessionStore, AStoreFailureClosesAndReconnectsWithBackoff) {
  Harness h;
  h.ready();
  const Actions a = h.session.on_store_failure(h.now());
  const auto closes = all_of<action::Close>(a);
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].reason, DisconnectReason::store_failure);
  EXPECT_EQ(h.session.state(), SessionState::backing_off);
  EXPECT_FALSE(has<action::Connect>(h.tick(milliseconds(999))));
  EXPECT_TRUE(has<action::Connect>(h.tick(milliseconds(1))));
}

TEST(SessionStore, AStoreFailureWithoutAConnectionDoesNothing) {
  Harness h;
  EXPECT_TRUE(h.session.on_store_failure(h.now()).empty());
  EXPECT_EQ(h.session.state(), SessionState::idle);
}

TEST(SessionRequests, TimeoutFailsTheRequestAndReconnects) {
  Harness h;
  h.ready();
  h.session.request_register(9, kChid, std::nullopt, h.now());
  EXPECT_FALSE(has<action::RegisterFailed>(h.tick(milliseconds(9'999))));
  const Actions a = h.tick(milliseconds(1));
  const auto failed = all_of<action::RegisterFailed>(a);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_TRUE(failed[0].retryable);
  ASSERT_TRUE(has<action::Close>(a));
  EXPECT_EQ(all_of<action::Close>(a)[0].reason, DisconnectReason::request_timeout);
  EXPECT_EQ(h.session.state(), SessionState::backing_off);
}

TEST(SessionRequests, RequestsInFlightAreResentAfterAReconnect) {
  Harness h;
  h.ready();
  h.session.request_register(1, kChid, std::nullopt, h.now());
  h.session.on_closed(DisconnectReason::io_error, 0, h.now());
  // New work needs the socket: it is reopened at once... after the backoff for
  // an unexpected loss; here the timer fires.
  h.tick(seconds(1));
  h.session.on_connected(h.now());
  const auto sent = frames(h.session.on_frame(hello_reply(kUaid), h.now()));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["channelID"], kChid);
}

// ---- notifications and acks -----------------------------------------------------

TEST(SessionNotifications, AreHandedOutAndAckedOnRequest) {
  Harness h;
  h.ready();
  const Actions a = h.session.on_frame(std::string(R"({"messageType":"notification","channelID":")") + kChid +
                                           R"(","version":"v1","data":"AAAA","headers":{"encoding":"aes128gcm"}})",
                                       h.now());
  const auto notes = all_of<action::Notify>(a);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].notification.version, "v1");
  EXPECT_TRUE(frames(a).empty());  // nothing is acked until the message is stored
  const auto sent = frames(h.session.ack(kChid, "v1", AckCode::delivered, h.now()));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], json::parse(std::string(R"({"messageType":"ack","updates":[{"channelID":")") + kChid +
                                 R"(","version":"v1","code":100}]})"));
}

TEST(SessionNotifications, AckAfterDisconnectIsDropped) {
  Harness h;
  h.ready();
  h.session.on_closed(DisconnectReason::io_error, 0, h.now());
  EXPECT_TRUE(frames(h.session.ack(kChid, "v1", AckCode::delivered, h.now())).empty());
}

// ---- keepalive -----------------------------------------------------------------

TEST(SessionKeepalive, PingsAfterTheIntervalOfSilence) {
  Harness h;
  h.ready();
  EXPECT_EQ(h.session.next_wakeup(h.now()), minutes(5));
  EXPECT_TRUE(frames(h.tick(minutes(5) - milliseconds(1))).empty());
  const auto sent = frames(h.tick(milliseconds(1)));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], json::object());
}

TEST(SessionKeepalive, AnyInboundFrameRestartsThePingTimer) {
  Harness h;
  h.ready();
  h.tick(minutes(4));
  h.session.on_frame(R"({"messageType":"broadcast","broadcasts":{}})", h.now());
  EXPECT_TRUE(frames(h.tick(minutes(4))).empty());  // 4 min since the broadcast
  EXPECT_EQ(frames(h.tick(minutes(1))).size(), 1u);
}

TEST(SessionKeepalive, NoReplyToThePingMeansDead) {
  Harness h;
  h.ready();
  h.tick(minutes(5));  // ping sent
  EXPECT_FALSE(has<action::Close>(h.tick(milliseconds(9'999))));
  const Actions a = h.tick(milliseconds(1));
  ASSERT_TRUE(has<action::Close>(a));
  EXPECT_EQ(all_of<action::Close>(a)[0].reason, DisconnectReason::ping_timeout);
}

TEST(SessionKeepalive, PongKeepsTheConnection) {
  Harness h;
  h.ready();
  h.tick(minutes(5));
  h.session.on_frame("{}", h.now());
  EXPECT_FALSE(has<action::Close>(h.tick(seconds(20))));
  EXPECT_EQ(h.session.state(), SessionState::ready);
}

TEST(SessionKeepalive, ResumeFromSuspendPingsAtOnce) {
  Harness h;
  h.ready();
  h.tick(minutes(1));
  h.clock.suspend(minutes(2));  // boot clock moves, monotonic does not
  const auto sent = frames(h.session.on_timer(h.now()));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], json::object());
}

TEST(SessionKeepalive, ShortSuspendBelowThresholdDoesNotPing) {
  Harness h;
  h.ready();
  h.tick(minutes(1));
  h.clock.suspend(seconds(2));
  EXPECT_TRUE(frames(h.session.on_timer(h.now())).empty());
}

TEST(SessionKeepalive, PingDeadlineCountsSuspendedTime) {
  Harness h;
  h.ready();
  h.clock.suspend(minutes(6));
  // The boot clock says 6 minutes of silence: past the interval.
  EXPECT_EQ(h.session.next_wakeup(h.now()), milliseconds(0));
}

// ---- reconnection ----------------------------------------------------------------

TEST(SessionBackoff, SequenceWithZeroJitter) {
  Harness h;
  h.session.start(h.now());
  const std::int64_t expected_ms[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000};
  for (const auto ms : expected_ms) {
    h.session.on_closed(DisconnectReason::connect_refused, 0, h.now());
    ASSERT_EQ(h.session.state(), SessionState::backing_off);
    EXPECT_EQ(h.session.next_wakeup(h.now()), milliseconds(ms));
    EXPECT_FALSE(has<action::Connect>(h.tick(milliseconds(ms - 1))));
    EXPECT_TRUE(has<action::Connect>(h.tick(milliseconds(1))));
  }
}

TEST(SessionBackoff, DisconnectDetailNamesReasonAndCode) {
  Harness h;
  h.ready();
  const auto states = all_of<action::StateChanged>(h.session.on_closed(DisconnectReason::server_close, 1011, h.now()));
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].state, SessionState::backing_off);
  EXPECT_NE(states[0].detail.find("server closed the connection (code 1011)"), std::string::npos) << states[0].detail;
  EXPECT_NE(states[0].detail.find("retry in 1.0 s"), std::string::npos) << states[0].detail;
}

TEST(SessionBackoff, DeathWithinTheResetWindowKeepsTheBackoff) {
  Harness h;
  h.session.start(h.now());
  h.session.on_closed(DisconnectReason::connect_refused, 0, h.now());  // 1 s
  h.tick(seconds(1));
  h.session.on_closed(DisconnectReason::connect_refused, 0, h.now());  // 2 s
  h.tick(seconds(2));
  h.session.on_connected(h.now());
  h.session.on_frame(hello_reply(kUaid), h.now());
  h.clock.advance(seconds(9));  // accepted, then dropped within 10 s of the hello
  h.session.on_closed(DisconnectReason::server_close, 1011, h.now());
  EXPECT_EQ(h.session.next_wakeup(h.now()), seconds(4));
}

TEST(SessionBackoff, ConnectionPastTheResetWindowResetsIt) {
  Harness h;
  h.session.start(h.now());
  h.session.on_closed(DisconnectReason::connect_refused, 0, h.now());
  h.tick(seconds(1));
  h.session.on_closed(DisconnectReason::connect_refused, 0, h.now());
  h.tick(seconds(2));
  h.session.on_connected(h.now());
  h.session.on_frame(hello_reply(kUaid), h.now());
  h.clock.advance(seconds(10));
  h.session.on_closed(DisconnectReason::server_close, 1000, h.now());
  EXPECT_EQ(h.session.next_wakeup(h.now()), seconds(1));
}

TEST(SessionBackoff, Close4774PausesUntilNetworkChange) {
  Harness h;
  h.ready();
  h.session.on_closed(DisconnectReason::server_close, 4774, h.now());
  EXPECT_EQ(h.session.state(), SessionState::paused);
  EXPECT_FALSE(has<action::Connect>(h.tick(minutes(29))));
  EXPECT_TRUE(has<action::Connect>(h.session.on_network_change(h.now())));
}

TEST(SessionBackoff, Close4774PausesUntilNewWork) {
  Harness h;
  h.ready();
  h.session.on_closed(DisconnectReason::server_close, 4774, h.now());
  EXPECT_TRUE(has<action::Connect>(h.session.request_register(1, kChid, std::nullopt, h.now())));
}

TEST(SessionBackoff, Close4774PausesThirtyMinutes) {
  Harness h;
  h.ready();
  h.session.on_closed(DisconnectReason::server_close, 4774, h.now());
  EXPECT_FALSE(has<action::Connect>(h.tick(minutes(30) - milliseconds(1))));
  EXPECT_TRUE(has<action::Connect>(h.tick(milliseconds(1))));
}

TEST(SessionBackoff, NetworkChangeBypassesTheWaitOnceAndKeepsTheCount) {
  Harness h;
  h.session.start(h.now());
  for (int i = 0; i < 5; ++i) {
    h.session.on_closed(DisconnectReason::connect_refused, 0, h.now());
    h.tick(*h.session.next_wakeup(h.now()));
  }
  h.session.on_closed(DisconnectReason::connect_refused, 0, h.now());
  EXPECT_EQ(h.session.next_wakeup(h.now()), seconds(32));
  EXPECT_TRUE(has<action::Connect>(h.session.on_network_change(h.now())));
  h.session.on_closed(DisconnectReason::connect_refused, 0, h.now());
  EXPECT_EQ(h.session.next_wakeup(h.now()), seconds(64));  // the count was kept
}

TEST(SessionBackoff, NetworkChangeProbesALiveSocket) {
  Harness h;
  h.ready();
  const auto sent = frames(h.session.on_network_change(h.now()));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], json::object());
  const Actions a = h.tick(seconds(10));
  ASSERT_TRUE(has<action::Close>(a));
  EXPECT_EQ(all_of<action::Close>(a)[0].reason, DisconnectReason::ping_timeout);
}

TEST(SessionBackoff, HealthyLinkIsRefreshedWeekly) {
  SessionConfig c;
  c.ping_interval = std::chrono::hours(24);
  Harness h(c);
  h.ready();
  for (int day = 0; day < 6; ++day) {
    h.tick(std::chrono::hours(24));
    h.session.on_frame("{}", h.now());
  }
  const Actions a = h.tick(std::chrono::hours(24));
  ASSERT_TRUE(has<action::Close>(a));
  EXPECT_EQ(all_of<action::Close>(a)[0].reason, DisconnectReason::periodic_refresh);
  EXPECT_TRUE(has<action::Connect>(a));  // at once, no backoff
}

TEST(SessionStop, ClosesAndFailsPendingRequests) {
  Harness h;
  h.ready();
  h.session.request_register(4, kChid, std::nullopt, h.now());
  const Actions a = h.session.stop(h.now());
  EXPECT_TRUE(has<action::Close>(a));
  EXPECT_EQ(all_of<action::RegisterFailed>(a).size(), 1u);
  EXPECT_EQ(h.session.state(), SessionState::idle);
  EXPECT_FALSE(h.session.next_wakeup(h.now()));
}

}  // namespace protocol_session_test
}  // namespace webpush::protocol
