// Timer (monotonic, a libwebsockets sul) and BootTimer (a CLOCK_BOOTTIME timerfd)
// on a real loop. Nothing here asserts a duration: a test arms, runs the loop
// until the event it waits for, and uses PollProbe (or a second timer due no
// earlier) to show that something did not happen.
#include "webpush/event/timer.h"

#include <memory>
#include <stdexcept>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "event_test_support.h"

namespace webpush::event {
namespace {

using test::kNever;
using ::testing::ElementsAre;

class TimerTest : public test::LoopTest {};

TEST_F(TimerTest, FiresOnceOnTheLoopThread) {
  int fired = 0;
  bool in_callback = false;
  Timer timer(loop(), [&] {
    ++fired;
    in_callback = in_loop_callback();
  });
  EXPECT_FALSE(timer.armed());
  timer.arm(Duration(0));
  EXPECT_TRUE(timer.armed());
  EXPECT_EQ(fired, 0) << "arm() must not run the callback itself";

  ASSERT_TRUE(run_until([&] { return fired > 0; }));
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  ASSERT_TRUE(probe.poll_once());

  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(in_callback);
  EXPECT_FALSE(timer.armed());
}

TEST_F(TimerTest, InLoopCallbackOnlyInsideTheLoop) {
  EXPECT_FALSE(in_loop_callback());
  bool inside = false;
  bool fired = false;
  Timer timer(loop(), [&] {
    inside = in_loop_callback();
    fired = true;
  });
  timer.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired; }));
  EXPECT_TRUE(inside);
  EXPECT_FALSE(in_loop_callback());
}

TEST_F(TimerTest, IsNotArmedInsideItsOwnCallback) {
  bool armed_inside = true;
  bool fired = false;
  Timer* self = nullptr;
  Timer timer(loop(), [&] {
    armed_inside = self->armed();
    fired = true;
  });
  self = &timer;
  timer.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired; }));
  EXPECT_FALSE(armed_inside);
}

TEST_F(TimerTest, RearmingToSoonerReplacesALaterDeadline) {
  int fired = 0;
  Timer timer(loop(), [&] { ++fired; });
  timer.arm(kNever);
  timer.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired > 0; }));
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(timer.armed()) << "the replaced deadline must not stay scheduled";
}

TEST_F(TimerTest, RearmingToLaterReplacesASoonerDeadline) {
  int fired = 0;
  Timer timer(loop(), [&] { ++fired; });
  timer.arm(Duration(0));
  timer.arm(kNever);
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(fired, 0);
  EXPECT_TRUE(timer.armed());
}

TEST_F(TimerTest, CancelPreventsFiring) {
  int fired = 0;
  Timer timer(loop(), [&] { ++fired; });
  timer.arm(Duration(0));
  timer.cancel();
  EXPECT_FALSE(timer.armed());
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(fired, 0);
}

TEST_F(TimerTest, CancelOnAnIdleTimerIsANoOp) {
  int fired = 0;
  Timer timer(loop(), [&] { ++fired; });
  timer.cancel();
  timer.cancel();
  EXPECT_FALSE(timer.armed());
  timer.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired == 1; }));
}

TEST_F(TimerTest, CallbackMayRearmItself) {
  int fired = 0;
  Timer* self = nullptr;
  Timer timer(loop(), [&] {
    if (++fired < 3) self->arm(Duration(0));
  });
  self = &timer;
  timer.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired == 3; }));
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(fired, 3);
  EXPECT_FALSE(timer.armed());
}

TEST_F(TimerTest, CallbackMayCancelItsOwnRearm) {
  int fired = 0;
  Timer* self = nullptr;
  Timer timer(loop(), [&] {
    ++fired;
    self->arm(Duration(0));
    self->cancel();
  });
  self = &timer;
  timer.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired == 1; }));
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(fired, 1);
}

TEST_F(TimerTest, CallbackMayDestroyAnotherTimer) {
  int other_fired = 0;
  auto other = std::make_unique<Timer>(loop(), [&] { ++other_fired; });
  other->arm(kNever);
  bool fired = false;
  Timer timer(loop(), [&] {
    other.reset();
    fired = true;
  });
  timer.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired; }));
  EXPECT_EQ(other, nullptr);
  EXPECT_EQ(other_fired, 0);
}

TEST_F(TimerTest, DestroyingAnArmedTimerCancelsIt) {
  int fired = 0;
  auto timer = std::make_unique<Timer>(loop(), [&] { ++fired; });
  timer->arm(Duration(0));
  timer.reset();
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(fired, 0);
}

// Deadline order, not arming order: the timer armed first but due later fires
// last. (The later deadline is never reached on its own: it is moved to 0 once
// the first timer has fired, so the test does not depend on how fast it runs.)
TEST_F(TimerTest, TimersFireInDeadlineOrder) {
  std::vector<char> order;
  Timer late(loop(), [&] { order.push_back('L'); });
  Timer early(loop(), [&] { order.push_back('E'); });
  late.arm(kNever);
  early.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return !order.empty(); }));
  EXPECT_THAT(order, ElementsAre('E'));
  late.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return order.size() == 2; }));
  EXPECT_THAT(order, ElementsAre('E', 'L'));
}

