// The store's tables: write, close, reopen, compare; and every operation's ok and
// err rows.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "store_fixtures.h"
#include "webpush/store/store.h"

namespace webpush::store {
namespace store_data_test {

using test::sample_message;
using test::sample_subscription;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

class StoreData : public test::StoreFixture {
 protected:
  std::int64_t add(int n) {
    auto id = store().add_subscription(sample_subscription(n));
    EXPECT_TRUE(id) << id.error();
    return id.value_or(0);
  }
};

// ---- connections -------------------------------------------------------------

TEST_F(StoreData, UaidRoundTripsAcrossReopen) {
  EXPECT_EQ(store().get_uaid("wss://a/").value(), std::nullopt);
  ASSERT_TRUE(store().set_uaid("wss://a/", "uaid-a1"));
  ASSERT_TRUE(store().set_uaid("wss://b/", "uaid-b"));
  ASSERT_TRUE(store().set_uaid("wss://a/", "uaid-a2"));  // replaced, not added
  ASSERT_TRUE(store().set_uaid("wss://c/", "uaid-c"));
  ASSERT_TRUE(store().clear_uaid("wss://c/"));
  ASSERT_TRUE(store().clear_uaid("wss://never-seen/"));
  reopen();
  EXPECT_EQ(store().get_uaid("wss://a/").value(), "uaid-a2");
  EXPECT_EQ(store().get_uaid("wss://b/").value(), "uaid-b");
  EXPECT_EQ(store().get_uaid("wss://c/").value(), std::nullopt);
  EXPECT_EQ(store().get_uaid("wss://never-seen/").value(), std::nullopt);
  auto empty = store().set_uaid("wss://a/", "");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), Errc::invalid_argument);
}

// ---- subscriptions -----------------------------------------------------------

TEST_F(StoreData, SubscriptionsRoundTripAcrossReopen) {
  std::vector<Subscription> expected;
  for (int n = 1; n <= 4; ++n) {
    Subscription s = sample_subscription(n, n == 3 ? "wss://other/" : "wss://push.example.net/");
    s.state = static_cast<SubscriptionState>(n % 3);
    if (n == 4) {
      s.changed_at = 1234;
      s.previous_endpoint = "https://old.example.net/4";
    }
    auto id = store().add_subscription(s);
    ASSERT_TRUE(id) << id.error();
    s.id = *id;
    expected.push_back(s);
  }
  EXPECT_NE(expected[0].id, expected[1].id);
  reopen();
  EXPECT_EQ(store().list_subscriptions().value(), expected);
  EXPECT_EQ(store().count_subscriptions().value(), 4);
  EXPECT_EQ(store().list_subscriptions("wss://other/").value(), std::vector<Subscription>{expected[2]});
  EXPECT_EQ(store().list_subscriptions("wss://none/").value(), std::vector<Subscription>{});
  for (const auto& s : expected) {
    EXPECT_EQ(store().find_subscription_by_id(s.id).value(), s);
    EXPECT_EQ(store().find_subscription_by_name(s.name).value(), s);
    EXPECT_EQ(store().find_subscription_by_channel(s.channel_id).value(), s);
  }
  EXPECT_EQ(store().find_subscription_by_id(999).value(), std::nullopt);
  EXPECT_EQ(store().find_subscription_by_name("nope").value(), std::nullopt);
  EXPECT_EQ(store().find_subscription_by_channel("nope").value(), std::nullopt);
}

struct AddErrRow {
  const char* desc;
  void (*change)(Subscription&);
  Errc code;
  const char* message;
};

