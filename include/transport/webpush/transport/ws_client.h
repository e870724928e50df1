// The WebSocket client (libwebsockets): a ClientVhost (the client side of the
// process's event loop: trust store, proxy, TCP keepalive) and a WsConnection
// per connection attempt, which turns lws callbacks into ConnectionListener
// calls; the listener decides everything else (that is protocol::Session's job).
//
//  - wss:// with the system CA store (plus LoopOptions::ca_file) and hostname
//    verification; plain ws:// only to a loopback host or with `insecure`.
//  - requests the `push-notification` sub-protocol, accepts a 101 without it;
//    sends a User-Agent naming webpushd and its version.
//  - text frames up to max_frame bytes, assembled from fragments; a larger or
//    a binary frame closes the connection with a reason.
//  - answers WebSocket Ping frames with Pong (libwebsockets does so at once,
//    without telling the application).
//  - with event::Trace on, traces each step of each connection: the name
//    resolved, TCP connected, the TLS handshake, the HTTP upgrade, every frame
//    in and out (shortened by event::shorten_frame), the close (docs/cli.md
//    "Trace lines"); off, each step costs one branch.
//
// Thread: the loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/core/error.h"
#include "webpush/event/loop.h"
#include "webpush/event/timer.h"
#include "webpush/protocol/session.h"
#include "webpush/transport/connection.h"
#include "webpush/transport/errc.h"

struct lws;
struct lws_vhost;
struct ssl_st;

namespace webpush::transport::detail {
class Resolution;
}  // namespace webpush::transport::detail

namespace webpush::transport {

struct ClientOptions {
  std::string ca_file;        ///< extra CA certificates (PEM) next to the system store
  std::string proxy;          ///< "host:port" of an HTTP CONNECT proxy, empty for none
  bool tcp_keepalive = true;  ///< TCP keepalive on client sockets (a third liveness layer)
};

/// The WebSocket client's vhost on the process's event loop.
class ClientVhost {
 public:
  /// Errors: Errc::setup (bad proxy, libwebsockets refused the vhost).
  static Result<std::unique_ptr<ClientVhost>> create(event::EventLoop& loop, ClientOptions options);
  ~ClientVhost();
  ClientVhost(const ClientVhost&) = delete;
  ClientVhost& operator=(const ClientVhost&) = delete;

  [[nodiscard]] event::EventLoop& loop() const noexcept { return *loop_; }
  [[nodiscard]] lws_vhost* vhost() const noexcept { return vhost_; }
  [[nodiscard]] const ClientOptions& options() const noexcept { return options_; }

 private:
  ClientVhost(event::EventLoop& loop, ClientOptions options) : loop_(&loop), options_(std::move(options)) {}
  event::EventLoop* loop_;
  ClientOptions options_;
  std::string proxy_host_;
  lws_vhost* vhost_ = nullptr;
};

struct WsOptions {
  std::string url;        ///< ws:// or wss://
  bool insecure = false;  ///< allow plain ws:// to a non-loopback host
  std::size_t max_frame = 64 * 1024;
  /// From the start of an attempt (name resolution included) to the WebSocket
  /// upgrade's answer; past it the attempt ends as connect_timeout.
  Duration handshake_timeout{20 * 1000};
};

/// Checks a server URL against the rules above. Errors: Errc::bad_url.
Result<void> check_server_url(std::string_view url, bool insecure);

class WsConnection final : public Connection {
 public:
  /// Starts connecting; the outcome arrives through `listener` (borrowed; must
  /// outlive this object). Never blocks: the host name is resolved by
  /// libwebsockets, and a failure to resolve it arrives as on_closed(dns_failure).
  /// Errors: Errc::bad_url, Errc::connect.
  static Result<std::unique_ptr<WsConnection>> open(ClientVhost& client, ConnectionListener& listener,
                                                    const WsOptions& options);
  ~WsConnection() override;
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  void send(std::string text) override;
  void close() override;
  [[nodiscard]] bool is_open() const noexcept { return open_; }
  /// The connection's socket; -1 while it has none.
  [[nodiscard]] int socket_fd() const noexcept;

