#include "webpush/transport/http_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <string_view>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include "internal.h"
#include "resolver.h"
#include "trust_store.h"
#include "webpush/core/url.h"
#include "webpush/event/timer.h"
#include "webpush/transport/ws_client.h"
#include "webpushd_version.h"

namespace webpush::transport {

namespace {

constexpr const char* kHttpsProtocol = "webpushd-https";
// Body bytes written per writable callback.
constexpr std::size_t kBodyChunk = 4096;
// Response bytes read per lws_http_client_read().
constexpr int kResponseChunk = 4096;

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool mentions(std::string_view haystack, std::string_view needle) {
  const auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                              [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  return it != haystack.end();
}

// RFC 9110 token characters (method and header names).
bool is_token(std::string_view s) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || kExtra.find(c) != std::string_view::npos;
  });
}

bool has_line_break(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos; }

// The URL's checks: https://, or http:// to a loopback host.
Result<Url> check_request_url(const std::string& text) {
  auto url = parse_url(text);
  if (!url) return fail(Errc::bad_url, url.error().message());
  if (url->scheme != "https" && url->scheme != "http") {
    return fail(Errc::bad_url, fmt::format("request URL {}: must be https:// (or http:// to loopback)", text));
  }
  if (url->scheme == "http" && !url->is_loopback()) {
    return fail(Errc::bad_url, fmt::format("refusing plain http:// to {}: use https://", url->host));
  }
  if (url->host.find(':') != std::string::npos) {
    return fail(Errc::bad_url, fmt::format("{}: IPv6 literal hosts are not supported", text));
  }
  return url;
}

Result<void> check_request_fields(const HttpRequest& request) {
  if (!is_token(request.method) || request.method.size() > 16) {
    return fail(Errc::bad_request, fmt::format("'{}' is not an HTTP method", request.method));
  }
  static constexpr std::string_view kReserved[] = {"content-length", "host", "connection", "transfer-encoding"};
  for (const auto& [name, value] : request.headers) {
    if (!is_token(name)) return fail(Errc::bad_request, fmt::format("'{}' is not an HTTP header name", name));
    if (has_line_break(value)) {
      return fail(Errc::bad_request, fmt::format("header {}: the value holds a line break or NUL", name));
    }
    for (std::string_view reserved : kReserved) {
      if (equals_ignoring_case(name, reserved)) {
        return fail(Errc::bad_request, fmt::format("header {} is set by the HTTP client, not by a request", name));
      }
    }
  }
  return {};
}

// libwebsockets reports connection failures as text; sort them into codes.
Errc classify_http_failure(std::string_view text) {
  if (mentions(text, "dns") || mentions(text, "getaddrinfo") || mentions(text, "resolve")) return Errc::dns;
  if (mentions(text, "refused") || mentions(text, "unable to connect")) return Errc::connect;
  if (mentions(text, "timed out") || mentions(text, "timeout")) return Errc::timeout;
  if (mentions(text, "ssl") || mentions(text, "tls") || mentions(text, "cert") || mentions(text, "x509")) {
    return Errc::tls;
  }
  return Errc::io;
}

int https_client_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) noexcept;