const AddErrRow kAddErrRows[] = {
    {"empty name", [](Subscription& s) { s.name.clear(); }, Errc::invalid_argument, "must not be empty"},
    {"empty server", [](Subscription& s) { s.server.clear(); }, Errc::invalid_argument, "must not be empty"},
    {"empty channel", [](Subscription& s) { s.channel_id.clear(); }, Errc::invalid_argument, "must not be empty"},
    {"empty endpoint", [](Subscription& s) { s.endpoint.clear(); }, Errc::invalid_argument, "must not be empty"},
    {"short private key", [](Subscription& s) { s.private_key.resize(31); }, Errc::invalid_argument,
     "subscription new: private key must be 32 bytes, got 31"},
    {"long public key", [](Subscription& s) { s.public_key.push_back(0); }, Errc::invalid_argument,
     "public key must be 65 bytes, got 66"},
    {"auth secret", [](Subscription& s) { s.auth_secret.clear(); }, Errc::invalid_argument,
     "auth secret must be 16 bytes, got 0"},
    {"app server key", [](Subscription& s) { s.app_server_key = Bytes(64, 4); }, Errc::invalid_argument,
     "application server key must be 65 bytes, got 64"},
    {"duplicate name", [](Subscription& s) { s.name = "sub-1"; }, Errc::constraint,
     "a subscription named sub-1 already exists"},
    {"duplicate channel", [](Subscription& s) { s.channel_id = sample_subscription(1).channel_id; }, Errc::constraint,
     "is already used by subscription sub-1"},
};

TEST_F(StoreData, AddSubscriptionErrRows) {
  add(1);
  for (const auto& row : kAddErrRows) {
    Subscription s = sample_subscription(2);
    s.name = "new";
    row.change(s);
    auto id = store().add_subscription(s);
    ASSERT_FALSE(id) << row.desc;
    EXPECT_EQ(id.error(), row.code) << row.desc << ": " << id.error();
    EXPECT_TRUE(contains(id.error().message(), row.message)) << row.desc << ": " << id.error();
    EXPECT_TRUE(contains(id.error().message(), dir_.db().string())) << id.error();
  }
  EXPECT_EQ(rows("subscriptions"), 1);
}

TEST_F(StoreData, RemovedSubscriptionKeepsItsMessages) {
  const std::int64_t a = add(1);
  const std::int64_t b = add(2);
  ASSERT_TRUE(store().inbox_put_if_new(sample_message("ca", "1", 10, a)));
  ASSERT_TRUE(store().inbox_put_if_new(sample_message("cb", "1", 11, b)));
  ASSERT_TRUE(store().remove_subscription(a));
  EXPECT_EQ(store().find_subscription_by_id(a).value(), std::nullopt);
  auto again = store().remove_subscription(a);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::not_found) << again.error();
  reopen();
  const auto messages = store().list_messages().value();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].subscription_id, std::nullopt);  // ON DELETE SET NULL
  EXPECT_EQ(messages[0].channel_id, "ca");
  EXPECT_EQ(messages[1].subscription_id, b);
  EXPECT_EQ(store().count_subscriptions().value(), 1);
}

TEST_F(StoreData, SetSubscriptionState) {
  const std::int64_t id = add(1);
  ASSERT_TRUE(store().set_subscription_state(id, SubscriptionState::needs_resubscribe));
  reopen();
  EXPECT_EQ(store().find_subscription_by_id(id).value()->state, SubscriptionState::needs_resubscribe);
  auto missing = store().set_subscription_state(id + 100, SubscriptionState::active);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), Errc::not_found) << missing.error();
}

