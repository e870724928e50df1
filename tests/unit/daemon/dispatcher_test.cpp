// daemon::Dispatcher with a real store in a temporary directory, a hand-moved
// scheduler and sinks that take a set number of messages and then refuse: a
// sink that falls behind catches up from the inbox, in order and once, and the
// others are not held up by it.
#include "webpush/daemon/dispatcher.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "../store/store_fixtures.h"
#include "fake_clock.h"
#include "fake_scheduler.h"

namespace webpush::daemon {
namespace dispatcher_test {

using std::chrono::milliseconds;

/// Takes `capacity` messages (negative: any number), then refuses with an io error.
class LimitedSink final : public sinks::Sink {
 public:
  explicit LimitedSink(std::string name, int limit = -1) : name_(std::move(name)), capacity(limit) {}

  [[nodiscard]] std::string_view name() const override { return name_; }
  Result<void> deliver(const sinks::Event& event) override {
    ++offers;
    if (capacity == 0) return fail(sinks::Errc::io, name_ + ": full");
    if (capacity > 0) --capacity;
    if (const auto* m = std::get_if<sinks::MessageEvent>(&event)) versions.push_back(m->version);
    if (std::holds_alternative<sinks::DecryptErrorEvent>(event)) ++decrypt_errors;
    return {};
  }
  void recover(const std::vector<const Message*>& undelivered) override { recovered = undelivered.size(); }

  std::string name_;
  int capacity;
  int offers = 0;
  int decrypt_errors = 0;
  std::size_t recovered = 0;
  std::vector<std::string> versions;
};

std::vector<std::string> numbered(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back("v" + std::to_string(i));
  return out;
}

class DispatcherTest : public ::testing::Test {
 protected:
  store::test::TempDir tmp;
  store::Store store = store::test::open_or_die(tmp.state(), store::OpenMode::daemon);
  fakes::FakeClock clock;
  fakes::FakeScheduler scheduler{clock};
  DispatcherOptions options{.batch = 4};
  std::unique_ptr<Dispatcher> dispatcher;

  Dispatcher& make(const std::vector<sinks::Sink*>& sinks) {
    dispatcher = std::make_unique<Dispatcher>(store, scheduler, clock, options);
    dispatcher->set_sinks(sinks);
    return *dispatcher;
  }

