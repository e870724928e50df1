// FdWatch on pipes, on a real loop, and UniqueFd.
#include "webpush/event/fd_watch.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "event_test_support.h"
#include "webpush/event/unique_fd.h"

namespace webpush::event {
namespace {

using test::fd_is_open;
using test::Pipe;
using test::write_byte;

class FdWatchTest : public test::LoopTest {
 protected:
  std::unique_ptr<FdWatch> watch(UniqueFd fd, std::function<void()> on_readable,
                                 std::function<void()> on_writable = nullptr) {
    auto w = FdWatch::create(loop(), std::move(fd), std::move(on_readable), std::move(on_writable));
    EXPECT_TRUE(w) << w.error();
    return w ? std::move(*w) : nullptr;
  }
};

TEST_F(FdWatchTest, ReadableWhenWritten) {
  Pipe p = Pipe::make();
  const int fd = p.read_end.get();
  std::string got;
  bool inside = false;
  auto w = watch(std::move(p.read_end), [&] {
    inside = in_loop_callback();
    char buf[16];
    const auto n = ::read(fd, buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
  });
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->fd(), fd);

  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(got, "") << "an empty pipe is not readable";

  ASSERT_TRUE(write_byte(p.write_end.get(), 'a'));
  ASSERT_TRUE(run_until([&] { return got == "a"; }));
  EXPECT_TRUE(inside);
  ASSERT_TRUE(write_byte(p.write_end.get(), 'b'));
  ASSERT_TRUE(run_until([&] { return got == "ab"; }));
}

TEST_F(FdWatchTest, ReadableIsLevelTriggered) {
  // A callback that leaves data behind is called again on the next turns.
  Pipe p = Pipe::make();
  const int fd = p.read_end.get();
  int calls = 0;
  auto w = watch(std::move(p.read_end), [&] {
    if (++calls == 3) {
      char c;
      (void)::read(fd, &c, 1);
    }
  });
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(write_byte(p.write_end.get()));
  ASSERT_TRUE(run_until([&] { return calls == 3; }));
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(calls, 3) << "drained: no more calls";
}

TEST_F(FdWatchTest, WritableOncePerWantWritable) {
  Pipe p = Pipe::make();
  int writable = 0;
  int readable = 0;
  auto w = watch(
      std::move(p.write_end), [&] { ++readable; }, [&] { ++writable; });
  ASSERT_NE(w, nullptr);
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(writable, 0) << "no on_writable without want_writable()";

  w->want_writable();
  ASSERT_TRUE(run_until([&] { return writable == 1; }));
  ASSERT_TRUE(probe.poll_once());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(writable, 1) << "the pipe stays writable, but one want_writable() is one call";

  w->want_writable();
  w->want_writable();
  ASSERT_TRUE(run_until([&] { return writable == 2; }));
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(writable, 2) << "asking twice before the call is still one call";
  EXPECT_EQ(readable, 0);
}

// A writer that fills the descriptor asks for the next call from on_writable
// (daemon/control.cpp does, when send() says EAGAIN). libwebsockets' raw-file
// role clears POLLOUT after that callback returns, so FdWatch asks again on a
// later turn.
TEST_F(FdWatchTest, WantWritableFromTheWritableCallback) {
  Pipe p = Pipe::make();
  int writable = 0;
  FdWatch* self = nullptr;
  auto w = watch(
      std::move(p.write_end), [] {},
      [&] {
        if (++writable < 3) self->want_writable();
      });
  ASSERT_NE(w, nullptr);
  self = w.get();
  w->want_writable();
  EXPECT_TRUE(run_until([&] { return writable == 3; })) << "writable callbacks: " << writable;
}

// The descriptor is closed asynchronously: it is still open right after the watch
// is destroyed, and closed on the loop's next turn (libwebsockets kills the
// connection from a 0-second timeout, which runs before the next poll). That
// close is lws-internal work, not a timer of this layer: it does not end the
// turn, so run_until would not look at done() again until some other event.
// PollProbe provides that event. Nothing may open a descriptor in between, or it
// could take the number: the probe is made first.
TEST_F(FdWatchTest, DestroyingTheWatchClosesTheDescriptorOnTheNextTurn) {
  Pipe p = Pipe::make();
  const int fd = p.read_end.get();
  auto w = watch(std::move(p.read_end), [] {});
  ASSERT_NE(w, nullptr);
  test::PollProbe probe(loop());
  EXPECT_TRUE(fd_is_open(fd));
  w.reset();
  EXPECT_TRUE(fd_is_open(fd)) << "closed at once: the contract says asynchronously";
  ASSERT_TRUE(probe.poll_once());
  EXPECT_FALSE(fd_is_open(fd));
}

TEST_F(FdWatchTest, NoCallbackAfterTheWatchIsDestroyed) {
  Pipe p = Pipe::make();
  int calls = 0;
  auto w = watch(
      std::move(p.read_end), [&] { ++calls; }, [&] { ++calls; });
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(write_byte(p.write_end.get()));  // readable now
  w->want_writable();
  w.reset();
  test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_EQ(calls, 0);
}

TEST_F(FdWatchTest, DestroyingTheWatchInsideItsOwnCallbackIsSafe) {
  Pipe p = Pipe::make();
  const int fd = p.read_end.get();
  int calls = 0;
  std::unique_ptr<FdWatch> w;
  w = watch(std::move(p.read_end), [&] {
    ++calls;
    w.reset();  // data left unread: a live watch would be called again
  });
  ASSERT_NE(w, nullptr);
  test::PollProbe probe(loop());
  ASSERT_TRUE(write_byte(p.write_end.get()));
  ASSERT_TRUE(run_until([&] { return calls == 1; }));
  EXPECT_EQ(w, nullptr);
  EXPECT_TRUE(fd_is_open(fd)) << "detached at once, closed on a later turn";
  ASSERT_TRUE(probe.poll_once());
  EXPECT_FALSE(fd_is_open(fd));
  EXPECT_EQ(calls, 1);
}

TEST_F(FdWatchTest, CreateWithAnInvalidDescriptorFails) {
  auto w = FdWatch::create(loop(), UniqueFd(), [] {});
  ASSERT_FALSE(w);
  EXPECT_TRUE(w.error().is(Errc::setup)) << w.error();
  EXPECT_EQ(w.error().message(), "cannot watch descriptor -1");
}

// fd_watch.h: the descriptor is closed "at once if create() fails" (lws 4.1
// leaves a raw file open when its adoption fails, so FdWatch closes it). Here
// the adoption fails because the descriptor's number is beyond the loop's table
// (sized by RLIMIT_NOFILE when the loop was created).
TEST(FdWatchCreate, AFailedCreateClosesTheDescriptor) {
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  ASSERT_GE(original.rlim_cur, 200u);
  rlimit low = original;
  low.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  auto loop = EventLoop::create();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &original), 0);
  ASSERT_TRUE(loop) << loop.error();

