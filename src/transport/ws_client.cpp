#include "webpush/transport/ws_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fmt/format.h>

#include "internal.h"
#include "resolver.h"
#include "webpush/core/log.h"
#include "webpush/core/url.h"
#include "webpushd_version.h"

namespace webpush::transport {

using protocol::DisconnectReason;

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::setup: return "setup";
    case Errc::bad_url: return "bad_url";
    case Errc::connect: return "connect";
    case Errc::dns: return "dns";
  }
  return "unknown";
}

namespace {

bool contains(std::string_view haystack, std::string_view needle) {
  const auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                              [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  return it != haystack.end();
}

// libwebsockets reports connect failures as text; sort them into reasons.
DisconnectReason classify_connect_error(std::string_view text) {
  if (contains(text, "dns") || contains(text, "getaddrinfo") || contains(text, "resolve") ||
      contains(text, "unable to look up")) {
    return DisconnectReason::dns_failure;
  }
  // lws 4.1 says "Unable to connect" once every address refused or was unreachable.
  if (contains(text, "refused") || contains(text, "unable to connect")) return DisconnectReason::connect_refused;
  if (contains(text, "timed out") || contains(text, "timeout")) return DisconnectReason::connect_timeout;
  if (contains(text, "ssl") || contains(text, "tls") || contains(text, "certificate") || contains(text, "x509")) {
    return DisconnectReason::tls_error;
  }
  return DisconnectReason::io_error;
}

}  // namespace

Result<void> check_server_url(std::string_view text, bool insecure) {
  auto url = parse_url(text);
  if (!url) return fail(Errc::bad_url, url.error().message());
  if (url->scheme != "ws" && url->scheme != "wss") {
    return fail(Errc::bad_url, fmt::format("server URL must be wss:// (or ws:// to loopback), got {}://", url->scheme));
  }
  if (url->scheme == "ws" && !url->is_loopback() && !insecure) {
    return fail(Errc::bad_url, fmt::format("refusing plain ws:// to {}: messages and keys would cross the network "
                                           "unencrypted (use wss://, or --insecure to override)",
                                           url->host));
  }
  return {};
}

// ---- ClientVhost ------------------------------------------------------------

namespace {

// Adds the user's CA file to the client trust store, next to the system's
// default paths (lws alone would use the file instead of the system store).
int client_protocol_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) noexcept {
  if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
    auto* client = static_cast<ClientVhost*>(lws_vhost_user(lws_get_vhost(wsi)));
    auto* ctx = static_cast<SSL_CTX*>(user);
    if (client != nullptr && ctx != nullptr) {
      SSL_CTX_set_default_verify_paths(ctx);
      const std::string& ca = client->options().ca_file;
      if (!ca.empty() && SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
        ERR_clear_error();
        detail::log().error("cannot load CA file {}: not readable PEM certificates", ca);
      }
    }
    return 0;
  }
  return detail::ws_client_callback(wsi, reason, user, in, len);
}

const lws_protocols kClientProtocols[] = {
    {detail::kWsProtocol, client_protocol_callback, 0, 64 * 1024, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

// libwebsockets' own idle check (secs_since_valid_ping 300 s by default for a
// client) sends a WebSocket Ping whose 8-byte payload (a µs timestamp) shares
// one buffer with the Pong and Close payloads. When it coincides with the
// service's Ping, that buffer went out as a Close frame: the service read the
// timestamp as close code + reason ("utf8 error", codes like 16027) and dropped
// the link. The Session's keepalive (`{}` after ping_interval, pong_timeout)
// already detects a dead link, so libwebsockets' is off: a policy without a
// hangup time never arms the validity timer.
constexpr lws_retry_bo_t kNoIdlePing = {};

}  // namespace

Result<std::unique_ptr<ClientVhost>> ClientVhost::create(event::EventLoop& loop, ClientOptions options) {
  std::unique_ptr<ClientVhost> c(new ClientVhost(loop, std::move(options)));
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.protocols = kClientProtocols;
  info.vhost_name = "webpushd-client";
  info.user = c.get();
  info.timeout_secs = 20;
  info.connect_timeout_secs = 20;
  if (!c->options_.proxy.empty()) {
    const auto colon = c->options_.proxy.rfind(':');
    c->proxy_host_ = c->options_.proxy.substr(0, colon);
    unsigned port = 3128;
    if (colon != std::string::npos) {
      const std::string digits = c->options_.proxy.substr(colon + 1);
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
      if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
        return fail(Errc::setup, fmt::format("proxy {}: the port is not a number from 1 to 65535", c->options_.proxy));
      }
    }
    info.http_proxy_address = c->proxy_host_.c_str();
    info.http_proxy_port = port;
  }
  if (c->options_.tcp_keepalive) {
    // Idle 60 s, then 3 probes 10 s apart: a dead peer is noticed by the
    // kernel even if every higher layer were silent.
    info.ka_time = 60;
    info.ka_probes = 3;
    info.ka_interval = 10;
  }
  c->vhost_ = lws_create_vhost(loop.context(), &info);
  if (c->vhost_ == nullptr) return fail(Errc::setup, "libwebsockets refused the WebSocket client vhost");
  return c;
}

