// What the store keeps for Chrome's push service: the checkin identity, each
// subscription's FCM registration (written with the subscription, read by every
// lookup, gone with it), the MCS persistent ids awaiting a login's confirmation,
// and the upgrade of a version-4 database.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "store_fixtures.h"
#include "webpush/store/store.h"

namespace webpush::store {
namespace store_fcm_test {

using test::open_or_die;
using test::raw_exec;
using test::raw_query;
using test::sample_subscription;
using test::TempDir;

using Strings = std::vector<std::string>;

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();

// A store opened for the daemon in a fresh temp directory.
class FcmStore : public ::testing::Test {
 protected:
  void SetUp() override { store_.emplace(open_or_die(dir_.state(), OpenMode::daemon)); }

  Store& store() { return *store_; }
  void reopen() {
    store_.reset();
    store_.emplace(open_or_die(dir_.state(), OpenMode::daemon));
  }
  std::int64_t rows(std::string_view table) {
    return std::stoll(raw_query(dir_.db(), fmt::format("SELECT count(*) FROM {}", table)).at(0));
  }

  TempDir dir_;
  std::optional<Store> store_;
};

FcmRegistration registration(std::string app_id) {
  return FcmRegistration{.app_id = std::move(app_id),
                         .gcm_token = "gcm-token:APA91b",
                         .fcm_token = "fcm-token:APA91c",
                         .installation_id = "fid-1"};
}

Subscription fcm_subscription(int n, std::string app_id) {
  Subscription s = sample_subscription(n, "https://fcm.googleapis.com/");
  s.fcm = registration(std::move(app_id));
  return s;
}

// ---- device ---------------------------------------------------------------------

TEST_F(FcmStore, TheDeviceIsAbsentUntilSetAndASecondSetReplacesIt) {
  EXPECT_EQ(store().get_fcm_device().value(), std::nullopt);

  const FcmDevice first{.android_id = 5'123'456'789'012'345'678ULL, .security_token = kMaxU64, .checked_in_at = 1000};
  ASSERT_TRUE(store().set_fcm_device(first));
  reopen();
  EXPECT_EQ(store().get_fcm_device().value(), first);
  // Kept as decimal text: the full unsigned range survives SQLite's signed INTEGER.
  EXPECT_EQ(raw_query(dir_.db(), "SELECT security_token FROM fcm_device"), Strings{"18446744073709551615"});

  const FcmDevice second{.android_id = 1, .security_token = 42, .checked_in_at = 2000};
  ASSERT_TRUE(store().set_fcm_device(second));
  EXPECT_EQ(store().get_fcm_device().value(), second);
  EXPECT_EQ(rows("fcm_device"), 1);
}

TEST_F(FcmStore, AZeroIdOrTokenIsRefusedAndChangesNothing) {
  const FcmDevice kept{.android_id = 7, .security_token = 8, .checked_in_at = 9};
  ASSERT_TRUE(store().set_fcm_device(kept));
  for (const FcmDevice& bad : {FcmDevice{.android_id = 0, .security_token = 8, .checked_in_at = 10},
                               FcmDevice{.android_id = 7, .security_token = 0, .checked_in_at = 10}}) {
    auto ok = store().set_fcm_device(bad);
    ASSERT_FALSE(ok);
    EXPECT_TRUE(ok.error().is(Errc::invalid_argument)) << ok.error();
    EXPECT_EQ(ok.error().message(),
              fmt::format("{}: set FCM device: android id and security token must not be 0", dir_.db().string()));
  }
  EXPECT_EQ(store().get_fcm_device().value(), kept);
}

TEST_F(FcmStore, StoredDecimalTextIsReadWithinTheUnsignedRange) {
  struct Row {
    std::string_view stored;
    std::uint64_t read;
  };
  for (const Row& row : {Row{"1", 1}, Row{"00000000000000000007", 7}, Row{"18446744073709551615", kMaxU64}}) {
    SCOPED_TRACE(row.stored);
    ASSERT_TRUE(store().set_fcm_device({.android_id = 3, .security_token = 4, .checked_in_at = 5}));
    raw_exec(dir_.db(), fmt::format("UPDATE fcm_device SET android_id = '{}'", row.stored));
    auto device = store().get_fcm_device();
    ASSERT_TRUE(device && *device) << (device ? "absent" : device.error().message());
    EXPECT_EQ((*device)->android_id, row.read);
    EXPECT_EQ((*device)->security_token, 4U);
  }
}

TEST_F(FcmStore, ACorruptedDeviceRowIsAClearErrorThatHidesTheValue) {
  struct Row {
    std::string_view column;
    std::string_view stored;
  };
  const Row cases[] = {
      {"android_id", ""},
      {"android_id", "abc"},
      {"android_id", "12a"},
      {"android_id", "-1"},
      {"android_id", "+1"},
      {"android_id", " 1"},
      {"android_id", "0"},
      {"android_id", "18446744073709551616"},   // 2^64: 20 digits, out of range
      {"android_id", "123456789012345678901"},  // 21 digits
      {"security_token", "99999999999999999999"},
      {"security_token", "0x10"},
      {"security_token", "00000000000000000000"},
  };
  for (const Row& row : cases) {
    SCOPED_TRACE(fmt::format("{} = '{}'", row.column, row.stored));
    ASSERT_TRUE(store().set_fcm_device({.android_id = 3, .security_token = 4, .checked_in_at = 5}));
    raw_exec(dir_.db(), fmt::format("UPDATE fcm_device SET {} = '{}'", row.column, row.stored));
    auto device = store().get_fcm_device();
    ASSERT_FALSE(device);
    EXPECT_TRUE(device.error().is(Errc::corrupt)) << device.error();
    EXPECT_EQ(device.error().message(), fmt::format("{}: fcm_device row 1: {} is not a non-zero 64-bit decimal number",
                                                    dir_.db().string(), row.column));
  }
}

// ---- subscriptions ---------------------------------------------------------------

TEST_F(FcmStore, AnFcmSubscriptionRoundTripsThroughEveryLookup) {
  const Subscription want = fcm_subscription(1, "wp:https://example.net/#1");
  auto id = store().add_subscription(want);
  ASSERT_TRUE(id) << id.error();
  // Only the GCM step done, no installation: empty strings come back empty.
  Subscription gcm_only = fcm_subscription(2, "wp:https://example.net/#2");
  gcm_only.fcm->fcm_token.clear();
  gcm_only.fcm->installation_id.clear();
  auto gcm_only_id = store().add_subscription(gcm_only);
  ASSERT_TRUE(gcm_only_id) << gcm_only_id.error();
  auto plain_id = store().add_subscription(sample_subscription(3));
  ASSERT_TRUE(plain_id) << plain_id.error();
  reopen();

  Subscription expected = want;
  expected.id = *id;
  EXPECT_EQ(store().find_subscription_by_id(*id).value(), expected);
  EXPECT_EQ(store().find_subscription_by_name(want.name).value(), expected);
  EXPECT_EQ(store().find_subscription_by_channel(want.channel_id).value(), expected);
  EXPECT_EQ(store().find_subscription_by_fcm_app("wp:https://example.net/#1").value(), expected);
  EXPECT_EQ(store().find_subscription_by_fcm_app("wp:https://example.net/#9").value(), std::nullopt);

  gcm_only.id = *gcm_only_id;
  EXPECT_EQ(store().find_subscription_by_fcm_app("wp:https://example.net/#2").value(), gcm_only);
  EXPECT_EQ(raw_query(dir_.db(), fmt::format("SELECT quote(installation_id) FROM fcm_subscriptions WHERE "
                                             "subscription_id = {}",
                                             *gcm_only_id)),
            Strings{"NULL"});

  const auto plain = store().find_subscription_by_id(*plain_id).value();
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->fcm, std::nullopt);
  auto all = store().list_subscriptions();
  ASSERT_TRUE(all) << all.error();
  ASSERT_EQ(all->size(), 3U);
  EXPECT_EQ((*all)[0], expected);
  EXPECT_EQ((*all)[1], gcm_only);
  EXPECT_EQ((*all)[2], *plain);
  EXPECT_EQ(store().list_subscriptions("https://fcm.googleapis.com/").value(), (std::vector{expected, gcm_only}));
}

TEST_F(FcmStore, ASubscriptionMayHaveBothAnAppAndAnFcmRegistration) {
  Subscription both = fcm_subscription(1, "app-1");
  both.app = AppRegistration{.service = "org.example.Chat", .token = "tok", .description = "Chat", .api = 2};
  auto id = store().add_subscription(both);
  ASSERT_TRUE(id) << id.error();
  both.id = *id;
  EXPECT_EQ(store().find_subscription_by_app("org.example.Chat", "tok").value(), both);
  EXPECT_EQ(store().find_subscription_by_fcm_app("app-1").value(), both);
}

TEST_F(FcmStore, AnAppIdClashIsAConstraintErrorAndStoresNothing) {
  ASSERT_TRUE(store().add_subscription(fcm_subscription(1, "app-1")));
  // The second also has a UnifiedPush app: its row, written before the clash, is
  // rolled back with the subscription.
  Subscription clash = fcm_subscription(2, "app-1");
  clash.app = AppRegistration{.service = "org.example.Chat", .token = "tok", .description = "", .api = 1};
  auto again = store().add_subscription(clash);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().is(Errc::constraint)) << again.error();
  EXPECT_EQ(again.error().message(),
            fmt::format("{}: FCM app id app-1 is already used by subscription sub-1", dir_.db().string()));
  EXPECT_EQ(rows("subscriptions"), 1);
  EXPECT_EQ(rows("fcm_subscriptions"), 1);
  EXPECT_EQ(rows("unifiedpush_apps"), 0);
  EXPECT_EQ(store().find_subscription_by_name("sub-2").value(), std::nullopt);
  EXPECT_TRUE(store().add_subscription(fcm_subscription(2, "app-2")));
}