TEST_F(StoreData, ReplaceRegistrationKeepsIdAndName) {
  const std::int64_t id = add(2);
  const std::int64_t other = add(3);
  const Subscription before = *store().find_subscription_by_id(id).value();

  Reregistration reg;
  reg.channel_id = "11111111-2222-4333-8444-555555555555";
  reg.endpoint = "https://push.example.net/wpush/v2/new";
  reg.private_key = SecretBytes(kPrivateKeySize, 0x71);
  reg.public_key = Bytes(kPublicKeySize, 0x72);
  reg.auth_secret = SecretBytes(kAuthSecretSize, 0x73);
  reg.state = SubscriptionState::needs_resubscribe;
  reg.changed_at = 1'800'000'000'000;
  ASSERT_TRUE(store().replace_registration(id, reg));
  reopen();

  Subscription want = before;
  want.channel_id = reg.channel_id;
  want.endpoint = reg.endpoint;
  want.private_key = reg.private_key;
  want.public_key = reg.public_key;
  want.auth_secret = reg.auth_secret;
  want.state = reg.state;
  want.changed_at = reg.changed_at;
  want.previous_endpoint = before.endpoint;  // recorded when not given
  EXPECT_EQ(store().find_subscription_by_id(id).value(), want);
  EXPECT_EQ(store().find_subscription_by_channel(before.channel_id).value(), std::nullopt);
  EXPECT_EQ(store().find_subscription_by_channel(reg.channel_id).value(), want);

  reg.previous_endpoint = "https://given.example.net/";
  reg.state = SubscriptionState::active;
  ASSERT_TRUE(store().replace_registration(id, reg));  // same channel again: not a clash with itself
  EXPECT_EQ(store().find_subscription_by_id(id).value()->previous_endpoint, "https://given.example.net/");

  struct Row {
    const char* desc;
    std::int64_t id;
    void (*change)(Reregistration&);
    Errc code;
  };
  const Row err_rows[] = {
      {"no such subscription", id + 100, [](Reregistration&) {}, Errc::not_found},
      {"channel of another subscription", id,
       [](Reregistration& r) { r.channel_id = sample_subscription(3).channel_id; }, Errc::constraint},
      {"short auth secret", id, [](Reregistration& r) { r.auth_secret.resize(15); }, Errc::invalid_argument},
      {"empty endpoint", id, [](Reregistration& r) { r.endpoint.clear(); }, Errc::invalid_argument},
  };
  for (const auto& row : err_rows) {
    Reregistration r = reg;
    row.change(r);
    auto ok = store().replace_registration(row.id, r);
    ASSERT_FALSE(ok) << row.desc;
    EXPECT_EQ(ok.error(), row.code) << row.desc << ": " << ok.error();
  }
  Subscription untouched = sample_subscription(3);
  untouched.id = other;
  EXPECT_EQ(store().find_subscription_by_id(other).value(), untouched);
}

// ---- inbox -------------------------------------------------------------------

TEST_F(StoreData, InboxRoundTripsAcrossReopen) {
  const std::int64_t sub = add(1);
  std::vector<InboxEntry> expected;
  {
    InboxEntry e = sample_message("c1", "v1", 100, sub);
    e.payload = Bytes{0x00, 0xff, 0x10, 0x00};
    expected.push_back(e);
  }
  {
    InboxEntry e = sample_message("c1", "v2", 101, sub);
    e.payload = std::nullopt;  // a message without data
    e.encoding = "";
    expected.push_back(e);
  }
  {
    InboxEntry e = sample_message("c1", "v3", 102, sub);
    e.payload = Bytes{};  // data of length zero is not "no data"
    expected.push_back(e);
  }
  {
    InboxEntry e = sample_message("unknown-channel", "v1", 103);
    e.payload = std::nullopt;
    e.encoding = "aesgcm";
    e.state = InboxState::failed;
    e.error = "crypto.decrypt_failed: aes128gcm: record 0 does not authenticate";
    expected.push_back(e);
  }
  for (auto& e : expected) {
    auto put = store().inbox_put_if_new(e);
    ASSERT_TRUE(put) << put.error();
    EXPECT_TRUE(put->is_new);
    e.id = put->id;
  }
  ASSERT_TRUE(store().mark_delivered(expected[0].id, 200));
  expected[0].state = InboxState::delivered;
  expected[0].delivered_at = 200;
  reopen();
  EXPECT_EQ(store().list_messages().value(), expected);
  for (const auto& e : expected) EXPECT_EQ(store().find_message(e.id).value(), e);
  EXPECT_EQ(store().find_message(999).value(), std::nullopt);
}

TEST_F(StoreData, PutIfNewRecognisesARedeliveredMessage) {
  auto first = store().inbox_put_if_new(sample_message("c", "v", 10));
  ASSERT_TRUE(first) << first.error();
  EXPECT_TRUE(first->is_new);
  InboxEntry redelivered = sample_message("c", "v", 99);
  redelivered.payload = to_bytes("something else");
  auto second = store().inbox_put_if_new(redelivered);
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(*second, (PutResult{false, first->id}));
  // Delivered already: still recognised, and still only once.
  ASSERT_TRUE(store().mark_delivered(first->id, 20));
  EXPECT_EQ(store().inbox_put_if_new(redelivered).value(), (PutResult{false, first->id}));
  EXPECT_EQ(rows("inbox"), 1);
  const auto stored = store().find_message(first->id).value();
  EXPECT_EQ(stored->payload, to_bytes("payload of v"));
  EXPECT_EQ(stored->received_at, 10);
  // The same version on another channel is another message.
  EXPECT_TRUE(store().inbox_put_if_new(sample_message("d", "v", 11)).value().is_new);
  EXPECT_EQ(rows("inbox"), 2);
}

