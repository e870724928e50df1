// SignalWatch: signals as events on the loop (signalfd). The signals given are
// blocked for the whole process (so they are only ever seen here, never by an
// asynchronous handler) and SIGPIPE is ignored (a vanished peer is an EPIPE, not
// a death). Children started with sinks' spawn() get a clean mask back.
//
// Thread: the loop thread only; create it before any other thread starts, so
// that every thread inherits the blocked mask.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>

#include "webpush/core/error.h"
#include "webpush/event/errc.h"
#include "webpush/event/loop.h"

namespace webpush::event {

class FdWatch;

class SignalWatch {
 public:
  using Handler = std::function<void(int signo)>;
  /// Errors: Errc::setup.
  static Result<std::unique_ptr<SignalWatch>> create(EventLoop& loop, std::initializer_list<int> signals,
                                                     Handler handler);
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  SignalWatch() = default;
  void on_readable();

  int fd_ = -1;  // owned by watch_
  std::unique_ptr<FdWatch> watch_;
  Handler handler_;
};

}  // namespace webpush::event
