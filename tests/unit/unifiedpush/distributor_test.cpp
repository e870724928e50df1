// The distributor's rules with a fake bus, a fake registrar, fake time and a
// real store: registration, NewEndpoint, forwarding in order with retries,
// restarts, retention and unregistration.
#include "webpush/unifiedpush/distributor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "fake_clock.h"
#include "fake_scheduler.h"

namespace webpush::unifiedpush {
namespace distributor_test {

namespace fs = std::filesystem;

// A call to an app's connector, held until the test answers it.
struct Call {
  std::string kind;  // "endpoint", "message", "unregistered"
  AppAddress app;
  std::string arg;  // the endpoint, or the message id
  Bytes body;
  Bus::Done done;
};

class FakeBus final : public Bus {
 public:
  Result<void> start(DistributorApi& api) override {
    api_ = &api;
    if (fail_start) return fail(Errc::unavailable, "no bus");
    return {};
  }
  void new_endpoint(const AppAddress& app, const std::string& endpoint, Done done) override {
    calls.push_back({"endpoint", app, endpoint, {}, std::move(done)});
  }
  void message(const AppAddress& app, std::span<const std::uint8_t> body, const std::string& id, Done done) override {
    calls.push_back({"message", app, id, Bytes(body.begin(), body.end()), std::move(done)});
  }
  void unregistered(const AppAddress& app, Done done) override {
    calls.push_back({"unregistered", app, "", {}, std::move(done)});
  }
  /// Answers the oldest call.
  Call answer(Result<void> outcome = {}) {
    EXPECT_FALSE(calls.empty());
    Call c = std::move(calls.front());
    calls.pop_front();
    c.done(outcome);
    return c;
  }

  bool fail_start = false;
  DistributorApi* api_ = nullptr;
  std::deque<Call> calls;
};

// Registers as the Agent does: stores the subscription (with its app), then answers.
class FakeRegistrar final : public Registrar {
 public:
  explicit FakeRegistrar(store::Store& store) : store_(&store) {}
  void subscribe(std::string name, std::optional<Bytes> vapid, store::AppRegistration app, Subscribed done) override {
    vapids.push_back(vapid);
    if (refuse) {
      done(fail(Errc::timeout, "the push service did not answer"));
      return;
    }
    store::Subscription s;
    s.name = std::move(name);
    s.server = "wss://push.example.net/";
    s.channel_id = fmt::format("chan-{}", ++n_);
    s.endpoint = fmt::format("https://push.example.net/wpush/v2/{}", n_);
    s.private_key = SecretBytes(32, 1);
    s.public_key = Bytes(65, 2);
    s.auth_secret = SecretBytes(16, 3);
    s.app_server_key = vapid;
    s.state = store::SubscriptionState::active;
    s.app = std::move(app);
    auto id = store_->add_subscription(s);
    if (!id) {
      done(tl::unexpected(id.error()));
      return;
    }
    s.id = *id;
    done(std::move(s));
  }
  void unsubscribe(std::int64_t id, Unsubscribed done) override { done(store_->remove_subscription(id)); }

  bool refuse = false;
  std::vector<std::optional<Bytes>> vapids;

