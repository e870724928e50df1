// The seam between logic that needs time and the loop that provides it.
// Scheduler hands out one-shot timers and runs deferred work; LoopScheduler is
// the real one (Timer, BootTimer, EventLoop::defer), tests/fakes/fake_scheduler.h
// moves time by hand, so a unit test never sleeps.
//
// Thread: the loop thread only.
#pragma once

#include <functional>
#include <memory>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/event/loop.h"

namespace webpush::event {

/// A one-shot timer. Re-arming replaces the deadline; destroying cancels it.
class ScheduledTimer {
 public:
  virtual ~ScheduledTimer() = default;
  virtual void arm(Duration delay) = 0;
  virtual void cancel() = 0;
};

/// Which clock a timer's deadline runs on.
enum class TimerClock {
  monotonic,  ///< stops while the machine is suspended
  boot,       ///< counts through suspend: a deadline passed in sleep fires at resume
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  /// A timer whose callback runs on the loop thread. Errors: Errc::setup.
  virtual Result<std::unique_ptr<ScheduledTimer>> make_timer(TimerClock clock, std::function<void()> callback) = 0;
  /// Runs `work` on a later turn, after the current callback has returned.
  virtual void defer(std::function<void()> work) = 0;
};

/// The real scheduler on an EventLoop (borrowed; must outlive it and its timers).
class LoopScheduler final : public Scheduler {
 public:
  explicit LoopScheduler(EventLoop& loop) : loop_(&loop) {}
  Result<std::unique_ptr<ScheduledTimer>> make_timer(TimerClock clock, std::function<void()> callback) override;
  void defer(std::function<void()> work) override;

 private:
  EventLoop* loop_;
};

}  // namespace webpush::event
