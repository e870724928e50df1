// ChildReaper with real children (fork), on a real loop.
//
// A child here only calls async-signal-safe functions and leaves with _exit(), so
// gtest's state is never touched twice. Each child first unblocks every signal:
// SignalWatch tests in this program block SIGUSR1/SIGUSR2 for the whole process,
// and a fork() inherits that mask. Children that wait for a signal also call
// alarm(), so that a broken build leaves no process behind.
#include "webpush/event/child_reaper.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <optional>
#include <vector>

#include <gtest/gtest.h>

#include "event_test_support.h"
#include "webpush/event/timer.h"

namespace webpush::event {
namespace {

using test::Pipe;

constexpr unsigned kChildSafetySeconds = 60;

void unblock_all_signals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

/// Forks a child that runs `body` and exits with its result.
template <class Body>
pid_t spawn(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    unblock_all_signals();
    ::_exit(body());
  }
  EXPECT_GT(pid, 0) << "fork failed";
  return pid;
}

/// A child that waits (at most kChildSafetySeconds) for a signal.
pid_t spawn_waiting_child() {
  return spawn([] {
    ::alarm(kChildSafetySeconds);
    for (;;) ::pause();
    return 0;
  });
}

/// Kills and reaps a child a test left behind (after a failed assertion).
void cleanup(pid_t pid) {
  if (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
}

class ChildReaperTest : public test::LoopTest {
 protected:
  void SetUp() override {
    if (const auto ok = check_pidfd_support(); !ok) GTEST_SKIP() << ok.error();
    test::LoopTest::SetUp();
  }
};

TEST(CheckPidfdSupport, SucceedsOnThisKernel) {
  const auto ok = check_pidfd_support();
  if (!ok) {
    EXPECT_TRUE(ok.error().is(Errc::setup)) << ok.error();
    GTEST_SKIP() << ok.error();
  }
}

TEST_F(ChildReaperTest, ReportsTheExitStatusOfAChild) {
  ChildReaper reaper(loop());
  const pid_t pid = spawn([] { return 3; });
  std::optional<std::optional<int>> status;
  bool inside = false;
  ASSERT_TRUE(reaper.watch(pid, false, [&](std::optional<int> s) {
    status = s;
    inside = in_loop_callback();
  }));
  EXPECT_EQ(reaper.size(), 1u);
  ASSERT_TRUE(run_until([&] { return status.has_value(); }));
  ASSERT_TRUE(status->has_value()) << "the reaper reaped it, so it has its status";
  EXPECT_TRUE(WIFEXITED(**status));
  EXPECT_EQ(WEXITSTATUS(**status), 3);
  EXPECT_TRUE(inside);
  EXPECT_EQ(reaper.size(), 0u);
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1) << "already reaped";
}

TEST_F(ChildReaperTest, SignalReachesAWatchedChild) {
  ChildReaper reaper(loop());
  const pid_t pid = spawn_waiting_child();
  std::optional<int> status;
  bool exited = false;
  ASSERT_TRUE(reaper.watch(pid, false, [&](std::optional<int> s) {
    status = s;
    exited = true;
  }));
  reaper.signal(pid, SIGTERM);
  ASSERT_TRUE(run_until([&] { return exited; }));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGTERM);
}

// With `group`, signal() reaches the whole process group the child leads: here a
// grandchild too, which the test does not reap. It holds the write end of a pipe;
// the end of the stream (every writer gone) shows that it died.
TEST_F(ChildReaperTest, SignalReachesTheGroupOfAGroupLeader) {
  Pipe died = Pipe::make();
  const int write_end = died.write_end.get();
  Pipe ready = Pipe::make();
  const int ready_fd = ready.write_end.get();
  const pid_t pid = spawn([write_end, ready_fd] {
    ::setpgid(0, 0);
    const pid_t grandchild = ::fork();
    if (grandchild == 0) {
      ::alarm(kChildSafetySeconds);
      const char c = 'g';
      (void)::write(ready_fd, &c, 1);
      for (;;) ::pause();
    }
    ::close(write_end);
    ::alarm(kChildSafetySeconds);
    for (;;) ::pause();
    return 0;
  });
  ASSERT_GT(pid, 0);
  ::setpgid(pid, pid);  // also here: the group must exist before signal()
  died.write_end.reset();
  ready.write_end.reset();
  // Outside the loop a blocking wait is fine: the grandchild is in the group.
  ASSERT_EQ(::fcntl(ready.read_end.get(), F_SETFL, 0), 0);
  char c = 0;
  ASSERT_EQ(::read(ready.read_end.get(), &c, 1), 1);

  ChildReaper reaper(loop());
  std::optional<int> status;
  bool exited = false;
  ASSERT_TRUE(reaper.watch(pid, true, [&](std::optional<int> s) {
    status = s;
    exited = true;
  }));
  reaper.signal(pid, SIGTERM);
  ASSERT_TRUE(run_until([&] { return exited; }));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGTERM);

  ASSERT_EQ(::fcntl(died.read_end.get(), F_SETFL, 0), 0);
  EXPECT_EQ(::read(died.read_end.get(), &c, 1), 0) << "the grandchild got SIGTERM too";
}

TEST_F(ChildReaperTest, AChildReapedElsewhereIsReportedWithoutAStatus) {
  ChildReaper reaper(loop());
  const pid_t pid = spawn([] { return 0; });
  std::optional<std::optional<int>> status;
  ASSERT_TRUE(reaper.watch(pid, false, [&](std::optional<int> s) { status = s; }));
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  ASSERT_TRUE(run_until([&] { return status.has_value(); }));
  EXPECT_EQ(*status, std::nullopt);
}

