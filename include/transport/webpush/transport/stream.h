// The seam between the FCM receiver and its byte stream to Google's MCS server:
// a StreamConnection carries bytes both ways (no framing: the reader frames
// them), a StreamConnectionFactory opens one per attempt. The real ones are
// TlsStream / TlsStreamFactory (tls_stream.h); tests use
// tests/fakes/fake_stream.h, which scripts bytes and failures.
//
// Thread: the loop thread only.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "webpush/core/error.h"
#include "webpush/protocol/session.h"

namespace webpush::transport {

/// What a stream reports. Each call happens on the loop thread, from the
/// stream's own callback: the listener must not destroy the stream inside it
/// (hand it to EventLoop::destroy_later instead); it may call send() and close().
class StreamListener {
 public:
  virtual ~StreamListener() = default;
  /// The stream is connected (and, for TLS, the server's certificate verified).
  virtual void on_open() = 0;
  /// Bytes arrived, as they came off the wire: any split, never empty.
  virtual void on_data(std::string_view bytes) = 0;
  /// The stream ended or could not be made; called at most once, and not after
  /// close(). server_close: the server ended it cleanly (TLS close_notify or end
  /// of stream); `detail` says what happened, for a log line.
  virtual void on_closed(protocol::DisconnectReason reason, std::string detail) = 0;
};

class StreamConnection {
 public:
  virtual ~StreamConnection() = default;
  /// Queues bytes; they are written in order once the stream is open and the
  /// socket takes them. Dropped after close() or once the stream has ended.
  virtual void send(std::string bytes) = 0;
  /// Ends the stream: what is queued is still written while this object lives,
  /// then the stream is shut down. The listener hears nothing more from it.
  /// Destroying the object ends it at once.
  virtual void close() = 0;
};

class StreamConnectionFactory {
 public:
  virtual ~StreamConnectionFactory() = default;
  /// Starts one connection attempt; the outcome arrives through `listener`
  /// (borrowed; must outlive the stream), a host name that does not resolve
  /// included (on_closed with dns_failure).
  /// Errors: transport::Errc::connect, setup — the attempt never started.
  virtual Result<std::unique_ptr<StreamConnection>> connect(StreamListener& listener) = 0;
};

}  // namespace webpush::transport
