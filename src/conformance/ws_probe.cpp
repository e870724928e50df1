#include "webpush/conformance/ws_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "webpush/conformance/text.h"
#include "webpush/core/url.h"

namespace webpush::conformance {

namespace {

int remaining_ms(SteadyTime deadline) {
  const auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Waits until `fd` is ready for `events`; false at the deadline.
bool wait_fd(int fd, short events, SteadyTime deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // let the read or write report the error
  }
}

std::string ssl_error_text() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Result<int> connect_one(const addrinfo* ai, SteadyTime deadline) {
  const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) return fail(Errc::connect, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
    const int err = errno;
    ::close(fd);
    return fail(Errc::connect, std::strerror(err));
  }
  if (!wait_fd(fd, POLLOUT, deadline)) {
    ::close(fd);
    return fail(Errc::timeout, "TCP connect timed out");
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    ::close(fd);
    return fail(Errc::connect, std::strerror(err));
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

Result<int> connect_tcp(const Url& url, SteadyTime deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(url.port);
  if (const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &list); rc != 0) {
    return fail(Errc::connect, fmt::format("{}: {}", url.host, ::gai_strerror(rc)));
  }
  Result<int> fd = fail(Errc::connect, url.host + ": no address");
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    fd = connect_one(ai, deadline);
    if (fd) break;
  }
  ::freeaddrinfo(list);
  if (!fd)
    return fail(fd.error().is(Errc::timeout) ? Errc::timeout : Errc::connect,
                fmt::format("{}:{}: {}", url.host, url.port, fd.error().message()));
  return fd;
}

}  // namespace

struct WsProbe::Socket {
  int fd = -1;
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;

  ~Socket() {
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }

  Result<void> start_tls(const Url& url, const std::string& ca_file, SteadyTime deadline);
  Result<std::size_t> read_some(char* buf, std::size_t len, SteadyTime deadline);
  Result<void> write_all(std::string_view data, SteadyTime deadline);
  void shutdown() noexcept {
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }
};

Result<void> WsProbe::Socket::start_tls(const Url& url, const std::string& ca_file, SteadyTime deadline) {
  ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return fail(Errc::tls, ssl_error_text());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_default_verify_paths(ctx);
  if (!ca_file.empty() && SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return fail(Errc::tls, fmt::format("CA file {}: {}", ca_file, ssl_error_text()));
  }
  ssl = SSL_new(ctx);
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) return fail(Errc::tls, ssl_error_text());
  // An IP literal is checked against the certificate's IP addresses and gets no SNI (RFC 6066 §3).
  in6_addr probe_addr{};
  const bool ip_literal = ::inet_pton(AF_INET, url.host.c_str(), &probe_addr) == 1 ||
                          ::inet_pton(AF_INET6, url.host.c_str(), &probe_addr) == 1;
  const int checked = ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str())
                                 : SSL_set1_host(ssl, url.host.c_str());
  if (checked != 1) return fail(Errc::tls, "cannot set the name to verify: " + url.host);
  if (!ip_literal) SSL_set_tlsext_host_name(ssl, url.host.c_str());
  for (;;) {
    const int rc = SSL_connect(ssl);
    if (rc == 1) return {};
    const int err = SSL_get_error(ssl, rc);
    const short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (events == 0) {
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        return fail(Errc::tls, fmt::format("certificate: {}", X509_verify_cert_error_string(verify)));
      }
      return fail(Errc::tls, ssl_error_text());
    }
    if (!wait_fd(fd, events, deadline)) return fail(Errc::timeout, "TLS handshake timed out");
  }
}

Result<std::size_t> WsProbe::Socket::read_some(char* buf, std::size_t len, SteadyTime deadline) {
  for (;;) {
    if (ssl != nullptr) {
      const int rc = SSL_read(ssl, buf, static_cast<int>(len));
      if (rc > 0) return static_cast<std::size_t>(rc);
      const int err = SSL_get_error(ssl, rc);
      if (err == SSL_ERROR_ZERO_RETURN) return std::size_t{0};
      if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return std::size_t{0};  // EOF without close_notify
      const short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (events == 0) return fail(Errc::io, ssl_error_text());
      if (!wait_fd(fd, events, deadline)) return fail(Errc::timeout, "nothing arrived");
      continue;
    }
    const ssize_t n = ::recv(fd, buf, len, 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == ECONNRESET) return std::size_t{0};
    if (errno != EAGAIN && errno != EINTR) return fail(Errc::io, std::string("recv: ") + std::strerror(errno));
    if (!wait_fd(fd, POLLIN, deadline)) return fail(Errc::timeout, "nothing arrived");
  }
}

