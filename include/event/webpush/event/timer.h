// Timers on the event loop.
//
//  - Timer: one-shot, on the monotonic clock (a libwebsockets sul). It misses
//    time spent in suspend.
//  - BootTimer: one-shot, on CLOCK_BOOTTIME (a timerfd): a deadline that passed
//    while the machine slept fires at once after the resume.
//
// Timers due at the same instant fire in an unspecified order (libwebsockets
// runs the last one armed first); code that needs an order arms one timer.
// Re-arming replaces the previous deadline; cancel() on an idle timer is a no-op;
// destroying a timer cancels it. A callback may re-arm, cancel or destroy other
// timers; it may re-arm or cancel its own timer but not destroy it (use
// EventLoop::destroy_later for its owner).
//
// Thread: the loop thread only. The loop must outlive its timers.
#pragma once

#include <functional>
#include <memory>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/event/errc.h"
#include "webpush/event/loop.h"

namespace webpush::event {

class FdWatch;

class Timer {
 public:
  Timer(EventLoop& loop, std::function<void()> callback);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void arm(Duration delay);
  void cancel();
  [[nodiscard]] bool armed() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class BootTimer {
 public:
  /// Errors: Errc::setup (no timerfd on CLOCK_BOOTTIME).
  static Result<std::unique_ptr<BootTimer>> create(EventLoop& loop, std::function<void()> callback);
  ~BootTimer();
  BootTimer(const BootTimer&) = delete;
  BootTimer& operator=(const BootTimer&) = delete;

  void arm(Duration delay);
  void cancel();

 private:
  BootTimer() = default;
  void on_readable();

  int fd_ = -1;  // owned by watch_
  std::unique_ptr<FdWatch> watch_;
  std::function<void()> callback_;
};

}  // namespace webpush::event
