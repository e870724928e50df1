// Subscriptions of UnifiedPush apps: the app row lives and dies with its
// subscription, and the inbox says which rows are an app's.
#include <gtest/gtest.h>

#include <string>

#include <fmt/format.h>

#include "store_fixtures.h"
#include "webpush/store/store.h"

namespace webpush::store {
namespace store_app_test {

using test::raw_query;
using test::sample_message;
using test::sample_subscription;

Subscription app_subscription(int n, std::string service, std::string token) {
  Subscription s = sample_subscription(n);
  s.app = AppRegistration{.service = std::move(service), .token = std::move(token), .description = "Chat", .api = 2};
  return s;
}

using StoreApps = test::StoreFixture;

TEST_F(StoreApps, AnAppSubscriptionRoundTripsThroughEveryLookup) {
  const Subscription want = app_subscription(1, "org.example.Chat", "tok-1");
  auto id = store().add_subscription(want);
  ASSERT_TRUE(id) << id.error();
  reopen();

  auto by_app = store().find_subscription_by_app("org.example.Chat", "tok-1");
  ASSERT_TRUE(by_app && *by_app);
  Subscription expected = want;
  expected.id = *id;
  EXPECT_EQ(**by_app, expected);
  EXPECT_EQ(store().find_subscription_by_id(*id).value(), expected);
  EXPECT_EQ(store().find_subscription_by_name(want.name).value(), expected);
  auto all = store().list_subscriptions();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1U);
  EXPECT_EQ(all->front(), expected);
}

TEST_F(StoreApps, ThePairIsUniqueAndAClashStoresNothing) {
  ASSERT_TRUE(store().add_subscription(app_subscription(1, "org.example.Chat", "tok")));
  auto again = store().add_subscription(app_subscription(2, "org.example.Chat", "tok"));
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().is(Errc::constraint)) << again.error();
  EXPECT_NE(again.error().message().find("already has a subscription for that token"), std::string::npos);
  EXPECT_EQ(rows("subscriptions"), 1);
  EXPECT_EQ(rows("unifiedpush_apps"), 1);
  // The same token for another app is another registration.
  EXPECT_TRUE(store().add_subscription(app_subscription(3, "org.example.Mail", "tok")));
  EXPECT_FALSE(store().find_subscription_by_app("org.example.Other", "tok").value());
}

TEST_F(StoreApps, AnAppWithoutBusNameOrTokenOrWithAnUnknownApiIsRefused) {
  for (auto bad : {app_subscription(1, "", "t"), app_subscription(1, "a.b", ""), app_subscription(1, "a.b", "t")}) {
    if (!bad.app->service.empty() && !bad.app->token.empty()) bad.app->api = 3;
    auto id = store().add_subscription(bad);
    ASSERT_FALSE(id);
    EXPECT_TRUE(id.error().is(Errc::invalid_argument)) << id.error();
  }
  EXPECT_EQ(rows("subscriptions"), 0);
}

TEST_F(StoreApps, RemovingTheSubscriptionRemovesTheApp) {
  auto id = store().add_subscription(app_subscription(1, "org.example.Chat", "tok"));
  ASSERT_TRUE(id);
  ASSERT_TRUE(store().remove_subscription(*id));
  EXPECT_EQ(rows("unifiedpush_apps"), 0);
  EXPECT_FALSE(store().find_subscription_by_app("org.example.Chat", "tok").value());
}

TEST_F(StoreApps, TheNotifiedEndpointIsRecorded) {
  auto id = store().add_subscription(app_subscription(1, "org.example.Chat", "tok"));
  ASSERT_TRUE(id);
  ASSERT_TRUE(store().set_app_notified_endpoint(*id, "https://push.example.net/wpush/v2/abc"));
  reopen();
  auto sub = store().find_subscription_by_id(*id).value();
  ASSERT_TRUE(sub && sub->app);
  EXPECT_EQ(sub->app->notified_endpoint, "https://push.example.net/wpush/v2/abc");
  auto plain = store().add_subscription(sample_subscription(2));
  ASSERT_TRUE(plain);
  auto missing = store().set_app_notified_endpoint(*plain, "https://x/");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(Errc::not_found));
}

TEST_F(StoreApps, InboxRowsNameTheirAppAndEachAppHasItsOwnQueue) {
  const Subscription chat = app_subscription(1, "org.example.Chat", "tok");
  const Subscription plain = sample_subscription(2);
  const std::int64_t chat_id = store().add_subscription(chat).value();
  const std::int64_t plain_id = store().add_subscription(plain).value();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store().inbox_put_if_new(sample_message(chat.channel_id, fmt::format("c{}", i), 100 + i, chat_id)));
    ASSERT_TRUE(store().inbox_put_if_new(sample_message(plain.channel_id, fmt::format("p{}", i), 100 + i, plain_id)));
  }
  auto all = store().list_undelivered().value();
  ASSERT_EQ(all.size(), 10U);
  for (const auto& m : all) {
    EXPECT_EQ(m.app, m.subscription_id == chat_id ? std::optional<std::string>("org.example.Chat") : std::nullopt);
  }
  auto queue = store().list_undelivered_of(chat_id, 0, 3).value();
  ASSERT_EQ(queue.size(), 3U);
  EXPECT_EQ(queue[0].version, "c0");
  EXPECT_EQ(queue[2].version, "c2");
  ASSERT_TRUE(store().mark_delivered(queue[0].id, 200));
  auto rest = store().list_undelivered_of(chat_id, queue[1].id, 10).value();
  ASSERT_EQ(rest.size(), 4U);
  EXPECT_EQ(rest.front().version, "c1");
  EXPECT_EQ(store().count_undelivered_of(chat_id).value(), 4);
  EXPECT_EQ(store().count_undelivered_of(plain_id).value(), 5);
  EXPECT_EQ(store().find_message(queue[0].id).value()->app, "org.example.Chat");
  EXPECT_FALSE(store().list_undelivered_of(chat_id, 0, -1));

  // Removing the app's subscription fails what it had not taken; the sinks' rows stay.
  ASSERT_TRUE(store().remove_subscription(chat_id));
  auto left = store().list_undelivered().value();
  ASSERT_EQ(left.size(), 5U);
  for (const auto& m : left) EXPECT_EQ(m.subscription_id, plain_id);
  auto failed = store().list_messages({.state = InboxState::failed}).value();
  ASSERT_EQ(failed.size(), 4U);
  EXPECT_EQ(failed[0].error, "the app unregistered before it took this message");
  EXPECT_FALSE(failed[0].app);
  ASSERT_TRUE(store().remove_subscription(plain_id));
  EXPECT_EQ(store().list_undelivered().value().size(), 5U);
}

TEST_F(StoreApps, AStoreAtTheCurrentSchemaHasTheAppTable) {
  EXPECT_EQ(rows("unifiedpush_apps"), 0);
  EXPECT_EQ(raw_query(dir_.db(), "PRAGMA user_version"), std::vector<std::string>{std::to_string(kSchemaVersion)});
}

}  // namespace store_app_test
}  // namespace webpush::store
