// ChildReaper: child processes reaped through the loop — a pidfd per child,
// watched with FdWatch, reaped with waitpid(WNOHANG) when it becomes readable.
// No SIGCHLD handler, and a pid is never signalled after it was reaped (so a
// reused pid is never hit).
//
// Thread: the loop thread only.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/event/errc.h"
#include "webpush/event/loop.h"

namespace webpush::event {

/// Whether the kernel has pidfd_open (Linux 5.3). Errors: Errc::setup.
Result<void> check_pidfd_support();

class ChildReaper {
 public:
  /// The waitpid() status, or nullopt when someone else reaped the child.
  using ExitCallback = std::function<void(std::optional<int> wait_status)>;

  explicit ChildReaper(EventLoop& loop);
  /// Stops watching. Children still running are left alone (not killed, not
  /// reaped); use terminate_all() first where that matters.
  ~ChildReaper();
  ChildReaper(const ChildReaper&) = delete;
  ChildReaper& operator=(const ChildReaper&) = delete;

  /// Watches `pid`, a child of this process not yet reaped. `on_exit` runs once,
  /// on the loop thread, after the child has been reaped. `group`: the child leads
  /// its own process group, and signal() reaches the whole group.
  /// Errors: Errc::io (no pidfd); the child is then killed and reaped at once.
  Result<void> watch(pid_t pid, bool group, ExitCallback on_exit);

  /// Sends `signo` to a watched child (its group when it leads one).
  void signal(pid_t pid, int signo) const;

  /// Blocking, for shutdown only (never from a loop callback): SIGTERM to every
  /// child, up to `grace` for them to exit, SIGKILL to the rest, then reaps them
  /// all and runs their callbacks.
  void terminate_all(Duration grace);

  [[nodiscard]] std::size_t size() const noexcept { return children_.size(); }

 private:
  struct Child;
  void on_readable(pid_t pid);

  EventLoop* loop_;
  std::map<pid_t, std::unique_ptr<Child>> children_;
};

}  // namespace webpush::event