const lws_protocols kHttpsProtocols[] = {
    {kHttpsProtocol, https_client_callback, 0, 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

// ---- one exchange ----------------------------------------------------------------

struct HttpsClient::Exchange {
  HttpsClient* client = nullptr;
  std::uint64_t id = 0;
  HttpRequest request;
  Callback done;
  Url url;
  std::string host_header;  // host[:port], also the name the certificate must be for
  std::string address;      // numeric
  std::size_t max_response = 0;
  std::unique_ptr<detail::Resolution> resolution;
  std::unique_ptr<event::Timer> timer;
  lws* wsi = nullptr;
  std::size_t body_sent = 0;
  std::size_t expected_length = 0;  // the response's Content-Length, when it sent one
  bool length_given = false;
  bool established = false;  // the response's status line and headers arrived
  bool finished = false;
  HttpResponse response;

  ~Exchange() { abandon_wsi(); }

  void on_resolved(Result<std::vector<std::string>> addresses);
  Result<void> connect_to(const std::string& numeric);
  void on_timeout();
  int handle(lws* w, int reason, void* in, std::size_t len) noexcept;
  int append_headers(lws* w, void* in, std::size_t len) noexcept;
  int write_body(lws* w) noexcept;
  int on_established(lws* w) noexcept;
  int on_body(const void* in, std::size_t len) noexcept;
  int on_connection_error(lws* w, void* in) noexcept;
  int on_closed() noexcept;
  // Ends the exchange from inside one of its lws callbacks: lws closes the
  // connection when the callback returns -1.
  int finish_in_callback(Result<HttpResponse> result) noexcept;
  void detach_wsi() noexcept;
  // Detaches and closes the connection; not from inside its own callbacks.
  void abandon_wsi() noexcept;
};

void HttpsClient::Exchange::detach_wsi() noexcept {
  if (wsi == nullptr) return;
  lws_set_opaque_user_data(wsi, nullptr);
  wsi = nullptr;
}

void HttpsClient::Exchange::abandon_wsi() noexcept {
  if (wsi == nullptr) return;
  lws* w = wsi;
  detach_wsi();
  // Closed now, not on a later turn: libwebsockets 4.1 never runs a pending
  // kill of a connection whose vhost is being destroyed, which would leave it
  // open. Never called from the connection's own callbacks (those detach and
  // return -1 instead), so closing it here is safe.
  lws_set_timeout(w, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_SYNC);
}

void HttpsClient::Exchange::on_resolved(Result<std::vector<std::string>> addresses) {
  // This runs inside the resolution's own callback: destroy it later.
  client->loop_->destroy_later(std::move(resolution));
  if (finished) return;
  if (!addresses) {
    client->finish(*this, tl::unexpected(addresses.error()));
    return;
  }
  if (auto ok = connect_to(addresses->front()); !ok) client->finish(*this, tl::unexpected(ok.error()));
}

Result<void> HttpsClient::Exchange::connect_to(const std::string& numeric) {
  address = numeric;
  lws_client_connect_info info{};
  info.context = client->loop_->context();
  info.vhost = client->vhost_;
  info.address = address.c_str();
  info.port = url.port;
  info.path = url.path.c_str();
  info.host = host_header.c_str();
  info.method = request.method.c_str();
  info.protocol = kHttpsProtocol;
  info.local_protocol_name = kHttpsProtocol;
  info.alpn = "http/1.1";
  info.ssl_connection = (url.is_secure() ? LCCSCF_USE_SSL : 0) | LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
  info.opaque_user_data = this;
  info.pwsi = &wsi;
  if (lws_client_connect_via_info(&info) == nullptr && wsi == nullptr && !finished) {
    // A failure inside the call may already have been reported (finished).
    return fail(Errc::connect, fmt::format("cannot start a connection to {}", url.origin()));
  }
  return {};
}

void HttpsClient::Exchange::on_timeout() {
  if (finished) return;
  client->finish(*this, fail(Errc::timeout, fmt::format("{} {}: no complete response within {:.1f} s", request.method,
                                                        request.url, request.timeout.count() / 1000.0)));
}

int HttpsClient::Exchange::handle(lws* w, int reason, void* in, std::size_t len) noexcept {
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: return append_headers(w, in, len);
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: return write_body(w);
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP: return on_established(w);
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
      char buffer[LWS_PRE + kResponseChunk];
      char* p = buffer + LWS_PRE;
      int n = kResponseChunk;
      return lws_http_client_read(w, &p, &n) < 0 ? -1 : 0;  // data arrives as RECEIVE_CLIENT_HTTP_READ
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ: return on_body(in, len);
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP: return finish_in_callback(std::move(response));
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: return on_connection_error(w, in);
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP: return on_closed();
    case LWS_CALLBACK_WSI_DESTROY: wsi = nullptr; return 0;
    default: return 0;
  }
}

int HttpsClient::Exchange::append_headers(lws* w, void* in, std::size_t len) noexcept {
  auto** p = static_cast<unsigned char**>(in);
  unsigned char* end = *p + len;
  bool fits = true;
  bool has_agent = false;
  for (const auto& [name, value] : request.headers) {
    has_agent = has_agent || equals_ignoring_case(name, "user-agent");
    const std::string field = name + ":";
    fits = fits && lws_add_http_header_by_name(w, reinterpret_cast<const unsigned char*>(field.c_str()),
                                               reinterpret_cast<const unsigned char*>(value.data()),
                                               static_cast<int>(value.size()), p, end) == 0;
  }
  if (!has_agent) {
    static constexpr char kAgent[] = "webpushd/" WEBPUSHD_VERSION;
    fits = fits &&
           lws_add_http_header_by_token(w, WSI_TOKEN_HTTP_USER_AGENT, reinterpret_cast<const unsigned char*>(kAgent),
                                        static_cast<int>(sizeof kAgent - 1), p, end) == 0;
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    const std::string length = std::to_string(request.body.size());
    fits = fits && lws_add_http_header_by_token(w, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                                reinterpret_cast<const unsigned char*>(length.data()),
                                                static_cast<int>(length.size()), p, end) == 0;
  }
  if (!fits) {
    return finish_in_callback(fail(Errc::bad_request, fmt::format("{} {}: the request headers do not fit in {} bytes",
                                                                  request.method, request.url, len)));
  }
  if (!request.body.empty()) {
    lws_client_http_body_pending(w, 1);
    lws_callback_on_writable(w);
  }
  return 0;
}

int HttpsClient::Exchange::write_body(lws* w) noexcept {
  if (body_sent >= request.body.size()) return 0;  // lws may ask again once the body is out
  const std::size_t n = std::min(kBodyChunk, request.body.size() - body_sent);
  unsigned char buffer[LWS_PRE + kBodyChunk];
  std::memcpy(buffer + LWS_PRE, request.body.data() + body_sent, n);
  if (lws_write(w, buffer + LWS_PRE, n, LWS_WRITE_HTTP) < static_cast<int>(n)) {
    return finish_in_callback(fail(Errc::io, fmt::format("{} {}: writing the body failed after {} of {} bytes",
                                                         request.method, request.url, body_sent, request.body.size())));
  }
  body_sent += n;
  if (body_sent < request.body.size()) {
    lws_callback_on_writable(w);
  } else {
    lws_client_http_body_pending(w, 0);
  }
  return 0;
}

int HttpsClient::Exchange::on_established(lws* w) noexcept {
  established = true;
  response.status = static_cast<int>(lws_http_client_http_response(w));
  char text[256] = {};
  if (const int n = lws_hdr_copy(w, text, sizeof text, WSI_TOKEN_HTTP_CONTENT_TYPE); n > 0) {
    response.content_type.assign(text, static_cast<std::size_t>(n));
  }
  char length[32] = {};
  if (const int n = lws_hdr_copy(w, length, sizeof length, WSI_TOKEN_HTTP_CONTENT_LENGTH); n > 0) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(length, length + n, value);
    if (ec != std::errc() || end != length + n) {
      return finish_in_callback(fail(Errc::io, fmt::format("{} {}: the response's Content-Length '{}' is not a number",
                                                           request.method, request.url, std::string_view(length, n))));
    }
    if (value > max_response) {
      return finish_in_callback(fail(Errc::too_large, fmt::format("{} {}: the response body is {} bytes, over the "
                                                                  "limit of {} bytes",
                                                                  request.method, request.url, value, max_response)));
    }
    length_given = true;
    expected_length = static_cast<std::size_t>(value);
  }
  return 0;
}

