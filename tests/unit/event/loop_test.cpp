// EventLoop: run/stop, run_until, defer, destroy_later, in_loop_callback and
// assert_may_block, on a real loop.
#include "webpush/event/loop.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "event_test_support.h"
#include "webpush/event/timer.h"

namespace webpush::event {
namespace {

using ::testing::ElementsAre;

class EventLoopTest : public test::LoopTest {};

TEST(EventLoopCreate, CreatesALoop) {
  for (const bool ipv6 : {true, false}) {
    auto loop = EventLoop::create(LoopOptions{.ipv6 = ipv6});
    ASSERT_TRUE(loop) << loop.error();
    EXPECT_NE((*loop)->context(), nullptr);
    EXPECT_NE((*loop)->raw_vhost(), nullptr);
    EXPECT_FALSE((*loop)->stopping());
    EXPECT_EQ((*loop)->deferred_pending(), 0u);
  }
}

// ---- run / stop / run_until ---------------------------------------------------------

TEST_F(EventLoopTest, StopFromACallbackEndsRun) {
  bool inside = false;
  Timer timer(loop(), [&] {
    inside = in_loop_callback();
    loop().stop();
  });
  timer.arm(Duration(0));
  const auto ran = loop().run();
  ASSERT_TRUE(ran) << ran.error();
  EXPECT_TRUE(inside);
  EXPECT_TRUE(loop().stopping());
  EXPECT_FALSE(in_loop_callback());
}

TEST_F(EventLoopTest, RunUntilReturnsTrueAtOnceWhenAlreadyDone) {
  bool ran = false;
  loop().defer([&] { ran = true; });
  EXPECT_TRUE(run_until([] { return true; }));
  EXPECT_FALSE(ran) << "no turn is needed when done() already holds";
  EXPECT_EQ(loop().deferred_pending(), 1u);
  // Run it now: the loop's destructor would run it after `ran` is gone.
  ASSERT_TRUE(run_until([&] { return ran; }));
}

TEST_F(EventLoopTest, RunUntilReturnsFalseWhenTheLimitPasses) {
  // A zero limit is due on the first turn; done() never holds.
  EXPECT_FALSE(loop().run_until([] { return false; }, Duration(0)));
  EXPECT_FALSE(in_loop_callback());
}

TEST_F(EventLoopTest, RunUntilLooksAtDoneAfterEveryTurn) {
  int checks = 0;
  bool fired = false;
  Timer timer(loop(), [&] { fired = true; });
  timer.arm(Duration(0));
  ASSERT_TRUE(run_until([&] {
    ++checks;
    return fired;
  }));
  EXPECT_GE(checks, 2) << "done() is looked at before the first turn and after each";
}

TEST_F(EventLoopTest, RunUntilCanBeCalledAgainAfterItReturned) {
  for (int round = 0; round < 3; ++round) {
    bool ran = false;
    loop().defer([&] { ran = true; });
    ASSERT_TRUE(run_until([&] { return ran; })) << "round " << round;
  }
}

// ---- defer ---------------------------------------------------------------------------

TEST_F(EventLoopTest, DeferRunsLaterInOrder) {
  std::vector<int> order;
  for (int i = 1; i <= 3; ++i) loop().defer([&order, i] { order.push_back(i); });
  EXPECT_TRUE(order.empty()) << "defer() must not run the work itself";
  EXPECT_EQ(loop().deferred_pending(), 3u);
  ASSERT_TRUE(run_until([&] { return order.size() == 3; }));
  EXPECT_THAT(order, ElementsAre(1, 2, 3));
  EXPECT_EQ(loop().deferred_pending(), 0u);
}

TEST_F(EventLoopTest, WorkDeferredFromACallbackRunsAfterTheCallbackReturned) {
  bool callback_returned = false;
  bool ran = false;
  bool ran_after_return = false;
  bool inside = false;
  Timer timer(loop(), [&] {
    loop().defer([&] {
      ran = true;
      ran_after_return = callback_returned;
      inside = in_loop_callback();
    });
    callback_returned = true;
  });
  timer.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return ran; }));
  EXPECT_TRUE(ran_after_return);
  EXPECT_TRUE(inside);
}

TEST_F(EventLoopTest, WorkDeferredFromDeferredWorkRunsAfterTheCurrentBatch) {
  std::vector<char> order;
  loop().defer([&] {
    order.push_back('A');
    loop().defer([&] { order.push_back('B'); });
  });
  loop().defer([&] { order.push_back('C'); });
  ASSERT_TRUE(run_until([&] { return order.size() == 3; }));
  EXPECT_THAT(order, ElementsAre('A', 'C', 'B'));
}

// Work deferred from deferred work should wait for the next turn (run_deferred's
// comment, loop.cpp), so that the loop polls in between and run_until sees the
// state between the two. (libwebsockets' ripe pass runs every sul due at the
// time it read when the pass began, so the defer sul is put 1 µs later.)
TEST_F(EventLoopTest, WorkDeferredFromDeferredWorkWaitsForTheNextTurn) {
  bool a = false;
  bool b = false;
  bool seen_between = false;
  loop().defer([&] {
    a = true;
    loop().defer([&] { b = true; });
  });
  ASSERT_TRUE(run_until([&] {
    if (a && !b) seen_between = true;
    return b;
  }));
  EXPECT_TRUE(seen_between) << "B ran in the same turn as A";
}

