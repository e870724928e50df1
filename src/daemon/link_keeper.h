// daemon::Graveyard and daemon::WakeupTimer — the connection keeping that the
// autopush Agent and the FCM link share, so that each keeps only the handling
// of its own session's actions:
//
//   - Graveyard: connections being retired linger until their own deadline,
//     then a monotonic "reaper" timer destroys them. A connection is often
//     retired inside one of its own callbacks, where it must not be destroyed.
//   - WakeupTimer: the session's next_wakeup(), armed on the boot clock, which
//     counts through a suspend (a keepalive due during the sleep fires on resume).
//
// Thread: the loop thread only. The clock and scheduler are borrowed and must
// outlive these objects.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/event/scheduler.h"

namespace webpush::daemon {

/// Closed connections kept until their linger time has passed (Conn:
/// transport::Connection or transport::StreamConnection).
template <class Conn>
class Graveyard {
 public:
  /// `clock` gives the monotonic time the deadlines are on.
  explicit Graveyard(const Clock& clock) : clock_(&clock) {}
  Graveyard(const Graveyard&) = delete;  // the reaper's callback holds `this`
  Graveyard& operator=(const Graveyard&) = delete;

  /// Makes the reaper timer; until then buried connections stay until the
  /// Graveyard goes. Errors: event::Errc::setup (no timer).
  Result<void> start(event::Scheduler& scheduler) {
    auto reaper = scheduler.make_timer(event::TimerClock::monotonic, [this] { reap(); });
    if (!reaper) return tl::unexpected(reaper.error());
    reaper_ = std::move(*reaper);
    return {};
  }

  /// Takes `conn` (closed) and destroys it `linger` from now, from the reaper:
  /// with a linger of 0, once the current callback has returned.
  void bury(std::unique_ptr<Conn> conn, Duration linger) {
    const Duration now = clock_->now().mono;
    graves_.push_back(Grave{std::move(conn), now + linger});
    rearm(now);
  }

 private:
  struct Grave {
    std::unique_ptr<Conn> conn;
    Duration until;  // monotonic: destroyed then, after what it had queued had time to go out
  };

  void reap() {
    // Each connection lingers its own time: a close frame gets its 2 s even if a
    // later connection ends sooner.
    const Duration now = clock_->now().mono;
    std::erase_if(graves_, [now](const Grave& g) { return g.until <= now; });
    rearm(now);
  }

  void rearm(Duration now) {
    if (!reaper_ || graves_.empty()) return;
    Duration first = graves_.front().until;
    for (const auto& g : graves_) first = std::min(first, g.until);
    reaper_->arm(std::max(Duration{0}, first - now));
  }

  const Clock* clock_;
  std::vector<Grave> graves_;
  std::unique_ptr<event::ScheduledTimer> reaper_;
};

/// A session's next wakeup, on the boot clock.
class WakeupTimer {
 public:
  /// Makes the timer, which calls `on_fire`; until then rearm() and cancel() do
  /// nothing. Errors: event::Errc::setup (no timer).
  Result<void> start(event::Scheduler& scheduler, std::function<void()> on_fire) {
    auto timer = scheduler.make_timer(event::TimerClock::boot, std::move(on_fire));
    if (!timer) return tl::unexpected(timer.error());
    timer_ = std::move(*timer);
    return {};
  }

  /// Fires `delay` from now; nullopt (the session waits for nothing) cancels it.
  void rearm(std::optional<Duration> delay) {
    if (!timer_) return;
    if (delay) {
      timer_->arm(*delay);
    } else {
      timer_->cancel();
    }
  }

  void cancel() {
    if (timer_) timer_->cancel();
  }

 private:
  std::unique_ptr<event::ScheduledTimer> timer_;
};

}  // namespace webpush::daemon