TEST_F(StoreData, PutBatchIsOneTransactionAndRecognisesDuplicates) {
  ASSERT_TRUE(store().inbox_put_if_new(sample_message("c", "old", 1)));
  const std::vector<InboxEntry> batch = {
      sample_message("c", "a", 10), sample_message("c", "old", 11),
      sample_message("c", "b", 12), sample_message("c", "a", 13),  // duplicate within the batch
      sample_message("d", "a", 14),
  };
  auto put = store().inbox_put_batch(batch);
  ASSERT_TRUE(put) << put.error();
  ASSERT_EQ(put->size(), 5u);
  EXPECT_TRUE((*put)[0].is_new);
  EXPECT_EQ((*put)[1], (PutResult{false, 1}));
  EXPECT_TRUE((*put)[2].is_new);
  EXPECT_EQ((*put)[3], (PutResult{false, (*put)[0].id}));
  EXPECT_TRUE((*put)[4].is_new);
  EXPECT_EQ(rows("inbox"), 4);
  EXPECT_EQ(store().inbox_put_batch({}).value(), std::vector<PutResult>{});

  // A failure anywhere stores none of the batch.
  struct Row {
    const char* desc;
    InboxEntry bad;
    Errc code;
    const char* message;
  };
  InboxEntry no_version = sample_message("c", "", 20);
  InboxEntry no_such_subscription = sample_message("c", "z", 20, 4242);
  const Row err_rows[] = {
      {"empty version", no_version, Errc::invalid_argument, "batch message 1 (channel c, version ): "},
      {"foreign key", no_such_subscription, Errc::constraint, "batch message 1 (channel c, version z): "},
  };
  for (const auto& row : err_rows) {
    const std::vector<InboxEntry> bad_batch = {sample_message("e", "1", 20), row.bad, sample_message("e", "2", 21)};
    auto failed = store().inbox_put_batch(bad_batch);
    ASSERT_FALSE(failed) << row.desc;
    EXPECT_EQ(failed.error(), row.code) << row.desc << ": " << failed.error();
    EXPECT_TRUE(failed.error().message().starts_with(row.message)) << failed.error();
    EXPECT_EQ(rows("inbox"), 4) << row.desc;
  }
  // And the single form refuses the same rows.
  auto single = store().inbox_put_if_new(no_such_subscription);
  ASSERT_FALSE(single);
  EXPECT_EQ(single.error(), Errc::constraint) << single.error();
  EXPECT_EQ(rows("inbox"), 4);
}

TEST_F(StoreData, MarkDeliveredAndFailed) {
  auto put = store().inbox_put_batch(
      std::vector<InboxEntry>{sample_message("c", "1", 1), sample_message("c", "2", 2), sample_message("c", "3", 3)});
  ASSERT_TRUE(put);
  const std::vector<std::int64_t> ids = {(*put)[0].id, (*put)[1].id, (*put)[2].id};

  // One unknown id: none of the batch is marked.
  auto bad = store().mark_delivered_batch(std::vector<std::int64_t>{ids[0], 999}, 50);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), Errc::not_found) << bad.error();
  EXPECT_TRUE(contains(bad.error().message(), "no row with id 999"));
  EXPECT_EQ(store().inbox_stats().value().stored, 3);

  ASSERT_TRUE(store().mark_delivered_batch(std::vector<std::int64_t>{ids[0], ids[1]}, 50));
  ASSERT_TRUE(store().mark_failed(ids[2], "exec sink: exit status 3"));
  auto missing = store().mark_delivered(999, 1);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), Errc::not_found);
  auto missing_failed = store().mark_failed(999, "x");
  ASSERT_FALSE(missing_failed);
  EXPECT_EQ(missing_failed.error(), Errc::not_found);
  reopen();
  EXPECT_EQ(store().find_message(ids[1]).value()->delivered_at, 50);
  const auto failed = store().find_message(ids[2]).value();
  EXPECT_EQ(failed->state, InboxState::failed);
  EXPECT_EQ(failed->error, "exec sink: exit status 3");
  EXPECT_EQ(store().inbox_stats().value(), (InboxStats{0, 2, 1, 3}));
}

