// daemon::FcmLink with a scripted HTTP client and MCS stream, a hand-moved
// clock and scheduler, zero jitter, a recording sink behind a real Dispatcher
// and a real store in a temporary directory. Nothing here sleeps or reads a
// real clock.
#include "webpush/daemon/fcm_link.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../fcm/pb_wire.h"
#include "../store/store_fixtures.h"
#include "fake_clock.h"
#include "fake_http.h"
#include "fake_scheduler.h"
#include "fake_stream.h"
#include "webpush/core/base64url.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/webpush.h"
#include "webpush/fcm/mcs_framing.h"
#include "webpush/fcm/messages.h"

// A namespace of its own: the unity build compiles this file with agent_test.cpp.
namespace webpush::daemon::fcm_link_tests {
namespace {

using protocol::SessionState;
using store::test::raw_exec;

constexpr std::uint64_t kAndroidId = 0xfedcba9876543210;
constexpr std::uint64_t kSecurityToken = 0x0123456789abcdef;
constexpr std::string_view kNotConnected = "no FCM subscriptions: not connected";

// ---- protobuf and MCS bytes as the servers send them ------------------------------------

using fcm::pb_wire::pb_bytes;
using fcm::pb_wire::pb_fixed64;
using fcm::pb_wire::pb_varint;

std::string checkin_answer() { return pb_varint(1, 1) + pb_fixed64(7, kAndroidId) + pb_fixed64(8, kSecurityToken); }

std::string frame(fcm::Tag tag, std::string_view body) { return fcm::encode_frame(tag, body).value(); }

std::string login_ok() {
  return std::string(1, static_cast<char>(fcm::kMcsVersion)) +
         frame(fcm::Tag::login_response, pb_bytes(1, "chrome-63.0.3234.0") + pb_varint(5, 1));
}

/// A Web Push message for `sub` as Google's MCS server carries it.
std::string data_frame(const store::Subscription& sub, const std::string& persistent_id, std::string_view plaintext) {
  const auto body = crypto::webpush_encrypt(as_bytes(plaintext), crypto::PublicKey::from_bytes(sub.public_key).value(),
                                            sub.auth_secret)
                        .value();
  fcm::DataMessage m;
  m.from = "1234567890";
  m.category = "org.chromium.linux";
  m.persistent_id = persistent_id;
  m.app_data = {{"subtype", sub.fcm->app_id}, {"content-encoding", "aes128gcm"}};
  m.raw_data = std::string(reinterpret_cast<const char*>(body.data()), body.size());
  return frame(fcm::Tag::data_message_stanza, fcm::encode_data_message(m));
}

/// The client's frames in what a stream was sent (its version byte first).
std::vector<fcm::Frame> client_frames(const fakes::FakeStreamLink& link) {
  fcm::McsDecoder decoder;
  const std::string bytes = link.sent_bytes();
  std::string_view in = bytes;
  std::vector<fcm::Frame> out;
  while (true) {
    auto f = decoder.next(in);
    if (!f || !*f) break;
    out.push_back(std::move(**f));
  }
  return out;
}

std::vector<fcm::IqStanza> selective_acks(const fakes::FakeStreamLink& link) {
  std::vector<fcm::IqStanza> out;
  for (const auto& f : client_frames(link)) {
    if (f.tag != static_cast<std::uint8_t>(fcm::Tag::iq_stanza)) continue;
    auto iq = fcm::decode_iq_stanza(f.body).value();
    if (iq.extension_id == fcm::kSelectiveAckExtension) out.push_back(std::move(iq));
  }
  return out;
}

class RecordingSink final : public sinks::Sink {
 public:
  std::vector<sinks::Event> events;
  [[nodiscard]] std::string_view name() const override { return "recording"; }
  Result<void> deliver(const sinks::Event& event) override {
    events.push_back(event);
    return {};
  }
};

/// Captures what is logged to the "daemon" logger while it lives.
class DaemonLog {
 public:
  DaemonLog() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64)) {
    spdlog::drop("daemon");
    auto log = std::make_shared<spdlog::logger>("daemon", sink_);
    log->set_pattern("%l %v");
    spdlog::register_logger(log);
  }
  DaemonLog(const DaemonLog&) = delete;
  DaemonLog& operator=(const DaemonLog&) = delete;
  ~DaemonLog() { spdlog::drop("daemon"); }
  [[nodiscard]] std::vector<std::string> lines() const { return sink_->last_formatted(); }
  [[nodiscard]] std::vector<std::string> warnings() const {
    std::vector<std::string> out;
    for (const auto& line : lines()) {
      if (line.starts_with("warning ")) out.push_back(line);
    }
    return out;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

constexpr std::string_view kInstallationAnswer =
    R"({"fid":"cAAAAAAAAAAAAAAAAAAAAA","refreshToken":"r1","authToken":{"token":"fis-1","expiresIn":"604800s"}})";

// ---- the harness ----------------------------------------------------------------------------

struct Harness {
  store::test::TempDir tmp;
  store::Store store;
  fakes::FakeClock clock;
  fakes::FixedJitter jitter{0.0};
  fakes::FakeScheduler scheduler{clock};
  fakes::FakeHttpClient http;
  fakes::FakeStreamFactory streams;
  RecordingSink sink;
  Dispatcher dispatcher{store, scheduler, clock};
  FcmOptions options;
  std::unique_ptr<FcmLink> link;  // last: destroyed first

  Harness() : store(store::test::open_or_die(tmp.state(), store::OpenMode::daemon)) {
    options.urls = {"https://fcm.test/checkin", "https://fcm.test/c2dm/register3", "https://fis.test/v1",
                    "https://fcmreg.test/v1", "https://fcm.test/fcm/send"};
    options.mcs_host = "127.0.0.1";
    options.mcs_port = 15228;
    dispatcher.set_sinks({&sink});
  }
  FcmLink& make() {
    link = std::make_unique<FcmLink>(store, http, streams, scheduler, dispatcher, options, clock, jitter);
    const auto ok = link->start();
    EXPECT_TRUE(ok) << ok.error();
    return *link;
  }
  void store_device() { ASSERT_TRUE(store.set_fcm_device({kAndroidId, kSecurityToken, 1})); }

  /// subscribe() with the device stored, register3 answered with `gcm`.
  store::Subscription subscribe_gcm_only(const std::string& name, const std::string& gcm = "gcm:tok-1") {
    std::optional<Result<store::Subscription>> got;
    link->subscribe(name, std::nullopt, [&](Result<store::Subscription> r) { got = std::move(r); });
    http.respond_next(200, "token=" + gcm);
    EXPECT_TRUE(got.has_value() && got->has_value());
    return got && *got ? **got : store::Subscription{};
  }
  /// subscribe() with the device stored and a Firebase app: every call answered.
  store::Subscription subscribe_firebase(const std::string& name) {
    std::optional<Result<store::Subscription>> got;
    link->subscribe(name, std::nullopt, [&](Result<store::Subscription> r) { got = std::move(r); });
    http.respond_next(200, "token=gcm:tok-1");
    http.respond_next(200, std::string(kInstallationAnswer));
    http.respond_next(200, R"({"token":"fcm:tok-1"})");
    EXPECT_TRUE(got.has_value() && got->has_value());
    return got && *got ? **got : store::Subscription{};
  }
  /// A stored FCM subscription `name` with `reg`, bound to a new application server key.
  store::Subscription store_subscription(const std::string& name, store::FcmRegistration reg) {
    store::Subscription sub;
    sub.name = name;
    sub.server = link->mcs_server();
    sub.channel_id = "ch-" + name;
    sub.endpoint = "https://fcm.test/fcm/send/" + reg.gcm_token;
    const auto key = crypto::KeyPair::generate().value();
    sub.private_key = key.private_bytes();
    sub.public_key = Bytes(key.public_bytes().begin(), key.public_bytes().end());
    sub.auth_secret = crypto::generate_auth_secret().value();
    const auto server_key = crypto::KeyPair::generate().value();
    sub.app_server_key = Bytes(server_key.public_bytes().begin(), server_key.public_bytes().end());
    sub.state = store::SubscriptionState::active;
    sub.fcm = std::move(reg);
    sub.id = store.add_subscription(sub).value();
    return sub;
  }
  /// With a Firebase app: subscribe() "phone", then start its unsubscribe; the result lands in `done`.
  store::Subscription unsubscribe_firebase_phone(std::optional<Result<void>>& done) {
    options.firebase = fcm::FirebaseApp{"proj-1", "1:42:web:abc", "api-key-1"};
    store_device();
    make();
    auto sub = subscribe_firebase("phone");
    link->unsubscribe(sub.id, [&done](Result<void> r) { done = std::move(r); });
    return sub;
  }
  /// The stream opens and the server accepts the login.
  void ready() {
    streams.last().open();
    streams.last().receive(login_ok());
    ASSERT_EQ(link->status().state, SessionState::ready);
  }
  void receive_and_flush(const std::string& bytes) {
    streams.last().receive(bytes);
    scheduler.run_deferred();
  }
};

class FcmLinkTest : public ::testing::Test, protected Harness {};

// ---- identity ---------------------------------------------------------------------------------

TEST_F(FcmLinkTest, ChecksInOnceThenUsesTheStoredDevice) {
  make();
  EXPECT_FALSE(link->status().device_known);
  std::vector<Result<void>> done;
  link->ensure_device([&](Result<void> r) { done.push_back(std::move(r)); });
  link->ensure_device([&](Result<void> r) { done.push_back(std::move(r)); });
  ASSERT_EQ(http.requests(), 1U);  // one checkin for both
  EXPECT_EQ(http.last().request.url, "https://fcm.test/checkin");
  EXPECT_EQ(http.last().header("Content-Type"), "application/x-protobuf");
  EXPECT_EQ(http.last().request.body, fcm::encode_checkin_request({}));
  http.respond_next(200, checkin_answer());
  ASSERT_EQ(done.size(), 2U);
  EXPECT_TRUE(done[0] && done[1]);
  const auto device = store.get_fcm_device().value();
  ASSERT_TRUE(device.has_value());
  EXPECT_EQ(device->android_id, kAndroidId);
  EXPECT_EQ(device->security_token, kSecurityToken);
  EXPECT_TRUE(link->status().device_known);

  // A restart: the stored identity, no second checkin.
  link.reset();
  make();
  bool ok = false;
  link->ensure_device([&](Result<void> r) { ok = r.has_value(); });
  EXPECT_TRUE(ok);
  EXPECT_EQ(http.requests(), 1U);
}

TEST_F(FcmLinkTest, IdleWithoutDeviceOrSubscriptions) {
  make();
  EXPECT_EQ(streams.attempts(), 0);
  EXPECT_EQ(http.requests(), 0U);  // no checkin either
  EXPECT_EQ(link->status().state, SessionState::idle);
  EXPECT_EQ(link->status().detail, kNotConnected);
}

// ---- subscribe ---------------------------------------------------------------------------------

TEST_F(FcmLinkTest, SubscribeRegistersInOrderAndStores) {
  options.firebase = fcm::FirebaseApp{"proj-1", "1:42:web:abc", "api-key-1"};
  make();
  const auto server_key = crypto::KeyPair::generate().value();
  const Bytes server_pub(server_key.public_bytes().begin(), server_key.public_bytes().end());
  std::optional<Result<store::Subscription>> got;
  link->subscribe("phone", server_pub, [&](Result<store::Subscription> r) { got = std::move(r); });

  ASSERT_EQ(http.requests(), 1U);
  EXPECT_EQ(http.calls()[0].request.url, "https://fcm.test/checkin");
  http.respond_next(200, checkin_answer());

  ASSERT_EQ(http.requests(), 2U);
  const auto& reg = http.calls()[1];
  EXPECT_EQ(reg.request.url, "https://fcm.test/c2dm/register3");
  EXPECT_EQ(reg.header("Authorization"), fcm::gcm_register_authorization({kAndroidId, kSecurityToken}));
  EXPECT_EQ(reg.header("Content-Type"), "application/x-www-form-urlencoded");
  const std::string form_start = "app=org.chromium.linux&X-subtype=wp%3Awebpushd%23";
  EXPECT_EQ(reg.request.body.substr(0, form_start.size()), form_start) << reg.request.body;
  EXPECT_NE(reg.request.body.find("&sender=" + base64url_encode(server_pub)), std::string::npos);
  http.respond_next(200, "token=gcm:tok-1\n");

  ASSERT_EQ(http.requests(), 3U);
  const auto& inst = http.calls()[2];
  EXPECT_EQ(inst.request.url, "https://fis.test/v1/projects/proj-1/installations");
  EXPECT_EQ(inst.header("x-goog-api-key"), "api-key-1");
  EXPECT_NE(inst.request.body.find("\"appId\":\"1:42:web:abc\""), std::string::npos) << inst.request.body;
  http.respond_next(
      200,
      R"({"fid":"cAAAAAAAAAAAAAAAAAAAAA","refreshToken":"r1","authToken":{"token":"fis-1","expiresIn":"604800s"}})");

  ASSERT_EQ(http.requests(), 4U);
  const auto& fcm_reg = http.calls()[3];
  EXPECT_EQ(fcm_reg.request.url, "https://fcmreg.test/v1/projects/proj-1/registrations");
  EXPECT_EQ(fcm_reg.header("x-goog-api-key"), "api-key-1");
  EXPECT_EQ(fcm_reg.header("x-goog-firebase-installations-auth"), "fis-1");
  EXPECT_NE(fcm_reg.request.body.find("https://fcm.test/fcm/send/gcm:tok-1"), std::string::npos);
  EXPECT_FALSE(got.has_value());
  http.respond_next(200, R"({"token":"fcm-tok-1"})");

  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(*got) << got->error();
  const store::Subscription& sub = **got;
  EXPECT_EQ(sub.server, "mcs://127.0.0.1:15228");
  EXPECT_EQ(sub.endpoint, "https://fcm.test/fcm/send/fcm-tok-1");
  ASSERT_TRUE(sub.fcm.has_value());
  EXPECT_EQ(sub.fcm->app_id.substr(0, 12), "wp:webpushd#");
  EXPECT_EQ(sub.fcm->gcm_token, "gcm:tok-1");
  EXPECT_EQ(sub.fcm->fcm_token, "fcm-tok-1");
  EXPECT_EQ(sub.fcm->installation_id, "cAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(fcm_reg.request.body.find(base64url_encode(sub.public_key)) != std::string::npos, true);
  EXPECT_EQ(store.find_subscription_by_fcm_app(sub.fcm->app_id).value(), sub);
  EXPECT_NE(sub.channel_id, "");
  EXPECT_TRUE(store.list_subscriptions("wss://push.services.mozilla.com/").value().empty());
  EXPECT_EQ(streams.attempts(), 1);  // the MCS link connects
}

TEST_F(FcmLinkTest, WithoutFirebaseTheEndpointCarriesTheGcmToken) {
  store_device();
  make();
  const auto sub = subscribe_gcm_only("laptop");
  EXPECT_EQ(http.requests(), 1U);  // register3 only
  EXPECT_EQ(sub.endpoint, "https://fcm.test/fcm/send/gcm:tok-1");
  EXPECT_EQ(sub.fcm->fcm_token, "");
}

TEST_F(FcmLinkTest, PhoneRegistrationErrorIsRetriedThenFailsCleanly) {
  store_device();
  make();
  std::optional<Result<store::Subscription>> got;
  link->subscribe("phone", std::nullopt, [&](Result<store::Subscription> r) { got = std::move(r); });
  for (int attempt = 0; attempt < 4; ++attempt) {
    ASSERT_EQ(http.requests(), static_cast<std::size_t>(attempt + 1));
    http.respond_next(200, "Error=PHONE_REGISTRATION_ERROR");
    if (attempt < 3) {
      EXPECT_FALSE(got.has_value());
      scheduler.advance(std::chrono::milliseconds(999));
      EXPECT_EQ(http.requests(), static_cast<std::size_t>(attempt + 1));  // 1 s apart
      scheduler.advance(std::chrono::milliseconds(1));
    }
  }
  ASSERT_TRUE(got.has_value());
  ASSERT_FALSE(*got);
  EXPECT_TRUE(got->error().is(Errc::registration)) << got->error();
  EXPECT_NE(got->error().message().find("PHONE_REGISTRATION_ERROR"), std::string::npos);
  EXPECT_TRUE(store.list_subscriptions().value().empty());
  EXPECT_EQ(streams.attempts(), 0);
}

TEST_F(FcmLinkTest, UnsubscribeRemovesTheRecordThenTellsFirebaseAndGcm) {
  options.firebase = fcm::FirebaseApp{"proj-1", "1:42:web:abc", "api-key-1"};
  store_device();
  make();
  const auto sub = subscribe_firebase("phone");
  ASSERT_EQ(http.requests(), 3U);
  DaemonLog log;
  std::optional<Result<void>> done;
  link->unsubscribe(sub.id, [&](Result<void> r) { done = std::move(r); });
  EXPECT_FALSE(store.find_subscription_by_id(sub.id).value().has_value());  // first, whatever the service says

  // A fresh installation auth token, under the stored installation id.
  ASSERT_EQ(http.requests(), 4U);
  const auto& inst = http.calls()[3];
  EXPECT_EQ(inst.request.method, "POST");
  EXPECT_EQ(inst.request.url, "https://fis.test/v1/projects/proj-1/installations");
  EXPECT_EQ(inst.header("x-goog-api-key"), "api-key-1");
  EXPECT_NE(inst.request.body.find("\"fid\":\"cAAAAAAAAAAAAAAAAAAAAA\""), std::string::npos) << inst.request.body;
  http.respond_next(200, R"({"fid":"cAAAAAAAAAAAAAAAAAAAAA","refreshToken":"r2",)"
                         R"("authToken":{"token":"fis-2","expiresIn":"604800s"}})");

  ASSERT_EQ(http.requests(), 5U);
  const auto& del = http.calls()[4];
  EXPECT_EQ(del.request.method, "DELETE");
  EXPECT_EQ(del.request.url, "https://fcmreg.test/v1/projects/proj-1/registrations/fcm:tok-1");
  EXPECT_EQ(del.header("x-goog-api-key"), "api-key-1");
  EXPECT_EQ(del.header("x-goog-firebase-installations-auth"), "fis-2");
  EXPECT_EQ(del.request.body, "");
  http.respond_next(200, "{}");

  ASSERT_EQ(http.requests(), 6U);
  const auto& gcm = http.calls()[5];
  EXPECT_EQ(gcm.request.method, "POST");
  EXPECT_EQ(gcm.request.url, "https://fcm.test/c2dm/register3");
  EXPECT_EQ(gcm.header("Authorization"), fcm::gcm_register_authorization({kAndroidId, kSecurityToken}));
  EXPECT_EQ(gcm.header("Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(gcm.request.body,
            fcm::encode_gcm_unregister_form(
                {{kAndroidId, kSecurityToken}, sub.fcm->app_id, std::string(fcm::default_sender_key())}));
  EXPECT_TRUE(gcm.request.body.ends_with("&delete=true")) << gcm.request.body;
  EXPECT_TRUE(done.has_value());  // done once the record is gone; the service is told afterwards
  http.respond_next(200, "deleted=" + sub.fcm->app_id + "\n");

  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(*done) << done->error();
  EXPECT_EQ(http.requests(), 6U);
  EXPECT_TRUE(log.warnings().empty()) << ::testing::PrintToString(log.lines());
  EXPECT_THAT(log.lines(), ::testing::Contains(::testing::HasSubstr("phone unregistered from Chrome's push service")));
}

TEST_F(FcmLinkTest, UnsubscribeWithoutFirebaseRegistrationSkipsTheDelete) {
  options.firebase = fcm::FirebaseApp{"proj-1", "1:42:web:abc", "api-key-1"};
  store_device();
  make();
  // Registered before a Firebase app was configured: a GCM token only.
  const auto sub = store_subscription("old", store::FcmRegistration{"wp:webpushd#old", "gcm:old", "", ""});

  std::optional<Result<void>> done;
  link->unsubscribe(sub.id, [&](Result<void> r) { done = std::move(r); });
  ASSERT_EQ(http.requests(), 1U);
  const auto& gcm = http.last();
  EXPECT_EQ(gcm.request.url, "https://fcm.test/c2dm/register3");
  EXPECT_NE(gcm.request.body.find("&sender=" + base64url_encode(*sub.app_server_key)), std::string::npos);
  EXPECT_TRUE(gcm.request.body.ends_with("&delete=true"));
  http.respond_next(200, "deleted=wp:webpushd#old");
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(*done) << done->error();
  EXPECT_EQ(http.requests(), 1U);
}

TEST_F(FcmLinkTest, UnsubscribeWithoutFirebaseAppOnlyTellsGcm) {
  store_device();
  make();
  const auto sub = subscribe_gcm_only("laptop");
  bool ok = false;
  link->unsubscribe(sub.id, [&](Result<void> r) { ok = r.has_value(); });
  EXPECT_FALSE(store.find_subscription_by_id(sub.id).value().has_value());
  ASSERT_EQ(http.requests(), 2U);
  EXPECT_EQ(http.last().request.url, "https://fcm.test/c2dm/register3");
  http.respond_next(200, "deleted=" + sub.fcm->app_id);
  EXPECT_TRUE(ok);
}

TEST_F(FcmLinkTest, AServiceThatRefusesOrIsUnreachableStillUnsubscribes) {
  DaemonLog log;
  std::optional<Result<void>> done;
  const auto sub = unsubscribe_firebase_phone(done);
  EXPECT_FALSE(store.find_subscription_by_id(sub.id).value().has_value());
  http.respond_next(200, std::string(kInstallationAnswer));
  ASSERT_EQ(http.next().request.method, "DELETE");
  http.fail_next(transport::Errc::connect, "DELETE " + http.next().request.url + ": connection refused");
  ASSERT_EQ(http.next().request.url, "https://fcm.test/c2dm/register3");  // tried all the same
  http.respond_next(200, "Error=INVALID_PARAMETERS");

  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(*done) << done->error();
  const auto warnings = log.warnings();
  ASSERT_EQ(warnings.size(), 2U) << ::testing::PrintToString(log.lines());
  EXPECT_THAT(warnings[0], ::testing::HasSubstr("phone removed; Chrome's push service was not told"));
  EXPECT_THAT(warnings[0], ::testing::HasSubstr("connection refused"));
  EXPECT_THAT(warnings[0], ::testing::Not(::testing::HasSubstr("fcm:tok-1")));  // the token stays out of the log
  EXPECT_THAT(warnings[1], ::testing::HasSubstr("GCM unregister: HTTP status 200, Error=\"INVALID_PARAMETERS\""));
}

TEST_F(FcmLinkTest, ATokenFoundInTheRedactionMarkIsCutWithoutEnd) {
  // "t" is inside "<token>": cutting it must not find it again in its own mark.
  options.firebase = fcm::FirebaseApp{"proj-1", "1:42:web:abc", "api-key-1"};
  store_device();
  make();
  const auto sub =
      store_subscription("short", store::FcmRegistration{"wp:webpushd#short", "gcm:s", "t", "cAAAAAAAAAAAAAAAAAAAAA"});
  DaemonLog log;
  link->unsubscribe(sub.id, [](Result<void>) {});
  http.respond_next(200, std::string(kInstallationAnswer));
  ASSERT_EQ(http.next().request.method, "DELETE");
  http.fail_next(transport::Errc::connect, "DELETE " + http.next().request.url + ": connection refused");
  ASSERT_EQ(http.next().request.url, "https://fcm.test/c2dm/register3");
  const auto warnings = log.warnings();
  ASSERT_EQ(warnings.size(), 1U) << ::testing::PrintToString(log.lines());
  // Every "t" is cut (the URL reads oddly) and the loop ends.
  EXPECT_THAT(warnings[0], ::testing::HasSubstr("ions/<token>: connec<token>ion refused"));
}

TEST_F(FcmLinkTest, AnInstallationUnderAnotherIdSkipsTheDelete) {
  DaemonLog log;
  std::optional<Result<void>> done;
  unsubscribe_firebase_phone(done);
  http.respond_next(200, R"({"fid":"dBBBBBBBBBBBBBBBBBBBBB","refreshToken":"r9",)"
                         R"("authToken":{"token":"fis-9","expiresIn":"604800s"}})");
  ASSERT_EQ(http.next().request.url, "https://fcm.test/c2dm/register3");  // no DELETE with another's token
  http.respond_next(200, "deleted=x");
  const auto warnings = log.warnings();
  ASSERT_GE(warnings.size(), 1U) << ::testing::PrintToString(log.lines());
  EXPECT_THAT(warnings[0], ::testing::HasSubstr("the Firebase installation came back under another id"));
}

TEST_F(FcmLinkTest, AnFcmTokenWithoutAFirebaseAppIsReportedUntold) {
  store_device();
  make();
  const auto sub = store_subscription(
      "orphan", store::FcmRegistration{"wp:webpushd#orphan", "gcm:o", "fcm:o", "cAAAAAAAAAAAAAAAAAAAAA"});
  DaemonLog log;
  link->unsubscribe(sub.id, [](Result<void>) {});
  ASSERT_EQ(http.next().request.url, "https://fcm.test/c2dm/register3");
  http.respond_next(200, "deleted=wp:webpushd#orphan");
  const auto warnings = log.warnings();
  ASSERT_EQ(warnings.size(), 1U) << ::testing::PrintToString(log.lines());
  EXPECT_THAT(warnings[0], ::testing::HasSubstr("no Firebase app is configured"));
  EXPECT_THAT(log.lines(), ::testing::Not(::testing::Contains(::testing::HasSubstr("unregistered from"))));
}

TEST_F(FcmLinkTest, AnUnreachableServiceAtEveryStepStillUnsubscribes) {
  DaemonLog log;
  std::optional<Result<void>> done;
  const auto sub = unsubscribe_firebase_phone(done);
  http.fail_next(transport::Errc::dns, "no such host");  // the installation: no DELETE without its token
  ASSERT_EQ(http.next().request.url, "https://fcm.test/c2dm/register3");
  http.fail_next(transport::Errc::timeout, "no answer");
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(*done) << done->error();
  EXPECT_EQ(http.requests(), 5U);  // 3 to subscribe, 2 to unsubscribe
  EXPECT_EQ(log.warnings().size(), 2U) << ::testing::PrintToString(log.lines());
  EXPECT_FALSE(store.find_subscription_by_id(sub.id).value().has_value());
}

TEST_F(FcmLinkTest, ShutdownCompletesAPendingUnsubscribe) {
  store_device();
  make();
  const auto sub = subscribe_gcm_only("laptop");
  std::optional<Result<void>> done;
  link->unsubscribe(sub.id, [&](Result<void> r) { done = std::move(r); });
  ASSERT_EQ(http.pending(), 1U);
  link->shutdown();
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(*done) << done->error();
  http.respond_next(200, "deleted=" + sub.fcm->app_id);  // late: ignored
  EXPECT_FALSE(store.find_subscription_by_id(sub.id).value().has_value());
}

TEST_F(FcmLinkTest, UnsubscribeRefusesWhatIsNotAnFcmSubscription) {
  store_device();
  make();
  Result<void> r = {};
  link->unsubscribe(4242, [&](Result<void> got) { r = std::move(got); });
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::bad_request)) << r.error();
  EXPECT_EQ(http.requests(), 0U);
}

// ---- the MCS link ---------------------------------------------------------------------------

TEST_F(FcmLinkTest, LoginPresentsTheStoredAcks) {
  store_device();
  make();
  const auto sub = subscribe_gcm_only("laptop");
  ASSERT_TRUE(store.add_fcm_acks(std::vector<std::string>{"0:1%aa", "0:2%bb"}, 5));
  link.reset();
  make();  // a restart: device and subscription stored, so it connects at once
  ASSERT_EQ(streams.streams(), 2U);
  streams.last().open();
  const auto frames = client_frames(streams.last());
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames[0].tag, static_cast<std::uint8_t>(fcm::Tag::login_request));
  EXPECT_EQ(frames[0].body, fcm::encode_login_request(fcm::LoginParams{
                                {kAndroidId, kSecurityToken}, std::string(fcm::kChromeVersion), {"0:1%aa", "0:2%bb"}}));
  // The LoginResponse confirms them: the rows go.
  streams.last().receive(login_ok());
  EXPECT_EQ(store.count_fcm_acks().value(), 0);
}

TEST_F(FcmLinkTest, AMessageIsStoredDeliveredAndAckedOnce) {
  store_device();
  make();
  const auto sub = subscribe_gcm_only("laptop");
  ready();
  receive_and_flush(data_frame(sub, "0:100%abc", "hello"));

  const auto rows = store.list_messages().value();
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].channel_id, sub.channel_id);
  EXPECT_EQ(rows[0].version, "0:100%abc");
  ASSERT_TRUE(rows[0].payload.has_value());
  EXPECT_EQ(std::string(rows[0].payload->begin(), rows[0].payload->end()), "hello");
  ASSERT_EQ(sink.events.size(), 1U);
  const auto* m = std::get_if<sinks::MessageEvent>(&sink.events[0]);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->subscription, "laptop");
  EXPECT_EQ(store.list_fcm_acks(10).value(), std::vector<std::string>{"0:100%abc"});
  auto acks = selective_acks(streams.last());
  ASSERT_EQ(acks.size(), 1U);
  EXPECT_EQ(fcm::decode_selective_ack(acks[0].extension_data).value(), std::vector<std::string>{"0:100%abc"});

  // Redelivered (the ack was lost): acked again, not stored or delivered twice.
  receive_and_flush(data_frame(sub, "0:100%abc", "hello"));
  EXPECT_EQ(store.list_messages().value().size(), 1U);
  EXPECT_EQ(sink.events.size(), 1U);
  EXPECT_EQ(selective_acks(streams.last()).size(), 2U);
  EXPECT_EQ(link->status().counters.received, 2);
  EXPECT_EQ(link->status().counters.duplicates, 1);
}

