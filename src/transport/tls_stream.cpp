#include "webpush/transport/tls_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <utility>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "internal.h"
#include "resolver.h"
#include "trace_fields.h"
#include "trust_store.h"
#include "webpush/event/fd_watch.h"
#include "webpush/event/timer.h"
#include "webpush/event/trace.h"
#include "webpush/event/unique_fd.h"

namespace webpush::transport {

namespace {

using protocol::DisconnectReason;

// The largest TLS record's plaintext: one SSL_read takes a whole record.
constexpr std::size_t kStreamReadChunk = 16 * 1024;
// Records read per wake-up before the loop gets a turn (the rest waits in the
// socket, which wakes the loop again).
constexpr int kStreamReadsPerTurn = 64;

struct SslFree {
  void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

// OpenSSL's error queue as text ("wrong version number"), emptied.
std::string openssl_reasons() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    if (!text.empty()) text += "; ";
    text += reason != nullptr ? reason : fmt::format("OpenSSL error {:#x}", e);
  }
  return text;
}

DisconnectReason reason_for_connect_errno(int err) {
  switch (err) {
    case ECONNREFUSED:
    case ENETUNREACH:
    case EHOSTUNREACH: return DisconnectReason::connect_refused;
    case ETIMEDOUT: return DisconnectReason::connect_timeout;
    default: return DisconnectReason::io_error;
  }
}

// A numeric address as a socket address; false when it is not one.
bool to_sockaddr(const std::string& address, std::uint16_t port, sockaddr_storage& out, socklen_t& len) {
  out = {};
  auto* in4 = reinterpret_cast<sockaddr_in*>(&out);
  if (inet_pton(AF_INET, address.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

void set_stream_socket_options(int fd, bool keepalive) {
  const int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // small messages, sent at once
  if (!keepalive) return;
  // As the WebSocket client's vhost: idle 60 s, then 3 probes 10 s apart.
  const int idle = 60;
  const int count = 3;
  const int interval = 10;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
}

class TlsStream final : public StreamConnection {
 public:
  TlsStream(event::EventLoop& loop, std::shared_ptr<SSL_CTX> tls, StreamListener& listener,
            const TlsStreamOptions& options, bool keepalive)
      : loop_(&loop),
        tls_(std::move(tls)),
        listener_(&listener),
        options_(options),
        keepalive_(keepalive),
        timer_(loop, [this] { on_timeout(); }) {}
  ~TlsStream() override {
    if (state_ != State::done) trace_closed("client close", "the stream was destroyed");
    drop();
  }
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  Result<void> start();
  void send(std::string bytes) override;
  void close() override;

 private:
  enum class State { resolving, connecting, handshaking, open, closing, done };

  void on_resolved(Result<std::vector<std::string>> addresses);
  Result<void> connect_to(const std::string& address);
  void on_socket_event();
  void check_connected();
  void start_tls();
  void handshake();
  [[nodiscard]] std::string handshake_failure(int ssl_error);
  void pump();
  [[nodiscard]] bool flush();
  void read_available();
  void deliver(const char* data, std::size_t len);
  void end_on_io_error(int ssl_error, const char* what);
  void on_timeout();
  void shut_down();
  void end(DisconnectReason reason, std::string detail);
  void end_later(DisconnectReason reason, std::string detail);
  void notify_closed(DisconnectReason reason, std::string detail) noexcept;
  void drop() noexcept;
  [[nodiscard]] std::string where() const { return fmt::format("{}:{}", options_.host, options_.port); }

  // Trace lines (docs/cli.md "Trace lines"), as the WebSocket client's; each
  // does nothing unless this stream is traced (trace_id_).
  void trace_open();
  void trace_tcp();
  void trace_tls(bool failed) noexcept;
  void trace_bytes(const char* name, int n) const noexcept;
  void trace_closed(std::string_view reason, std::string_view detail) noexcept;
  static void on_tls_info(const SSL* ssl, int where, int value) noexcept;

  event::EventLoop* loop_;
  std::shared_ptr<SSL_CTX> tls_;
  StreamListener* listener_;
  TlsStreamOptions options_;
  bool keepalive_;
  State state_ = State::resolving;
  bool quiet_ = false;  // close() was called, or the listener was told: it hears nothing more
  event::Timer timer_;
  std::unique_ptr<detail::Resolution> resolution_;
  std::unique_ptr<event::FdWatch> watch_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::deque<std::string> tx_;
  std::size_t tx_offset_ = 0;                                   // bytes of tx_.front() already written
  std::size_t queued_ = 0;                                      // bytes in tx_ not yet written
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // deferred work checks it

  // Tracing: a process-wide number for this attempt (0: not traced), when it
  // started and when its current step did, the last TLS alert of the handshake.
  std::uint64_t trace_id_ = 0;
  std::chrono::steady_clock::time_point trace_start_{};
  std::chrono::steady_clock::time_point trace_step_{};
  std::string tls_alert_;
  bool traced_closed_ = false;
};

Result<void> TlsStream::start() {
  timer_.arm(options_.connect_timeout);
  if (event::Trace::enabled()) trace_open();
  if (detail::is_numeric_host(options_.host)) {
    state_ = State::connecting;
    return connect_to(options_.host);
  }
  auto resolution = detail::Resolution::start(
      *loop_, options_.host, [this](Result<std::vector<std::string>> found) { on_resolved(std::move(found)); });
  if (!resolution) return fail(Errc::connect, resolution.error().message());
  resolution_ = std::move(*resolution);
  return {};
}

void TlsStream::on_resolved(Result<std::vector<std::string>> addresses) {
  // This runs inside the resolution's own callback: destroy it later.
  loop_->destroy_later(std::move(resolution_));
  if (state_ != State::resolving) return;
  if (trace_id_ != 0) detail::trace_dns_result(trace_id_, options_.host, addresses, detail::since(trace_start_));
  if (!addresses) {
    end(DisconnectReason::dns_failure, addresses.error().message());
    return;
  }
  state_ = State::connecting;
  if (auto ok = connect_to(addresses->front()); !ok) end(DisconnectReason::io_error, ok.error().message());
}

Result<void> TlsStream::connect_to(const std::string& address) {
  sockaddr_storage sa{};
  socklen_t sa_len = 0;
  if (!to_sockaddr(address, options_.port, sa, sa_len)) {
    return fail(Errc::connect, fmt::format("{}: {} is not a numeric address", where(), address));
  }
  event::UniqueFd fd(::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(Errc::connect, fmt::format("{}: cannot make a socket: {}", where(), strerror(errno)));
  set_stream_socket_options(fd.get(), keepalive_);
  if (trace_id_ != 0) trace_step_ = std::chrono::steady_clock::now();  // the TCP connect begins
  const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sa_len);
  const int err = rc == 0 ? 0 : errno;
  auto watch = event::FdWatch::create(
      *loop_, std::move(fd), [this] { on_socket_event(); }, [this] { on_socket_event(); });
  if (!watch) return fail(Errc::connect, fmt::format("{}: {}", where(), watch.error().message()));
  watch_ = std::move(*watch);
  if (err != 0 && err != EINPROGRESS) {
    // Reported on a later turn: connect() may have been called by the listener.
    end_later(reason_for_connect_errno(err), fmt::format("cannot connect to {}: {}", where(), strerror(err)));
    return {};
  }
  watch_->want_writable();  // writable: connected, or failed (SO_ERROR says which)
  return {};
}

void TlsStream::on_socket_event() {
  switch (state_) {
    case State::connecting: check_connected(); break;
    case State::handshaking: handshake(); break;
    case State::open:
    case State::closing: pump(); break;
    case State::resolving:
    case State::done: break;
  }
}

void TlsStream::check_connected() {
  const int fd = watch_->fd();
  int err = 0;
  socklen_t len = sizeof err;
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = fd < 0 ? ECONNRESET : errno;
  if (err != 0) {
    end(reason_for_connect_errno(err), fmt::format("cannot connect to {}: {}", where(), strerror(err)));
    return;
  }
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
    watch_->want_writable();  // not connected yet: woken for something else
    return;
  }
  if (trace_id_ != 0) trace_tcp();
  start_tls();
}

void TlsStream::start_tls() {
  state_ = State::handshaking;
  ssl_.reset(SSL_new(tls_.get()));
  if (!ssl_ || SSL_set_fd(ssl_.get(), watch_->fd()) != 1) {
    ERR_clear_error();
    end(DisconnectReason::tls_error, fmt::format("{}: OpenSSL cannot start a TLS connection", where()));
    return;
  }
  // Writes may end mid-string (the rest goes when writable); an end of stream
  // without close_notify is an end like any other (the MCS framing sees a cut
  // message).
  SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE);
  SSL_set_options(ssl_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_set_verify(ssl_.get(), SSL_VERIFY_PEER, nullptr);
  if (trace_id_ != 0) {
    // Alerts of the handshake, for its trace line.
    SSL_set_app_data(ssl_.get(), this);
    SSL_set_info_callback(ssl_.get(), &TlsStream::on_tls_info);
  }
  bool named = false;
  if (detail::is_numeric_host(options_.host)) {
    named = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), options_.host.c_str()) == 1;
  } else {
    named = SSL_set_tlsext_host_name(ssl_.get(), options_.host.c_str()) == 1 &&
            SSL_set1_host(ssl_.get(), options_.host.c_str()) == 1;
  }
  if (!named) {
    ERR_clear_error();
    end(DisconnectReason::tls_error, fmt::format("{}: the host name cannot be checked against a certificate", where()));
    return;
  }
  SSL_set_connect_state(ssl_.get());
  handshake();
}

void TlsStream::handshake() {
  ERR_clear_error();
  const int rc = SSL_connect(ssl_.get());
  if (rc == 1) {
    state_ = State::open;
    timer_.cancel();
    if (trace_id_ != 0) trace_tls(false);
    if (!quiet_) {
      try {
        listener_->on_open();
      } catch (const std::exception& e) {
        detail::log().error("stream listener failed on open: {}", e.what());
      }
    }
    if (state_ == State::open || state_ == State::closing) pump();
    return;
  }
  const int e = SSL_get_error(ssl_.get(), rc);
  if (e == SSL_ERROR_WANT_READ) return;  // the socket wakes the loop when the server answers
  if (e == SSL_ERROR_WANT_WRITE) {
    watch_->want_writable();
    return;
  }
  std::string why = handshake_failure(e);  // first: it reads errno
  if (trace_id_ != 0) trace_tls(true);
  end(DisconnectReason::tls_error, std::move(why));
}

std::string TlsStream::handshake_failure(int ssl_error) {
  const int saved_errno = errno;
  const long verify = SSL_get_verify_result(ssl_.get());
  std::string reasons = openssl_reasons();
  if (verify != X509_V_OK) {
    return fmt::format("TLS with {}: the server's certificate is not trusted: {}", where(),
                       X509_verify_cert_error_string(verify));
  }
  if (!reasons.empty()) return fmt::format("TLS handshake with {} failed: {}", where(), reasons);
  if (ssl_error == SSL_ERROR_SYSCALL && saved_errno != 0) {
    return fmt::format("TLS handshake with {} failed: {}", where(), strerror(saved_errno));
  }
  return fmt::format("TLS handshake with {}: the server closed the connection", where());
}

void TlsStream::pump() {
  if (!flush()) return;
  if (state_ == State::open) read_available();
}

// Writes what is queued; false when the stream ended (or was shut down).
bool TlsStream::flush() {
  while (!tx_.empty()) {
    const std::string& front = tx_.front();
    const std::size_t left = std::min<std::size_t>(front.size() - tx_offset_, INT_MAX);
    ERR_clear_error();
    const int n = SSL_write(ssl_.get(), front.data() + tx_offset_, static_cast<int>(left));
    if (n > 0) {
      if (trace_id_ != 0) trace_bytes("tls.out", n);
      tx_offset_ += static_cast<std::size_t>(n);
      queued_ -= static_cast<std::size_t>(n);
      if (tx_offset_ == front.size()) {
        tx_.pop_front();
        tx_offset_ = 0;
      }
      continue;
    }
    const int e = SSL_get_error(ssl_.get(), n);
    if (e == SSL_ERROR_WANT_WRITE) {
      watch_->want_writable();
      return true;
    }
    if (e == SSL_ERROR_WANT_READ) return true;  // the next readable event retries
    end_on_io_error(e, "write to");
    return false;
  }
  if (state_ == State::closing) {
    shut_down();
    return false;
  }
  return true;
}

void TlsStream::read_available() {
  char buf[kStreamReadChunk];
  for (int reads = 0; state_ == State::open; ++reads) {
    if (reads >= kStreamReadsPerTurn && SSL_has_pending(ssl_.get()) == 0) return;
    ERR_clear_error();
    const int n = SSL_read(ssl_.get(), buf, sizeof buf);
    if (n > 0) {
      if (trace_id_ != 0) trace_bytes("tls.in", n);
      deliver(buf, static_cast<std::size_t>(n));
      continue;
    }
    const int e = SSL_get_error(ssl_.get(), n);
    if (e == SSL_ERROR_WANT_READ) return;
    if (e == SSL_ERROR_WANT_WRITE) {
      watch_->want_writable();
      return;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
      end(DisconnectReason::server_close, fmt::format("{} ended the stream", where()));
      return;
    }
    end_on_io_error(e, "read from");
    return;
  }
}

void TlsStream::deliver(const char* data, std::size_t len) {
  if (quiet_) return;
  try {
    listener_->on_data(std::string_view(data, len));
  } catch (const std::exception& e) {
    detail::log().error("stream listener failed on data: {}", e.what());
  }
}

void TlsStream::end_on_io_error(int ssl_error, const char* what) {
  const int err = errno;
  std::string reasons = openssl_reasons();
  if (ssl_error == SSL_ERROR_SYSCALL && reasons.empty()) {
    if (err == 0) {
      end(DisconnectReason::server_close, fmt::format("{} ended the stream", where()));
    } else {
      end(DisconnectReason::io_error, fmt::format("cannot {} {}: {}", what, where(), strerror(err)));
    }
    return;
  }
  end(DisconnectReason::io_error,
      fmt::format("cannot {} {}: TLS error: {}", what, where(), reasons.empty() ? "unknown" : reasons));
}

void TlsStream::on_timeout() {
  if (state_ != State::resolving && state_ != State::connecting && state_ != State::handshaking) return;
  const char* step = state_ == State::resolving    ? "resolving the name"
                     : state_ == State::connecting ? "connecting"
                                                   : "in the TLS handshake";
  end(DisconnectReason::connect_timeout,
      fmt::format("no TLS connection to {} within {:.1f} s (still {})", where(),
                  static_cast<double>(options_.connect_timeout.count()) / 1000.0, step));
}

void TlsStream::send(std::string bytes) {
  if (quiet_ || bytes.empty() || state_ == State::done || state_ == State::closing) return;
  if (bytes.size() > options_.max_queued - std::min(queued_, options_.max_queued)) {
    drop();
    end_later(
        DisconnectReason::io_error,
        fmt::format("{}: more than {} bytes queued to send (the server does not read)", where(), options_.max_queued));
    return;
  }
  queued_ += bytes.size();
  tx_.push_back(std::move(bytes));
  // Written from the writable callback, never from inside send(): a failure
  // reaches the listener from the loop, not from its own call.
  if (state_ == State::open) watch_->want_writable();
}

void TlsStream::close() {
  quiet_ = true;
  if (state_ == State::done || state_ == State::closing) return;
  if (state_ != State::open) {
    trace_closed("client close", "before the TLS handshake");
    drop();
    return;
  }
  if (tx_.empty()) {
    shut_down();
    return;
  }
  state_ = State::closing;
  watch_->want_writable();
}

void TlsStream::shut_down() {
  // One close_notify, without waiting for the server's: the socket goes now.
  trace_closed("client close", "");
  ERR_clear_error();
  if (ssl_ && watch_ && watch_->fd() >= 0) SSL_shutdown(ssl_.get());
  ERR_clear_error();
  drop();
}

void TlsStream::end(DisconnectReason reason, std::string detail) {
  if (state_ == State::done) return;
  trace_closed(protocol::to_string(reason), detail);
  drop();
  notify_closed(reason, std::move(detail));
}

void TlsStream::end_later(DisconnectReason reason, std::string detail) {
  trace_closed(protocol::to_string(reason), detail);  // it ends now; the listener hears it later
  drop();
  loop_->defer([alive = std::weak_ptr<bool>(alive_), this, reason, detail = std::move(detail)]() mutable {
    if (!alive.expired()) notify_closed(reason, std::move(detail));
  });
}

void TlsStream::notify_closed(DisconnectReason reason, std::string detail) noexcept {
  if (quiet_) return;
  quiet_ = true;
  try {
    listener_->on_closed(reason, std::move(detail));
  } catch (const std::exception& e) {
    detail::log().error("stream listener failed on close: {}", e.what());
  }
}

void TlsStream::drop() noexcept {
  state_ = State::done;
  timer_.cancel();
  // Inside the resolution's callback it was handed to destroy_later already.
  resolution_.reset();
  ssl_.reset();
  watch_.reset();  // allowed inside its own callback: the descriptor closes on a later turn
  tx_.clear();
  tx_offset_ = 0;
  queued_ = 0;
}

// ---- trace lines ----------------------------------------------------------------

void TlsStream::trace_open() {
  trace_id_ = detail::next_trace_conn();
  trace_start_ = trace_step_ = std::chrono::steady_clock::now();
  // The stream knows only that it carries TLS to host:port (the protocol
  // inside is its listener's business).
  event::trace("connect.start", [&](event::TraceFields& f) {
    const bool ipv6 = options_.host.find(':') != std::string::npos;
    f.add("conn", trace_id_)
        .add("url", ipv6 ? fmt::format("tls://[{}]:{}", options_.host, options_.port)
                         : fmt::format("tls://{}:{}", options_.host, options_.port));
  });
  if (detail::is_numeric_host(options_.host)) detail::trace_dns_literal(trace_id_, options_.host);
}

void TlsStream::trace_tcp() {
  event::trace("tcp.connected", [&](event::TraceFields& f) {
    f.add("conn", trace_id_);
    detail::add_socket_ends(f, watch_->fd());
    f.add_ms("ms", detail::since(trace_step_));
  });
  trace_step_ = std::chrono::steady_clock::now();
}

void TlsStream::trace_tls(bool failed) noexcept {
  event::trace(failed ? "tls.failed" : "tls.handshake", [&](event::TraceFields& f) {
    f.add("conn", trace_id_);
    detail::add_tls_fields(f, ssl_.get());
    if (!tls_alert_.empty()) f.add("alert", tls_alert_);
    f.add_ms("ms", detail::since(trace_step_));
  });
  trace_step_ = std::chrono::steady_clock::now();
}

void TlsStream::trace_bytes(const char* name, int n) const noexcept {
  event::trace(name, [&](event::TraceFields& f) { f.add("conn", trace_id_).add("bytes", n); });
}

void TlsStream::trace_closed(std::string_view reason, std::string_view detail) noexcept {
  if (trace_id_ == 0 || traced_closed_) return;
  traced_closed_ = true;
  // Qualified: the parameter `detail` hides the namespace.
  transport::detail::trace_closed("tls.closed", trace_id_, reason, 0, 0, detail, trace_start_);
}

void TlsStream::on_tls_info(const SSL* ssl, int where, int value) noexcept {
  if ((where & SSL_CB_ALERT) == 0) return;
  auto* stream = static_cast<TlsStream*>(SSL_get_app_data(ssl));
  if (stream == nullptr || stream->state_ != State::handshaking) return;
  try {
    stream->tls_alert_ = detail::alert_text(where, value);
  } catch (...) {  // the alert goes unnamed
  }
}

}  // namespace