  /// Stores messages v<from>..v<to> and returns them as the receive path would.
  std::vector<store::InboxEntry> put(int from, int to) {
    std::vector<store::InboxEntry> rows;
    for (int i = from; i <= to; ++i) rows.push_back(store::test::sample_message("c", "v" + std::to_string(i), i));
    const auto ids = store.inbox_put_batch(rows).value();
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i].id = ids[i].id;
    return rows;
  }
  void deliver(int from, int to) {
    const auto rows = put(from, to);
    std::vector<const Message*> pointers;
    for (const auto& r : rows) pointers.push_back(&r);
    dispatcher->deliver(pointers);
  }
  std::int64_t stored() { return store.inbox_stats().value().stored; }
  std::int64_t delivered() { return store.inbox_stats().value().delivered; }
};

TEST_F(DispatcherTest, AMessageEverySinkTookIsMarkedDelivered) {
  LimitedSink a("a"), b("b");
  make({&a, &b});
  deliver(1, 3);
  EXPECT_EQ(a.versions, numbered(1, 3));
  EXPECT_EQ(b.versions, numbered(1, 3));
  EXPECT_EQ(delivered(), 3);
  EXPECT_EQ(stored(), 0);
  EXPECT_TRUE(dispatcher->behind().empty());
}

TEST_F(DispatcherTest, ASinkThatRefusesIsOwedTheRestAndCatchesUpInOrderOnce) {
  LimitedSink fast("fast"), slow("slow", 2);
  make({&fast, &slow});
  deliver(1, 10);
  EXPECT_EQ(fast.versions, numbered(1, 10)) << "the other sink is not held up";
  EXPECT_EQ(slow.versions, numbered(1, 2));
  EXPECT_EQ(slow.offers, 3) << "not offered new messages once behind";
  EXPECT_EQ(delivered(), 2);
  EXPECT_EQ(stored(), 8) << "what the slow sink is owed waits in the inbox";
  const auto behind = dispatcher->behind();
  ASSERT_EQ(behind.size(), 1u);
  EXPECT_EQ(behind[0].sink, "slow");
  EXPECT_EQ(behind[0].error, "slow: full");

  slow.capacity = -1;
  scheduler.advance(milliseconds(1000));
  EXPECT_EQ(slow.versions, numbered(1, 10));
  EXPECT_EQ(fast.versions, numbered(1, 10)) << "the sink that had them gets none again";
  EXPECT_EQ(delivered(), 10);
  EXPECT_TRUE(dispatcher->behind().empty());
}

TEST_F(DispatcherTest, NewMessagesWaitBehindTheOwedOnesSoTheOrderHolds) {
  LimitedSink slow("slow", 1);
  make({&slow});
  deliver(1, 3);  // takes v1, refuses v2
  deliver(4, 5);  // behind: not offered, they queue up in the inbox after v2 and v3
  EXPECT_EQ(slow.offers, 2);
  slow.capacity = -1;
  scheduler.advance(milliseconds(1000));
  EXPECT_EQ(slow.versions, numbered(1, 5));
  EXPECT_EQ(stored(), 0);
}

TEST_F(DispatcherTest, CatchingUpReadsTheInboxABatchAtATime) {
  LimitedSink slow("slow", 0);
  make({&slow});
  deliver(1, 11);  // batch is 4: three passes, the last one short
  slow.capacity = -1;
  scheduler.advance(options.first_retry);
  EXPECT_EQ(slow.versions, numbered(1, 4));
  scheduler.advance(options.retry_after_progress);
  EXPECT_EQ(slow.versions, numbered(1, 8));
  scheduler.advance(options.retry_after_progress);
  EXPECT_EQ(slow.versions, numbered(1, 11));
  EXPECT_TRUE(dispatcher->behind().empty());
  EXPECT_EQ(delivered(), 11);
}

TEST_F(DispatcherTest, RetriesBackOffWhileTheSinkKeepsRefusing) {
  LimitedSink dead("dead", 0);
  make({&dead});
  deliver(1, 3);
  EXPECT_EQ(dead.offers, 1);
  // 100, 200, 400, … 3200, then every 5 s: one offer (the first owed message) per pass.
  std::vector<int> offers_at;
  for (int ms = 0; ms < 20'000; ms += 50) {
    const int before = dead.offers;
    scheduler.advance(milliseconds(50));
    if (dead.offers != before) offers_at.push_back(ms + 50);
  }
  EXPECT_EQ(offers_at, (std::vector<int>{100, 300, 700, 1500, 3100, 6300, 11300, 16300}));
  EXPECT_EQ(stored(), 3);
}

TEST_F(DispatcherTest, TwoSinksBehindCatchUpEachFromWhereItStands) {
  // Batch is 4. "stuck" stops at v1 and keeps refusing; "slow" stops at v8.
  LimitedSink stuck("stuck", 0), slow("slow", 7);
  make({&stuck, &slow});
  deliver(1, 20);
  EXPECT_EQ(slow.versions, numbered(1, 7));
  slow.capacity = -1;
  scheduler.advance(milliseconds(2000));
  EXPECT_EQ(slow.versions, numbered(1, 20)) << "not held up by the sink that still refuses";
  EXPECT_TRUE(stuck.versions.empty());
  EXPECT_EQ(stored(), 20) << "every row is still owed to the stuck sink";
  stuck.capacity = -1;
  scheduler.advance(milliseconds(10'000));
  EXPECT_EQ(stuck.versions, numbered(1, 20));
  EXPECT_EQ(delivered(), 20);
}

TEST_F(DispatcherTest, AReloadThatDropsASinkThatWasBehindMarksWhatOnlyItWasOwed) {
  LimitedSink gone("gone", 2), kept("kept");
  make({&gone, &kept});
  deliver(1, 6);
  EXPECT_EQ(stored(), 4);
  dispatcher->set_sinks({&kept});
  scheduler.advance(milliseconds(1000));
  EXPECT_EQ(stored(), 0) << "owed to no sink any more";
  EXPECT_EQ(kept.versions, numbered(1, 6)) << "and not handed out again";
}

TEST_F(DispatcherTest, AfterStopNoPassRunsAndWhatIsOwedStaysStored) {
  LimitedSink slow("slow", 1);
  make({&slow});
  deliver(1, 3);
  dispatcher->stop();
  slow.capacity = -1;
  scheduler.advance(milliseconds(10'000));
  EXPECT_EQ(slow.versions, numbered(1, 1));
  EXPECT_EQ(stored(), 2) << "handed over at the next start";
}

TEST_F(DispatcherTest, AStopWhileASinkIsBehindHandsItAloneWhatItWasOwedAtTheNextStart) {
  LimitedSink slow("exec", 2), file("jsonl");
  make({&slow, &file});
  deliver(1, 6);
  dispatcher->stop();  // as the daemon stops: records that exec is owed v3 on

  LimitedSink slow_again("exec"), file_again("jsonl");
  make({&slow_again, &file_again});
  ASSERT_TRUE(dispatcher->redispatch_undelivered());
  scheduler.advance(milliseconds(1000));
  EXPECT_EQ(slow_again.versions, numbered(3, 6));
  EXPECT_TRUE(file_again.versions.empty()) << "the JSON-lines sink had them all";
  EXPECT_EQ(delivered(), 6);
}

TEST_F(DispatcherTest, AfterACrashWhileASinkWasBehindEverySinkGetsEveryStoredRow) {
  LimitedSink slow("exec", 2), file("jsonl");
  make({&slow, &file});
  deliver(1, 4);
  dispatcher.reset();  // no stop(): nothing recorded, as after SIGKILL

  LimitedSink slow_again("exec"), file_again("jsonl");
  make({&slow_again, &file_again});
  ASSERT_TRUE(dispatcher->redispatch_undelivered());
  EXPECT_EQ(slow_again.versions, numbered(3, 4));
  EXPECT_EQ(file_again.versions, numbered(3, 4)) << "at least once: it cannot be told which it had";
  EXPECT_EQ(delivered(), 4);
}

TEST_F(DispatcherTest, TheBackoffStartsAfreshOnceASinkHasCaughtUp) {
  LimitedSink slow("slow", 0);
  make({&slow});
  deliver(1, 1);
  scheduler.advance(milliseconds(20'000));  // backed off to 5 s
  slow.capacity = 1;
  scheduler.advance(milliseconds(5'000));
  ASSERT_TRUE(dispatcher->behind().empty());
  slow.capacity = 0;
  deliver(2, 2);
  const int before = slow.offers;
  scheduler.advance(options.first_retry);
  EXPECT_EQ(slow.offers, before + 1) << "the first retry comes after first_retry again";
}

TEST_F(DispatcherTest, ABehindSinkAtStartUpIsHandledLikeOneThatFellBehindLater) {
  put(1, 6);
  LimitedSink a("a"), b("b", 3);
  make({&a, &b});
  ASSERT_TRUE(dispatcher->redispatch_undelivered());
  EXPECT_EQ(a.recovered, 6u);
  EXPECT_EQ(b.recovered, 6u);
  EXPECT_EQ(a.versions, numbered(1, 6));
  EXPECT_EQ(b.versions, numbered(1, 3));
  b.capacity = -1;
  scheduler.advance(milliseconds(1000));
  EXPECT_EQ(b.versions, numbered(1, 6));
  EXPECT_EQ(a.versions, numbered(1, 6));
  EXPECT_EQ(delivered(), 6);
}

TEST_F(DispatcherTest, AReloadedSinkOfTheSameNameIsOwedWhatTheOldOneWas) {
  LimitedSink old_exec("exec", 1), jsonl("jsonl");
  make({&old_exec, &jsonl});
  deliver(1, 3);
  LimitedSink new_exec("exec"), notify("notify");
  dispatcher->set_sinks({&new_exec, &jsonl, &notify});
  scheduler.advance(milliseconds(1000));
  EXPECT_EQ(new_exec.versions, numbered(2, 3));
  EXPECT_TRUE(notify.versions.empty()) << "a new sink is owed nothing from before it existed";
  EXPECT_EQ(jsonl.versions, numbered(1, 3));
  EXPECT_EQ(delivered(), 3);
}

TEST_F(DispatcherTest, AMessageThatCouldNotBeDecryptedIsHandedOverButNeverMarked) {
  LimitedSink a("a"), full("full", 0);
  make({&a, &full});
  auto rows = put(1, 1);
  rows[0].error = "bad padding";
  rows[0].payload.reset();
  ASSERT_TRUE(store.mark_failed(rows[0].id, "bad padding"));
  dispatcher->deliver({&rows[0]});
  EXPECT_EQ(a.decrypt_errors, 1);
  EXPECT_TRUE(dispatcher->behind().empty()) << "nothing to catch up on: the row is failed, not stored";
  EXPECT_EQ(store.inbox_stats().value().failed, 1);
}

TEST_F(DispatcherTest, TheObserverSeesEachMessageOnceEvenWhenASinkCatchesUpLater) {
  LimitedSink slow("slow", 0);
  make({&slow});
  int seen = 0;
  dispatcher->set_observer([&](const sinks::Event&) { ++seen; });
  deliver(1, 3);
  slow.capacity = -1;
  scheduler.advance(milliseconds(1000));
  EXPECT_EQ(slow.versions, numbered(1, 3));
  EXPECT_EQ(seen, 3);
}

// ---- a UnifiedPush app's messages: the forwarder's, never the sinks' ----------------

class DispatcherAppTest : public DispatcherTest {
 protected:
  void SetUp() override {
    store::Subscription app = store::test::sample_subscription(1);
    app.app = store::AppRegistration{.service = "org.example.Chat", .token = "t"};
    app_id = store.add_subscription(app).value();
    app_channel = app.channel_id;
  }
  /// Stores an app message and a plain one, alternately, `n` of each; returns them.
  std::vector<store::InboxEntry> put_mixed(int n) {
    std::vector<store::InboxEntry> rows;
    for (int i = 1; i <= n; ++i) {
      rows.push_back(store::test::sample_message(app_channel, "a" + std::to_string(i), i, app_id));
      rows.push_back(store::test::sample_message("c", "v" + std::to_string(i), i));
    }
    const auto ids = store.inbox_put_batch(rows).value();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      rows[i].id = ids[i].id;
      if (rows[i].subscription_id) rows[i].app = "org.example.Chat";
    }
    return rows;
  }

  std::int64_t app_id = 0;
  std::string app_channel;
};

TEST_F(DispatcherAppTest, NewAppMessagesGoToTheForwarderAloneAndStayStored) {
  LimitedSink sink("jsonl");
  make({&sink});
  std::vector<std::string> forwarded;
  dispatcher->set_forwarder([&](const Message& m) { forwarded.push_back(m.version); });
  int observed = 0;
  dispatcher->set_observer([&](const sinks::Event&) { ++observed; });
  const auto rows = put_mixed(3);
  std::vector<const Message*> pointers;
  for (const auto& r : rows) pointers.push_back(&r);
  dispatcher->deliver(pointers);
  EXPECT_EQ(forwarded, (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(sink.versions, numbered(1, 3));
  EXPECT_EQ(observed, 3);
  EXPECT_EQ(store.count_undelivered_of(app_id).value(), 3) << "the forwarder marks them, not the dispatcher";
  EXPECT_EQ(delivered(), 3);
}

TEST_F(DispatcherAppTest, RedispatchAndCatchUpSkipTheAppsRows) {
  LimitedSink sink("jsonl", 0);
  make({&sink});
  put_mixed(5);
  ASSERT_TRUE(dispatcher->redispatch_undelivered());  // refuses the first plain one: behind
  sink.capacity = -1;
  scheduler.advance(milliseconds(5000));
  EXPECT_EQ(sink.versions, numbered(1, 5)) << "only the plain rows, in order";
  EXPECT_TRUE(dispatcher->behind().empty());
  EXPECT_EQ(store.count_undelivered_of(app_id).value(), 5) << "the app's rows are left for the forwarder";
  EXPECT_EQ(delivered(), 5);
}

}  // namespace dispatcher_test
}  // namespace webpush::daemon