TEST_F(FcmLinkTest, AnUnknownAppIdIsAckedAndNotStored) {
  store_device();
  make();
  auto sub = subscribe_gcm_only("laptop");
  ready();
  sub.fcm->app_id = "wp:someone-else#1";
  receive_and_flush(data_frame(sub, "0:7%x", "hi"));
  EXPECT_TRUE(store.list_messages().value().empty());
  EXPECT_TRUE(sink.events.empty());
  EXPECT_EQ(selective_acks(streams.last()).size(), 1U);
  EXPECT_EQ(link->status().counters.duplicates, 1);
}

TEST_F(FcmLinkTest, AStoreFailureSendsNoAckAndReconnects) {
  store_device();
  make();
  const auto sub = subscribe_gcm_only("laptop");
  ready();
  raw_exec(tmp.db(), "CREATE TRIGGER no_inbox BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'injected'); END");
  receive_and_flush(data_frame(sub, "0:5%q", "lost"));
  EXPECT_TRUE(selective_acks(*streams.links()[0]).empty());
  EXPECT_EQ(store.count_fcm_acks().value(), 0);
  EXPECT_TRUE(sink.events.empty());
  EXPECT_TRUE(streams.links()[0]->closed());
  ASSERT_TRUE(link->status().store_error.has_value());
  EXPECT_EQ(link->status().state, SessionState::backing_off);
}