Result<std::unique_ptr<TlsStreamFactory>> TlsStreamFactory::create(ClientVhost& client, TlsStreamOptions options) {
  if (options.host.empty()) return fail(Errc::bad_url, "TLS stream: no host given");
  if (options.port == 0) return fail(Errc::bad_url, fmt::format("TLS stream to {}: port 0", options.host));
  if (options.host.find_first_of(" /\t\r\n") != std::string::npos) {
    return fail(Errc::bad_url, fmt::format("TLS stream: '{}' is not a host name", options.host));
  }
  auto ctx = detail::client_tls_context(client.options().ca_file);
  if (!ctx) return tl::unexpected(ctx.error());
  std::unique_ptr<TlsStreamFactory> factory(new TlsStreamFactory(client, std::move(options)));
  factory->tls_ = std::move(*ctx);
  return factory;
}

TlsStreamFactory::~TlsStreamFactory() = default;

Result<std::unique_ptr<StreamConnection>> TlsStreamFactory::connect(StreamListener& listener) {
  auto stream =
      std::make_unique<TlsStream>(client_->loop(), tls_, listener, options_, client_->options().tcp_keepalive);
  if (auto ok = stream->start(); !ok) return tl::unexpected(ok.error());
  return std::unique_ptr<StreamConnection>(std::move(stream));
}

}  // namespace webpush::transport