 private:
  store::Store* store_;
  int n_ = 0;
};

class DistributorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("webpushd-up-{}-{}", ::getpid(), counter_++);
    auto s = store::Store::open(dir_, store::OpenMode::daemon, {.synchronous = store::Synchronous::normal});
    ASSERT_TRUE(s) << s.error();
    store_.emplace(std::move(*s));
    start();
  }
  void TearDown() override {
    dist_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void start() {
    registrar_.emplace(*store_);
    dist_.emplace(*store_, *registrar_, bus_, scheduler_, clock_);
    ASSERT_TRUE(dist_->start());
  }
  /// The daemon stops and starts again: a new distributor on the same store.
  void restart() {
    dist_.reset();
    bus_.calls.clear();
    start();
  }

  RegisterOutcome do_register(std::string service, std::string token, ApiVersion v = ApiVersion::v2,
                              std::optional<std::string> vapid = std::nullopt) {
    std::optional<RegisterOutcome> got;
    dist_->on_register({v, ":1.7", std::move(service), std::move(token), "Chat", std::move(vapid)},
                       [&](RegisterOutcome o) { got = std::move(o); });
    EXPECT_TRUE(got);
    return got.value_or(RegisterOutcome{});
  }
  /// Stores a message for the app's subscription as the receive path does, and forwards it.
  std::int64_t push(const std::string& service, const std::string& token, const std::string& version,
                    std::int64_t received_at = 0) {
    auto sub = store_->find_subscription_by_app(service, token).value().value();
    store::InboxEntry e;
    e.subscription_id = sub.id;
    e.channel_id = sub.channel_id;
    e.version = version;
    e.received_at = received_at != 0 ? received_at : clock_.now().wall_ms;
    e.payload = Bytes{1, 2, 3};
    e.encoding = "aes128gcm";
    auto put = store_->inbox_put_if_new(e);
    EXPECT_TRUE(put);
    e.id = put->id;
    e.app = service;
    dist_->forward(e);
    return e.id;
  }
  store::InboxState state_of(std::int64_t id) { return store_->find_message(id).value().value().state; }

  static inline int counter_ = 0;
  fs::path dir_;
  fakes::FakeClock clock_;
  fakes::FakeScheduler scheduler_{clock_};
  FakeBus bus_;
  std::optional<store::Store> store_;
  std::optional<FakeRegistrar> registrar_;
  std::optional<Distributor> dist_;
};

TEST(SubscriptionName, PlainTokensAreShownAndOthersHashed) {
  EXPECT_EQ(subscription_name("org.example.Chat", "a1b2"), "up/org.example.Chat/a1b2");
  const std::string hashed = subscription_name("org.example.Chat", "a/b");
  EXPECT_EQ(hashed.size(), std::string("up/org.example.Chat/").size() + 16);
  EXPECT_EQ(hashed, subscription_name("org.example.Chat", "a/b"));
  EXPECT_NE(hashed, subscription_name("org.example.Chat", "a/c"));
  EXPECT_NE(subscription_name("a.b", std::string(65, 'x')), subscription_name("a.b", std::string(66, 'x')));
}

TEST_F(DistributorTest, ARegistrationStoresTheAppAndTellsItsEndpoint) {
  const auto out = do_register("org.example.Chat", "tok-1");
  EXPECT_TRUE(out.ok) << out.detail;
  auto sub = store_->find_subscription_by_app("org.example.Chat", "tok-1").value();
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->name, "up/org.example.Chat/tok-1");
  EXPECT_EQ(sub->app->api, 2);
  EXPECT_EQ(sub->app->description, "Chat");
  ASSERT_EQ(bus_.calls.size(), 1U);
  const Call c = bus_.answer();
  EXPECT_EQ(c.kind, "endpoint");
  EXPECT_EQ(c.app.service, "org.example.Chat");
  EXPECT_EQ(c.app.token, "tok-1");
  EXPECT_EQ(c.arg, sub->endpoint);
  EXPECT_EQ(store_->find_subscription_by_id(sub->id).value()->app->notified_endpoint, sub->endpoint);
}

TEST_F(DistributorTest, TheVapidKeyRestrictsTheSubscription) {
  Bytes key(65, 7);
  key[0] = 0x04;
  const std::string b64 = "BAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";
  ASSERT_TRUE(do_register("org.example.Chat", "t", ApiVersion::v2, b64).ok);
  ASSERT_EQ(registrar_->vapids.size(), 1U);
  EXPECT_EQ(registrar_->vapids[0], key);
}

TEST_F(DistributorTest, RegisteringTheSameTokenAgainGivesTheSameEndpoint) {
  ASSERT_TRUE(do_register("org.example.Chat", "t").ok);
  const std::string first = bus_.answer().arg;
  ASSERT_TRUE(do_register("org.example.Chat", "t").ok);
  ASSERT_EQ(bus_.calls.size(), 1U);
  EXPECT_EQ(bus_.answer().arg, first);
  EXPECT_EQ(store_->count_subscriptions().value(), 1);
  EXPECT_EQ(registrar_->vapids.size(), 1U);
}

TEST_F(DistributorTest, ABadRegistrationIsRefusedWithAReasonAndStoresNothing) {
  const struct {
    std::string service, token, why;
  } rows[] = {
      {"org.example.Chat", "", "the token is empty"},
      {"not a bus name", "t", "is not a valid D-Bus bus name"},
      {"org.example.Chat", std::string(5000, 'x'), "longer than"},
      {"org.example.Chat", "a\nb", "control character"},
  };
  for (const auto& row : rows) {
    const auto out = do_register(row.service, row.token);
    EXPECT_FALSE(out.ok);
    EXPECT_EQ(out.reason, FailReason::internal_error);
    EXPECT_NE(out.detail.find(row.why), std::string::npos) << out.detail;
  }
  const auto bad_key = do_register("org.example.Chat", "t", ApiVersion::v2, "AAAA");
  EXPECT_FALSE(bad_key.ok);
  EXPECT_NE(bad_key.detail.find("VAPID key"), std::string::npos) << bad_key.detail;
  EXPECT_EQ(store_->count_subscriptions().value(), 0);
  EXPECT_TRUE(bus_.calls.empty());
}