TEST_F(FcmStore, AnFcmRegistrationWithoutAppIdOrGcmTokenIsRefused) {
  Subscription no_app_id = fcm_subscription(1, "");
  Subscription no_gcm_token = fcm_subscription(1, "app-1");
  no_gcm_token.fcm->gcm_token.clear();
  for (const Subscription& bad : {no_app_id, no_gcm_token}) {
    auto id = store().add_subscription(bad);
    ASSERT_FALSE(id);
    EXPECT_TRUE(id.error().is(Errc::invalid_argument)) << id.error();
    EXPECT_EQ(
        id.error().message(),
        fmt::format("{}: subscription sub-1: an FCM registration needs an app id and a GCM token", dir_.db().string()));
  }
  EXPECT_EQ(rows("subscriptions"), 0);
  EXPECT_EQ(rows("fcm_subscriptions"), 0);
}

TEST_F(FcmStore, RemovingTheSubscriptionRemovesItsFcmRegistration) {
  auto id = store().add_subscription(fcm_subscription(1, "app-1"));
  ASSERT_TRUE(id);
  ASSERT_TRUE(store().remove_subscription(*id));
  EXPECT_EQ(rows("fcm_subscriptions"), 0);
  EXPECT_EQ(store().find_subscription_by_fcm_app("app-1").value(), std::nullopt);
  // The app id is free again.
  EXPECT_TRUE(store().add_subscription(fcm_subscription(2, "app-1")));
}

