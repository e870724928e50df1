#include "webpush/conformance/ws_wire.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace webpush::conformance {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::bad_url: return "bad_url";
    case Errc::connect: return "connect";
    case Errc::tls: return "tls";
    case Errc::handshake: return "handshake";
    case Errc::protocol: return "protocol";
    case Errc::timeout: return "timeout";
    case Errc::closed: return "closed";
    case Errc::io: return "io";
    case Errc::http: return "http";
    case Errc::bad_reply: return "bad_reply";
    case Errc::setup: return "setup";
  }
  return "unknown";
}

namespace {

constexpr std::size_t kMaxHead = 16 * 1024;
constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool is_control(std::uint8_t opcode) { return (opcode & 0x08) != 0; }

bool known_opcode(std::uint8_t opcode) { return opcode <= 2 || (opcode >= 8 && opcode <= 10); }

struct Head {
  std::uint8_t opcode = 0;
  bool fin = false;
  std::uint64_t length = 0;
  std::size_t size = 0;  // header bytes
};

// The frame header, once enough bytes are there (size 0 before).
Result<Head> read_head(std::string_view b) {
  Head h;
  if (b.size() < 2) return h;
  const auto b0 = static_cast<std::uint8_t>(b[0]);
  const auto b1 = static_cast<std::uint8_t>(b[1]);
  h.fin = (b0 & 0x80) != 0;
  h.opcode = b0 & 0x0f;
  if ((b0 & 0x70) != 0) return fail(Errc::protocol, fmt::format("frame with reserved bits set (0x{:02x})", b0));
  if (!known_opcode(h.opcode)) return fail(Errc::protocol, fmt::format("frame with reserved opcode {}", h.opcode));
  if ((b1 & 0x80) != 0) return fail(Errc::protocol, "a masked frame from the server (RFC 6455 §5.1 forbids it)");
  const std::uint8_t len7 = b1 & 0x7f;
  std::size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
  if (b.size() < need) return h;
  if (len7 < 126) {
    h.length = len7;
  } else {
    for (std::size_t i = 2; i < need; ++i) h.length = (h.length << 8) | static_cast<std::uint8_t>(b[i]);
    if ((len7 == 126 && h.length < 126) || (len7 == 127 && h.length <= 0xffff) || (h.length >> 63) != 0) {
      return fail(Errc::protocol, fmt::format("frame length {} not in its minimal encoding", h.length));
    }
  }
  if (is_control(h.opcode) && (!h.fin || h.length > 125)) {
    return fail(Errc::protocol, fmt::format("control frame (opcode {}) fragmented or over 125 bytes", h.opcode));
  }
  h.size = need;
  return h;
}

}  // namespace

std::string encode_client_frame(Opcode opcode, std::string_view payload, const std::array<std::uint8_t, 4>& mask,
                                bool fin) {
  std::string out;
  out.reserve(payload.size() + 14);
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<std::uint8_t>(opcode)));
  const std::uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(0x80 | 126));
    for (int shift = 8; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  for (auto m : mask) out.push_back(static_cast<char>(m));
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^ mask[i % 4]));
  }
  return out;
}

std::string close_payload(int code, std::string_view reason) {
  std::string out;
  out.push_back(static_cast<char>((code >> 8) & 0xff));
  out.push_back(static_cast<char>(code & 0xff));
  out.append(reason.substr(0, 123));
  return out;
}

CloseInfo parse_close_payload(std::string_view payload) {
  CloseInfo info;
  if (payload.size() >= 2) {
    info.code = (static_cast<std::uint8_t>(payload[0]) << 8) | static_cast<std::uint8_t>(payload[1]);
    info.reason = std::string(payload.substr(2));
  }
  return info;
}

Result<std::optional<Frame>> FrameDecoder::next() {
  auto head = read_head(buffer_);
  if (!head) return tl::unexpected(head.error());
  if (head->size == 0) return std::optional<Frame>{};
  if (head->length > max_payload_) {
    return fail(Errc::protocol, fmt::format("a {}-byte frame, over the {}-byte limit", head->length, max_payload_));
  }
  const std::size_t total = head->size + static_cast<std::size_t>(head->length);
  if (buffer_.size() < total) return std::optional<Frame>{};
  Frame frame{static_cast<Opcode>(head->opcode), head->fin, buffer_.substr(head->size, head->length)};
  buffer_.erase(0, total);
  return std::optional<Frame>(std::move(frame));
}

std::string websocket_accept(std::string_view key) {
  const std::string text = std::string(key) + std::string(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Result<int> parse_status_line(std::string_view line) {
  if (line.substr(0, 9) != "HTTP/1.1 " || line.size() < 12) {
    return fail(Errc::handshake, fmt::format("not an HTTP/1.1 response: \"{}\"", line.substr(0, 80)));
  }
  int status = 0;
  for (char c : line.substr(9, 3)) {
    if (c < '0' || c > '9') return fail(Errc::handshake, fmt::format("bad status line \"{}\"", line.substr(0, 80)));
    status = status * 10 + (c - '0');
  }
  return status;
}

}  // namespace

Result<std::optional<UpgradeResponse>> parse_upgrade_response(std::string_view data, std::string_view key) {
  const auto end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (data.size() > kMaxHead) return fail(Errc::handshake, "an upgrade response head over 16 KiB");
    return std::optional<UpgradeResponse>{};
  }
  UpgradeResponse r;
  r.size = end + 4;
  std::string_view head = data.substr(0, end + 2);
  const auto eol = head.find("\r\n");
  r.status_line = std::string(trim(head.substr(0, eol)));
  auto status = parse_status_line(r.status_line);
  if (!status) return tl::unexpected(status.error());
  r.status = *status;
  if (r.status != 101) return fail(Errc::handshake, fmt::format("upgrade refused: \"{}\"", r.status_line));
  std::optional<std::string> accept;
  for (auto pos = eol + 2; pos < head.size();) {
    const auto next = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, next - pos);
    pos = next + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string name = lower(trim(line.substr(0, colon)));
    const std::string_view value = trim(line.substr(colon + 1));
    if (name == "sec-websocket-accept") accept = std::string(value);
    if (name == "sec-websocket-protocol") r.subprotocol = std::string(value);
  }
  if (accept != websocket_accept(key)) {
    return fail(Errc::handshake, fmt::format("Sec-WebSocket-Accept {} (expected {})", accept.value_or("missing"),
                                             websocket_accept(key)));
  }
  return std::optional<UpgradeResponse>(std::move(r));
}

}  // namespace webpush::conformance