  // Called by the lws callback; not for users.
  int handle(lws* wsi, int reason, void* in, std::size_t len) noexcept;
  // Called by the client TLS context's info callback while tracing; not for users.
  void on_tls_progress(const ssl_st* ssl, int where, int value) noexcept;

 private:
  WsConnection() = default;
  Result<void> start(const std::string& address);
  void on_resolved(Result<std::vector<std::string>> addresses);
  void finish(protocol::DisconnectReason reason, int code, std::string detail) noexcept;
  void on_handshake_timeout();
  void abandon_wsi() noexcept;  // detaches from the lws connection and has lws drop it
  // One per lws callback reason handle() dispatches; each returns handle()'s result.
  int on_append_handshake_header(lws* wsi, void* in, std::size_t len) noexcept;
  int on_established(lws* wsi) noexcept;
  int on_receive(lws* wsi, void* in, std::size_t len) noexcept;
  void deliver_frame() noexcept;  // hands the assembled rx_ to the listener
  void report_oversized() noexcept;
  int on_writeable(lws* wsi) noexcept;
  int write_front(lws* wsi) noexcept;  // writes the first queued frame
  int on_peer_initiated_close(void* in, std::size_t len) noexcept;
  int on_connection_error(lws* wsi, void* in) noexcept;
  int on_client_closed() noexcept;
  // Trace lines; each does nothing unless this connection is traced (trace_id_).
  void trace_open(bool resolves) noexcept;
  void trace_dns(const Result<std::vector<std::string>>& addresses) noexcept;
  void trace_tcp(lws* wsi) noexcept;
  void trace_tls(const ssl_st* ssl, bool failed) noexcept;
  void trace_upgrade(lws* wsi) noexcept;
  void trace_frame(bool in, std::string_view text) const noexcept;
  void trace_closed(std::string_view reason, int code, std::string_view detail, int status = 0) noexcept;

  ClientVhost* client_ = nullptr;
  ConnectionListener* listener_ = nullptr;
  std::unique_ptr<detail::Resolution> resolution_;
  std::unique_ptr<event::Timer> handshake_timer_;
  Duration handshake_timeout_{0};
  lws* wsi_ = nullptr;
  std::size_t max_frame_ = 0;
  std::string url_;
  std::string host_;
  std::string address_;  // numeric, or host_ when a proxy resolves it
  std::string path_;
  int port_ = 0;
  bool secure_ = false;
  std::string rx_;
  bool discarding_ = false;    // the message being received is over max_frame_
  std::size_t discarded_ = 0;  // bytes of it seen so far
  std::deque<std::string> tx_;
  bool open_ = false;
  bool closing_ = false;   // close() called: send a close frame when writable
  bool finished_ = false;  // the listener has been told, or must not be
  int peer_close_code_ = 0;
  // Tracing: a process-wide number for this attempt (0: not traced), when it
  // started and when its current step did, and what has been traced already.
  std::uint64_t trace_id_ = 0;
  std::chrono::steady_clock::time_point trace_start_{};
  std::chrono::steady_clock::time_point trace_step_{};
  bool traced_tcp_ = false;
  bool traced_tls_ = false;
  bool traced_closed_ = false;
  std::string tls_alert_;  // the last TLS alert sent or received, for a failed handshake
};

/// Opens WsConnections to one push service.
class WsConnectionFactory final : public ConnectionFactory {
 public:
  /// `client` is borrowed and must outlive the factory and its connections.
  WsConnectionFactory(ClientVhost& client, WsOptions options) : client_(&client), options_(std::move(options)) {}
  Result<std::unique_ptr<Connection>> connect(ConnectionListener& listener) override;

 private:
  ClientVhost* client_;
  WsOptions options_;
};

}  // namespace webpush::transport