TEST_F(FcmLinkTest, HeartbeatTimeoutReconnects) {
  store_device();
  make();
  subscribe_gcm_only("laptop");
  ready();
  ASSERT_EQ(streams.attempts(), 1);
  // Silence: a ping after the interval, nothing back within the timeout.
  scheduler.advance(options.session.heartbeat_interval + options.session.heartbeat_timeout + std::chrono::seconds(1));
  EXPECT_TRUE(streams.links()[0]->closed());
  EXPECT_GE(link->status().counters.reconnects, 1);
  scheduler.advance(std::chrono::minutes(5));  // the backoff runs out
  EXPECT_EQ(streams.attempts(), 2);
}

// ---- connected only while subscriptions are stored ------------------------------------------

TEST_F(FcmLinkTest, AStoredDeviceWithoutSubscriptionsDoesNotConnect) {
  store_device();
  make();
  scheduler.advance(std::chrono::hours(1));
  EXPECT_EQ(streams.attempts(), 0);
  const auto status = link->status();
  EXPECT_EQ(status.state, SessionState::idle);
  EXPECT_EQ(status.detail, kNotConnected);
  EXPECT_TRUE(status.device_known);

  subscribe_gcm_only("laptop");  // the first subscribe connects
  EXPECT_EQ(streams.attempts(), 1);
  ready();
  EXPECT_NE(link->status().detail, kNotConnected);
}