TEST_F(FcmStore, ARegistrationIsReplacedWhenItRegistersAgain) {
  const std::int64_t id = store().add_subscription(fcm_subscription(1, "app-1")).value();
  const std::int64_t other = store().add_subscription(fcm_subscription(2, "app-2")).value();
  const std::int64_t plain = store().add_subscription(sample_subscription(3)).value();

  const FcmRegistration renewed{.app_id = "app-1b", .gcm_token = "gcm-2", .fcm_token = "", .installation_id = ""};
  ASSERT_TRUE(store().set_fcm_registration(id, renewed));
  reopen();
  EXPECT_EQ(store().find_subscription_by_id(id).value()->fcm, renewed);
  EXPECT_EQ(store().find_subscription_by_fcm_app("app-1b").value()->id, id);
  EXPECT_EQ(store().find_subscription_by_fcm_app("app-1").value(), std::nullopt);
  // The same app id with new tokens is no clash with itself.
  ASSERT_TRUE(store().set_fcm_registration(id, registration("app-1b")));
  EXPECT_EQ(store().find_subscription_by_id(id).value()->fcm, registration("app-1b"));

  auto clash = store().set_fcm_registration(id, registration("app-2"));
  ASSERT_FALSE(clash);
  EXPECT_TRUE(clash.error().is(Errc::constraint)) << clash.error();
  EXPECT_EQ(clash.error().message(),
            fmt::format("{}: FCM app id app-2 is already used by subscription sub-2", dir_.db().string()));
  EXPECT_EQ(store().find_subscription_by_id(id).value()->fcm, registration("app-1b"));
  EXPECT_EQ(store().find_subscription_by_id(other).value()->fcm, registration("app-2"));

  for (const std::int64_t missing : {plain, std::int64_t{999}}) {
    auto ok = store().set_fcm_registration(missing, registration("app-3"));
    ASSERT_FALSE(ok);
    EXPECT_TRUE(ok.error().is(Errc::not_found)) << ok.error();
  }
  EXPECT_EQ(store().find_subscription_by_id(plain).value()->fcm, std::nullopt);

  FcmRegistration empty_token = registration("app-1b");
  empty_token.gcm_token.clear();
  auto bad = store().set_fcm_registration(id, empty_token);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(Errc::invalid_argument)) << bad.error();
}

