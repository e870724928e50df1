// WsProbe: a blocking WebSocket client (RFC 6455) over TCP or TLS that shows
// everything — every Ping frame and when it came, the close code and reason,
// the sub-protocol the server chose — and sends anything, well-formed or not.
// `check-service` uses one per simulated connection; every wait has a deadline.
//
//  - wss:// verifies the certificate against the system store (plus ca_file)
//    and the host name; ws:// is allowed to loopback hosts, or with `insecure`.
//  - Ping frames are answered with a Pong at once (unless answer_pings is off)
//    and their arrival times recorded.
//
// The process must ignore SIGPIPE: a wss:// write to a connection the service
// dropped goes through OpenSSL, which cannot pass MSG_NOSIGNAL.
//
// Thread: one thread at a time per object.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/conformance/errc.h"
#include "webpush/conformance/ws_wire.h"
#include "webpush/core/error.h"

namespace webpush::conformance {

using Millis = std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

struct ProbeOptions {
  std::string ca_file;    ///< extra CA certificates (PEM) for wss://
  bool insecure = false;  ///< allow ws:// to a host that is not loopback
  Millis connect_timeout{10'000};
  std::size_t max_message = 1024 * 1024;
  /// Sec-WebSocket-Protocol offered; nullopt offers none.
  std::optional<std::string> subprotocol = std::string("push-notification");
};

/// One thing that arrived (Pings and Pongs are handled inside).
struct WsEvent {
  enum class Kind { text, binary, close, eof };
  Kind kind = Kind::text;
  std::string payload;  ///< the message (text / binary)
  CloseInfo close;      ///< for close: the server's code (1006 for eof) and reason
};

class WsProbe {
 public:
  /// Connects, upgrades and returns the open connection. Errors: bad_url,
  /// connect, tls, handshake, timeout.
  static Result<std::unique_ptr<WsProbe>> open(std::string_view url, const ProbeOptions& options);
  ~WsProbe();
  WsProbe(const WsProbe&) = delete;
  WsProbe& operator=(const WsProbe&) = delete;

  /// Errors: closed (the connection already ended), io, timeout.
  Result<void> send_text(std::string_view text);
  /// Any frame, masked as a client must. Errors: as send_text.
  Result<void> send_frame(Opcode opcode, std::string_view payload, bool fin = true);
  /// The next message, Close or end of stream (fragments assembled; Pings
  /// answered and recorded, Pongs recorded). Once the connection ended, every
  /// call returns its close event again. Returns by `timeout` even while
  /// control frames keep arriving. Errors: timeout (no message within
  /// `timeout`), protocol (the server broke the framing), io.
  Result<WsEvent> next(Millis timeout);
  /// Sends a Close frame (once) and drops the connection at once.
  void close(int code = 1000);
  /// The closing handshake (RFC 6455 §5.5.1): sends a Close frame, reads until
  /// the service's Close or the end of the stream (at most `timeout`; what
  /// arrives meanwhile is dropped), then drops the connection. Afterwards the
  /// service has seen the connection go.
  void close_and_wait(Millis timeout, int code = 1000);

  /// Whether Pings are answered (default true).
  void set_answer_pings(bool answer) noexcept { answer_pings_ = answer; }
  /// When each Ping frame arrived (the first kMaxRecorded; ping_count() counts all).
  [[nodiscard]] const std::vector<SteadyTime>& pings() const noexcept { return pings_; }
  [[nodiscard]] std::size_t ping_count() const noexcept { return ping_count_; }
  /// When each Pong frame arrived (the first kMaxRecorded).
  [[nodiscard]] const std::vector<SteadyTime>& pongs() const noexcept { return pongs_; }
  static constexpr std::size_t kMaxRecorded = 1024;
  /// The sub-protocol the server accepted, if it named one.
  [[nodiscard]] const std::optional<std::string>& subprotocol() const noexcept { return subprotocol_; }
  /// Whether the connection has ended (a Close arrived, the stream ended, or close()).
  [[nodiscard]] bool ended() const noexcept { return ended_.has_value(); }

  struct Socket;  // the TCP/TLS byte stream (ws_probe.cpp)

 private:
  explicit WsProbe(std::unique_ptr<Socket> socket, std::size_t max_message);
  Result<void> upgrade(std::string_view host_header, std::string_view path, const ProbeOptions& options,
                       SteadyTime deadline);
  Result<std::optional<Frame>> read_frame(SteadyTime deadline);
  Result<std::optional<WsEvent>> handle(Frame frame);
  WsEvent end_with(CloseInfo info, WsEvent::Kind kind);
  void send_close(int code);

  std::unique_ptr<Socket> socket_;
  FrameDecoder decoder_;
  std::size_t max_message_;
  std::string fragments_;
  std::optional<Opcode> fragment_opcode_;
  std::optional<WsEvent> ended_;
  bool close_sent_ = false;
  bool answer_pings_ = true;
  std::size_t ping_count_ = 0;
  std::vector<SteadyTime> pings_;
  std::vector<SteadyTime> pongs_;
  std::optional<std::string> subprotocol_;
};

}  // namespace webpush::conformance
