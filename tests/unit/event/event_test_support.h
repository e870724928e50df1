// Shared by the event layer's unit tests: a fixture with a real EventLoop, the
// deadline every run_until gets, and PollProbe, which proves that the loop has
// polled (so that "X did not happen" can be asserted without sleeping).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>

#include <gtest/gtest.h>

#include "webpush/event/fd_watch.h"
#include "webpush/event/loop.h"
#include "webpush/event/unique_fd.h"

namespace webpush::event::test {

/// The limit of every run_until: a deadline for a broken build, never a timing
/// assertion (a passing test returns as soon as its event has happened).
inline constexpr Duration kLimit{30'000};

/// A delay no test waits for: a timer armed with it must not fire during a test.
inline constexpr Duration kNever{3'600'000};

/// True while `fd` names an open descriptor of this process.
inline bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

/// A pipe, both ends owned. Non-blocking and close-on-exec.
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;

  static Pipe make() {
    int fds[2] = {-1, -1};
    EXPECT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  }
};

/// Writes one byte to `fd`; false if it could not.
inline bool write_byte(int fd, char byte = 'x') { return ::write(fd, &byte, 1) == 1; }

/// Proves that the loop has polled at least once since the call: poll_once()
/// makes the probe's pipe readable and runs turns until the probe's callback has
/// seen it. libwebsockets runs every due timer before it polls and dispatches
/// every descriptor that one poll() reported ready in the same turn, so after
/// poll_once() a timer that was due (delay 0) and a descriptor that was ready
/// when it was called have had their callbacks.
class PollProbe {
 public:
  explicit PollProbe(EventLoop& loop) : loop_(&loop) {
    Pipe p = Pipe::make();
    read_fd_ = p.read_end.get();
    write_end_ = std::move(p.write_end);
    auto watch = FdWatch::create(loop, std::move(p.read_end), [this] {
      char buf[64];
      while (::read(read_fd_, buf, sizeof buf) > 0) {
      }
      ++seen_;
    });
    EXPECT_TRUE(watch) << watch.error();
    if (watch) watch_ = std::move(*watch);
  }

  [[nodiscard]] bool poll_once() {
    const std::uint64_t target = seen_ + 1;
    if (!write_byte(write_end_.get())) return false;
    return loop_->run_until([&] { return seen_ >= target; }, kLimit);
  }

 private:
  EventLoop* loop_;
  int read_fd_ = -1;
  UniqueFd write_end_;
  std::unique_ptr<FdWatch> watch_;
  std::uint64_t seen_ = 0;
};

/// A test with a real loop, created before and destroyed after each test.
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = EventLoop::create();
    ASSERT_TRUE(created) << created.error();
    loop_ = std::move(*created);
  }

  [[nodiscard]] EventLoop& loop() { return *loop_; }

  /// Runs turns until `done` holds; false if the limit passed first.
  [[nodiscard]] bool run_until(const std::function<bool()>& done) { return loop_->run_until(done, kLimit); }

  std::unique_ptr<EventLoop> loop_;
};

}  // namespace webpush::event::test
