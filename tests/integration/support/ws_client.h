// A raw WebSocket client (RFC 6455) for driving the push service byte by byte:
// the handshake with or without a sub-protocol, masked text / binary / control
// frames, every received frame including Ping and Close, and an optional
// "do not answer Pings" mode to provoke the service's Pong timeout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "socket.h"
#include "support.h"

namespace webpush::testing {

enum class Opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

struct Frame {
  Opcode opcode = Opcode::text;
  bool fin = true;
  std::string payload;

  /// For a Close frame: the status code (1005 when the frame carries none).
  [[nodiscard]] int close_code() const;
  [[nodiscard]] std::string close_reason() const;
};

struct WsOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string path = "/";
  /// Sec-WebSocket-Protocol to offer; nullopt offers none.
  std::optional<std::string> subprotocol = std::string("push-notification");
  Millis timeout = kDefaultTimeout;
};

/// Close code reported when the connection ended without a Close frame.
inline constexpr int kNoCloseFrame = 1006;

class WsClient {
 public:
  /// Connects and completes the opening handshake (101, Sec-WebSocket-Accept
  /// checked). Throws SupportError with the response if the upgrade is refused.
  static WsClient connect(const WsOptions& options);

  WsClient(WsClient&&) noexcept = default;
  WsClient& operator=(WsClient&&) noexcept = default;

  /// The sub-protocol the server echoed, if any.
  [[nodiscard]] const std::optional<std::string>& accepted_subprotocol() const noexcept { return accepted_; }

  /// Sends one masked frame.
  void send_frame(Opcode opcode, std::string_view payload, bool fin = true);
  void send_text(std::string_view text) { send_frame(Opcode::text, text); }
  void send_binary(std::string_view data) { send_frame(Opcode::binary, data); }
  void send_ping(std::string_view data = {}) { send_frame(Opcode::ping, data); }
  void send_close(int code = 1000, std::string_view reason = {});

  /// The next frame as received, control frames included; nullopt on timeout or
  /// at the end of the stream (then closed() is true). Pings are NOT answered here.
  std::optional<Frame> next_frame(Millis timeout = kDefaultTimeout);

  /// Whether recv_text / wait_close answer Ping frames with Pong (default true).
  bool auto_pong = true;

  /// The next complete text message; answers Pings (if auto_pong), skips Pongs.
  /// Throws on timeout, binary data, a Close frame or the end of the stream.
  std::string recv_text(Millis timeout = kDefaultTimeout);

  /// Like recv_text, but nullopt on timeout instead of throwing.
  std::optional<std::string> try_recv_text(Millis timeout);

  /// Reads until the server's Close frame and returns its code (kNoCloseFrame if
  /// the stream ended without one). Text messages read meanwhile are discarded.
  /// Throws on timeout.
  int wait_close(Millis timeout = kDefaultTimeout);

  /// Pings received (whether answered or not) since the connection opened.
  [[nodiscard]] int pings_received() const noexcept { return pings_; }
  [[nodiscard]] bool closed() const noexcept { return eof_; }
  /// The last Close frame received.
  [[nodiscard]] const std::optional<Frame>& close_frame() const noexcept { return close_; }

 private:
  WsClient() = default;
  bool fill(Millis timeout);  // reads more into rx_; false on timeout or EOF

  Socket socket_;
  std::string rx_;
  bool eof_ = false;
  int pings_ = 0;
  std::optional<std::string> accepted_;
  std::optional<Frame> close_;
};

}  // namespace webpush::testing
