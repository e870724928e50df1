// SignalWatch on a real loop, with SIGUSR1 and SIGUSR2.
//
// SignalWatch::create blocks its signals with pthread_sigmask and never unblocks
// them (the watch may be recreated; nothing else may see them). In this test
// program that means: once a test has created a watch, SIGUSR1/SIGUSR2 stay
// blocked for the rest of the process, a signal raised without a watch stays
// pending until the next watch reads it, and children forked later inherit the
// mask (child_reaper_test's children reset it). Every test here consumes the
// signals it raises.
#include "webpush/event/signal_watch.h"

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "event_test_support.h"

namespace webpush::event {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

class SignalWatchTest : public test::LoopTest {
 protected:
  std::unique_ptr<SignalWatch> watch(std::initializer_list<int> signals) {
    auto w = SignalWatch::create(loop(), signals, [this](int signo) {
      received_.push_back(signo);
      inside_ = in_loop_callback();
    });
    EXPECT_TRUE(w) << w.error();
    return w ? std::move(*w) : nullptr;
  }

  std::vector<int> received_;
  bool inside_ = false;
};

TEST_F(SignalWatchTest, DeliversARaisedSignal) {
  auto w = watch({SIGUSR1});
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(::raise(SIGUSR1), 0);
  ASSERT_TRUE(run_until([&] { return !received_.empty(); }));
  EXPECT_THAT(received_, ElementsAre(SIGUSR1));
  EXPECT_TRUE(inside_);
}

TEST_F(SignalWatchTest, DeliversASignalSentToTheProcess) {
  auto w = watch({SIGUSR2});
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  ASSERT_TRUE(run_until([&] { return !received_.empty(); }));
  EXPECT_THAT(received_, ElementsAre(SIGUSR2));
}

TEST_F(SignalWatchTest, DeliversEachWatchedSignal) {
  auto w = watch({SIGUSR1, SIGUSR2});
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(::raise(SIGUSR2), 0);
  ASSERT_EQ(::raise(SIGUSR1), 0);
  ASSERT_TRUE(run_until([&] { return received_.size() == 2; }));
  EXPECT_THAT(received_, UnorderedElementsAre(SIGUSR1, SIGUSR2));
}

// Standard signals do not queue: a handler must not count them.
TEST_F(SignalWatchTest, ASignalRaisedTwiceBeforeTheLoopRunsIsDeliveredOnce) {
  auto w = watch({SIGUSR1});
  ASSERT_NE(w, nullptr);
  ASSERT_EQ(::raise(SIGUSR1), 0);
  ASSERT_EQ(::raise(SIGUSR1), 0);
  ASSERT_TRUE(run_until([&] { return !received_.empty(); }));
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_THAT(received_, ElementsAre(SIGUSR1));
}

TEST_F(SignalWatchTest, BlocksItsSignalsAndIgnoresSigpipe) {
  auto w = watch({SIGUSR1});
  ASSERT_NE(w, nullptr);
  sigset_t mask;
  sigemptyset(&mask);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, nullptr, &mask), 0);
  EXPECT_EQ(sigismember(&mask, SIGUSR1), 1);
  struct sigaction action {};
  ASSERT_EQ(::sigaction(SIGPIPE, nullptr, &action), 0);
  EXPECT_EQ(action.sa_handler, SIG_IGN);
}

TEST_F(SignalWatchTest, ASignalRaisedBeforeTheWatchExistsIsDeliveredOnceItDoes) {
  // The first watch blocked SIGUSR2; with the watch gone the signal stays pending.
  { ASSERT_NE(watch({SIGUSR2}), nullptr); }
  ASSERT_EQ(::raise(SIGUSR2), 0);
  auto w = watch({SIGUSR2});
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(run_until([&] { return !received_.empty(); }));
  EXPECT_THAT(received_, ElementsAre(SIGUSR2));
}

}  // namespace
}  // namespace webpush::event