// ---- acks -------------------------------------------------------------------------

TEST_F(FcmStore, AcksAreListedOldestFirstAndDuplicatesAreIgnored) {
  EXPECT_EQ(store().count_fcm_acks().value(), 0);
  EXPECT_EQ(store().list_fcm_acks(10).value(), Strings{});
  ASSERT_TRUE(store().add_fcm_acks(Strings{"0:a", "0:b", "0:c"}, 100));
  // "0:a" again, also twice within one call: it keeps its place.
  ASSERT_TRUE(store().add_fcm_acks(Strings{"0:d", "0:a", "0:d"}, 200));
  reopen();
  EXPECT_EQ(store().count_fcm_acks().value(), 4);
  EXPECT_EQ(store().list_fcm_acks(10).value(), (Strings{"0:a", "0:b", "0:c", "0:d"}));
  EXPECT_EQ(store().list_fcm_acks(2).value(), (Strings{"0:a", "0:b"}));
  EXPECT_EQ(store().list_fcm_acks(0).value(), Strings{});
  EXPECT_EQ(raw_query(dir_.db(), "SELECT stored_at FROM fcm_acks WHERE persistent_id = '0:a'"), Strings{"100"});

  ASSERT_TRUE(store().remove_fcm_acks(Strings{"0:b", "0:unknown"}));
  EXPECT_EQ(store().list_fcm_acks(10).value(), (Strings{"0:a", "0:c", "0:d"}));
  EXPECT_EQ(store().count_fcm_acks().value(), 3);
  ASSERT_TRUE(store().add_fcm_acks(Strings{}, 300));
  ASSERT_TRUE(store().remove_fcm_acks(Strings{}));
  ASSERT_TRUE(store().remove_fcm_acks(Strings{"0:a", "0:c", "0:d"}));
  EXPECT_EQ(store().count_fcm_acks().value(), 0);
}

TEST_F(FcmStore, AnEmptyAckIdOrANegativeLimitIsRefused) {
  auto ok = store().add_fcm_acks(Strings{"0:a", ""}, 100);
  ASSERT_FALSE(ok);
  EXPECT_TRUE(ok.error().is(Errc::invalid_argument)) << ok.error();
  EXPECT_EQ(ok.error().message(), fmt::format("{}: add FCM acks: persistent id 1 of 2 is empty", dir_.db().string()));
  EXPECT_EQ(store().count_fcm_acks().value(), 0);
  auto list = store().list_fcm_acks(-1);
  ASSERT_FALSE(list);
  EXPECT_TRUE(list.error().is(Errc::invalid_argument)) << list.error();
}

