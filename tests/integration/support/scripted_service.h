// A push service that does only what a test scripts: a minimal WebSocket
// server on 127.0.0.1 (its own thread, one connection at a time) for the
// faults `webpushd serve` never commits — a handshake that never completes,
// any close code, frames of any shape.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "socket.h"
#include "support.h"

namespace webpush::testing {

/// The server's end of one accepted connection.
class ScriptedPeer {
 public:
  explicit ScriptedPeer(Socket socket) : socket_(std::move(socket)) {}

  /// Reads the HTTP upgrade request and answers 101. Throws SupportError.
  void accept_upgrade();
  /// The next text frame from the client (Pings are answered, Pongs skipped);
  /// nullopt on timeout or when the client closed.
  std::optional<std::string> read_text(Millis timeout = kDefaultTimeout);
  void send_text(std::string_view text);
  /// A Close frame with `code` (and no reason), then the socket is closed.
  void send_close(int code);
  /// Waits until the client closes the connection (or the timeout).
  void wait_closed(Millis timeout);

 private:
  struct Frame {
    int opcode = 0;
    std::string payload;
  };
  std::optional<Frame> read_frame(Millis timeout);
  void send_frame(int opcode, std::string_view payload);
  bool fill(std::size_t n, Clock::time_point deadline);  // at least n bytes in buf_

  Socket socket_;
  std::string buf_;
};

class ScriptedService {
 public:
  using Script = std::function<void(ScriptedPeer&)>;
  /// Listens on 127.0.0.1:0; runs `script` for every connection, one at a time.
  explicit ScriptedService(Script script);
  ~ScriptedService();
  ScriptedService(const ScriptedService&) = delete;
  ScriptedService& operator=(const ScriptedService&) = delete;

  /// "ws://127.0.0.1:<port>/"
  [[nodiscard]] std::string ws_url() const;
  /// Connections accepted so far.
  [[nodiscard]] int connections() const noexcept { return connections_.load(); }

 private:
  void serve();

  Script script_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace webpush::testing
