#include "webpush/event/timer.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <libwebsockets.h>

#include "internal.h"
#include "webpush/event/fd_watch.h"

namespace webpush::event {

// ---- Timer ---------------------------------------------------------------------

struct Timer::Impl {
  lws_sorted_usec_list_t sul{};  // first member: the callback casts back to Impl
  EventLoop* loop = nullptr;
  std::function<void()> callback;

  static void fire(lws_sorted_usec_list_t* sul) noexcept {
    auto* self = reinterpret_cast<Impl*>(sul);
    EventLoop* loop = self->loop;  // read first: the callback may destroy the timer's owner's other parts
    detail::guarded("timer callback", self->callback);
    loop->after_timer();
  }
};

Timer::Timer(EventLoop& loop, std::function<void()> callback) : impl_(std::make_unique<Impl>()) {
  impl_->loop = &loop;
  impl_->callback = std::move(callback);
}

Timer::~Timer() { cancel(); }

void Timer::arm(Duration delay) {
  const lws_usec_t us = std::max<std::int64_t>(0, delay.count()) * LWS_US_PER_MS;
  lws_sul_schedule(impl_->loop->context(), 0, &impl_->sul, Impl::fire, us);
}

void Timer::cancel() { lws_sul_cancel(&impl_->sul); }

bool Timer::armed() const noexcept { return impl_->sul.list.owner != nullptr; }

// ---- BootTimer -----------------------------------------------------------------

Result<std::unique_ptr<BootTimer>> BootTimer::create(EventLoop& loop, std::function<void()> callback) {
  std::unique_ptr<BootTimer> t(new BootTimer());
  t->callback_ = std::move(callback);
  UniqueFd fd(timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!fd.valid()) return fail(Errc::setup, fmt::format("timerfd_create(CLOCK_BOOTTIME): {}", std::strerror(errno)));
  t->fd_ = fd.get();
  BootTimer* raw = t.get();
  auto watch = FdWatch::create(loop, std::move(fd), [raw] { raw->on_readable(); });
  if (!watch) return tl::unexpected(watch.error());
  t->watch_ = std::move(*watch);
  return t;
}

BootTimer::~BootTimer() = default;  // the watch closes fd_

void BootTimer::on_readable() {
  std::uint64_t expirations = 0;
  if (::read(fd_, &expirations, sizeof expirations) == sizeof expirations) callback_();
}

void BootTimer::arm(Duration delay) {
  itimerspec spec{};
  const auto ms = std::max<std::int64_t>(1, delay.count());  // 0 would disarm
  spec.it_value.tv_sec = ms / 1000;
  spec.it_value.tv_nsec = (ms % 1000) * 1'000'000;
  if (timerfd_settime(fd_, 0, &spec, nullptr) != 0) {
    detail::log().error("cannot arm the boot-clock timer: {}", std::strerror(errno));
  }
}

void BootTimer::cancel() {
  itimerspec spec{};
  if (timerfd_settime(fd_, 0, &spec, nullptr) != 0) {
    detail::log().error("cannot cancel the boot-clock timer: {}", std::strerror(errno));
  }
}

}  // namespace webpush::event