TEST_F(DistributorTest, APushServiceThatDoesNotAnswerIsANetworkFailure) {
  registrar_->refuse = true;
  const auto out = do_register("org.example.Chat", "t");
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.reason, FailReason::network);
  EXPECT_EQ(to_string(out.reason), "NETWORK");
  EXPECT_EQ(store_->count_subscriptions().value(), 0);
}

TEST_F(DistributorTest, MessagesGoInOrderOneAtATimeAndAreMarkedWhenTaken) {
  ASSERT_TRUE(do_register("org.example.Chat", "t").ok);
  bus_.answer();  // the endpoint
  const auto a = push("org.example.Chat", "t", "v1");
  const auto b = push("org.example.Chat", "t", "v2");
  ASSERT_EQ(bus_.calls.size(), 1U);  // one at a time
  EXPECT_EQ(state_of(a), store::InboxState::stored);
  Call first = bus_.answer();
  EXPECT_EQ(first.kind, "message");
  EXPECT_EQ(first.arg, "v1");
  EXPECT_EQ(first.body, (Bytes{1, 2, 3}));
  EXPECT_EQ(state_of(a), store::InboxState::delivered);
  ASSERT_EQ(bus_.calls.size(), 1U);
  EXPECT_EQ(bus_.answer().arg, "v2");
  EXPECT_EQ(state_of(b), store::InboxState::delivered);
  const auto apps = dist_->apps();
  ASSERT_EQ(apps.size(), 1U);
  EXPECT_EQ(apps[0].forwarded, 2);
  EXPECT_EQ(apps[0].pending, 0);
}

TEST_F(DistributorTest, AnErrorIsRetriedWithBackoffAndTheSameIdUntilTaken) {
  ASSERT_TRUE(do_register("org.example.Chat", "t").ok);
  bus_.answer();
  const auto a = push("org.example.Chat", "t", "v1");
  bus_.answer(fail(Errc::connector, "org.freedesktop.DBus.Error.ServiceUnknown: not running"));
  EXPECT_TRUE(bus_.calls.empty());
  EXPECT_EQ(dist_->apps()[0].last_error, "org.freedesktop.DBus.Error.ServiceUnknown: not running");
  EXPECT_EQ(dist_->apps()[0].pending, 1);
  scheduler_.advance(Duration{499});
  EXPECT_TRUE(bus_.calls.empty());
  scheduler_.advance(Duration{1});
  ASSERT_EQ(bus_.calls.size(), 1U);
  bus_.answer(fail(Errc::timeout, "no reply"));  // Connector2: a timeout is retried too
  scheduler_.advance(Duration{999});
  EXPECT_TRUE(bus_.calls.empty());
  scheduler_.advance(Duration{1});
  ASSERT_EQ(bus_.calls.size(), 1U);
  EXPECT_EQ(bus_.answer().arg, "v1");
  EXPECT_EQ(state_of(a), store::InboxState::delivered);
  EXPECT_FALSE(dist_->apps()[0].last_error);
}

TEST_F(DistributorTest, AConnector1TimeoutCountsAsTakenButItsErrorsAreRetried) {
  ASSERT_TRUE(do_register("org.example.Chat", "t", ApiVersion::v1).ok);
  EXPECT_EQ(bus_.answer(fail(Errc::timeout, "no reply")).app.version, ApiVersion::v1);
  const auto a = push("org.example.Chat", "t", "v1");
  bus_.answer(fail(Errc::timeout, "no reply"));
  EXPECT_EQ(state_of(a), store::InboxState::delivered);
  const auto b = push("org.example.Chat", "t", "v2");
  bus_.answer(fail(Errc::connector, "UnknownMethod"));
  EXPECT_EQ(state_of(b), store::InboxState::stored);
  scheduler_.advance(Duration{500});
  bus_.answer();
  EXPECT_EQ(state_of(b), store::InboxState::delivered);
}

TEST_F(DistributorTest, AnAppThatIsDownHoldsUpNoOther) {
  ASSERT_TRUE(do_register("org.example.Chat", "t").ok);
  bus_.answer();
  ASSERT_TRUE(do_register("org.example.Mail", "t").ok);
  bus_.answer();
  push("org.example.Chat", "t", "c1");
  bus_.answer(fail(Errc::connector, "down"));
  push("org.example.Mail", "t", "m1");
  ASSERT_EQ(bus_.calls.size(), 1U);
  const Call mail = bus_.answer();
  EXPECT_EQ(mail.app.service, "org.example.Mail");
  EXPECT_EQ(mail.arg, "m1");
}

