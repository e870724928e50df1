// A WebSocket client connection to a push service (libwebsockets), one object
// per attempt. It turns lws callbacks into calls on a Listener; the listener
// decides everything else (that is protocol::Session's job).
//
//  - wss:// with the system CA store (plus LoopOptions::ca_file) and hostname
//    verification; plain ws:// only to a loopback host or with `insecure`.
//  - requests the `push-notification` sub-protocol, accepts a 101 without it;
//    sends a User-Agent naming webpushd and its version.
//  - text frames up to max_frame bytes, assembled from fragments; a larger or
//    a binary frame closes the connection with a reason.
//  - answers WebSocket Ping frames with Pong (libwebsockets does so at once).
//
// Thread: the loop thread only.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "webpush/core/error.h"
#include "webpush/protocol/session.h"
#include "webpush/transport/errc.h"
#include "webpush/transport/event_loop.h"

namespace webpush::transport {

class WsListener {
 public:
  virtual ~WsListener() = default;
  virtual void on_ws_open() = 0;
  virtual void on_ws_text(std::string_view frame) = 0;
  /// The connection ended or could not be made. Not called after close().
  virtual void on_ws_closed(protocol::DisconnectReason reason, int close_code, std::string detail) = 0;
};

struct WsOptions {
  std::string url;        ///< ws:// or wss://
  bool insecure = false;  ///< allow plain ws:// to a non-loopback host
  std::size_t max_frame = 64 * 1024;
};

/// Checks a server URL against the rules above. Errors: Errc::bad_url.
Result<void> check_server_url(std::string_view url, bool insecure);

class WsConnection {
 public:
  /// Starts connecting; the outcome arrives through `listener` (borrowed; must
  /// outlive this object). Errors: Errc::bad_url, Errc::connect.
  static Result<std::unique_ptr<WsConnection>> open(EventLoop& loop, WsListener& listener, const WsOptions& options);
  ~WsConnection();
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  /// Queues a text frame.
  void send(std::string text);
  /// Sends a close frame (code 1000) after the queued frames, then drops the
  /// socket. The listener hears nothing more from this connection.
  void close();
  [[nodiscard]] bool is_open() const noexcept { return open_; }

  // Called by the lws callback; not for users.
  int handle(lws* wsi, int reason, void* in, std::size_t len) noexcept;

 private:
  WsConnection() = default;
  void finish(protocol::DisconnectReason reason, int code, std::string detail) noexcept;

  EventLoop* loop_ = nullptr;
  WsListener* listener_ = nullptr;
  lws* wsi_ = nullptr;
  std::size_t max_frame_ = 0;
  std::string host_;
  std::string path_;
  std::string rx_;
  std::deque<std::string> tx_;
  bool open_ = false;
  bool closing_ = false;   // close() called: send a close frame when writable
  bool finished_ = false;  // the listener has been told, or must not be
  bool too_large_ = false;
  int peer_close_code_ = 0;
};

}  // namespace webpush::transport
