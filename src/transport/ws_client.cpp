#include "webpush/transport/ws_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fmt/format.h>

#include "internal.h"
#include "resolver.h"
#include "trace_fields.h"
#include "trust_store.h"
#include "webpush/core/log.h"
#include "webpush/core/url.h"
#include "webpush/event/trace.h"
#include "webpushd_version.h"

namespace webpush::transport {

using protocol::DisconnectReason;

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

// ---- tracing ----------------------------------------------------------------------

// The traced connections of this thread, for the TLS info callback, which
// knows only the SSL object (and through it the socket). Filled only while
// tracing. A connection lives on its loop's thread, and the TLS callbacks of
// its handshake run there too.
thread_local std::vector<WsConnection*> t_traced;

WsConnection* traced_connection(int fd) {
  for (WsConnection* c : t_traced) {
    if (c->socket_fd() == fd) return c;
  }
  return nullptr;
}

// TLS progress of every client connection: the handshake's start (TCP is
// connected), its end, and alerts. Costs one branch while tracing is off.
void tls_info_callback(const SSL* ssl, int where, int value) {
  if (!event::Trace::enabled()) return;
  if ((where & (SSL_CB_HANDSHAKE_START | SSL_CB_HANDSHAKE_DONE | SSL_CB_ALERT)) == 0) return;
  if (WsConnection* c = traced_connection(SSL_get_fd(ssl))) c->on_tls_progress(ssl, where, value);
}

int client_protocol_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) noexcept {
  if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
    auto* client = static_cast<ClientVhost*>(lws_vhost_user(lws_get_vhost(wsi)));
    auto* ctx = static_cast<SSL_CTX*>(user);
    if (client != nullptr && ctx != nullptr) {
      SSL_CTX_set_info_callback(ctx, &tls_info_callback);
      detail::trust_system_store(ctx);  // the user's CA file goes next to it, not instead
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
  // The system trust store comes from trust_system_store(); libwebsockets' own
  // would load the whole bundle file.
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
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
  const bool resolves = client.options().proxy.empty() && !detail::is_numeric_host(c->host_);
  if (event::Trace::enabled()) c->trace_open(resolves);
  // Through a proxy, the proxy resolves the name; otherwise resolve it off the
  // loop thread first (libwebsockets would block the loop in getaddrinfo).
  if (!resolves) {
    if (auto ok = c->start(c->host_); !ok) return tl::unexpected(ok.error());
    return c;
  }
  auto resolution = detail::Resolution::start(
      client.loop(), c->host_, [self](Result<std::vector<std::string>> found) { self->on_resolved(std::move(found)); });
  if (!resolution) return fail(Errc::connect, resolution.error().message());
  c->resolution_ = std::move(*resolution);
  return c;
}

void WsConnection::on_resolved(Result<std::vector<std::string>> addresses) {
  // This runs inside the resolution's own callback: destroy it later.
  client_->loop().destroy_later(std::move(resolution_));
  if (finished_) return;
  if (trace_id_ != 0) trace_dns(addresses);
  if (!addresses) {
    finish(DisconnectReason::dns_failure, 0, addresses.error().message());
    return;
  }
  if (auto ok = start(addresses->front()); !ok) finish(DisconnectReason::io_error, 0, ok.error().message());
}

Result<void> WsConnection::start(const std::string& address) {
  address_ = address;
  if (trace_id_ != 0) trace_step_ = std::chrono::steady_clock::now();  // the TCP connect begins
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

WsConnection::~WsConnection() {
  abandon_wsi();
  if (trace_id_ != 0) std::erase(t_traced, this);
}

int WsConnection::socket_fd() const noexcept { return wsi_ != nullptr ? lws_get_socket_fd(wsi_) : -1; }

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
    if (trace_id_ != 0) trace_closed("client close", 0, "before the WebSocket upgrade");
    abandon_wsi();
  }
}