TEST_F(DistributorTest, ARestartForwardsWhatWaitsAndTellsNoEndpointTwice) {
  ASSERT_TRUE(do_register("org.example.Chat", "t").ok);
  bus_.answer();
  push("org.example.Chat", "t", "v1");
  bus_.answer(fail(Errc::connector, "down"));
  restart();
  ASSERT_EQ(bus_.calls.size(), 1U);
  EXPECT_EQ(bus_.calls.front().kind, "message");
  EXPECT_EQ(bus_.answer().arg, "v1");
  EXPECT_EQ(dist_->apps()[0].pending, 0);
}

TEST_F(DistributorTest, AnEndpointNotYetTakenIsToldAfterARestart) {
  ASSERT_TRUE(do_register("org.example.Chat", "t").ok);
  bus_.answer(fail(Errc::connector, "down"));
  restart();
  ASSERT_EQ(bus_.calls.size(), 1U);
  EXPECT_EQ(bus_.answer().kind, "endpoint");
}

TEST_F(DistributorTest, ANewEndpointIsToldBeforeTheNextMessage) {
  ASSERT_TRUE(do_register("org.example.Chat", "t").ok);
  bus_.answer();
  auto sub = store_->find_subscription_by_app("org.example.Chat", "t").value().value();
  sub.endpoint = "https://push.example.net/wpush/v2/new";
  dist_->endpoint_changed(sub);
  push("org.example.Chat", "t", "v1");
  ASSERT_EQ(bus_.calls.size(), 1U);
  EXPECT_EQ(bus_.answer().arg, "https://push.example.net/wpush/v2/new");
  EXPECT_EQ(bus_.answer().arg, "v1");
}

TEST_F(DistributorTest, AMessageOlderThanTheRetentionAgeIsDroppedNotForwarded) {
  ASSERT_TRUE(do_register("org.example.Chat", "t").ok);
  bus_.answer();
  const std::int64_t old_enough = clock_.now().wall_ms - std::chrono::milliseconds(std::chrono::days(31)).count();
  const auto old = push("org.example.Chat", "t", "old", old_enough);
  ASSERT_EQ(bus_.calls.size(), 0U);
  EXPECT_EQ(state_of(old), store::InboxState::failed);
  push("org.example.Chat", "t", "new");
  EXPECT_EQ(bus_.answer().arg, "new");
}

TEST_F(DistributorTest, UnregisterRemovesTheSubscriptionAndTellsTheApp) {
  ASSERT_TRUE(do_register("org.example.Chat", "t").ok);
  bus_.answer();
  const auto waiting = push("org.example.Chat", "t", "v1");
  bus_.answer(fail(Errc::connector, "down"));
  dist_->on_unregister({ApiVersion::v2, ":1.7", "t"});
  EXPECT_EQ(store_->count_subscriptions().value(), 0);
  EXPECT_EQ(state_of(waiting), store::InboxState::failed);
  ASSERT_EQ(bus_.calls.size(), 1U);
  const Call c = bus_.answer();
  EXPECT_EQ(c.kind, "unregistered");
  EXPECT_EQ(c.app.token, "t");
  EXPECT_TRUE(dist_->apps().empty());
  scheduler_.advance(Duration{60'000});  // the lane's retry is gone with it
  EXPECT_TRUE(bus_.calls.empty());
}

TEST_F(DistributorTest, AnUnknownOrAmbiguousTokenUnregistersNothing) {
  ASSERT_TRUE(do_register("org.example.Chat", "same").ok);
  ASSERT_TRUE(do_register("org.example.Mail", "same").ok);
  dist_->on_unregister({ApiVersion::v2, ":1.7", "same"});
  dist_->on_unregister({ApiVersion::v2, ":1.7", "other"});
  dist_->on_unregister({ApiVersion::v2, ":1.7", ""});
  EXPECT_EQ(store_->count_subscriptions().value(), 2);
}

TEST_F(DistributorTest, ABusThatCannotStartIsAnError) {
  dist_.reset();
  bus_.fail_start = true;
  registrar_.emplace(*store_);
  dist_.emplace(*store_, *registrar_, bus_, scheduler_, clock_);
  auto ok = dist_->start();
  ASSERT_FALSE(ok);
  EXPECT_TRUE(ok.error().is(Errc::unavailable));
}

TEST_F(DistributorTest, NothingIsCalledAfterStop) {
  ASSERT_TRUE(do_register("org.example.Chat", "t").ok);
  bus_.answer(fail(Errc::connector, "down"));
  dist_->stop();
  scheduler_.advance(Duration{60'000});
  push("org.example.Chat", "t", "v1");
  EXPECT_TRUE(bus_.calls.empty());
}

}  // namespace distributor_test
}  // namespace webpush::unifiedpush
