// The socket side of the embedded push service: one libwebsockets vhost on the
// process' event loop, one port for the user agents' WebSocket (path "/") and
// the application servers' HTTP API. Turns lws callbacks into calls on
// PushService; owns the per-connection timers (hello deadline, WebSocket Ping /
// Pong timeout) and the periodic purge of expired messages.
//
// lws' own keepalive and validity pings are switched off: the service sends its
// Ping frames itself, as autopush does, so their timing is the configured one.
//
// The server neither creates nor runs a loop: it adds its vhost to the caller's
// event::EventLoop, so the service can share one process and one thread with a
// user agent (or a load tester).
//
// Thread: the loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "webpush/core/error.h"
#include "webpush/service/config.h"
#include "webpush/service/errc.h"

namespace webpush::event {
class EventLoop;
}

namespace webpush::service {

class PushService;

class Server {
 public:
  /// Opens the listening socket: a vhost on `loop`'s libwebsockets context. An
  /// IPv6 listen host needs a loop created with LoopOptions{.ipv6 = true}; the
  /// vhost of an IPv4 host makes IPv4 sockets whatever the loop's setting.
  /// Nothing is answered before start(). The loop must outlive the Server.
  /// Errors: listen_failed (address in use, cannot bind, with the OS reason),
  /// tls_failed (certificate or key unreadable or refused).
  static Result<std::unique_ptr<Server>> listen(event::EventLoop& loop, const ServiceConfig& config);

  /// Stops accepting, drops every open connection (no Close frame, as when the
  /// process ends; PushService still sees ws_closed() for each WebSocket) and
  /// removes the vhost. The loop stays usable. Not from inside a callback of
  /// this server.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The port actually bound (the ephemeral one for port 0).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// "ws://127.0.0.1:41234/" (wss:// with TLS; IPv6 hosts in brackets).
  [[nodiscard]] std::string ws_url() const;

  /// Starts answering connections and the periodic purge, as the loop runs.
  /// `service` is borrowed until the Server is destroyed. Call once.
  void start(PushService& service);

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace webpush::service