TEST_F(StoreData, ListUndeliveredOldestFirst) {
  auto put = store().inbox_put_batch(std::vector<InboxEntry>{
      sample_message("c", "late", 30), sample_message("c", "early", 10), sample_message("c", "done", 5),
      sample_message("c", "mid-b", 20), sample_message("c", "mid-a", 20)});
  ASSERT_TRUE(put);
  ASSERT_TRUE(store().mark_delivered((*put)[2].id, 40));
  InboxEntry failed = sample_message("c", "failed", 1);
  failed.state = InboxState::failed;
  failed.error = "bad";
  ASSERT_TRUE(store().inbox_put_if_new(failed));

  std::vector<std::string> versions;
  const auto undelivered = store().list_undelivered().value();
  for (const auto& e : undelivered) versions.push_back(e.version);
  // By received time, then by arrival (id) for equal times.
  EXPECT_EQ(versions, (std::vector<std::string>{"early", "mid-b", "mid-a", "late"}));
}

TEST_F(StoreData, MarkUndeliveredTakesADeliveredRowBackToStored) {
  const auto put =
      store().inbox_put_batch(std::vector<InboxEntry>{sample_message("c", "a", 1), sample_message("c", "b", 2)});
  ASSERT_TRUE(put);
  const std::int64_t a = (*put)[0].id;
  ASSERT_TRUE(store().mark_delivered(a, 5));
  ASSERT_TRUE(store().mark_undelivered(a));
  const auto row = store().find_message(a).value();
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, InboxState::stored);
  EXPECT_EQ(row->delivered_at, std::nullopt);
  EXPECT_TRUE(store().mark_undelivered((*put)[1].id).error().is(Errc::not_found)) << "only a delivered row";
  const auto from = store().list_undelivered_from(a, 10).value();
  ASSERT_EQ(from.size(), 2u);
  EXPECT_EQ(from[0].version, "a");
  EXPECT_EQ(store().list_undelivered_from((*put)[1].id, 10).value().size(), 1u);
  EXPECT_EQ(store().list_undelivered_from(a, 1).value().size(), 1u);
}

TEST_F(StoreData, TheSinkBacklogIsReadOnce) {
  ASSERT_TRUE(store().save_sink_backlog({{"exec", 12}, {"jsonl", 40}}));
  ASSERT_TRUE(store().save_sink_backlog({{"exec", 15}}));  // replaces
  EXPECT_EQ(store().take_sink_backlog().value(), (std::map<std::string, std::int64_t>{{"exec", 15}}));
  EXPECT_TRUE(store().take_sink_backlog().value().empty()) << "it describes one stop only";
}

