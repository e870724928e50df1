// Internal helpers of the sinks layer: the "sinks" logger, starting commands
// without a shell, and reaping children through the event loop.
//
// Thread: the loop thread only.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/transport/event_loop.h"

namespace webpush::sinks::detail {

/// The spdlog logger "sinks", looked up by name on each call (created from the
/// default logger when nobody registered one), so a later registration wins.
spdlog::logger& log();

struct SpawnSpec {
  std::vector<std::string> argv;   ///< argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env;    ///< "KEY=VALUE", added to the inherited environment, replacing the same keys
  int stdin_fd = -1;               ///< borrowed, dup'ed onto the child's stdin; -1 for /dev/null
  bool new_process_group = false;  ///< the child leads a new process group (so a group can be signalled)
};

/// Starts argv directly (posix_spawnp: no shell, no expansion). The child gets
/// an empty signal mask and default dispositions (the daemon blocks SIGTERM,
/// SIGINT and SIGHUP for its signalfd and ignores SIGPIPE; a child must not
/// inherit either), our stderr as its stdout too (our stdout may be the
/// JSON-lines stream), and no other descriptor. Never waits for the child.
/// Errors: io naming the program.
Result<pid_t> spawn(const SpawnSpec& spec);

/// Whether the kernel has pidfd_open (Linux 5.3). Errors: unavailable.
Result<void> check_pidfd_support();

/// Children reaped through the loop: a pidfd per child, watched with FdWatch,
/// reaped with waitpid(WNOHANG) when it becomes readable.
class ChildReaper {
 public:
  /// The waitpid() status, or nullopt when someone else reaped the child.
  using ExitCallback = std::function<void(std::optional<int> wait_status)>;

  explicit ChildReaper(transport::EventLoop& loop);
  /// Stops watching. Children still running are left alone (not killed, not
  /// reaped); use terminate_all() first where that matters.
  ~ChildReaper();
  ChildReaper(const ChildReaper&) = delete;
  ChildReaper& operator=(const ChildReaper&) = delete;

  /// Watches `pid`, a child of this process not yet reaped. `on_exit` runs once,
  /// on the loop thread, after the child has been reaped. `group`: the child leads
  /// its own process group, and signal() reaches the whole group.
  /// Errors: io (no pidfd); the child is then killed and reaped at once.
  Result<void> watch(pid_t pid, bool group, ExitCallback on_exit);

  /// Sends `signo` to a watched child (its group when it leads one). Only ever
  /// reaches our own unreaped child: its pid cannot have been reused.
  void signal(pid_t pid, int signo) const;

  /// Blocking, for shutdown: SIGTERM to every child, up to `grace` for them to
  /// exit, SIGKILL to the rest, then reaps them all and runs their callbacks.
  void terminate_all(Duration grace);

  [[nodiscard]] std::size_t size() const noexcept { return children_.size(); }

 private:
  struct Child;
  void on_readable(pid_t pid);

  transport::EventLoop* loop_;
  std::map<pid_t, std::unique_ptr<Child>> children_;
  // A watch is never destroyed inside its own callback (that would free the lws
  // wsi lws is servicing); finished ones wait here for gc_, a zero-delay timer.
  std::vector<std::unique_ptr<Child>> graveyard_;
  transport::Timer gc_;
};

}  // namespace webpush::sinks::detail