  Pipe p = Pipe::make();
  const int high = ::fcntl(p.read_end.get(), F_DUPFD_CLOEXEC, 150);
  ASSERT_GE(high, 150);
  auto w = FdWatch::create(**loop, UniqueFd(high), [] {});
  ASSERT_FALSE(w);
  EXPECT_TRUE(w.error().is(Errc::setup)) << w.error();
  EXPECT_FALSE(fd_is_open(high)) << "leaked until the loop is destroyed";
}

// fd_watch.h: when the other end hangs up, on_readable runs a last time and
// read() sees end-of-file (the kernel reports POLLHUP without POLLIN for a
// drained pipe whose writer closed, and libwebsockets then closes the wsi);
// afterwards fd() is -1, never a closed, reusable number.
TEST_F(FdWatchTest, ReadableWhenTheWriterHasGone) {
  Pipe p = Pipe::make();
  const int fd = p.read_end.get();
  bool eof = false;
  auto w = watch(std::move(p.read_end), [&] {
    char c;
    if (::read(fd, &c, 1) == 0) eof = true;
  });
  ASSERT_NE(w, nullptr);
  p.write_end.reset();
  EXPECT_TRUE(run_until([&] { return eof; }));
  EXPECT_EQ(w->fd(), -1);
}

// ---- UniqueFd -----------------------------------------------------------------------

int open_fd() {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  return fd;
}

TEST(UniqueFd, DefaultHoldsNothing) {
  const UniqueFd fd;
  EXPECT_FALSE(fd.valid());
  EXPECT_EQ(fd.get(), -1);
}

TEST(UniqueFd, ClosesWhenDestroyed) {
  const int raw = open_fd();
  {
    const UniqueFd fd(raw);
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(fd.get(), raw);
  }
  EXPECT_FALSE(fd_is_open(raw));
}

TEST(UniqueFd, MoveConstructionTransfersOwnership) {
  const int raw = open_fd();
  UniqueFd from(raw);
  {
    const UniqueFd to(std::move(from));
    EXPECT_EQ(to.get(), raw);
    EXPECT_FALSE(from.valid());  // NOLINT(bugprone-use-after-move): moved-from is specified
    EXPECT_TRUE(fd_is_open(raw));
  }
  EXPECT_FALSE(fd_is_open(raw));
}

TEST(UniqueFd, MoveAssignmentClosesWhatTheTargetHeld) {
  const int a = open_fd();
  const int b = open_fd();
  UniqueFd target(a);
  UniqueFd source(b);
  target = std::move(source);
  EXPECT_FALSE(fd_is_open(a));
  EXPECT_EQ(target.get(), b);
  EXPECT_FALSE(source.valid());  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(fd_is_open(b));
}

TEST(UniqueFd, SelfMoveAssignmentKeepsTheDescriptor) {
  const int raw = open_fd();
  UniqueFd fd(raw);
  UniqueFd& alias = fd;
  fd = std::move(alias);
  EXPECT_EQ(fd.get(), raw);
  EXPECT_TRUE(fd_is_open(raw));
}

TEST(UniqueFd, ResetClosesAndHoldsTheNewDescriptor) {
  const int a = open_fd();
  const int b = open_fd();
  UniqueFd fd(a);
  fd.reset(b);
  EXPECT_FALSE(fd_is_open(a));
  EXPECT_EQ(fd.get(), b);
  fd.reset();
  EXPECT_FALSE(fd_is_open(b));
  EXPECT_FALSE(fd.valid());
  fd.reset();  // nothing held: nothing closed
  EXPECT_FALSE(fd.valid());
}

TEST(UniqueFd, ResetToTheSameDescriptorKeepsItOpen) {
  const int raw = open_fd();
  UniqueFd fd(raw);
  fd.reset(raw);
  EXPECT_EQ(fd.get(), raw);
  EXPECT_TRUE(fd_is_open(raw));
}

TEST(UniqueFd, ReleaseGivesUpWithoutClosing) {
  const int raw = open_fd();
  int released = -1;
  {
    UniqueFd fd(raw);
    released = fd.release();
    EXPECT_FALSE(fd.valid());
  }
  EXPECT_EQ(released, raw);
  EXPECT_TRUE(fd_is_open(raw));
  ::close(raw);
}

}  // namespace
}  // namespace webpush::event