TEST_F(StoreData, ListMessagesFilters) {
  const std::int64_t a = add(1);
  const std::int64_t b = add(2);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store().inbox_put_if_new(sample_message("c", std::to_string(i), 100 + i, i % 2 == 0 ? a : b)));
  }
  ASSERT_TRUE(store().mark_delivered(1, 500));
  const auto versions = [&](const MessageFilter& f) {
    std::vector<std::string> out;
    auto rows = store().list_messages(f);
    EXPECT_TRUE(rows) << rows.error();
    if (rows) {
      for (const auto& e : *rows) out.push_back(e.version);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(versions({}), (V{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  EXPECT_EQ(versions({.since = 107}), (V{"7", "8", "9"}));
  EXPECT_EQ(versions({.subscription_id = b}), (V{"1", "3", "5", "7", "9"}));
  EXPECT_EQ(versions({.subscription_name = "sub-1"}), (V{"0", "2", "4", "6", "8"}));
  EXPECT_EQ(versions({.subscription_id = b, .subscription_name = "sub-1"}), V{});
  EXPECT_EQ(versions({.state = InboxState::delivered}), V{"0"});
  EXPECT_EQ(versions({.limit = 3}), (V{"7", "8", "9"}));  // the newest three, oldest first
  EXPECT_EQ(versions({.since = 102, .subscription_name = "sub-1", .limit = 2}), (V{"6", "8"}));
  EXPECT_EQ(versions({.limit = 0}), V{});

  auto unknown = store().list_messages({.subscription_name = "nope"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), Errc::not_found);
  EXPECT_TRUE(contains(unknown.error().message(), "no subscription named nope"));
  auto negative = store().list_messages({.limit = -1});
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error(), Errc::invalid_argument);
}

TEST_F(StoreData, PruneByAgeAndCountNeverTouchesStoredRows) {
  constexpr std::int64_t kDay = 24 * 3600 * 1000;
  const std::int64_t now = 100 * kDay;
  // version: state and age in days
  struct Row {
    const char* version;
    InboxState state;
    std::int64_t age_days;
  };
  const Row rows_in[] = {
      {"stored-old", InboxState::stored, 60},    {"delivered-old", InboxState::delivered, 31},
      {"failed-old", InboxState::failed, 45},    {"delivered-1", InboxState::delivered, 3},
      {"delivered-2", InboxState::delivered, 2}, {"failed-3", InboxState::failed, 1},
      {"stored-new", InboxState::stored, 0},
  };
  for (const auto& r : rows_in) {
    InboxEntry e = sample_message("c", r.version, now - r.age_days * kDay);
    e.state = r.state;
    if (r.state == InboxState::delivered) e.delivered_at = e.received_at;
    if (r.state == InboxState::failed) e.error = "x";
    ASSERT_TRUE(store().inbox_put_if_new(e));
  }
  const auto left = [&] {
    std::vector<std::string> out;
    const auto messages = store().list_messages().value();
    for (const auto& e : messages) out.push_back(e.version);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(store().prune(now).value(), 2);  // defaults: 30 days, 10,000 rows
  EXPECT_EQ(left(), (V{"stored-old", "delivered-1", "delivered-2", "failed-3", "stored-new"}));
  EXPECT_EQ(store().prune(now, {.max_age = std::chrono::days(30), .max_rows = 2}).value(), 1);
  EXPECT_EQ(left(), (V{"stored-old", "delivered-2", "failed-3", "stored-new"}));
  EXPECT_EQ(store().prune(now, {.max_age = std::chrono::days(0), .max_rows = 10}).value(), 2);
  EXPECT_EQ(left(), (V{"stored-old", "stored-new"}));
  EXPECT_EQ(store().prune(now, {.max_age = std::chrono::days(0), .max_rows = 0}).value(), 0);

  auto negative = store().prune(now, {.max_rows = -1});
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error(), Errc::invalid_argument);
}

TEST_F(StoreData, InboxStats) {
  EXPECT_EQ(store().inbox_stats().value(), InboxStats{});
  ASSERT_TRUE(store().inbox_put_batch(std::vector<InboxEntry>{
      sample_message("c", "1", 10), sample_message("c", "2", 30), sample_message("c", "3", 20)}));
  ASSERT_TRUE(store().mark_delivered(2, 40));
  EXPECT_EQ(store().inbox_stats().value(), (InboxStats{2, 1, 0, 30}));
}

TEST_F(StoreData, NoKeyMaterialInErrors) {
  Subscription s = sample_subscription(7);
  s.public_key.resize(10);
  auto id = store().add_subscription(s);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error(), Errc::invalid_argument);
  EXPECT_FALSE(contains(id.error().message(), to_hex(s.private_key))) << id.error();
  EXPECT_FALSE(contains(id.error().message(), to_hex(s.auth_secret))) << id.error();
  EXPECT_FALSE(contains(id.error().message(), as_chars(s.private_key))) << id.error();
}

}  // namespace store_data_test
}  // namespace webpush::store