ClientVhost::~ClientVhost() {
  if (vhost_ != nullptr) lws_vhost_destroy(vhost_);
}

// ---- WsConnection --------------------------------------------------------------

Result<std::unique_ptr<WsConnection>> WsConnection::open(ClientVhost& client, ConnectionListener& listener,
                                                         const WsOptions& options) {
  if (auto ok = check_server_url(options.url, options.insecure); !ok) return tl::unexpected(ok.error());
  auto url = parse_url(options.url);
  std::unique_ptr<WsConnection> c(new WsConnection());
  c->client_ = &client;
  c->listener_ = &listener;
  c->max_frame_ = options.max_frame;
  c->host_ = url->host;
  c->path_ = url->path;
  c->port_ = url->port;
  c->secure_ = url->is_secure();
  c->url_ = options.url;
  c->handshake_timeout_ = options.handshake_timeout;
  WsConnection* self = c.get();
  c->handshake_timer_ = std::make_unique<event::Timer>(client.loop(), [self] { self->on_handshake_timeout(); });
  c->handshake_timer_->arm(options.handshake_timeout);
  // Through a proxy, the proxy resolves the name; otherwise resolve it off the
  // loop thread first (libwebsockets would block the loop in getaddrinfo).
  if (!client.options().proxy.empty() || detail::is_numeric_host(c->host_)) {
    if (auto ok = c->start(c->host_); !ok) return tl::unexpected(ok.error());
    return c;
  }
  auto resolution = detail::Resolution::start(
      client.loop(), c->host_, [self](Result<std::string> address) { self->on_resolved(std::move(address)); });
  if (!resolution) return fail(Errc::connect, resolution.error().message());
  c->resolution_ = std::move(*resolution);
  return c;
}

void WsConnection::on_resolved(Result<std::string> address) {
  // This runs inside the resolution's own callback: destroy it later.
  client_->loop().destroy_later(std::move(resolution_));
  if (finished_) return;
  if (!address) {
    finish(DisconnectReason::dns_failure, 0, address.error().message());
    return;
  }
  if (auto ok = start(*address); !ok) finish(DisconnectReason::io_error, 0, ok.error().message());
}

Result<void> WsConnection::start(const std::string& address) {
  address_ = address;
  lws_client_connect_info info{};
  info.context = client_->loop().context();
  info.vhost = client_->vhost();
  info.address = address_.c_str();
  info.port = port_;
  info.path = path_.c_str();
  info.host = host_.c_str();
  info.origin = host_.c_str();
  info.protocol = detail::kWsProtocol;
  info.local_protocol_name = detail::kWsProtocol;
  info.ietf_version_or_minus_one = -1;
  info.ssl_connection = secure_ ? LCCSCF_USE_SSL : 0;
  info.opaque_user_data = this;
  info.pwsi = &wsi_;
  info.retry_and_idle_policy = &kNoIdlePing;
  if (lws_client_connect_via_info(&info) == nullptr && wsi_ == nullptr && !finished_) {
    // A failure inside the call may already have been reported through the
    // callback (finished_).
    return fail(Errc::connect, fmt::format("cannot start a connection to {}", url_));
  }
  return {};
}