Result<void> WsProbe::Socket::write_all(std::string_view data, SteadyTime deadline) {
  while (!data.empty()) {
    short events = POLLOUT;
    if (ssl != nullptr) {
      const int rc = SSL_write(ssl, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20)));
      if (rc > 0) {
        data.remove_prefix(static_cast<std::size_t>(rc));
        continue;
      }
      const int err = SSL_get_error(ssl, rc);
      events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (events == 0) return fail(Errc::io, ssl_error_text());
    } else {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return fail(Errc::io, std::string("send: ") + std::strerror(errno));
      }
    }
    if (!wait_fd(fd, events, deadline)) return fail(Errc::timeout, "the service stopped reading");
  }
  return {};
}

namespace {

std::array<std::uint8_t, 4> random_mask() {
  std::array<std::uint8_t, 4> mask{};
  if (RAND_bytes(mask.data(), static_cast<int>(mask.size())) != 1) mask = {0x5a, 0x17, 0xc3, 0x81};
  return mask;
}

Result<std::string> random_key() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return fail(Errc::setup, "no randomness for Sec-WebSocket-Key");
  unsigned char out[25];
  const int n = EVP_EncodeBlock(out, raw, sizeof raw);
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

}  // namespace

WsProbe::WsProbe(std::unique_ptr<Socket> socket, std::size_t max_message)
    : socket_(std::move(socket)), decoder_(max_message), max_message_(max_message) {}

WsProbe::~WsProbe() = default;

Result<std::unique_ptr<WsProbe>> WsProbe::open(std::string_view url_text, const ProbeOptions& options) {
  auto url = parse_url(url_text);
  if (!url) return fail(Errc::bad_url, url.error().message());
  if (url->scheme != "ws" && url->scheme != "wss") {
    return fail(Errc::bad_url, fmt::format("{}: the service's URL must be ws:// or wss://", url_text));
  }
  if (url->scheme == "ws" && !url->is_loopback() && !options.insecure) {
    return fail(Errc::bad_url, fmt::format("{}: plain ws:// only to a loopback host (or with --insecure)", url_text));
  }
  const SteadyTime deadline = std::chrono::steady_clock::now() + options.connect_timeout;
  auto fd = connect_tcp(*url, deadline);
  if (!fd) return tl::unexpected(fd.error());
  auto socket = std::make_unique<Socket>();
  socket->fd = *fd;
  if (url->is_secure()) {
    if (auto tls = socket->start_tls(*url, options.ca_file, deadline); !tls) return tl::unexpected(tls.error());
  }
  std::unique_ptr<WsProbe> probe(new WsProbe(std::move(socket), options.max_message));
  const std::string host = url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
  const std::string host_header = url->explicit_port ? fmt::format("{}:{}", host, url->port) : host;
  if (auto up = probe->upgrade(host_header, url->path, options, deadline); !up) return tl::unexpected(up.error());
  return probe;
}

Result<void> WsProbe::upgrade(std::string_view host_header, std::string_view path, const ProbeOptions& options,
                              SteadyTime deadline) {
  auto key = random_key();
  if (!key) return tl::unexpected(key.error());
  std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: webpushd-check-service\r\n",
      path, host_header, *key);
  if (options.subprotocol) request += fmt::format("Sec-WebSocket-Protocol: {}\r\n", *options.subprotocol);
  request += "\r\n";
  if (auto w = socket_->write_all(request, deadline); !w) return w;
  std::string head;
  char buf[4096];
  for (;;) {
    auto parsed = parse_upgrade_response(head, *key);
    if (!parsed) return tl::unexpected(parsed.error());
    if (*parsed) {
      subprotocol_ = (*parsed)->subprotocol;
      decoder_.feed(std::string_view(head).substr((*parsed)->size));
      return {};
    }
    auto n = socket_->read_some(buf, sizeof buf, deadline);
    if (!n)
      return fail(n.error().is(Errc::timeout) ? Errc::timeout : Errc::handshake,
                  "no answer to the WebSocket upgrade: " + n.error().message());
    if (*n == 0) return fail(Errc::handshake, "the service closed the connection during the upgrade");
    head.append(buf, *n);
  }
}

namespace {

// The code to answer a Close with: the service's own when a client may send
// it (RFC 6455 §7.4), 1000 otherwise (1005, 1006, 1015 and unassigned codes).
int sendable_close_code(int code) {
  const bool assigned = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011);
  return assigned || (code >= 3000 && code <= 4999) ? code : 1000;
}

}  // namespace

Result<void> WsProbe::send_text(std::string_view text) { return send_frame(Opcode::text, text); }