int HttpsClient::Exchange::on_body(const void* in, std::size_t len) noexcept {
  if (finished) return -1;
  if (len > max_response - response.body.size()) {
    return finish_in_callback(
        fail(Errc::too_large, fmt::format("{} {}: the response body is over the limit of {} bytes", request.method,
                                          request.url, max_response)));
  }
  try {
    response.body.append(static_cast<const char*>(in), len);
  } catch (const std::exception&) {
    return finish_in_callback(
        fail(Errc::io, fmt::format("{} {}: out of memory for the response", request.method, request.url)));
  }
  return 0;
}

int HttpsClient::Exchange::on_connection_error(lws* w, void* in) noexcept {
  const int err = errno;  // lws reports right after the failed call
  std::string text = in != nullptr
                         ? std::string(static_cast<const char*>(in), strnlen(static_cast<const char*>(in), 512))
                         : "connection failed";
  Errc code = classify_http_failure(text);
  int so_error = 0;
  socklen_t so_len = sizeof so_error;
  const lws_sockfd_type fd = w != nullptr ? lws_get_socket_fd(w) : -1;
  if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) == 0 && so_error != 0) {
    if (so_error == ECONNREFUSED) code = Errc::connect;
    text += fmt::format(" ({})", std::strerror(so_error));
  } else if (err == ECONNREFUSED) {
    code = Errc::connect;
  }
  // A certificate the trust store does not vouch for says more than lws's text.
  if (const SSL* ssl = w != nullptr ? lws_get_ssl(w) : nullptr) {
    if (const long verify = SSL_get_verify_result(ssl); verify != X509_V_OK) {
      code = Errc::tls;
      text = fmt::format("the server's certificate is not trusted: {}", X509_verify_cert_error_string(verify));
    }
  }
  const std::string where = established ? "the response was cut" : "no response";
  detach_wsi();
  client->finish(*this, fail(code, fmt::format("{} {}: {}: {}", request.method, request.url, where, text)));
  return 0;
}

int HttpsClient::Exchange::on_closed() noexcept {
  detach_wsi();
  if (finished) return 0;
  std::string why = !established   ? "the connection closed before a response"
                    : length_given ? fmt::format("the connection closed after {} of {} body bytes",
                                                 response.body.size(), expected_length)
                                   : "the connection closed before the response ended";
  client->finish(*this, fail(Errc::io, fmt::format("{} {}: {}", request.method, request.url, why)));
  return 0;
}

