// The seam between a user agent and its link to a push service: a Connection
// carries text frames both ways, a ConnectionFactory opens one per attempt.
// The real ones are WsConnection / WsConnectionFactory (libwebsockets); tests
// use tests/fakes/fake_connection.h, which scripts frames and failures.
//
// Thread: the loop thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "webpush/core/error.h"
#include "webpush/protocol/session.h"

namespace webpush::transport {

/// What a connection reports. Each call happens on the loop thread, from the
/// connection's own callback: the listener must not destroy the connection
/// inside it (hand it to EventLoop::destroy_later instead).
class ConnectionListener {
 public:
  virtual ~ConnectionListener() = default;
  virtual void on_open() = 0;
  virtual void on_text(std::string_view frame) = 0;
  /// A text frame over the size limit was dropped unread; the connection stays
  /// open. `bytes`: how much of it arrived before it was dropped (at least the limit).
  virtual void on_oversized_frame(std::size_t bytes) = 0;
  /// The connection ended or could not be made. Not called after close().
  /// close_code: the peer's close code, 0 when it sent none.
  virtual void on_closed(protocol::DisconnectReason reason, int close_code, std::string detail) = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;
  /// Queues a text frame (dropped once the connection is closing).
  virtual void send(std::string text) = 0;
  /// Sends a close frame (1000) after the queued frames, then drops the socket.
  /// The listener hears nothing more from this connection.
  virtual void close() = 0;
};

class ConnectionFactory {
 public:
  virtual ~ConnectionFactory() = default;
  /// Starts one connection attempt to the configured push service; the outcome
  /// arrives through `listener` (borrowed; must outlive the connection), a host
  /// name that does not resolve included (on_closed with dns_failure).
  /// Errors: transport::Errc::bad_url, connect — the attempt never started.
  virtual Result<std::unique_ptr<Connection>> connect(ConnectionListener& listener) = 0;
};

}  // namespace webpush::transport
