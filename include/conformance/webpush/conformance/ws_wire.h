// The client's side of the WebSocket wire (RFC 6455), without I/O: encoding
// masked frames, decoding the server's frames, and reading the answer to the
// upgrade request. `check-service` drives a push service byte by byte with it,
// seeing what a WebSocket library hides (Ping frames, close codes, frames of
// any shape). Everything decoded here came from the network: hostile.
//
// Pure: no I/O, no clock. Thread: any (objects are not shared).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webpush/conformance/errc.h"
#include "webpush/core/error.h"

namespace webpush::conformance {

enum class Opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

struct Frame {
  Opcode opcode = Opcode::text;
  bool fin = true;
  std::string payload;
};

/// A client frame: masked with `mask` (RFC 6455 §5.3), any opcode and size.
[[nodiscard]] std::string encode_client_frame(Opcode opcode, std::string_view payload,
                                              const std::array<std::uint8_t, 4>& mask, bool fin = true);

/// The payload of a Close frame: the code (big-endian) and the reason.
[[nodiscard]] std::string close_payload(int code, std::string_view reason);

/// A Close frame's code and reason. A frame without a code reads as 1005
/// (RFC 6455 §7.1.5).
struct CloseInfo {
  int code = 1005;
  std::string reason;
};
[[nodiscard]] CloseInfo parse_close_payload(std::string_view payload);

/// Reads the server's frames out of a byte stream fed in pieces.
class FrameDecoder {
 public:
  /// Frames with a payload above `max_payload` are refused.
  explicit FrameDecoder(std::size_t max_payload) : max_payload_(max_payload) {}

  void feed(std::string_view bytes) { buffer_.append(bytes); }
  /// The next complete frame; nullopt until enough bytes arrived.
  /// Errors: Errc::protocol — a masked frame (servers must not mask), reserved
  /// bits or opcodes, a control frame over 125 bytes or fragmented, a payload
  /// over the limit or with a non-minimal 64-bit length.
  Result<std::optional<Frame>> next();
  /// Bytes fed and not yet returned as frames.
  [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size(); }

 private:
  std::size_t max_payload_;
  std::string buffer_;
};

/// Sec-WebSocket-Accept for `key`: base64(SHA-1(key + the RFC 6455 GUID)).
[[nodiscard]] std::string websocket_accept(std::string_view key);

/// What the server answered to the upgrade request.
struct UpgradeResponse {
  int status = 0;
  std::string status_line;
  std::optional<std::string> subprotocol;  ///< Sec-WebSocket-Protocol, when sent
  std::size_t size = 0;                    ///< bytes of the response head, blank line included
};

/// Reads the response head once its blank line has arrived (nullopt before).
/// `key` is the Sec-WebSocket-Key that was sent. Errors: Errc::handshake — not
/// HTTP/1.1, a status other than 101 (the message quotes the status line), a
/// missing or wrong Sec-WebSocket-Accept, a head over 16 KiB.
Result<std::optional<UpgradeResponse>> parse_upgrade_response(std::string_view data, std::string_view key);

}  // namespace webpush::conformance
