#include "webpush/daemon/netlink.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace webpush::daemon {

NetlinkWatcher::NetlinkWatcher(event::EventLoop& loop, std::function<void()> on_change, Duration settle)
    : settle_(settle), on_change_(std::move(on_change)), settle_timer_(loop, [this] { on_change_(); }) {}

Result<std::unique_ptr<NetlinkWatcher>> NetlinkWatcher::create(event::EventLoop& loop, std::function<void()> on_change,
                                                               Duration settle) {
  std::unique_ptr<NetlinkWatcher> w(new NetlinkWatcher(loop, std::move(on_change), settle));
  event::UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  w->fd_ = fd.get();
  if (!fd.valid()) {
    return fail(event::Errc::setup, fmt::format("netlink socket: {}", std::strerror(errno)));
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  // New or removed addresses and routes, and links going up or down.
  addr.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
  if (bind(w->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return fail(event::Errc::setup, fmt::format("netlink bind: {}", std::strerror(errno)));
  }
  NetlinkWatcher* raw = w.get();
  auto watch = event::FdWatch::create(loop, std::move(fd), [raw] { raw->drain(); });
  if (!watch) return tl::unexpected(watch.error());
  w->watch_ = std::move(*watch);
  return w;
}

NetlinkWatcher::~NetlinkWatcher() = default;  // the watch closes fd_

void NetlinkWatcher::drain() {
  char buf[8192];
  bool changed = false;
  for (;;) {
    const ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    // Any message in these groups is a change; the content does not matter.
    changed = true;
  }
  // A link change arrives as a burst of messages: act once it settles.
  if (changed) settle_timer_.arm(settle_);
}

}  // namespace webpush::daemon