TEST_F(FcmLinkTest, RemovingTheLastSubscriptionDisconnectsAndTheNextLoginPresentsItsIds) {
  store_device();
  make();
  const auto sub = subscribe_gcm_only("laptop");
  ready();
  receive_and_flush(data_frame(sub, "0:1%a", "first"));
  streams.last().receive(data_frame(sub, "0:2%b", "second"));  // its batch not flushed yet
  DaemonLog log;
  std::optional<Result<void>> done;
  link->unsubscribe(sub.id, [&](Result<void> r) { done = std::move(r); });

  // The batch went first, its ack on the stream before it closed.
  const auto& first = *streams.links()[0];
  EXPECT_TRUE(first.closed());
  EXPECT_TRUE(first.sent_after_close().empty());
  const auto acks = selective_acks(first);
  ASSERT_EQ(acks.size(), 2U);
  EXPECT_EQ(fcm::decode_selective_ack(acks[1].extension_data).value(), std::vector<std::string>{"0:2%b"});
  EXPECT_EQ(store.list_fcm_acks(10).value(), (std::vector<std::string>{"0:1%a", "0:2%b"}));
  auto status = link->status();
  EXPECT_EQ(status.state, SessionState::idle);
  EXPECT_EQ(status.detail, kNotConnected);
  EXPECT_FALSE(status.connected_since_ms.has_value());
  EXPECT_EQ(status.counters.reconnects, 0);
  EXPECT_THAT(log.lines(), ::testing::Contains(::testing::HasSubstr("no FCM subscriptions left: disconnected")));
  http.respond_next(200, "deleted=" + sub.fcm->app_id);
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(*done) << done->error();

  // Late words from the old stream change nothing; no reconnect, no heartbeat.
  link->on_data(login_ok());
  link->on_closed(protocol::DisconnectReason::io_error, "late");
  scheduler.advance(std::chrono::hours(1));
  EXPECT_EQ(streams.attempts(), 1);
  status = link->status();
  EXPECT_EQ(status.state, SessionState::idle);
  EXPECT_EQ(status.detail, kNotConnected);

  // A new subscription connects again; its login presents what was not confirmed.
  subscribe_gcm_only("phone", "gcm:tok-2");
  ASSERT_EQ(streams.attempts(), 2);
  streams.last().open();
  const auto frames = client_frames(streams.last());
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames[0].body, fcm::encode_login_request(fcm::LoginParams{
                                {kAndroidId, kSecurityToken}, std::string(fcm::kChromeVersion), {"0:1%a", "0:2%b"}}));
  streams.last().receive(login_ok());
  EXPECT_EQ(link->status().state, SessionState::ready);
  EXPECT_EQ(store.count_fcm_acks().value(), 0);
}

