#include "scripted_service.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstring>

namespace webpush::testing {
namespace {

constexpr int kText = 0x1;
constexpr int kClose = 0x8;
constexpr int kPing = 0x9;
constexpr int kPong = 0xA;

// RFC 6455 §4.2.2: base64(SHA-1(key + GUID)).
std::string accept_key(const std::string& key) {
  const std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned md_len = 0;
  EVP_Digest(in.data(), in.size(), md.data(), &md_len, EVP_sha1(), nullptr);
  std::array<unsigned char, 64> out{};
  const int n = EVP_EncodeBlock(out.data(), md.data(), static_cast<int>(md_len));
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(n));
}

std::string header_value(const std::string& request, std::string name) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t pos = 0;
  while ((pos = request.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    const auto colon = request.find(':', pos);
    const auto end = request.find("\r\n", pos);
    if (colon == std::string::npos || end == std::string::npos || colon > end) continue;
    std::string key = request.substr(pos, colon - pos);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key != name) continue;
    std::size_t v = colon + 1;
    while (v < end && request[v] == ' ') ++v;
    return request.substr(v, end - v);
  }
  return "";
}

}  // namespace

bool ScriptedPeer::fill(std::size_t n, Clock::time_point deadline) {
  char chunk[4096];
  while (buf_.size() < n) {
    const auto got = socket_.read_some(chunk, sizeof chunk, remaining(deadline));
    if (!got || *got == 0) return false;
    buf_.append(chunk, *got);
  }
  return true;
}

void ScriptedPeer::accept_upgrade() {
  const auto deadline = Clock::now() + kDefaultTimeout;
  std::size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(buf_.size() + 1, deadline)) throw SupportError("scripted service: no upgrade request");
  }
  const std::string request = buf_.substr(0, end + 4);
  buf_.erase(0, end + 4);
  const std::string key = header_value(request, "Sec-WebSocket-Key");
  if (key.empty()) throw SupportError("scripted service: no Sec-WebSocket-Key in " + request);
  std::string response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
      accept_key(key) + "\r\n";
  const std::string protocol = header_value(request, "Sec-WebSocket-Protocol");
  if (!protocol.empty()) response += "Sec-WebSocket-Protocol: " + protocol.substr(0, protocol.find(',')) + "\r\n";
  socket_.send_all(response + "\r\n");
}

std::optional<ScriptedPeer::Frame> ScriptedPeer::read_frame(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  if (!fill(2, deadline)) return std::nullopt;
  const auto b0 = static_cast<unsigned char>(buf_[0]);
  const auto b1 = static_cast<unsigned char>(buf_[1]);
  std::size_t len = b1 & 0x7f;
  std::size_t at = 2;
  if (len >= 126) {
    const std::size_t bytes = len == 126 ? 2 : 8;
    if (!fill(at + bytes, deadline)) return std::nullopt;
    len = 0;
    for (std::size_t i = 0; i < bytes; ++i) len = (len << 8) | static_cast<unsigned char>(buf_[at + i]);
    at += bytes;
  }
  const bool masked = (b1 & 0x80) != 0;
  const std::size_t mask_at = at;
  if (masked) at += 4;
  if (!fill(at + len, deadline)) return std::nullopt;
  Frame f{b0 & 0x0f, buf_.substr(at, len)};
  if (masked) {
    for (std::size_t i = 0; i < len; ++i) f.payload[i] = static_cast<char>(f.payload[i] ^ buf_[mask_at + i % 4]);
  }
  buf_.erase(0, at + len);
  return f;
}

std::optional<std::string> ScriptedPeer::read_text(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (auto f = read_frame(remaining(deadline))) {
    if (f->opcode == kText) return f->payload;
    if (f->opcode == kPing) send_frame(kPong, f->payload);
    if (f->opcode == kClose) return std::nullopt;
  }
  return std::nullopt;
}

void ScriptedPeer::send_frame(int opcode, std::string_view payload) {
  std::string frame(1, static_cast<char>(0x80 | opcode));
  if (payload.size() < 126) {
    frame += static_cast<char>(payload.size());
  } else if (payload.size() < 65536) {
    frame += static_cast<char>(126);
    frame += static_cast<char>(payload.size() >> 8);
    frame += static_cast<char>(payload.size() & 0xff);
  } else {
    frame += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((payload.size() >> shift) & 0xff);
  }
  frame += payload;
  socket_.send_all(frame);
}

void ScriptedPeer::send_text(std::string_view text) { send_frame(kText, text); }

void ScriptedPeer::send_close(int code) {
  const std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  send_frame(kClose, payload);
  wait_closed(Millis(2000));  // the client's Close in reply, or its FIN
  socket_.close();
}

void ScriptedPeer::wait_closed(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (auto f = read_frame(remaining(deadline))) {
    if (f->opcode == kClose) return;
  }
}

ScriptedService::ScriptedService(Script script) : script_(std::move(script)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw SupportError(std::string("scripted service: cannot listen: ") + std::strerror(errno));
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

ScriptedService::~ScriptedService() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
}

std::string ScriptedService::ws_url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/"; }

void ScriptedService::serve() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    ScriptedPeer peer(Socket::adopt(fd));
    try {
      script_(peer);
    } catch (const SupportError&) {
      // The client went away mid-script: the next connection gets the script again.
    }
  }
}

}  // namespace webpush::testing