Result<std::unique_ptr<Connection>> WsConnectionFactory::connect(ConnectionListener& listener) {
  auto c = WsConnection::open(*client_, listener, options_);
  if (!c) return tl::unexpected(c.error());
  return std::unique_ptr<Connection>(std::move(*c));
}

WsConnection::~WsConnection() { abandon_wsi(); }

void WsConnection::abandon_wsi() noexcept {
  if (wsi_ == nullptr) return;
  // Its callbacks find no connection any more, and lws drops it on its next turn.
  lws_set_opaque_user_data(wsi_, nullptr);
  lws_set_timeout(wsi_, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
  wsi_ = nullptr;
}

void WsConnection::send(std::string text) {
  if (wsi_ == nullptr || closing_) return;
  tx_.push_back(std::move(text));
  if (open_) lws_callback_on_writable(wsi_);
}

void WsConnection::close() {
  finished_ = true;  // the listener hears nothing more
  if (wsi_ == nullptr) return;
  closing_ = true;
  if (open_) {
    lws_callback_on_writable(wsi_);
  } else {
    abandon_wsi();
  }
}

void WsConnection::finish(DisconnectReason reason, int code, std::string detail) noexcept {
  open_ = false;
  if (finished_) return;
  finished_ = true;
  try {
    listener_->on_closed(reason, code, std::move(detail));
  } catch (const std::exception& e) {
    detail::log().error("listener failed on close: {}", e.what());
  }
}

int WsConnection::handle(lws* wsi, int reason, void* in, std::size_t len) noexcept {
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: return on_append_handshake_header(wsi, in, len);
    case LWS_CALLBACK_CLIENT_ESTABLISHED: return on_established(wsi);
    case LWS_CALLBACK_CLIENT_RECEIVE: return on_receive(wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE: return on_writeable(wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: return on_peer_initiated_close(in, len);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: return on_connection_error(wsi, in);
    case LWS_CALLBACK_CLIENT_CLOSED: return on_client_closed();
    case LWS_CALLBACK_WSI_DESTROY: wsi_ = nullptr; return 0;
    default: return 0;
  }
}

int WsConnection::on_append_handshake_header(lws* wsi, void* in, std::size_t len) noexcept {
  auto** p = static_cast<unsigned char**>(in);
  unsigned char* end = *p + len;
  static constexpr char kUa[] = "webpushd/" WEBPUSHD_VERSION;
  if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT, reinterpret_cast<const unsigned char*>(kUa),
                                   static_cast<int>(sizeof kUa - 1), p, end) != 0) {
    return -1;
  }
  return 0;
}

void WsConnection::on_handshake_timeout() {
  if (open_ || finished_) return;
  resolution_.reset();
  abandon_wsi();
  finish(DisconnectReason::connect_timeout, 0,
         fmt::format("no answer to the WebSocket upgrade within {:.1f} s",
                     static_cast<double>(handshake_timeout_.count()) / 1000.0));
}

int WsConnection::on_established(lws* wsi) noexcept {
  open_ = true;
  handshake_timer_->cancel();
  if (!tx_.empty() || closing_) lws_callback_on_writable(wsi);
  if (!finished_) {
    try {
      listener_->on_open();
    } catch (const std::exception& e) {
      detail::log().error("listener failed on open: {}", e.what());
    }
  }
  return 0;
}

int WsConnection::on_receive(lws* wsi, void* in, std::size_t len) noexcept {
  if (closing_ || finished_) return 0;
  if (lws_frame_is_binary(wsi)) {
    finish(DisconnectReason::protocol_violation, 0, "the service sent a binary frame");
    return -1;
  }
  if (lws_is_first_fragment(wsi)) {
    rx_.clear();
    discarding_ = false;
  }
  if (!discarding_ && rx_.size() + len > max_frame_) {
    // Too large to keep: read the rest of it into nothing, keep the connection.
    discarding_ = true;
    discarded_ = rx_.size();
    std::string().swap(rx_);
  }
  if (discarding_) {
    discarded_ += len;
  } else {
    rx_.append(static_cast<const char*>(in), len);
  }
  if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
    if (discarding_) {
      report_oversized();
    } else {
      deliver_frame();
    }
  }
  return 0;
}

