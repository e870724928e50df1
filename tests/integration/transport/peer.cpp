#include "peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

#include <openssl/err.h>

#include "support.h"

namespace webpush::testing {

namespace {

constexpr Millis kPeerTimeout{5000};

std::string openssl_text() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    text += (text.empty() ? "" : "; ") + std::string(buf);
  }
  return text.empty() ? std::strerror(errno) : text;
}

// A socket on 127.0.0.1, port chosen by the kernel.
int bound_socket(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw SupportError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw SupportError(std::string("bind: ") + std::strerror(errno));
  }
  port = ntohs(a.sin_port);
  return fd;
}

void set_timeouts(int fd) {
  timeval tv{};
  tv.tv_sec = kPeerTimeout.count() / 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

// ---- PeerConnection ---------------------------------------------------------------

std::string PeerConnection::read_some(std::size_t max) {
  std::string buf(max, '\0');
  if (ssl_ == nullptr) {
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) throw SupportError(std::string("peer read: ") + std::strerror(errno));
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }
  ERR_clear_error();
  const int n = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()));
  if (n > 0) {
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }
  const int e = SSL_get_error(ssl_, n);
  if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) return "";
  throw SupportError("peer read: " + openssl_text());
}

std::string PeerConnection::read_exact(std::size_t n) {
  std::string out;
  while (out.size() < n) {
    const std::string chunk = read_some(n - out.size());
    if (chunk.empty()) {
      throw SupportError("peer: the stream ended after " + std::to_string(out.size()) + " of " + std::to_string(n) +
                         " bytes");
    }
    out += chunk;
  }
  return out;
}

std::string PeerConnection::read_until(std::string_view delimiter) {
  std::string out;
  while (out.find(delimiter) == std::string::npos) {
    const std::string chunk = read_some(4096);
    if (chunk.empty()) throw SupportError("peer: the stream ended before '" + std::string(delimiter) + "'");
    out += chunk;
  }
  return out;
}

bool PeerConnection::wait_for_end() {
  char buf[4096];
  for (;;) {
    if (ssl_ == nullptr) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) continue;
      return n == 0 || errno == ECONNRESET;
    }
    ERR_clear_error();
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) continue;
    const int e = SSL_get_error(ssl_, n);
    return e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET));
  }
}

void PeerConnection::write(std::string_view data) {
  while (!data.empty()) {
    if (ssl_ == nullptr) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) throw SupportError(std::string("peer write: ") + std::strerror(errno));
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    ERR_clear_error();
    const int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
    if (n <= 0) throw SupportError("peer write: " + openssl_text());
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void PeerConnection::shutdown() {
  if (ssl_ != nullptr) SSL_shutdown(ssl_);
  ::shutdown(fd_, SHUT_WR);
}

// ---- Peer ---------------------------------------------------------------------

Peer::Peer(const std::filesystem::path& cert, const std::filesystem::path& key, Script script) {
  if (!cert.empty()) {
    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    if (!ctx_ || SSL_CTX_use_certificate_chain_file(ctx_.get(), cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
      throw SupportError("peer: cannot load " + cert.string() + ": " + openssl_text());
    }
    SSL_CTX_set_options(ctx_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);  // a client that just goes is an end
  }
  listen_fd_ = bound_socket(port_);
  if (::listen(listen_fd_, 4) != 0) throw SupportError(std::string("listen: ") + std::strerror(errno));
  thread_ = std::thread([this, script = std::move(script)]() mutable { run(std::move(script)); });
}

Peer::~Peer() {
  join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void Peer::join() {
  if (thread_.joinable()) thread_.join();
}

void Peer::run(Script script) noexcept {
  int fd = -1;
  SSL* ssl = nullptr;
  try {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(kPeerTimeout.count())) != 1) throw SupportError("peer: no connection came");
    fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) throw SupportError(std::string("accept: ") + std::strerror(errno));
    set_timeouts(fd);
    if (ctx_) {
      ssl = SSL_new(ctx_.get());
      SSL_set_fd(ssl, fd);
      ERR_clear_error();
      if (SSL_accept(ssl) != 1) throw SupportError("peer: TLS handshake failed: " + openssl_text());
    }
    PeerConnection connection(fd, ssl);
    script(connection);
  } catch (const std::exception& e) {
    failure_ = e.what();
  }
  if (ssl != nullptr) SSL_free(ssl);
  if (fd >= 0) ::close(fd);
  done_.store(true);
}

// ---- SilentPort ----------------------------------------------------------------

SilentPort::SilentPort(bool listen) {
  fd_ = bound_socket(port_);
  if (listen && ::listen(fd_, 4) != 0) throw SupportError(std::string("listen: ") + std::strerror(errno));
}

SilentPort::~SilentPort() { ::close(fd_); }

// ---- HTTP -----------------------------------------------------------------------

PeerRequest read_http_request(PeerConnection& connection) {
  std::string data = connection.read_until("\r\n\r\n");
  const auto head_end = data.find("\r\n\r\n");
  std::string head = data.substr(0, head_end);
  std::string body = data.substr(head_end + 4);
  PeerRequest request;
  auto line_end = head.find("\r\n");
  const std::string request_line = head.substr(0, line_end);
  const auto sp1 = request_line.find(' ');
  const auto sp2 = request_line.find(' ', sp1 + 1);
  request.method = request_line.substr(0, sp1);
  request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  while (line_end != std::string::npos) {
    const auto start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    request.headers[name] = value;
  }
  const auto length = request.headers.find("content-length");
  const std::size_t expected = length == request.headers.end() ? 0 : std::stoul(length->second);
  if (body.size() < expected) body += connection.read_exact(expected - body.size());
  request.body = std::move(body);
  return request;
}

}  // namespace webpush::testing