TEST_F(FcmStore, AcksAreBoundedToTheNewest) {
  ASSERT_EQ(kMaxFcmAcks, 1000);
  Strings first;
  for (int i = 0; i < 1200; ++i) first.push_back(fmt::format("p{}", i));
  ASSERT_TRUE(store().add_fcm_acks(first, 1));
  EXPECT_EQ(store().count_fcm_acks().value(), kMaxFcmAcks);
  auto kept = store().list_fcm_acks(kMaxFcmAcks + 1).value();
  ASSERT_EQ(kept.size(), 1000U);
  EXPECT_EQ(kept.front(), "p200");
  EXPECT_EQ(kept.back(), "p1199");

  Strings later;
  for (int i = 0; i < 5; ++i) later.push_back(fmt::format("n{}", i));
  ASSERT_TRUE(store().add_fcm_acks(later, 2));
  EXPECT_EQ(store().count_fcm_acks().value(), kMaxFcmAcks);
  kept = store().list_fcm_acks(kMaxFcmAcks).value();
  ASSERT_EQ(kept.size(), 1000U);
  EXPECT_EQ(kept.front(), "p205");
  EXPECT_EQ(kept[994], "p1199");
  EXPECT_EQ(kept.back(), "n4");
}

TEST_F(FcmStore, AReadOnlyStoreReadsButDoesNotWrite) {
  ASSERT_TRUE(store().set_fcm_device({.android_id = 1, .security_token = 2, .checked_in_at = 3}));
  ASSERT_TRUE(store().add_fcm_acks(Strings{"0:a"}, 1));
  Store reader = open_or_die(dir_.state(), OpenMode::read_only);
  EXPECT_EQ(reader.get_fcm_device().value(), (FcmDevice{.android_id = 1, .security_token = 2, .checked_in_at = 3}));
  EXPECT_EQ(reader.list_fcm_acks(10).value(), Strings{"0:a"});
  for (auto ok : {reader.set_fcm_device({.android_id = 4, .security_token = 5, .checked_in_at = 6}),
                  reader.add_fcm_acks(Strings{"0:b"}, 2), reader.remove_fcm_acks(Strings{"0:a"}),
                  reader.set_fcm_registration(1, registration("x"))}) {
    ASSERT_FALSE(ok);
    EXPECT_TRUE(ok.error().is(Errc::read_only)) << ok.error();
  }
}

// ---- migration from version 4 -----------------------------------------------------

// Migrations 2 to 4 as published (frozen here: a published migration never changes).
constexpr std::string_view kV2ToV4 = R"sql(
ALTER TABLE subscriptions ADD COLUMN changed_at INTEGER;
ALTER TABLE subscriptions ADD COLUMN previous_endpoint TEXT;
CREATE INDEX inbox_state_received ON inbox (state, received_at);
CREATE TABLE sink_backlog (
  sink TEXT PRIMARY KEY NOT NULL,
  owed_from INTEGER NOT NULL
) STRICT;
CREATE TABLE unifiedpush_apps (
  subscription_id INTEGER PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
  service TEXT NOT NULL CHECK (service <> ''),
  token TEXT NOT NULL CHECK (token <> ''),
  description TEXT NOT NULL,
  api INTEGER NOT NULL CHECK (api IN (1, 2)),
  notified_endpoint TEXT,
  UNIQUE (service, token)
) STRICT;
PRAGMA user_version = 4;
)sql";

