#include "webpush/event/signal_watch.h"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

#include "internal.h"
#include "webpush/event/fd_watch.h"

namespace webpush::event {

Result<std::unique_ptr<SignalWatch>> SignalWatch::create(EventLoop& loop, std::initializer_list<int> signals,
                                                         Handler handler) {
  sigset_t set;
  sigemptyset(&set);
  for (const int s : signals) sigaddset(&set, s);
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return fail(Errc::setup, "cannot block signals");
  std::signal(SIGPIPE, SIG_IGN);
  UniqueFd fd(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd.valid()) return fail(Errc::setup, fmt::format("signalfd: {}", std::strerror(errno)));
  std::unique_ptr<SignalWatch> s(new SignalWatch());
  s->handler_ = std::move(handler);
  s->fd_ = fd.get();
  SignalWatch* raw = s.get();
  auto watch = FdWatch::create(loop, std::move(fd), [raw] { raw->on_readable(); });
  if (!watch) return tl::unexpected(watch.error());
  s->watch_ = std::move(*watch);
  return s;
}

SignalWatch::~SignalWatch() = default;

void SignalWatch::on_readable() {
  signalfd_siginfo info{};
  while (::read(fd_, &info, sizeof info) == sizeof info) handler_(static_cast<int>(info.ssi_signo));
}

}  // namespace webpush::event