// Timers due at the same time all fire, in an unspecified order (timer.h:
// libwebsockets runs the last one armed first).
TEST_F(TimerTest, TimersDueTogetherAllFire) {
  std::vector<int> order;
  Timer first(loop(), [&] { order.push_back(1); });
  Timer second(loop(), [&] { order.push_back(2); });
  Timer third(loop(), [&] { order.push_back(3); });
  first.arm(Duration(0));
  second.arm(Duration(0));
  third.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return order.size() == 3; }));
  EXPECT_THAT(order, ::testing::UnorderedElementsAre(1, 2, 3));
}

// run_until looks at done() after a turn that only ran timers: without that the
// loop would poll until the next deadline (an hour away here). A broken build
// hangs, and meson's test timeout ends it; a working one returns at once.
TEST_F(TimerTest, ACallbackMakingDoneTrueEndsTheTurn) {
  bool fired = false;
  Timer timer(loop(), [&] { fired = true; });
  Timer unrelated(loop(), [] {});
  unrelated.arm(kNever);
  timer.arm(Duration(0));
  EXPECT_TRUE(loop().run_until([&] { return fired; }, kNever));
}

TEST_F(TimerTest, AnExceptionFromTheCallbackDoesNotEscapeTheLoop) {
  bool threw = false;
  Timer timer(loop(), [&] {
    threw = true;
    throw std::runtime_error("thrown by a test timer");
  });
  bool after = false;
  Timer next(loop(), [&] { after = true; });
  timer.arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return threw; }));
  next.arm(Duration(0));
  EXPECT_TRUE(run_until([&] { return after; }));
}

// ---- BootTimer ----------------------------------------------------------------------

class BootTimerTest : public test::LoopTest {
 protected:
  std::unique_ptr<BootTimer> make(std::function<void()> callback) {
    auto t = BootTimer::create(loop(), std::move(callback));
    EXPECT_TRUE(t) << t.error();
    return t ? std::move(*t) : nullptr;
  }
};

TEST_F(BootTimerTest, FiresOnce) {
  int fired = 0;
  bool inside = false;
  auto timer = make([&] {
    ++fired;
    inside = in_loop_callback();
  });
  ASSERT_NE(timer, nullptr);
  timer->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired > 0; }));
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(inside);
}

TEST_F(BootTimerTest, RearmingToSoonerReplacesALaterDeadline) {
  int fired = 0;
  auto timer = make([&] { ++fired; });
  ASSERT_NE(timer, nullptr);
  timer->arm(kNever);
  timer->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired == 1; }));
}

// A boot timer's 0 ms is 1 ms (0 would disarm the timerfd), so "it did not fire"
// is shown with a second boot timer armed afterwards: it expires no earlier, and
// one poll() reports both descriptors when both are due.
TEST_F(BootTimerTest, RearmingToLaterReplacesASoonerDeadline) {
  int fired = 0;
  auto timer = make([&] { ++fired; });
  bool witness_fired = false;
  auto witness = make([&] { witness_fired = true; });
  ASSERT_NE(timer, nullptr);
  ASSERT_NE(witness, nullptr);
  timer->arm(Duration(0));
  timer->arm(kNever);
  witness->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return witness_fired; }));
  EXPECT_EQ(fired, 0);
}

TEST_F(BootTimerTest, CancelPreventsFiring) {
  int fired = 0;
  auto timer = make([&] { ++fired; });
  bool witness_fired = false;
  auto witness = make([&] { witness_fired = true; });
  ASSERT_NE(timer, nullptr);
  ASSERT_NE(witness, nullptr);
  timer->arm(Duration(0));
  timer->cancel();
  witness->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return witness_fired; }));
  EXPECT_EQ(fired, 0);
}

TEST_F(BootTimerTest, CallbackMayRearmItself) {
  int fired = 0;
  BootTimer* self = nullptr;
  auto timer = make([&] {
    if (++fired < 3) self->arm(Duration(0));
  });
  ASSERT_NE(timer, nullptr);
  self = timer.get();
  timer->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return fired == 3; }));
}

TEST_F(BootTimerTest, DestroyingAnArmedTimerCancelsIt) {
  int fired = 0;
  auto timer = make([&] { ++fired; });
  bool witness_fired = false;
  auto witness = make([&] { witness_fired = true; });
  ASSERT_NE(timer, nullptr);
  ASSERT_NE(witness, nullptr);
  timer->arm(Duration(0));
  timer.reset();
  witness->arm(Duration(0));
  ASSERT_TRUE(run_until([&] { return witness_fired; }));
  EXPECT_EQ(fired, 0);
}

}  // namespace
}  // namespace webpush::event