TEST_F(EventLoopTest, AnExceptionFromDeferredWorkDoesNotStopTheRest) {
  bool after = false;
  loop().defer([] { throw std::runtime_error("thrown by test work"); });
  loop().defer([&] { after = true; });
  EXPECT_TRUE(run_until([&] { return after; }));
}

TEST(EventLoopDestroy, RunsWhatIsStillDeferred) {
  std::vector<int> order;
  {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop) << loop.error();
    (*loop)->defer([&order, l = loop->get()] {
      order.push_back(1);
      l->defer([&order] { order.push_back(2); });
    });
  }
  EXPECT_THAT(order, ElementsAre(1, 2)) << "work deferred during destruction runs too";
}

// ---- destroy_later -------------------------------------------------------------------

struct Tracked {
  explicit Tracked(bool& destroyed) : destroyed_(&destroyed) {}
  ~Tracked() { *destroyed_ = true; }
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;
  bool* destroyed_;
};

TEST_F(EventLoopTest, DestroyLaterDestroysOnALaterTurn) {
  bool destroyed = false;
  bool destroyed_in_callback = true;
  auto object = std::make_unique<Tracked>(destroyed);
  bool fired = false;
  Timer timer(loop(), [&] {
    loop().destroy_later(std::move(object));
    destroyed_in_callback = destroyed;
    fired = true;
  });
  timer.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired; }));
  EXPECT_FALSE(destroyed_in_callback);
  ASSERT_TRUE(run_until([&] { return destroyed; }));
  EXPECT_EQ(loop().deferred_pending(), 0u);
}

TEST_F(EventLoopTest, DestroyLaterOutsideTheLoopWaitsForATurn) {
  bool destroyed = false;
  loop().destroy_later(std::make_unique<Tracked>(destroyed));
  EXPECT_FALSE(destroyed);
  EXPECT_EQ(loop().deferred_pending(), 1u);
  ASSERT_TRUE(run_until([&] { return destroyed; }));
}

TEST_F(EventLoopTest, DestroyLaterOfNothingDefersNothing) {
  loop().destroy_later(std::unique_ptr<Tracked>());
  EXPECT_EQ(loop().deferred_pending(), 0u);
}

TEST(EventLoopDestroy, DestroysWhatIsStillToBeDestroyedLater) {
  bool destroyed = false;
  {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop) << loop.error();
    (*loop)->destroy_later(std::make_unique<Tracked>(destroyed));
    EXPECT_FALSE(destroyed);
  }
  EXPECT_TRUE(destroyed);
}

// ---- in_loop_callback / assert_may_block ---------------------------------------------

TEST_F(EventLoopTest, InLoopCallbackIsFalseOutsideTheLoop) {
  EXPECT_FALSE(in_loop_callback());
  bool ran = false;
  loop().defer([&] { ran = true; });
  ASSERT_TRUE(run_until([&] { return ran; }));
  EXPECT_FALSE(in_loop_callback());
}

TEST(AssertMayBlock, DoesNothingOutsideTheLoop) {
  assert_may_block("a test outside the loop");
  SUCCEED();
}

TEST(AssertMayBlock, DoesNothingWhenTheLoopIsNotRunning) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error();
  assert_may_block("a test with an idle loop");
  SUCCEED();
}

// Death tests fork (and the "threadsafe" style re-executes the test binary), so the
// loop is created in the child.
void block_in_timer_callback() {
  auto loop = EventLoop::create();
  if (!loop) return;
  Timer timer(**loop, [] { assert_may_block("a test timer callback"); });
  timer.arm(Duration(0));
  (void)(*loop)->run_until([] { return false; }, test::kLimit);
}

void block_in_deferred_work_under_run() {
  auto loop = EventLoop::create();
  if (!loop) return;
  (*loop)->defer([] { assert_may_block("test deferred work"); });
  Timer stop(**loop, [l = loop->get()] { l->stop(); });
  stop.arm(test::kLimit);
  (void)(*loop)->run();
}

TEST(AssertMayBlockDeathTest, AbortsInsideALoopCallbackInADebugBuild) {
#ifdef NDEBUG
  GTEST_SKIP() << "assert_may_block does nothing when NDEBUG is defined";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(block_in_timer_callback(), "blocking call on the event loop thread: a test timer callback");
  EXPECT_DEATH(block_in_deferred_work_under_run(), "blocking call on the event loop thread: test deferred work");
#endif
}

TEST(AssertMayBlock, DoesNothingInsideALoopCallbackInAReleaseBuild) {
#ifndef NDEBUG
  GTEST_SKIP() << "a debug build aborts (AssertMayBlockDeathTest)";
#else
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop) << loop.error();
  bool returned = false;
  Timer timer(**loop, [&] {
    assert_may_block("a test timer callback");
    returned = true;
  });
  timer.arm(Duration(0));
  EXPECT_TRUE((*loop)->run_until([&] { return returned; }, test::kLimit));
#endif
}

}  // namespace
}  // namespace webpush::event
