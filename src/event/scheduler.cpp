#include "webpush/event/scheduler.h"

#include "webpush/event/timer.h"

namespace webpush::event {

namespace {

class MonotonicTimer final : public ScheduledTimer {
 public:
  MonotonicTimer(EventLoop& loop, std::function<void()> callback) : timer_(loop, std::move(callback)) {}
  void arm(Duration delay) override { timer_.arm(delay); }
  void cancel() override { timer_.cancel(); }

 private:
  Timer timer_;
};

class BootClockTimer final : public ScheduledTimer {
 public:
  explicit BootClockTimer(std::unique_ptr<BootTimer> timer) : timer_(std::move(timer)) {}
  void arm(Duration delay) override { timer_->arm(delay); }
  void cancel() override { timer_->cancel(); }

 private:
  std::unique_ptr<BootTimer> timer_;
};

}  // namespace

Result<std::unique_ptr<ScheduledTimer>> LoopScheduler::make_timer(TimerClock clock, std::function<void()> callback) {
  if (clock == TimerClock::monotonic) {
    return std::unique_ptr<ScheduledTimer>(std::make_unique<MonotonicTimer>(*loop_, std::move(callback)));
  }
  auto boot = BootTimer::create(*loop_, std::move(callback));
  if (!boot) return tl::unexpected(boot.error());
  return std::unique_ptr<ScheduledTimer>(std::make_unique<BootClockTimer>(std::move(*boot)));
}

void LoopScheduler::defer(std::function<void()> work) { loop_->defer(std::move(work)); }

}  // namespace webpush::event