void WsConnection::report_oversized() noexcept {
  discarding_ = false;
  try {
    listener_->on_oversized_frame(discarded_);
  } catch (const std::exception& e) {
    detail::log().error("listener failed on an oversized frame: {}", e.what());
  }
}

void WsConnection::deliver_frame() noexcept {
  std::string frame;
  frame.swap(rx_);
  try {
    listener_->on_text(frame);
  } catch (const std::exception& e) {
    detail::log().error("listener failed on a frame: {}", e.what());
  }
}

int WsConnection::on_writeable(lws* wsi) noexcept {
  if (!tx_.empty()) return write_front(wsi);
  if (closing_) {
    lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, nullptr, 0);
    return -1;
  }
  return 0;
}

int WsConnection::write_front(lws* wsi) noexcept {
  std::string& text = tx_.front();
  std::string buf(LWS_PRE, '\0');
  buf += text;
  const int n = lws_write(wsi, reinterpret_cast<unsigned char*>(buf.data()) + LWS_PRE, text.size(), LWS_WRITE_TEXT);
  if (n < static_cast<int>(text.size())) {
    finish(DisconnectReason::io_error, 0, "write to the service failed");
    return -1;
  }
  tx_.pop_front();
  if (!tx_.empty() || closing_) lws_callback_on_writable(wsi);
  return 0;
}

int WsConnection::on_peer_initiated_close(void* in, std::size_t len) noexcept {
  if (len >= 2 && in != nullptr) {
    const auto* b = static_cast<const unsigned char*>(in);
    peer_close_code_ = (b[0] << 8) | b[1];
  } else {
    peer_close_code_ = LWS_CLOSE_STATUS_NO_STATUS;
  }
  return 0;
}

int WsConnection::on_connection_error(lws* wsi, void* in) noexcept {
  const int err = errno;  // lws reports right after the failed syscall
  wsi_ = nullptr;
  std::string text = in != nullptr
                         ? std::string(static_cast<const char*>(in), strnlen(static_cast<const char*>(in), 512))
                         : "connection failed";
  DisconnectReason why = classify_connect_error(text);
  // "Unable to connect" says little; the socket's pending error says more.
  int so_error = 0;
  socklen_t so_len = sizeof so_error;
  const lws_sockfd_type fd = wsi != nullptr ? lws_get_socket_fd(wsi) : -1;
  if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) == 0 && so_error != 0) {
    if (so_error == ECONNREFUSED) why = DisconnectReason::connect_refused;
    if (so_error == ETIMEDOUT) why = DisconnectReason::connect_timeout;
    text += fmt::format(" ({})", std::strerror(so_error));
  } else if (err == ECONNREFUSED) {
    why = DisconnectReason::connect_refused;
  }
  finish(why, 0, text);
  return 0;
}

int WsConnection::on_client_closed() noexcept {
  wsi_ = nullptr;
  if (peer_close_code_ != 0) {
    finish(DisconnectReason::server_close, peer_close_code_ == LWS_CLOSE_STATUS_NO_STATUS ? 0 : peer_close_code_, "");
  } else {
    finish(DisconnectReason::io_error, 0, "the connection was lost without a close frame");
  }
  return 0;
}

namespace detail {

spdlog::logger& log() { return layer_logger("transport"); }

int ws_client_callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in, std::size_t len) noexcept {
  auto* conn = wsi != nullptr ? static_cast<WsConnection*>(lws_get_opaque_user_data(wsi)) : nullptr;
  if (conn == nullptr) {
    // A connection its owner gave up: let it go.
    return reason == LWS_CALLBACK_CLIENT_WRITEABLE || reason == LWS_CALLBACK_CLIENT_RECEIVE ? -1 : 0;
  }
  return conn->handle(wsi, reason, in, len);
}

}  // namespace detail
}  // namespace webpush::transport
