#include "socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace webpush::testing {

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Waits for `events` on fd; false on timeout.
bool wait_for(int fd, short events, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(remaining(deadline).count()));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw SupportError(errno_text("poll"));
  }
}

}  // namespace

Socket Socket::connect(const std::string& host, std::uint16_t port, Millis timeout) {
  const bool v6 = host.find(':') != std::string::npos;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw SupportError(errno_text("socket"));
  Socket s(fd);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = 0;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.c_str(), &a.sin6_addr) != 1) throw SupportError("bad address " + host);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) throw SupportError("bad address " + host);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0 && errno != EINPROGRESS) throw SupportError(errno_text("connect to port " + std::to_string(port)));
  if (rc != 0) {
    if (!wait_for(fd, POLLOUT, timeout)) throw SupportError("connect to port " + std::to_string(port) + " timed out");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      throw SupportError("connect to port " + std::to_string(port) + ": " + std::strerror(err));
    }
  }
  return s;
}

Socket::Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Socket::~Socket() { close(); }

void Socket::send_all(std::string_view data, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd_, POLLOUT, remaining(deadline))) throw SupportError("send timed out");
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    throw SupportError(errno_text("send"));
  }
}

std::optional<std::size_t> Socket::read_some(char* buf, std::size_t len, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const ssize_t n = ::recv(fd_, buf, len, 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK) throw SupportError(errno_text("recv"));
    if (!wait_for(fd_, POLLIN, remaining(deadline))) return std::nullopt;
  }
}

void Socket::shutdown_write() noexcept {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void Socket::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace webpush::testing