TEST_F(ChildReaperTest, TheExitCallbackMayWatchANewChild) {
  ChildReaper reaper(loop());
  std::vector<int> codes;
  const pid_t first = spawn([] { return 4; });
  ASSERT_TRUE(reaper.watch(first, false, [&](std::optional<int> s) {
    codes.push_back(s ? WEXITSTATUS(*s) : -1);
    const pid_t second = spawn([] { return 5; });
    const auto watched =
        reaper.watch(second, false, [&](std::optional<int> s2) { codes.push_back(s2 ? WEXITSTATUS(*s2) : -1); });
    EXPECT_TRUE(watched) << watched.error();
  }));
  ASSERT_TRUE(run_until([&] { return codes.size() == 2; }));
  EXPECT_EQ(codes, (std::vector<int>{4, 5}));
  EXPECT_EQ(reaper.size(), 0u);
}

TEST_F(ChildReaperTest, SignalToAnUnknownPidDoesNothing) {
  ChildReaper reaper(loop());
  const pid_t pid = spawn_waiting_child();
  reaper.signal(pid, SIGKILL);  // not watched: not signalled
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), 0) << "still running";
  cleanup(pid);
}

TEST_F(ChildReaperTest, TerminateAllEndsChildrenThatExitOnSigterm) {
  ChildReaper reaper(loop());
  std::vector<int> signals;
  for (int i = 0; i < 2; ++i) {
    const pid_t pid = spawn_waiting_child();
    ASSERT_TRUE(reaper.watch(
        pid, false, [&](std::optional<int> s) { signals.push_back(s && WIFSIGNALED(*s) ? WTERMSIG(*s) : -1); }));
  }
  // The grace period only bounds the wait: both exit on SIGTERM at once.
  reaper.terminate_all(test::kLimit);
  EXPECT_EQ(signals, (std::vector<int>{SIGTERM, SIGTERM}));
  EXPECT_EQ(reaper.size(), 0u);
}

TEST_F(ChildReaperTest, TerminateAllKillsAChildThatIgnoresSigterm) {
  Pipe ready = Pipe::make();
  const int ready_fd = ready.write_end.get();
  const pid_t pid = spawn([ready_fd] {
    ::signal(SIGTERM, SIG_IGN);
    ::alarm(kChildSafetySeconds);
    const char c = 'r';
    (void)::write(ready_fd, &c, 1);
    for (;;) ::pause();
    return 0;
  });
  ASSERT_GT(pid, 0);
  ready.write_end.reset();
  ASSERT_EQ(::fcntl(ready.read_end.get(), F_SETFL, 0), 0);
  char c = 0;
  ASSERT_EQ(::read(ready.read_end.get(), &c, 1), 1) << "the child ignores SIGTERM from here on";

  ChildReaper reaper(loop());
  std::optional<int> status;
  bool exited = false;
  ASSERT_TRUE(reaper.watch(pid, false, [&](std::optional<int> s) {
    status = s;
    exited = true;
  }));
  reaper.terminate_all(Duration(50));  // it will not exit within any grace period
  ASSERT_TRUE(exited) << "terminate_all runs the callbacks before it returns";
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
  EXPECT_EQ(reaper.size(), 0u);
}

TEST_F(ChildReaperTest, TerminateAllWithoutChildrenReturnsAtOnce) {
  ChildReaper reaper(loop());
  reaper.terminate_all(test::kLimit);
  EXPECT_EQ(reaper.size(), 0u);
}

TEST_F(ChildReaperTest, DestroyingTheReaperLeavesChildrenAlone) {
  const pid_t pid = spawn_waiting_child();
  int calls = 0;
  {
    ChildReaper reaper(loop());
    ASSERT_TRUE(reaper.watch(pid, false, [&](std::optional<int>) { ++calls; }));
  }
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), 0) << "neither killed nor reaped";
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(calls, 0);
}

#ifndef NDEBUG
// terminate_all blocks: from a loop callback it aborts a debug build. Its child
// waits on a pipe that the dying test process holds, so that it ends too.
void terminate_all_in_a_callback() {
  auto loop = EventLoop::create();
  if (!loop) return;
  Pipe hold = Pipe::make();
  const int read_fd = hold.read_end.get();
  const int write_fd = hold.write_end.get();
  const pid_t pid = spawn([read_fd, write_fd] {
    ::close(write_fd);
    ::alarm(kChildSafetySeconds);
    ::fcntl(read_fd, F_SETFL, 0);
    char c;
    (void)::read(read_fd, &c, 1);
    return 0;
  });
  ChildReaper reaper(**loop);
  if (!reaper.watch(pid, false, nullptr)) return;
  Timer timer(**loop, [&] { reaper.terminate_all(Duration(0)); });
  timer.arm(Duration(0));
  (void)(*loop)->run_until([] { return false; }, test::kLimit);
}
#endif

TEST(ChildReaperDeathTest, TerminateAllAbortsInsideALoopCallbackInADebugBuild) {
#ifdef NDEBUG
  GTEST_SKIP() << "assert_may_block does nothing when NDEBUG is defined";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(terminate_all_in_a_callback(), "blocking call on the event loop thread: ChildReaper::terminate_all");
#endif
}

}  // namespace
}  // namespace webpush::event
