// Schema migrations: version-1 databases (built here with raw sqlite3 calls from
// the frozen v1 DDL, or loaded from the checked-in fixture) upgrade to the current
// schema with their data intact; a failed migration changes nothing.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "store_fixtures.h"
#include "webpush/store/store.h"

namespace webpush::store {
namespace store_migration_test {

using test::data_file;
using test::fast_options;
using test::open_or_die;
using test::raw_exec;
using test::raw_query;
using test::read_file;
using test::TempDir;

using Strings = std::vector<std::string>;

void make_state_dir(const TempDir& dir) {
  std::filesystem::create_directory(dir.state());
  std::filesystem::permissions(dir.state(), std::filesystem::perms::owner_all);
}

// A version-1 database from the fixture files: the frozen DDL and its rows.
void make_v1_from_fixture(const TempDir& dir) {
  make_state_dir(dir);
  raw_exec(dir.db(), data_file("v1_schema.sql"));
  raw_exec(dir.db(), data_file("v1_data.sql"));
}

// The schema objects, their SQL included, for comparing two databases.
Strings schema_of(const std::filesystem::path& db) {
  return raw_query(db,
                   "SELECT type || ' ' || name || ' ' || tbl_name || ': ' || coalesce(sql, '') FROM sqlite_schema "
                   "WHERE name NOT LIKE 'sqlite_%' ORDER BY name");
}

Strings columns_of(const std::filesystem::path& db, std::string_view table) {
  return raw_query(db, fmt::format("SELECT name FROM pragma_table_info('{}') ORDER BY cid", table));
}

// Rows written through the bare sqlite3 API with bound blobs, the way a version-1
// webpushd wrote them.
struct RawV1 {
  std::vector<Subscription> subscriptions;  // as Store should read them back
  std::vector<InboxEntry> inbox;
};

RawV1 make_v1_with_raw_sqlite(const TempDir& dir) {
  make_state_dir(dir);
  RawV1 out;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(dir.db().c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), SQLITE_OK);
  const std::string ddl = data_file("v1_schema.sql") + "PRAGMA user_version = 1;";
  EXPECT_EQ(sqlite3_exec(db, ddl.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  EXPECT_EQ(sqlite3_exec(db, "INSERT INTO connections VALUES ('wss://a/', 'uaid-a')", nullptr, nullptr, nullptr),
            SQLITE_OK);

  sqlite3_stmt* sub = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO subscriptions (name, server, channel_id, endpoint, private_key, "
                               "public_key, auth_secret, app_server_key, created_at, state) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               -1, &sub, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  for (int n = 1; n <= 3; ++n) {
    Subscription s = test::sample_subscription(n);
    s.state = static_cast<SubscriptionState>(n % 3);
    sqlite3_bind_text(sub, 1, s.name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(sub, 2, s.server.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(sub, 3, s.channel_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(sub, 4, s.endpoint.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(sub, 5, s.private_key.data(), static_cast<int>(s.private_key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(sub, 6, s.public_key.data(), static_cast<int>(s.public_key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(sub, 7, s.auth_secret.data(), static_cast<int>(s.auth_secret.size()), SQLITE_TRANSIENT);
    if (s.app_server_key) {
      sqlite3_bind_blob(sub, 8, s.app_server_key->data(), static_cast<int>(s.app_server_key->size()), SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_null(sub, 8);
    }
    sqlite3_bind_int64(sub, 9, s.created_at);
    sqlite3_bind_text(sub, 10, std::string(to_string(s.state)).c_str(), -1, SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(sub), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_reset(sub);
    s.id = sqlite3_last_insert_rowid(db);
    out.subscriptions.push_back(s);
  }
  sqlite3_finalize(sub);

  sqlite3_stmt* msg = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO inbox (subscription_id, channel_id, version, received_at, payload, "
                               "encoding, state, error, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               -1, &msg, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  for (int i = 0; i < 6; ++i) {
    const Subscription& s = out.subscriptions[static_cast<std::size_t>(i % 3)];
    InboxEntry e = test::sample_message(s.channel_id, fmt::format("v{}", i), 1000 + i, s.id);
    e.state = static_cast<InboxState>(i % 3);
    if (e.state == InboxState::delivered) e.delivered_at = 2000 + i;
    if (e.state == InboxState::failed) e.error = "decrypt failed";
    sqlite3_bind_int64(msg, 1, *e.subscription_id);
    sqlite3_bind_text(msg, 2, e.channel_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(msg, 3, e.version.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(msg, 4, e.received_at);
    sqlite3_bind_blob(msg, 5, e.payload->data(), static_cast<int>(e.payload->size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(msg, 6, e.encoding.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(msg, 7, std::string(to_string(e.state)).c_str(), -1, SQLITE_TRANSIENT);
    if (e.error) {
      sqlite3_bind_text(msg, 8, e.error->c_str(), -1, SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_null(msg, 8);
    }
    if (e.delivered_at) {
      sqlite3_bind_int64(msg, 9, *e.delivered_at);
    } else {
      sqlite3_bind_null(msg, 9);
    }
    EXPECT_EQ(sqlite3_step(msg), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_reset(msg);
    e.id = sqlite3_last_insert_rowid(db);
    out.inbox.push_back(e);
  }
  sqlite3_finalize(msg);
  EXPECT_EQ(sqlite3_close(db), SQLITE_OK);
  return out;
}

void expect_current_schema(const std::filesystem::path& db) {
  EXPECT_EQ(raw_query(db, "PRAGMA user_version"), Strings{std::to_string(kSchemaVersion)});
  EXPECT_EQ(raw_query(db, "PRAGMA journal_mode"), Strings{"wal"});
  EXPECT_EQ(columns_of(db, "subscriptions"),
            (Strings{"id", "name", "server", "channel_id", "endpoint", "private_key", "public_key", "auth_secret",
                     "app_server_key", "created_at", "state", "changed_at", "previous_endpoint"}));
  EXPECT_EQ(raw_query(db, "SELECT name FROM pragma_index_info('inbox_state_received') ORDER BY seqno"),
            (Strings{"state", "received_at"}));
  EXPECT_EQ(raw_query(db, "PRAGMA integrity_check"), Strings{"ok"});
  EXPECT_EQ(raw_query(db, "PRAGMA foreign_key_check"), Strings{});
}

TEST(Migration, RawV1DatabaseUpgradesWithDataIntact) {
  TempDir dir;
  const RawV1 v1 = make_v1_with_raw_sqlite(dir);
  ASSERT_EQ(raw_query(dir.db(), "PRAGMA user_version"), Strings{"1"});
  {
    test::LogCapture log;
    Store store = open_or_die(dir.state(), OpenMode::daemon);
    EXPECT_EQ(store.list_subscriptions().value(), v1.subscriptions);  // changed_at, previous_endpoint: null
    EXPECT_EQ(store.list_messages().value(), v1.inbox);
    EXPECT_EQ(store.get_uaid("wss://a/").value(), "uaid-a");
    const auto lines = log.lines();
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(), fmt::format("info upgraded {} from schema 1 to {}", dir.db().string(), kSchemaVersion));
  }
  expect_current_schema(dir.db());
  // The new columns work on the migrated rows, and the data survives another reopen.
  Store store = open_or_die(dir.state(), OpenMode::daemon);
  Reregistration reg{.channel_id = "new-channel",
                     .endpoint = "https://new/",
                     .private_key = v1.subscriptions[0].private_key,
                     .public_key = v1.subscriptions[0].public_key,
                     .auth_secret = v1.subscriptions[0].auth_secret,
                     .changed_at = 5000};
  ASSERT_TRUE(store.replace_registration(v1.subscriptions[0].id, reg));
  const auto sub = store.find_subscription_by_id(v1.subscriptions[0].id).value();
  EXPECT_EQ(sub->previous_endpoint, v1.subscriptions[0].endpoint);
  EXPECT_EQ(sub->changed_at, 5000);
  EXPECT_EQ(store.list_undelivered().value().size(), 2u);
}

TEST(Migration, CheckedInV1FixtureUpgrades) {
  TempDir dir;
  make_v1_from_fixture(dir);
  {
    Store store = open_or_die(dir.state(), OpenMode::daemon, StoreOptions{});
    EXPECT_EQ(store.get_uaid("wss://push.services.mozilla.com/").value(), "5f6bd7d8f2a94c5ca4f6a3d1d5b2c0e1");
    EXPECT_EQ(store.get_uaid("wss://push.example.net/").value(), std::nullopt);
    const auto subs = store.list_subscriptions().value();
    ASSERT_EQ(subs.size(), 2u);
    EXPECT_EQ(subs[0].name, "alerts");
    EXPECT_EQ(subs[0].state, SubscriptionState::active);
    EXPECT_EQ(subs[0].private_key.size(), kPrivateKeySize);
    EXPECT_EQ(subs[0].private_key[0], 0xa5);
    EXPECT_EQ(subs[0].public_key[0], 0x04);
    EXPECT_TRUE(subs[0].app_server_key.has_value());
    EXPECT_EQ(subs[0].changed_at, std::nullopt);
    EXPECT_EQ(subs[0].previous_endpoint, std::nullopt);
    EXPECT_EQ(subs[1].name, "builds");
    EXPECT_EQ(subs[1].state, SubscriptionState::pending);
    EXPECT_EQ(subs[1].app_server_key, std::nullopt);

    const auto inbox = store.list_messages().value();
    ASSERT_EQ(inbox.size(), 4u);
    EXPECT_EQ(inbox[0].payload, to_bytes("disk almost full"));
    EXPECT_EQ(inbox[0].state, InboxState::delivered);
    EXPECT_EQ(inbox[0].delivered_at, 1717000200050);
    EXPECT_EQ(inbox[1].payload, (Bytes{0x00, 0xff, 0x00, 0xff}));
    EXPECT_EQ(inbox[2].payload, std::nullopt);
    EXPECT_EQ(inbox[3].subscription_id, std::nullopt);
    EXPECT_EQ(inbox[3].error, "crypto.decrypt_failed: no subscription for this channel");
    EXPECT_EQ(store.inbox_stats().value(), (InboxStats{2, 1, 1, 1717000500000}));
    // Ids keep counting after the migrated rows.
    EXPECT_EQ(store.inbox_put_if_new(test::sample_message("c", "new", 1)).value(), (PutResult{true, 5}));
  }
  expect_current_schema(dir.db());
}

TEST(Migration, MigratedSchemaEqualsAFreshOne) {
  // Also proves that migration 1 in the source still matches the frozen v1 DDL.
  TempDir fresh;
  { Store store = open_or_die(fresh.state(), OpenMode::daemon); }
  TempDir migrated;
  make_v1_from_fixture(migrated);
  { Store store = open_or_die(migrated.state(), OpenMode::client); }
  EXPECT_EQ(schema_of(migrated.db()), schema_of(fresh.db()));
  EXPECT_EQ(raw_query(migrated.db(), "PRAGMA application_id"), raw_query(fresh.db(), "PRAGMA application_id"));
}

TEST(Migration, ReadOnlyOpenRefusesAnOlderSchemaAndChangesNothing) {
  TempDir dir;
  make_v1_from_fixture(dir);
  const Bytes before = read_file(dir.db());
  auto store = Store::open(dir.state(), OpenMode::read_only, fast_options());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error(), Errc::old_schema) << store.error();
  EXPECT_EQ(store.error().message(),
            fmt::format("{} has schema 1 and needs an upgrade to {}, which a read-only open cannot do; start the "
                        "daemon once to upgrade it",
                        dir.db().string(), kSchemaVersion));
  EXPECT_EQ(read_file(dir.db()), before);
}

TEST(Migration, FailedMigrationChangesNothing) {
  TempDir dir;
  make_v1_from_fixture(dir);
  // Something in the way of migration 2's last statement: its earlier ALTERs must
  // be rolled back with it.
  raw_exec(dir.db(), "CREATE INDEX inbox_state_received ON inbox (state)");
  const Strings schema_before = schema_of(dir.db());
  auto store = Store::open(dir.state(), OpenMode::daemon, fast_options());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error(), Errc::internal) << store.error();
  EXPECT_TRUE(store.error().message().starts_with("migration to schema 2: ")) << store.error();
  EXPECT_NE(store.error().message().find("index inbox_state_received already exists"), std::string::npos)
      << store.error();
  EXPECT_EQ(raw_query(dir.db(), "PRAGMA user_version"), Strings{"1"});
  EXPECT_EQ(schema_of(dir.db()), schema_before);
  EXPECT_EQ(raw_query(dir.db(), "SELECT count(*) FROM inbox"), Strings{"4"});
}

}  // namespace store_migration_test
}  // namespace webpush::store
