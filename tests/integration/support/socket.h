// A blocking TCP client socket whose every operation has a deadline (poll()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "support.h"

namespace webpush::testing {

class Socket {
 public:
  /// Connects to host (an IP literal) and port. Throws SupportError.
  static Socket connect(const std::string& host, std::uint16_t port, Millis timeout = kDefaultTimeout);
  /// Takes ownership of a connected descriptor (e.g. from accept()).
  static Socket adopt(int fd) noexcept { return Socket(fd); }

  Socket() = default;
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();

  /// Writes everything or throws (timeout, reset).
  void send_all(std::string_view data, Millis timeout = kDefaultTimeout);
  /// Reads what is available, waiting up to `timeout` for the first byte.
  /// Returns nullopt on timeout, 0 at end of stream; throws on an error.
  std::optional<std::size_t> read_some(char* buf, std::size_t len, Millis timeout);
  /// Half-close (FIN) of the sending side.
  void shutdown_write() noexcept;
  void close() noexcept;
  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }

 private:
  explicit Socket(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace webpush::testing
