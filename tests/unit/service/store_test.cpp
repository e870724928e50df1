// The two ServiceStore implementations answer alike; the SQLite one also keeps
// everything across a reopen.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "webpush/service/store.h"
#include "webpush/store/errc.h"

namespace webpush::service {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "webpushd-svc-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

StoredMessage message(std::string id, std::string uaid, std::string chid, std::int64_t received_ms, std::int64_t ttl,
                      std::optional<std::string> topic = std::nullopt) {
  StoredMessage m;
  m.id = std::move(id);
  m.uaid = std::move(uaid);
  m.channel_id = std::move(chid);
  m.received_ms = received_ms;
  m.ttl = ttl;
  m.topic = std::move(topic);
  return m;
}

std::vector<std::string> ids(const std::vector<StoredMessage>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) out.push_back(m.id);
  return out;
}

class StoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      auto s = open_sqlite_store(dir_.path() / "state");
      ASSERT_TRUE(s) << s.error();
      store_ = std::move(*s);
    } else {
      store_ = make_memory_store();
    }
  }
  ServiceStore& store() { return *store_; }

  TempDir dir_;
  std::unique_ptr<ServiceStore> store_;
};

const std::string kUa = "0123456789abcdef0123456789abcdef";
const std::string kUb = "fedcba9876543210fedcba9876543210";
const std::string kC1 = "3a2f1c58-8d5e-4b8e-9f3c-2e6a7d1b4c90";
const std::string kC2 = "4b3f2d69-9e6f-4c9f-8a4d-3f7b8e2c5d01";

TEST_P(StoreTest, UsersAreAddedOnceAndDropped) {
  EXPECT_FALSE(store().has_user(kUa).value());
  ASSERT_TRUE(store().add_user(kUa, 1));
  ASSERT_TRUE(store().add_user(kUa, 2));
  EXPECT_TRUE(store().has_user(kUa).value());
  EXPECT_EQ(store().counts()->users, 1);
  ASSERT_TRUE(store().drop_user(kUa));
  EXPECT_FALSE(store().has_user(kUa).value());
}

TEST_P(StoreTest, ChannelsAreFoundByTokenAndNeverForgotten) {
  ASSERT_TRUE(store().add_channel({"tok1", kUa, kC1, std::nullopt, true, 10}));
  ASSERT_TRUE(store().add_channel({"tok2", kUa, kC1, Bytes{4, 5, 6}, true, 20}));
  const auto one = store().channel_by_token("tok1").value();
  ASSERT_TRUE(one);
  EXPECT_EQ(one->uaid, kUa);
  EXPECT_EQ(one->channel_id, kC1);
  EXPECT_FALSE(one->key);
  const auto latest = store().registered_channel(kUa, kC1).value();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->token, "tok2");
  EXPECT_EQ(latest->key, (Bytes{4, 5, 6}));
  EXPECT_FALSE(store().channel_by_token("nope").value());
  EXPECT_FALSE(store().add_channel({"tok1", kUb, kC2, std::nullopt, true, 30})) << "a token is never issued twice";

  ASSERT_TRUE(store().unregister_channel(kUa, kC1));
  EXPECT_FALSE(store().registered_channel(kUa, kC1).value());
  const auto gone = store().channel_by_token("tok2").value();
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->registered);
  EXPECT_EQ(store().counts()->channels, 0);
}

TEST_P(StoreTest, PendingMessagesTopicFirstThenArrivalOrder) {
  ASSERT_TRUE(store().put_message(message("m1", kUa, kC1, 1000, 60)));
  ASSERT_TRUE(store().put_message(message("m2", kUa, kC1, 1000, 60, "t")));
  ASSERT_TRUE(store().put_message(message("m3", kUa, kC2, 1000, 60)));
  ASSERT_TRUE(store().put_message(message("m4", kUb, kC1, 1000, 60)));
  ASSERT_TRUE(store().put_message(message("m5", kUa, kC2, 1000, 60, "t")));
  EXPECT_EQ(ids(store().pending_messages(kUa, 1000, 10, {}).value()),
            (std::vector<std::string>{"m2", "m5", "m1", "m3"}));
  EXPECT_EQ(ids(store().pending_messages(kUa, 1000, 2, {}).value()), (std::vector<std::string>{"m2", "m5"}));
  EXPECT_EQ(ids(store().pending_messages(kUa, 1000, 2, {"m2"}).value()), (std::vector<std::string>{"m5", "m1"}));
}

TEST_P(StoreTest, TopicReplacesTheSameTopicOfTheSameChannel) {
  ASSERT_TRUE(store().put_message(message("a", kUa, kC1, 1000, 60, "t")));
  EXPECT_EQ(store().put_message(message("b", kUa, kC2, 1000, 60, "t")).value(), std::nullopt);
  EXPECT_EQ(store().put_message(message("c", kUa, kC1, 1000, 60, "t")).value(), std::optional<std::string>("a"));
  EXPECT_EQ(ids(store().pending_messages(kUa, 1000, 10, {}).value()), (std::vector<std::string>{"b", "c"}));
}