Result<void> WsProbe::send_frame(Opcode opcode, std::string_view payload, bool fin) {
  if (ended_ || close_sent_) return fail(Errc::closed, "the connection has ended");
  const auto deadline = std::chrono::steady_clock::now() + Millis(10'000);
  return socket_->write_all(encode_client_frame(opcode, payload, random_mask(), fin), deadline);
}

// Sends the Close frame once. A Close that cannot get out ends the connection
// all the same.
void WsProbe::send_close(int code) {
  if (close_sent_ || ended_) return;
  close_sent_ = true;
  const auto deadline = std::chrono::steady_clock::now() + Millis(1000);
  auto sent = socket_->write_all(encode_client_frame(Opcode::close, close_payload(code, ""), random_mask()), deadline);
  if (!sent) ended_ = WsEvent{WsEvent::Kind::eof, "", CloseInfo{1006, sent.error().message()}};
}

void WsProbe::close(int code) {
  send_close(code);
  socket_->shutdown();
  if (!ended_) ended_ = WsEvent{WsEvent::Kind::close, "", CloseInfo{code, "closed by the checker"}};
}

void WsProbe::close_and_wait(Millis timeout, int code) {
  send_close(code);
  const SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
  while (!ended_ && std::chrono::steady_clock::now() < deadline) {
    auto event = next(std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()));
    if (!event && !event.error().is(Errc::timeout)) break;  // a broken stream ends the connection too
  }
  close(code);
}

Result<std::optional<Frame>> WsProbe::read_frame(SteadyTime deadline) {
  char buf[16 * 1024];
  for (;;) {
    auto frame = decoder_.next();
    if (!frame || *frame) return frame;
    auto n = socket_->read_some(buf, sizeof buf, deadline);
    if (!n) return tl::unexpected(n.error());
    if (*n == 0) return std::optional<Frame>{};  // end of stream
    decoder_.feed(std::string_view(buf, *n));
  }
}

WsEvent WsProbe::end_with(CloseInfo info, WsEvent::Kind kind) {
  ended_ = WsEvent{kind, "", std::move(info)};
  socket_->shutdown();
  return *ended_;
}

Result<std::optional<WsEvent>> WsProbe::handle(Frame frame) {
  const auto now = std::chrono::steady_clock::now();
  switch (frame.opcode) {
    case Opcode::ping:
      if (++ping_count_ <= kMaxRecorded) pings_.push_back(now);
      if (answer_pings_ && !close_sent_) {
        if (auto sent = send_frame(Opcode::pong, frame.payload); !sent) return tl::unexpected(sent.error());
      }
      return std::optional<WsEvent>{};
    case Opcode::pong:
      if (pongs_.size() < kMaxRecorded) pongs_.push_back(now);
      return std::optional<WsEvent>{};
    case Opcode::close: {
      CloseInfo info = parse_close_payload(frame.payload);
      send_close(sendable_close_code(info.code));
      return std::optional<WsEvent>(end_with(std::move(info), WsEvent::Kind::close));
    }
    case Opcode::continuation:
      if (!fragment_opcode_) return fail(Errc::protocol, "a continuation frame with nothing to continue");
      break;
    case Opcode::text:
    case Opcode::binary:
      if (fragment_opcode_) return fail(Errc::protocol, "a new message inside a fragmented one");
      fragment_opcode_ = frame.opcode;
      break;
  }
  if (fragments_.size() + frame.payload.size() > max_message_) {
    return fail(Errc::protocol, fmt::format("a message over {} bytes", max_message_));
  }
  fragments_ += frame.payload;
  if (!frame.fin) return std::optional<WsEvent>{};
  WsEvent event{
      *fragment_opcode_ == Opcode::text ? WsEvent::Kind::text : WsEvent::Kind::binary, std::move(fragments_), {}};
  fragments_.clear();
  fragment_opcode_.reset();
  return std::optional<WsEvent>(std::move(event));
}

Result<WsEvent> WsProbe::next(Millis timeout) {
  const SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
  while (!ended_) {
    auto frame = read_frame(deadline);
    if (!frame) {
      if (frame.error().is(Errc::timeout)) {
        return fail(Errc::timeout, fmt::format("nothing within {:.1f} s", static_cast<double>(timeout.count()) / 1000));
      }
      if (frame.error().is(Errc::protocol)) return tl::unexpected(frame.error());
      return end_with(CloseInfo{1006, frame.error().message()}, WsEvent::Kind::eof);
    }
    if (!*frame) return end_with(CloseInfo{1006, "the connection ended without a Close frame"}, WsEvent::Kind::eof);
    auto event = handle(std::move(**frame));
    if (!event) return tl::unexpected(event.error());
    if (*event) return std::move(**event);
    if (std::chrono::steady_clock::now() >= deadline && !ended_) {
      return fail(Errc::timeout, fmt::format("no message within {:.1f} s, only control frames", seconds(timeout)));
    }
  }
  return *ended_;
}

}  // namespace webpush::conformance
