// LoopScheduler: the real Scheduler on a real loop, both clocks, and defer.
#include "webpush/event/scheduler.h"

#include <memory>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "event_test_support.h"

namespace webpush::event {
namespace {

using test::kNever;

class LoopSchedulerTest : public test::LoopTest, public ::testing::WithParamInterface<TimerClock> {
 protected:
  std::unique_ptr<ScheduledTimer> make(Scheduler& scheduler, std::function<void()> callback) {
    auto t = scheduler.make_timer(GetParam(), std::move(callback));
    EXPECT_TRUE(t) << t.error();
    return t ? std::move(*t) : nullptr;
  }
};

TEST_P(LoopSchedulerTest, ATimerFiresOnce) {
  LoopScheduler scheduler(loop());
  int fired = 0;
  bool inside = false;
  auto timer = make(scheduler, [&] {
    ++fired;
    inside = in_loop_callback();
  });
  ASSERT_NE(timer, nullptr);
  timer->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired > 0; }));
  // A second timer armed afterwards is due no earlier: once it has fired, the
  // first one would have fired again had it been re-armed.
  bool witness = false;
  auto next = make(scheduler, [&] { witness = true; });
  ASSERT_NE(next, nullptr);
  next->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return witness; }));
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(inside);
}

TEST_P(LoopSchedulerTest, RearmingReplacesTheDeadline) {
  LoopScheduler scheduler(loop());
  int fired = 0;
  auto timer = make(scheduler, [&] { ++fired; });
  ASSERT_NE(timer, nullptr);
  timer->arm(kNever);
  timer->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired == 1; }));

  timer->arm(Duration(0));
  timer->arm(kNever);
  bool witness = false;
  auto next = make(scheduler, [&] { witness = true; });
  ASSERT_NE(next, nullptr);
  next->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return witness; }));
  EXPECT_EQ(fired, 1);
}

TEST_P(LoopSchedulerTest, CancelAndDestructionPreventFiring) {
  LoopScheduler scheduler(loop());
  int fired = 0;
  auto cancelled = make(scheduler, [&] { ++fired; });
  auto destroyed = make(scheduler, [&] { ++fired; });
  ASSERT_NE(cancelled, nullptr);
  ASSERT_NE(destroyed, nullptr);
  cancelled->arm(Duration(0));
  cancelled->cancel();
  destroyed->arm(Duration(0));
  destroyed.reset();
  bool witness = false;
  auto next = make(scheduler, [&] { witness = true; });
  ASSERT_NE(next, nullptr);
  next->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return witness; }));
  EXPECT_EQ(fired, 0);
}

TEST_P(LoopSchedulerTest, ACallbackMayRearmItsTimer) {
  LoopScheduler scheduler(loop());
  int fired = 0;
  ScheduledTimer* self = nullptr;
  auto timer = make(scheduler, [&] {
    if (++fired < 3) self->arm(Duration(0));
  });
  ASSERT_NE(timer, nullptr);
  self = timer.get();
  timer->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired == 3; }));
}

INSTANTIATE_TEST_SUITE_P(BothClocks, LoopSchedulerTest, ::testing::Values(TimerClock::monotonic, TimerClock::boot),
                         [](const ::testing::TestParamInfo<TimerClock>& param) {
                           return param.param == TimerClock::monotonic ? "monotonic" : "boot";
                         });

class LoopSchedulerDeferTest : public test::LoopTest {};

TEST_F(LoopSchedulerDeferTest, DefersOntoTheLoopInOrder) {
  LoopScheduler scheduler(loop());
  Scheduler& s = scheduler;  // through the interface, as its users see it
  std::vector<int> order;
  s.defer([&] { order.push_back(1); });
  s.defer([&] { order.push_back(2); });
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(loop().deferred_pending(), 2u);
  ASSERT_TRUE(run_until([&] { return order.size() == 2; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace webpush::event
