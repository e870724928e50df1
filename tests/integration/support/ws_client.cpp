#include "ws_client.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <random>

namespace webpush::testing {

namespace {

std::string base64(const unsigned char* data, std::size_t len) {
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t") - b + 1));
}

std::mt19937& rng() {
  thread_local std::mt19937 gen{std::random_device{}()};
  return gen;
}

}  // namespace

int Frame::close_code() const {
  if (payload.size() < 2) return 1005;
  return (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
}

std::string Frame::close_reason() const { return payload.size() > 2 ? payload.substr(2) : std::string(); }

WsClient WsClient::connect(const WsOptions& options) {
  WsClient c;
  c.socket_ = Socket::connect(options.host, options.port, options.timeout);
  std::array<unsigned char, 16> nonce{};
  for (auto& b : nonce) b = static_cast<unsigned char>(rng()());
  const std::string key = base64(nonce.data(), nonce.size());
  std::string request = "GET " + options.path + " HTTP/1.1\r\nHost: " + options.host + ":" +
                        std::to_string(options.port) +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                        "\r\nSec-WebSocket-Version: 13\r\n";
  if (options.subprotocol) request += "Sec-WebSocket-Protocol: " + *options.subprotocol + "\r\n";
  request += "\r\n";
  c.socket_.send_all(request, options.timeout);

  const auto deadline = Clock::now() + options.timeout;
  std::size_t end = std::string::npos;
  while ((end = c.rx_.find("\r\n\r\n")) == std::string::npos) {
    if (!c.fill(remaining(deadline))) {
      throw SupportError("WebSocket handshake: no complete response (got '" + c.rx_ + "')");
    }
  }
  const std::string head = c.rx_.substr(0, end);
  c.rx_.erase(0, end + 4);
  if (head.rfind("HTTP/1.1 101", 0) != 0) throw SupportError("WebSocket handshake refused: " + head);

  std::string accept;
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    const std::size_t next = head.find("\r\n", pos + 2);
    const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      const std::string name = lower(line.substr(0, colon));
      const std::string value = trim(line.substr(colon + 1));
      if (name == "sec-websocket-accept") accept = value;
      if (name == "sec-websocket-protocol") c.accepted_ = value;
    }
    pos = next;
  }
  const std::string magic = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(magic.data()), magic.size(), digest.data());
  if (accept != base64(digest.data(), digest.size())) {
    throw SupportError("WebSocket handshake: wrong Sec-WebSocket-Accept in " + head);
  }
  return c;
}

bool WsClient::fill(Millis timeout) {
  if (eof_) return false;
  char buf[16384];
  const auto n = socket_.read_some(buf, sizeof buf, timeout);
  if (!n) return false;
  if (*n == 0) {
    eof_ = true;
    return false;
  }
  rx_.append(buf, *n);
  return true;
}

void WsClient::send_frame(Opcode opcode, std::string_view payload, bool fin) {
  std::string f;
  f.reserve(payload.size() + 14);
  f += static_cast<char>((fin ? 0x80 : 0) | static_cast<int>(opcode));
  const std::size_t len = payload.size();
  if (len < 126) {
    f += static_cast<char>(0x80 | len);
  } else if (len <= 0xffff) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(len >> 8);
    f += static_cast<char>(len & 0xff);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<std::uint64_t>(len) >> (8 * i)) & 0xff);
  }
  std::array<char, 4> mask{};
  for (auto& m : mask) m = static_cast<char>(rng()());
  f.append(mask.data(), mask.size());
  for (std::size_t i = 0; i < len; ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  socket_.send_all(f);
}

void WsClient::send_close(int code, std::string_view reason) {
  std::string payload;
  payload += static_cast<char>((code >> 8) & 0xff);
  payload += static_cast<char>(code & 0xff);
  payload.append(reason);
  send_frame(Opcode::close, payload);
}

std::optional<Frame> WsClient::next_frame(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (rx_.size() >= 2) {
      const auto b0 = static_cast<unsigned char>(rx_[0]);
      const auto b1 = static_cast<unsigned char>(rx_[1]);
      std::size_t header = 2;
      std::uint64_t len = b1 & 0x7f;
      const bool masked = (b1 & 0x80) != 0;
      bool complete = true;
      if (len == 126) {
        header = 4;
        if (rx_.size() < header)
          complete = false;
        else
          len = (static_cast<unsigned char>(rx_[2]) << 8) | static_cast<unsigned char>(rx_[3]);
      } else if (len == 127) {
        header = 10;
        if (rx_.size() < header) {
          complete = false;
        } else {
          len = 0;
          for (int i = 0; i < 8; ++i)
            len = (len << 8) | static_cast<unsigned char>(rx_[2 + static_cast<std::size_t>(i)]);
        }
      }
      if (masked) header += 4;
      if (complete && rx_.size() >= header + len) {
        Frame f;
        f.fin = (b0 & 0x80) != 0;
        f.opcode = static_cast<Opcode>(b0 & 0x0f);
        f.payload = rx_.substr(header, static_cast<std::size_t>(len));
        if (masked) {
          const std::string mask = rx_.substr(header - 4, 4);
          for (std::size_t i = 0; i < f.payload.size(); ++i)
            f.payload[i] = static_cast<char>(f.payload[i] ^ mask[i % 4]);
        }
        rx_.erase(0, header + static_cast<std::size_t>(len));
        if (f.opcode == Opcode::ping) ++pings_;
        if (f.opcode == Opcode::close) close_ = f;
        return f;
      }
    }
    if (!fill(remaining(deadline))) return std::nullopt;
  }
}

std::optional<std::string> WsClient::try_recv_text(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string message;
  bool in_message = false;
  while (true) {
    auto f = next_frame(remaining(deadline));
    if (!f) {
      if (eof_) throw SupportError("connection ended while waiting for a text message");
      return std::nullopt;
    }
    switch (f->opcode) {
      case Opcode::ping:
        if (auto_pong) send_frame(Opcode::pong, f->payload);
        break;
      case Opcode::pong: break;
      case Opcode::close:
        throw SupportError("Close frame " + std::to_string(f->close_code()) + " (" + f->close_reason() +
                           ") while waiting for a text message");
      case Opcode::binary: throw SupportError("binary frame while waiting for a text message");
      case Opcode::text:
        message = f->payload;
        in_message = !f->fin;
        if (f->fin) return message;
        break;
      case Opcode::continuation:
        if (!in_message) throw SupportError("continuation frame outside a message");
        message += f->payload;
        if (f->fin) return message;
        break;
    }
  }
}

std::string WsClient::recv_text(Millis timeout) {
  auto text = try_recv_text(timeout);
  if (!text) throw SupportError("no text message within " + std::to_string(timeout.count()) + " ms");
  return *text;
}

int WsClient::wait_close(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    auto f = next_frame(remaining(deadline));
    if (!f) {
      if (eof_) return kNoCloseFrame;
      throw SupportError("no Close frame within " + std::to_string(timeout.count()) + " ms");
    }
    if (f->opcode == Opcode::ping && auto_pong) send_frame(Opcode::pong, f->payload);
    if (f->opcode == Opcode::close) {
      // Answer as RFC 6455 §5.5.1 asks; the peer may already be gone.
      try {
        send_frame(Opcode::close, f->payload.substr(0, 2));
      } catch (const SupportError&) {
      }
      return f->close_code();
    }
  }
}

}  // namespace webpush::testing
