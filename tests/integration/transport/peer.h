// The server end for the transport tests, on 127.0.0.1: a thread that accepts
// one connection, does the TLS handshake (blocking OpenSSL) unless it is plain,
// and runs the test's script with the connection. Every blocking step has a
// deadline (5 s), so a broken client fails the test instead of hanging it.
//
// Thread: a Peer is made and destroyed on the test thread; its script runs on
// the peer's own thread. failure() and the script's results may be read once
// join() has returned.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <openssl/ssl.h>

namespace webpush::testing {

/// The peer's side of the accepted connection.
class PeerConnection {
 public:
  PeerConnection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  /// Up to `max` bytes as they come; "" at end of stream. Throws SupportError
  /// on a timeout or an error.
  std::string read_some(std::size_t max = 64 * 1024);
  /// Exactly `n` bytes. Throws SupportError when the stream ends first.
  std::string read_exact(std::size_t n);
  /// Reads until `delimiter` has arrived; returns everything read so far
  /// (possibly more than up to the delimiter).
  std::string read_until(std::string_view delimiter);
  /// Reads and drops what comes until the client ends the stream: true for
  /// close_notify, end of stream or a reset, false for a timeout or a TLS error.
  bool wait_for_end();
  void write(std::string_view data);
  /// Sends close_notify (TLS) and closes the write side.
  void shutdown();

 private:
  int fd_;
  SSL* ssl_;  // nullptr: plain TCP
};

class Peer {
 public:
  using Script = std::function<void(PeerConnection&)>;

  /// A TLS peer with `cert`/`key` (PEM), or a plain one when `cert` is empty.
  Peer(const std::filesystem::path& cert, const std::filesystem::path& key, Script script);
  /// Joins the thread (after the accept deadline at worst).
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// Waits for the script to end.
  void join();
  /// What went wrong on the peer's side ("" when the script ran to its end).
  [[nodiscard]] const std::string& failure() const noexcept { return failure_; }
  /// Set by the peer's thread once it is done (for EventLoop::run_until).
  [[nodiscard]] bool done() const noexcept { return done_.load(); }

 private:
  void run(Script script) noexcept;

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_{nullptr, SSL_CTX_free};
  std::string failure_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

/// A socket on 127.0.0.1 that is listening but never accepts (the kernel
/// completes TCP handshakes, nothing answers), or, with listen == false, bound
/// but not listening (connections are refused).
class SilentPort {
 public:
  explicit SilentPort(bool listen);
  ~SilentPort();
  SilentPort(const SilentPort&) = delete;
  SilentPort& operator=(const SilentPort&) = delete;
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

/// An HTTP/1.1 request as the peer read it.
struct PeerRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  ///< names lower-cased
  std::string body;
};

/// Reads one HTTP/1.1 request (headers, then a Content-Length body).
PeerRequest read_http_request(PeerConnection& connection);

}  // namespace webpush::testing
