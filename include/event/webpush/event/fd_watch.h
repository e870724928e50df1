// FdWatch: a file descriptor watched by the event loop (signalfd, timerfd,
// pidfd, netlink, pipes, sockets of other libraries). on_readable runs when it
// is readable; on_writable, once per want_writable(), when it can take data.
//
// The watch owns the descriptor: it is closed when the FdWatch goes away (or at
// once if create() fails). Destroying a watch from inside its own callback is
// allowed: the descriptor is detached at once and closed on a later turn. When
// the other end hangs up, on_readable runs a last time (read() returns what is
// left, then end-of-file) and the loop closes the descriptor: fd() is then -1.
//
// Thread: the loop thread only. The loop must outlive its watches.
#pragma once

#include <functional>
#include <memory>

#include "webpush/core/error.h"
#include "webpush/event/errc.h"
#include "webpush/event/loop.h"
#include "webpush/event/unique_fd.h"

struct lws;

namespace webpush::event {

class FdWatch {
 public:
  /// Errors: Errc::setup (the loop cannot adopt the descriptor).
  static Result<std::unique_ptr<FdWatch>> create(EventLoop& loop, UniqueFd fd, std::function<void()> on_readable,
                                                 std::function<void()> on_writable = nullptr);
  ~FdWatch();
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;

  /// The descriptor, or -1 once the loop closed it after a hang-up.
  [[nodiscard]] int fd() const noexcept { return fd_; }
  /// Asks for one on_writable call when the descriptor can take more data
  /// (also from inside on_writable, for the next round).
  void want_writable();

  // Called by the loop's raw-descriptor protocol; not for users.
  void dispatch_readable() noexcept;
  void dispatch_writable() noexcept;
  void hung_up() noexcept;

 private:
  FdWatch() = default;
  EventLoop* loop_ = nullptr;
  lws* wsi_ = nullptr;
  int fd_ = -1;
  bool in_writable_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // deferred work checks it
  std::function<void()> on_readable_;
  std::function<void()> on_writable_;
};

}  // namespace webpush::event
