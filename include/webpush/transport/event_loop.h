// The one event loop of a webpushd process: a libwebsockets context that
// drives sockets, timers and adopted file descriptors (signalfd, timerfd,
// netlink, pipes). Every callback runs on the loop thread; nothing blocks it.
//
// Objects here must be destroyed before their EventLoop, on the loop thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/transport/errc.h"

struct lws_context;
struct lws_vhost;
struct lws;

namespace webpush::transport {

struct LoopOptions {
  std::string ca_file;        ///< extra CA certificates (PEM) next to the system store
  std::string proxy;          ///< "host:port" of an HTTP CONNECT proxy, empty for none
  bool tcp_keepalive = true;  ///< TCP keepalive on client sockets (a third liveness layer)
};

class EventLoop {
 public:
  /// Creates the libwebsockets context. Errors: Errc::setup.
  static Result<std::unique_ptr<EventLoop>> create(const LoopOptions& options);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// Runs until stop(). Returns 0.
  int run();
  /// Makes run() return after the current iteration. Loop thread only.
  void stop();
  [[nodiscard]] bool stopping() const noexcept { return stopping_; }

  [[nodiscard]] lws_context* context() const noexcept { return context_; }
  [[nodiscard]] lws_vhost* vhost() const noexcept { return vhost_; }
  [[nodiscard]] const LoopOptions& options() const noexcept { return options_; }

 private:
  explicit EventLoop(LoopOptions options) : options_(std::move(options)) {}
  LoopOptions options_;
  lws_context* context_ = nullptr;
  lws_vhost* vhost_ = nullptr;
  bool stopping_ = false;
};

/// A one-shot timer on the monotonic clock (lws sul). Re-arming replaces the
/// previous deadline. Misses time spent in suspend — use BootTimer for that.
class Timer {
 public:
  Timer(EventLoop& loop, std::function<void()> callback);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void arm(Duration delay);
  void cancel();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A readable file descriptor watched by the loop. The callback runs when it
/// is readable. Ownership of the descriptor passes to the loop: it is closed
/// when the FdWatch goes away (or at once if create() fails).
class FdWatch {
 public:
  /// Errors: Errc::setup.
  static Result<std::unique_ptr<FdWatch>> create(EventLoop& loop, int fd, std::function<void()> on_readable,
                                                 std::function<void()> on_writable = nullptr);
  ~FdWatch();
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;

  /// Asks for one on_writable call when the descriptor can take more data.
  void want_writable();

  /// Called by the loop's raw-descriptor protocol; not for users.
  void dispatch_readable() noexcept;
  void dispatch_writable() noexcept;
  void detached() noexcept { wsi_ = nullptr; }

 private:
  FdWatch() = default;
  lws* wsi_ = nullptr;
  std::function<void()> on_readable_;
  std::function<void()> on_writable_;
};

/// A one-shot timer on CLOCK_BOOTTIME (timerfd): its deadline counts time spent
/// in suspend, so after a resume a deadline that passed fires at once.
class BootTimer {
 public:
  /// Errors: Errc::setup.
  static Result<std::unique_ptr<BootTimer>> create(EventLoop& loop, std::function<void()> callback);
  ~BootTimer();
  BootTimer(const BootTimer&) = delete;
  BootTimer& operator=(const BootTimer&) = delete;

  void arm(Duration delay);
  void cancel();

 private:
  BootTimer() = default;
  int fd_ = -1;
  std::unique_ptr<FdWatch> watch_;
  std::function<void()> callback_;
};

}  // namespace webpush::transport
