// A Scheduler whose time is a FakeClock moved by hand: no real time anywhere.
//
//   - make_timer(): one-shot timers; a deadline is the timer's clock (monotonic
//     or boot) at arm() plus the delay. arm() replaces the deadline, cancel() and
//     destruction disarm it.
//   - defer(): work queued for "a later turn"; run_deferred() runs it.
//   - advance(d): first runs the deferred work (the current turn ends), then moves
//     the clock to each due deadline in turn, in deadline order (ties in arming
//     order), fires that timer and runs the work it deferred; finally moves the
//     clock to now + d. A timer armed by a callback fires in the same advance()
//     if its deadline falls inside it.
//   - suspend(d): the machine sleeps for d (only the boot and wall clocks move),
//     then resume() fires every timer whose deadline has passed: boot timers
//     whose boot deadline went by during the sleep, never monotonic ones.
//
// The scheduler must outlive its timers (as LoopScheduler must). Thread: the
// test thread only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "fake_clock.h"
#include "webpush/event/errc.h"
#include "webpush/event/scheduler.h"

namespace webpush::fakes {

class FakeScheduler final : public event::Scheduler {
 public:
  /// `clock` is borrowed and must outlive the scheduler.
  explicit FakeScheduler(FakeClock& clock) : clock_(&clock) {}
  FakeScheduler(const FakeScheduler&) = delete;
  FakeScheduler& operator=(const FakeScheduler&) = delete;

  Result<std::unique_ptr<event::ScheduledTimer>> make_timer(event::TimerClock clock,
                                                            std::function<void()> callback) override {
    if (fail_make_timer_) {
      fail_make_timer_ = false;
      return fail(event::Errc::setup, "fake: no timer");
    }
    const std::uint64_t id = next_id_++;
    timers_.emplace(id, Entry{clock, std::nullopt, 0, std::move(callback)});
    return std::unique_ptr<event::ScheduledTimer>(std::make_unique<Timer>(*this, id));
  }

  void defer(std::function<void()> work) override { deferred_.push_back(std::move(work)); }

  /// The next make_timer() fails with event::Errc::setup.
  void fail_next_make_timer() noexcept { fail_make_timer_ = true; }

  /// Runs the deferred work until none is left (work deferred meanwhile too).
  /// Returns how many items ran.
  int run_deferred() {
    int ran = 0;
    while (!deferred_.empty()) {
      std::vector<std::function<void()>> batch;
      batch.swap(deferred_);
      for (auto& work : batch) work();
      ran += static_cast<int>(batch.size());
    }
    return ran;
  }
  [[nodiscard]] std::size_t deferred() const noexcept { return deferred_.size(); }

  /// Time passes while awake: see the file comment.
  void advance(Duration d) {
    run_deferred();
    const Duration end = clock_->now().mono + d;
    while (auto id = next_due(end - clock_->now().mono)) {
      clock_->advance(std::max(remaining(timers_.at(*id)), Duration{0}));
      fire(*id);
    }
    clock_->advance(end - clock_->now().mono);
  }

  /// The machine sleeps for `d`, then resumes.
  void suspend(Duration d) {
    run_deferred();
    clock_->suspend(d);
    resume();
  }
  /// Fires, in deadline order, every timer already due at the clock's current
  /// time (after the test moved the clock itself, e.g. FakeClock::suspend).
  void resume() {
    run_deferred();
    while (auto id = next_due(Duration{0})) fire(*id);
  }

  /// Time until the earliest armed timer (of `which` clock only, if given); 0
  /// when one is overdue; nullopt when none is armed.
  [[nodiscard]] std::optional<Duration> next_deadline(std::optional<event::TimerClock> which = std::nullopt) const {
    std::optional<Duration> best;
    for (const auto& [id, e] : timers_) {
      if (!e.deadline || (which && e.clock != *which)) continue;
      const Duration r = std::max(remaining(e), Duration{0});
      if (!best || r < *best) best = r;
    }
    return best;
  }
  /// How many timers exist / are armed.
  [[nodiscard]] std::size_t timers() const noexcept { return timers_.size(); }
  [[nodiscard]] std::size_t armed() const {
    return static_cast<std::size_t>(
        std::count_if(timers_.begin(), timers_.end(), [](const auto& kv) { return kv.second.deadline.has_value(); }));
  }
  /// How many timer callbacks have run.
  [[nodiscard]] int fired() const noexcept { return fired_; }

 private:
  struct Entry {
    event::TimerClock clock;
    std::optional<Duration> deadline;  // on `clock`; nullopt while disarmed
    std::uint64_t seq;                 // arming order, breaks deadline ties
    std::function<void()> callback;
  };

  class Timer final : public event::ScheduledTimer {
   public:
    Timer(FakeScheduler& owner, std::uint64_t id) : owner_(&owner), id_(id) {}
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    ~Timer() override { owner_->timers_.erase(id_); }
    void arm(Duration delay) override {
      Entry& e = owner_->timers_.at(id_);
      e.deadline = owner_->reading(e.clock) + delay;
      e.seq = owner_->next_seq_++;
    }
    void cancel() override { owner_->timers_.at(id_).deadline.reset(); }

   private:
    FakeScheduler* owner_;
    std::uint64_t id_;
  };

  [[nodiscard]] Duration reading(event::TimerClock c) const {
    const Instant now = clock_->now();
    return c == event::TimerClock::boot ? now.boot : now.mono;
  }
  [[nodiscard]] Duration remaining(const Entry& e) const { return *e.deadline - reading(e.clock); }

  /// The armed timer with the earliest deadline no later than `horizon` from now.
  [[nodiscard]] std::optional<std::uint64_t> next_due(Duration horizon) const {
    std::optional<std::uint64_t> best;
    for (const auto& [id, e] : timers_) {
      if (!e.deadline || remaining(e) > horizon) continue;
      if (!best || earlier(e, timers_.at(*best))) best = id;
    }
    return best;
  }
  [[nodiscard]] bool earlier(const Entry& a, const Entry& b) const {
    const Duration ra = remaining(a);
    const Duration rb = remaining(b);
    return ra != rb ? ra < rb : a.seq < b.seq;
  }

  void fire(std::uint64_t id) {
    Entry& e = timers_.at(id);
    e.deadline.reset();  // one-shot; the callback may re-arm or destroy it
    auto callback = e.callback;
    ++fired_;
    callback();
    run_deferred();
  }

  FakeClock* clock_;
  std::map<std::uint64_t, Entry> timers_;
  std::vector<std::function<void()>> deferred_;
  std::uint64_t next_id_ = 1;
  std::uint64_t next_seq_ = 1;
  int fired_ = 0;
  bool fail_make_timer_ = false;
};

}  // namespace webpush::fakes
