// The socket side of the embedded push service: one libwebsockets context, one
// vhost, one port for the user agents' WebSocket (path "/") and the application
// servers' HTTP API. Turns lws callbacks into calls on PushService; owns the
// per-connection timers (hello deadline, WebSocket Ping / Pong timeout) and the
// periodic purge of expired messages.
//
// lws' own keepalive and validity pings are switched off: the service sends its
// Ping frames itself, as autopush does, so their timing is the configured one.
//
// Thread: everything runs on the thread that calls run(), except stop().
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "webpush/core/error.h"
#include "webpush/service/config.h"
#include "webpush/service/errc.h"

namespace webpush::service {

class PushService;

class Server {
 public:
  /// Opens the listening socket. Errors: listen_failed (address in use, cannot
  /// bind, with the OS reason), tls_failed (certificate or key unreadable),
  /// invalid_config, internal.
  static Result<std::unique_ptr<Server>> listen(const ServiceConfig& config);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The port actually bound (the ephemeral one for port 0).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// "ws://127.0.0.1:41234/" (wss:// with TLS; IPv6 hosts in brackets).
  [[nodiscard]] std::string ws_url() const;

  /// Runs the event loop until stop(). `service` is borrowed for the duration.
  /// Error internal if the loop fails.
  Result<void> run(PushService& service);

  /// Makes run() return soon. Safe from any thread (not from a signal handler).
  void stop() noexcept;

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace webpush::service