void WsConnection::finish(DisconnectReason reason, int code, std::string detail) noexcept {
  if (trace_id_ != 0) trace_closed(protocol::to_string(reason), code, detail);
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
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
      if (trace_id_ != 0) trace_upgrade(wsi);
      return 0;
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
  if (trace_id_ != 0) {
    // The request goes out now: TCP (and TLS) are done. The TLS info callback
    // traced them already unless it could not tell this connection's socket.
    trace_tcp(wsi);
    if (!secure_) {
      event::trace("tls.none", [&](event::TraceFields& f) { f.add("conn", trace_id_).add("scheme", "ws"); });
    } else if (!traced_tls_) {
      trace_tls(lws_get_ssl(wsi), false);
    }
    trace_step_ = std::chrono::steady_clock::now();
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
    if (trace_id_ != 0) {
      event::trace("ws.in", [&](event::TraceFields& f) {
        f.add("conn", trace_id_).add("opcode", "binary").add("bytes", len + lws_remaining_packet_payload(wsi));
      });
    }
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
  if (trace_id_ != 0) {
    event::trace("ws.in", [&](event::TraceFields& f) {
      f.add("conn", trace_id_).add("opcode", "text").add("bytes", discarded_).add("dropped", "over-max-frame");
    });
  }
  try {
    listener_->on_oversized_frame(discarded_);
  } catch (const std::exception& e) {
    detail::log().error("listener failed on an oversized frame: {}", e.what());
  }
}

void WsConnection::deliver_frame() noexcept {
  std::string frame;
  frame.swap(rx_);
  if (trace_id_ != 0) trace_frame(true, frame);
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
    if (trace_id_ != 0 && !traced_closed_) {  // lws may ask for the socket again while it closes
      event::trace("ws.out", [&](event::TraceFields& f) {
        f.add("conn", trace_id_).add("opcode", "close").add("code", int{LWS_CLOSE_STATUS_NORMAL});
      });
      trace_closed("client close", LWS_CLOSE_STATUS_NORMAL, "");
    }
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
  if (trace_id_ != 0) trace_frame(false, text);
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
  if (trace_id_ != 0) {
    event::trace("ws.in", [&](event::TraceFields& f) {
      f.add("conn", trace_id_).add("opcode", "close").add("bytes", len);
      if (len >= 2) f.add("code", peer_close_code_);
      if (len > 2) {
        f.add("reason", std::string_view(static_cast<const char*>(in) + 2, std::min<std::size_t>(len - 2, 123)));
      }
    });
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
  if (trace_id_ != 0 && wsi != nullptr) {
    if (secure_ && traced_tcp_ && !traced_tls_) trace_tls(lws_get_ssl(wsi), true);
    trace_closed(protocol::to_string(why), 0, text, lws_http_client_http_response(wsi));
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

// ---- WsConnection: trace lines ---------------------------------------------------------

using detail::since;

void WsConnection::trace_open(bool resolves) noexcept {
  trace_id_ = detail::next_trace_conn();
  trace_start_ = trace_step_ = std::chrono::steady_clock::now();
  try {
    t_traced.push_back(this);
  } catch (...) {  // out of memory: its TLS steps are traced, later, when the request goes out
  }
  event::trace("connect.start", [&](event::TraceFields& f) { f.add("conn", trace_id_).add("url", url_); });
  if (resolves) return;
  const std::string& proxy = client_->options().proxy;
  if (proxy.empty()) {
    detail::trace_dns_literal(trace_id_, host_);
    return;
  }
  event::trace("dns.answer", [&](event::TraceFields& f) {
    // The proxy resolves the name.
    f.add("conn", trace_id_).add("host", host_).add("source", "proxy").add("proxy", proxy);
  });
}

void WsConnection::trace_dns(const Result<std::vector<std::string>>& addresses) noexcept {
  detail::trace_dns_result(trace_id_, host_, addresses, since(trace_start_));
}

void WsConnection::trace_tcp(lws* wsi) noexcept {
  if (traced_tcp_ || wsi == nullptr) return;
  traced_tcp_ = true;
  const int fd = lws_get_socket_fd(wsi);
  event::trace("tcp.connected", [&](event::TraceFields& f) {
    f.add("conn", trace_id_);
    detail::add_socket_ends(f, fd);
    if (!client_->options().proxy.empty()) f.add("via", "proxy");
    f.add_ms("ms", since(trace_step_));
  });
  trace_step_ = std::chrono::steady_clock::now();
}

void WsConnection::trace_tls(const ssl_st* ssl, bool failed) noexcept {
  if (traced_tls_ || ssl == nullptr) return;
  traced_tls_ = true;
  event::trace(failed ? "tls.failed" : "tls.handshake", [&](event::TraceFields& f) {
    f.add("conn", trace_id_);
    detail::add_tls_fields(f, ssl);
    if (!tls_alert_.empty()) f.add("alert", tls_alert_);
    f.add_ms("ms", since(trace_step_));
  });
  trace_step_ = std::chrono::steady_clock::now();
}

void WsConnection::on_tls_progress(const ssl_st* ssl, int where, int value) noexcept {
  if (trace_id_ == 0) return;
  if ((where & SSL_CB_HANDSHAKE_START) != 0) trace_tcp(wsi_);
  if ((where & SSL_CB_HANDSHAKE_DONE) != 0) trace_tls(ssl, false);
  if ((where & SSL_CB_ALERT) != 0) {
    try {
      tls_alert_ = detail::alert_text(where, value);
    } catch (...) {  // the alert goes unnamed
    }
  }
}

void WsConnection::trace_upgrade(lws* wsi) noexcept {
  event::trace("http.upgrade", [&](event::TraceFields& f) {
    f.add("conn", trace_id_).add("status", lws_http_client_http_response(wsi));
    char protocol[64] = {};
    const int n = lws_hdr_copy(wsi, protocol, sizeof protocol, WSI_TOKEN_PROTOCOL);
    f.add("protocol", n > 0 ? std::string_view(protocol, static_cast<std::size_t>(n)) : std::string_view("none"));
    char server[96] = {};
    if (const int m = lws_hdr_copy(wsi, server, sizeof server, WSI_TOKEN_HTTP_SERVER); m > 0) {
      f.add("server", std::string_view(server, static_cast<std::size_t>(m)));
    }
    f.add_ms("ms", since(trace_step_));
  });
}

void WsConnection::trace_frame(bool in, std::string_view text) const noexcept {
  event::trace(in ? "ws.in" : "ws.out", [&](event::TraceFields& f) {
    f.add("conn", trace_id_).add("opcode", "text").add("bytes", text.size());
    if (const auto id = event::notification_version(text); !id.empty()) f.add("id", id);
    f.add("frame", event::shorten_frame(text));
  });
}

void WsConnection::trace_closed(std::string_view reason, int code, std::string_view detail, int status) noexcept {
  if (traced_closed_) return;
  traced_closed_ = true;
  // Qualified: the parameter `detail` hides the namespace.
  transport::detail::trace_closed("ws.closed", trace_id_, reason, code, status, detail, trace_start_);
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