TEST_F(FcmLinkTest, RemovingOneOfTwoSubscriptionsKeepsTheConnection) {
  store_device();
  make();
  const auto laptop = subscribe_gcm_only("laptop");
  subscribe_gcm_only("phone", "gcm:tok-2");
  ready();
  bool ok = false;
  link->unsubscribe(laptop.id, [&](Result<void> r) { ok = r.has_value(); });
  http.respond_next(200, "deleted=" + laptop.fcm->app_id);
  EXPECT_TRUE(ok);
  EXPECT_FALSE(streams.last().closed());
  EXPECT_EQ(streams.attempts(), 1);
  EXPECT_EQ(link->status().state, SessionState::ready);
}

TEST_F(FcmLinkTest, ASubscribeInProgressKeepsTheConnectionUntilItFails) {
  store_device();
  make();
  const auto laptop = subscribe_gcm_only("laptop");
  ready();
  std::optional<Result<store::Subscription>> got;
  link->subscribe("phone", std::nullopt, [&](Result<store::Subscription> r) { got = std::move(r); });
  link->unsubscribe(laptop.id, [](Result<void>) {});
  EXPECT_FALSE(streams.last().closed());
  http.respond_next(200, "Error=AUTHENTICATION_FAILED");  // the subscribe's register3
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(*got);
  EXPECT_TRUE(streams.last().closed());
  EXPECT_EQ(link->status().state, SessionState::idle);
  EXPECT_EQ(link->status().detail, kNotConnected);
}

}  // namespace
}  // namespace webpush::daemon::fcm_link_tests
