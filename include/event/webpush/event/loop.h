// event::EventLoop — the one event loop of a webpushd process.
//
// A libwebsockets context with explicit vhosts: the layers above add their own
// (transport's WebSocket client, the embedded service's listener) on the same
// context, so the user agent, the push service and the load tester can share
// one process and one thread. Besides sockets, the loop drives timers (Timer,
// BootTimer), adopted descriptors (FdWatch: signalfd, timerfd, pidfd, netlink,
// pipes, D-Bus) and deferred work (defer(), destroy_later()).
//
// Rules for everything built on it:
//  - every callback runs on the loop thread; nothing may block it — a function
//    that may block calls assert_may_block(), which aborts a debug build when it
//    is reached from inside a loop callback;
//  - an object is never destroyed from inside its own callback: hand it to
//    destroy_later(), which destroys it on a later turn of the loop;
//  - every object that lives on the loop is destroyed before the loop.
//
// Thread: the loop thread only (the thread that calls run()).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/event/errc.h"

struct lws_context;
struct lws_vhost;

namespace webpush::event {

struct LoopOptions {
  bool ipv6 = true;  ///< false: libwebsockets creates IPv4 sockets only
};

class EventLoop {
 public:
  /// Creates the libwebsockets context and the vhost for adopted descriptors.
  /// Errors: Errc::setup.
  static Result<std::unique_ptr<EventLoop>> create(const LoopOptions& options = {});
  /// Runs what is still deferred, then destroys the context (and every vhost).
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// Runs until stop(). Errors: Errc::io when libwebsockets' service fails.
  Result<void> run();
  /// Makes run() return after the current turn.
  void stop();
  /// Runs turns until `done()` holds or `limit` has passed; returns done().
  /// The limit is a deadline for a broken build, not a timing assertion: tests
  /// wait with it for events instead of sleeping. done() is looked at after
  /// every turn, including turns that only ran timers or deferred work.
  bool run_until(const std::function<bool()>& done, Duration limit);
  [[nodiscard]] bool stopping() const noexcept { return stopping_; }

  /// Runs `work` on a later turn of the loop, after the current callback has
  /// returned; deferred work runs in the order it was deferred.
  void defer(std::function<void()> work);
  /// Destroys `object` on a later turn (for an object whose callback is running).
  template <class T>
  void destroy_later(std::unique_ptr<T> object) {
    if (object) defer([held = std::shared_ptr<T>(std::move(object))] {});
  }
  /// Work deferred and not yet run.
  [[nodiscard]] std::size_t deferred_pending() const noexcept { return deferred_.size(); }

  [[nodiscard]] lws_context* context() const noexcept { return context_; }
  /// Called by the layer's timers after their callback: inside run_until, ends
  /// the turn at once (libwebsockets runs timers before it polls, so a condition
  /// a timer made true would otherwise wait for the next event).
  void after_timer() noexcept;
  /// The vhost that adopted descriptors (FdWatch) belong to.
  [[nodiscard]] lws_vhost* raw_vhost() const noexcept { return raw_vhost_; }

 private:
  EventLoop() = default;
  void schedule_deferred();
  void run_deferred() noexcept;

  struct DeferTimer;
  lws_context* context_ = nullptr;
  lws_vhost* raw_vhost_ = nullptr;
  std::unique_ptr<DeferTimer> defer_timer_;
  std::vector<std::function<void()>> deferred_;
  bool stopping_ = false;
  bool wake_after_timers_ = false;
};

/// True while the calling thread is inside a callback of a running EventLoop.
[[nodiscard]] bool in_loop_callback() noexcept;

/// Declares that the caller may block (DNS, a blocking wait, a sleep). In a debug
/// build, reaching it from inside a loop callback aborts with `what` on stderr;
/// a release build does nothing.
void assert_may_block(const char* what) noexcept;

}  // namespace webpush::event
