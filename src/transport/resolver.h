// Internal: host-name resolution off the loop thread. libwebsockets 4.1 as
// Debian builds it resolves synchronously inside lws_client_connect_via_info,
// which would block the loop for as long as DNS takes; so a WsConnection
// resolves first, on a short-lived thread, and hands libwebsockets a numeric
// address (the name stays the Host header, the SNI and the certificate name).
//
// Thread: create and destroy on the loop thread; the callback runs there.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "webpush/core/error.h"
#include "webpush/event/fd_watch.h"
#include "webpush/event/loop.h"

namespace webpush::transport::detail {

/// True when `host` is an IPv4 or IPv6 literal (no resolution needed).
[[nodiscard]] bool is_numeric_host(const std::string& host);

class Resolution {
 public:
  /// The numeric addresses getaddrinfo answered (at least one, in its order,
  /// each once; a connection uses the first), or Errc::dns.
  using Callback = std::function<void(Result<std::vector<std::string>> addresses)>;

  /// Starts resolving `host`. Errors: Errc::setup (no eventfd, no thread).
  static Result<std::unique_ptr<Resolution>> start(event::EventLoop& loop, std::string host, Callback done);
  /// Abandons the resolution: the callback is not called; the thread finishes
  /// on its own and frees what it shares.
  ~Resolution();
  Resolution(const Resolution&) = delete;
  Resolution& operator=(const Resolution&) = delete;

 private:
  struct Shared;
  Resolution() = default;
  void on_done();

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<event::FdWatch> watch_;
  Callback done_;
};

}  // namespace webpush::transport::detail