// A version-4 database: the checked-in version-1 fixture, migrations 2 to 4, and
// rows in the tables they added.
void make_v4(const TempDir& dir) {
  std::filesystem::create_directory(dir.state());
  std::filesystem::permissions(dir.state(), std::filesystem::perms::owner_all);
  raw_exec(dir.db(), test::data_file("v1_schema.sql"));
  raw_exec(dir.db(), test::data_file("v1_data.sql"));
  raw_exec(dir.db(), kV2ToV4);
  raw_exec(dir.db(),
           "UPDATE subscriptions SET changed_at = 1717000300000, previous_endpoint = 'https://old/' WHERE id = 1;"
           "INSERT INTO sink_backlog VALUES ('exec', 3);"
           "INSERT INTO unifiedpush_apps VALUES (2, 'org.example.Chat', 'tok', 'Chat', 2, 'https://n/');");
}

Strings schema_of(const std::filesystem::path& db) {
  return raw_query(db,
                   "SELECT type || ' ' || name || ' ' || tbl_name || ': ' || coalesce(sql, '') FROM sqlite_schema "
                   "WHERE name NOT LIKE 'sqlite_%' ORDER BY name");
}

TEST(FcmMigration, AVersion4DatabaseUpgradesWithItsDataIntact) {
  TempDir dir;
  make_v4(dir);
  ASSERT_EQ(raw_query(dir.db(), "PRAGMA user_version"), Strings{"4"});
  {
    test::LogCapture log;
    Store store = open_or_die(dir.state(), OpenMode::daemon);
    const auto lines = log.lines();
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(), fmt::format("info upgraded {} from schema 4 to 5", dir.db().string()));

    const auto subs = store.list_subscriptions().value();
    ASSERT_EQ(subs.size(), 2U);
    EXPECT_EQ(subs[0].name, "alerts");
    EXPECT_EQ(subs[0].changed_at, 1717000300000);
    EXPECT_EQ(subs[0].previous_endpoint, "https://old/");
    EXPECT_EQ(subs[0].app, std::nullopt);
    EXPECT_EQ(subs[0].fcm, std::nullopt);
    ASSERT_TRUE(subs[1].app);
    EXPECT_EQ(*subs[1].app, (AppRegistration{.service = "org.example.Chat",
                                             .token = "tok",
                                             .description = "Chat",
                                             .api = 2,
                                             .notified_endpoint = "https://n/"}));
    EXPECT_EQ(subs[1].fcm, std::nullopt);
    EXPECT_EQ(store.list_messages().value().size(), 4U);
    EXPECT_EQ(store.get_uaid("wss://push.services.mozilla.com/").value(), "5f6bd7d8f2a94c5ca4f6a3d1d5b2c0e1");
    EXPECT_EQ(store.take_sink_backlog().value(), (std::map<std::string, std::int64_t>{{"exec", 3}}));

    // The new tables work on the upgraded database.
    EXPECT_EQ(store.get_fcm_device().value(), std::nullopt);
    ASSERT_TRUE(store.set_fcm_device({.android_id = 11, .security_token = 12, .checked_in_at = 13}));
    ASSERT_TRUE(store.add_fcm_acks(Strings{"0:x"}, 14));
    auto id = store.add_subscription(fcm_subscription(3, "app-3"));
    ASSERT_TRUE(id) << id.error();
    EXPECT_EQ(*id, 3);
  }
  EXPECT_EQ(raw_query(dir.db(), "PRAGMA user_version"), Strings{"5"});
  EXPECT_EQ(raw_query(dir.db(), "PRAGMA integrity_check"), Strings{"ok"});
  EXPECT_EQ(raw_query(dir.db(), "PRAGMA foreign_key_check"), Strings{});
  TempDir fresh;
  { Store store = open_or_die(fresh.state(), OpenMode::daemon); }
  EXPECT_EQ(schema_of(dir.db()), schema_of(fresh.db()));

  Store reader = open_or_die(dir.state(), OpenMode::read_only);
  EXPECT_EQ(reader.get_fcm_device().value(), (FcmDevice{.android_id = 11, .security_token = 12, .checked_in_at = 13}));
  EXPECT_EQ(reader.list_fcm_acks(10).value(), Strings{"0:x"});
  EXPECT_EQ(reader.find_subscription_by_fcm_app("app-3").value()->name, "sub-3");
}

}  // namespace store_fcm_test
}  // namespace webpush::store