int HttpsClient::Exchange::finish_in_callback(Result<HttpResponse> result) noexcept {
  detach_wsi();
  client->finish(*this, std::move(result));
  return -1;
}

// ---- the client -------------------------------------------------------------------

namespace {

int https_client_callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in, std::size_t len) noexcept {
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
    case LWS_CALLBACK_WSI_DESTROY: break;
    default: return 0;
  }
  auto* exchange = wsi != nullptr ? static_cast<HttpsClient::Exchange*>(lws_get_opaque_user_data(wsi)) : nullptr;
  if (exchange == nullptr) {
    // An exchange that ended or was cancelled: let its connection go.
    return reason == LWS_CALLBACK_CLIENT_HTTP_WRITEABLE || reason == LWS_CALLBACK_RECEIVE_CLIENT_HTTP ||
                   reason == LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ
               ? -1
               : 0;
  }
  return exchange->handle(wsi, reason, in, len);
}

}  // namespace

HttpsClient::HttpsClient(event::EventLoop& loop, HttpsOptions options) : loop_(&loop), options_(options) {}

Result<std::unique_ptr<HttpsClient>> HttpsClient::create(ClientVhost& client, HttpsOptions options) {
  auto ctx = detail::client_tls_context(client.options().ca_file);
  if (!ctx) return tl::unexpected(ctx.error());
  std::unique_ptr<HttpsClient> c(new HttpsClient(client.loop(), options));
  c->tls_ = std::move(*ctx);
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.protocols = kHttpsProtocols;
  info.vhost_name = "webpushd-https";
  // The trust store is ours (the system's plus ca_file); libwebsockets leaves a
  // context it was given alone and does not free it.
  info.provided_client_ssl_ctx = c->tls_.get();
  c->vhost_ = lws_create_vhost(client.loop().context(), &info);
  if (c->vhost_ == nullptr) return fail(Errc::setup, "libwebsockets refused the HTTPS client vhost");
  return c;
}

HttpsClient::~HttpsClient() {
  alive_.reset();      // deferred callbacks see it and stay silent
  exchanges_.clear();  // each closes its connection
  if (vhost_ != nullptr) lws_vhost_destroy(vhost_);
}

void HttpsClient::request(HttpRequest request, Callback done) {
  auto url = check_request_url(request.url);
  Result<void> fields = url ? check_request_fields(request) : Result<void>(tl::unexpected(url.error()));
  if (!fields) {
    loop_->defer([alive = std::weak_ptr<bool>(alive_), done = std::move(done), error = fields.error()] {
      if (!alive.expired()) done(tl::unexpected(error));
    });
    return;
  }
  auto owned = std::make_unique<Exchange>();
  Exchange& e = *owned;
  e.client = this;
  e.id = next_id_++;
  e.url = std::move(*url);
  e.host_header = e.url.explicit_port ? fmt::format("{}:{}", e.url.host, e.url.port) : e.url.host;
  e.max_response = options_.max_response;
  e.request = std::move(request);
  e.done = std::move(done);
  exchanges_.emplace(e.id, std::move(owned));
  e.timer = std::make_unique<event::Timer>(*loop_, [&e] { e.on_timeout(); });
  e.timer->arm(e.request.timeout);
  if (detail::is_numeric_host(e.url.host)) {
    if (auto ok = e.connect_to(e.url.host); !ok) finish(e, tl::unexpected(ok.error()));
    return;
  }
  auto resolution = detail::Resolution::start(
      *loop_, e.url.host, [&e](Result<std::vector<std::string>> found) { e.on_resolved(std::move(found)); });
  if (!resolution) {
    finish(e, fail(Errc::connect, resolution.error().message()));
    return;
  }
  e.resolution = std::move(*resolution);
}

void HttpsClient::finish(Exchange& exchange, Result<HttpResponse> result) noexcept {
  if (exchange.finished) return;
  exchange.finished = true;
  exchange.abandon_wsi();
  exchange.timer->cancel();
  try {
    auto node = exchanges_.extract(exchange.id);
    // Possibly inside the exchange's own timer, resolution or lws callback.
    loop_->destroy_later(std::move(node.mapped()));
    loop_->defer(
        [alive = std::weak_ptr<bool>(alive_), done = std::move(exchange.done), result = std::move(result)]() mutable {
          if (!alive.expired()) done(std::move(result));
        });
  } catch (const std::exception& e) {
    detail::log().error("HTTPS exchange {}: cannot report its end: {}", exchange.id, e.what());
  }
}

}  // namespace webpush::transport