TEST_P(StoreTest, ExpiredMessagesAreHiddenAndPurged) {
  ASSERT_TRUE(store().put_message(message("old", kUa, kC1, 1000, 1)));
  ASSERT_TRUE(store().put_message(message("new", kUa, kC1, 1000, 60)));
  ASSERT_TRUE(store().put_message(message("other", kUb, kC1, 1000, 1)));
  EXPECT_EQ(ids(store().pending_messages(kUa, 1999, 10, {}).value()), (std::vector<std::string>{"old", "new"}));
  EXPECT_EQ(ids(store().pending_messages(kUa, 2000, 10, {}).value()), (std::vector<std::string>{"new"}));
  EXPECT_EQ(store().purge_expired(2000, kUa).value(), 1u);
  EXPECT_EQ(store().counts()->messages, 2);
  EXPECT_EQ(store().purge_expired(2000).value(), 1u);
  EXPECT_EQ(store().counts()->messages, 1);
}

TEST_P(StoreTest, DeleteUnregisterAndDropRemoveMessages) {
  ASSERT_TRUE(store().add_user(kUa, 1));
  ASSERT_TRUE(store().add_channel({"t1", kUa, kC1, std::nullopt, true, 1}));
  ASSERT_TRUE(store().put_message(message("m1", kUa, kC1, 1000, 60)));
  ASSERT_TRUE(store().put_message(message("m2", kUa, kC2, 1000, 60)));
  ASSERT_TRUE(store().put_message(message("m3", kUa, kC2, 1000, 60)));
  EXPECT_TRUE(store().delete_message("m3").value());
  EXPECT_FALSE(store().delete_message("m3").value());
  ASSERT_TRUE(store().unregister_channel(kUa, kC1));
  EXPECT_EQ(ids(store().pending_messages(kUa, 1000, 10, {}).value()), (std::vector<std::string>{"m2"}));
  ASSERT_TRUE(store().drop_user(kUa));
  EXPECT_TRUE(store().pending_messages(kUa, 1000, 10, {}).value().empty());
  EXPECT_FALSE(store().channel_by_token("t1").value()->registered);
}

TEST_P(StoreTest, MessageFieldsRoundTrip) {
  StoredMessage m = message("m", kUa, kC1, 1234, 99, "topic");
  m.data = "ZGF0YQ";
  m.encoding = "aesgcm";
  m.encryption = "salt=x";
  m.crypto_key = "dh=y";
  ASSERT_TRUE(store().put_message(m));
  const auto got = store().pending_messages(kUa, 1234, 1, {}).value();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].uaid, kUa);
  EXPECT_EQ(got[0].channel_id, kC1);
  EXPECT_EQ(got[0].topic, "topic");
  EXPECT_EQ(got[0].received_ms, 1234);
  EXPECT_EQ(got[0].ttl, 99);
  EXPECT_EQ(got[0].data, "ZGF0YQ");
  EXPECT_EQ(got[0].encoding, "aesgcm");
  EXPECT_EQ(got[0].encryption, "salt=x");
  EXPECT_EQ(got[0].crypto_key, "dh=y");
}

INSTANTIATE_TEST_SUITE_P(Both, StoreTest, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "sqlite" : "memory"; });

TEST(SqliteStore, KeepsEverythingAcrossAReopen) {
  TempDir dir;
  {
    auto s = open_sqlite_store(dir.path() / "state");
    ASSERT_TRUE(s) << s.error();
    ASSERT_TRUE((*s)->add_user(kUa, 1));
    ASSERT_TRUE((*s)->add_channel({"tok", kUa, kC1, Bytes{1, 2}, true, 5}));
    ASSERT_TRUE((*s)->put_message(message("m", kUa, kC1, 1000, 60)));
  }
  auto s = open_sqlite_store(dir.path() / "state");
  ASSERT_TRUE(s) << s.error();
  EXPECT_TRUE((*s)->has_user(kUa).value());
  EXPECT_EQ((*s)->channel_by_token("tok").value()->key, (Bytes{1, 2}));
  EXPECT_EQ(ids((*s)->pending_messages(kUa, 1000, 10, {}).value()), (std::vector<std::string>{"m"}));
  const auto mode = std::filesystem::status(dir.path() / "state").permissions();
  EXPECT_EQ(mode & std::filesystem::perms::all, std::filesystem::perms::owner_all);
  const auto db_mode = std::filesystem::status(dir.path() / "state" / "push-service.db").permissions();
  EXPECT_EQ(db_mode & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(SqliteStore, OneOpenPerDirectory) {
  TempDir dir;
  auto first = open_sqlite_store(dir.path());
  ASSERT_TRUE(first) << first.error();
  auto second = open_sqlite_store(dir.path());
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message().find("another webpushd serve"), std::string::npos) << second.error();
}

TEST(SqliteStore, RefusesANewerSchema) {
  TempDir dir;
  { ASSERT_TRUE(open_sqlite_store(dir.path())); }
  std::filesystem::path db = dir.path() / "push-service.db";
  ASSERT_TRUE(std::filesystem::exists(db));
  // The user_version lives at offset 60 of the header, big-endian.
  {
    std::FILE* f = std::fopen(db.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 60, SEEK_SET);
    const unsigned char v[4] = {0, 0, 0, 99};
    std::fwrite(v, 1, 4, f);
    std::fclose(f);
  }
  auto s = open_sqlite_store(dir.path());
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error().is(store::Errc::newer_schema)) << s.error();
}

}  // namespace
}  // namespace webpush::service
