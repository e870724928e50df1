// Watches the kernel's routing netlink for address and route changes, so the
// agent can reconnect at once when the network changes instead of waiting out
// a backoff or a ping timeout. Bursts of events are coalesced.
//
// Thread: the loop thread only.
#pragma once

#include <functional>
#include <memory>

#include "webpush/core/error.h"
#include "webpush/event/fd_watch.h"
#include "webpush/event/loop.h"
#include "webpush/event/timer.h"

namespace webpush::daemon {

class NetlinkWatcher {
 public:
  /// Errors: event::Errc::setup (no netlink socket: the caller may go on without).
  static Result<std::unique_ptr<NetlinkWatcher>> create(event::EventLoop& loop, std::function<void()> on_change,
                                                        Duration settle = Duration{500});
  ~NetlinkWatcher();
  NetlinkWatcher(const NetlinkWatcher&) = delete;
  NetlinkWatcher& operator=(const NetlinkWatcher&) = delete;

 private:
  NetlinkWatcher(event::EventLoop& loop, std::function<void()> on_change, Duration settle);
  void drain();

  int fd_ = -1;
  Duration settle_;
  std::function<void()> on_change_;
  std::unique_ptr<event::FdWatch> watch_;
  event::Timer settle_timer_;
};

}  // namespace webpush::daemon
