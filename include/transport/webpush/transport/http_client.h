// HTTPS request/response exchanges for the FCM receiver (checkin: a protobuf
// POST; registration: form and JSON POSTs): the seam HttpClient, and the real
// HttpsClient over libwebsockets' HTTP client on the process's event loop.
// Tests use tests/fakes/fake_http.h, which records requests and lets the test
// answer each one.
//
// HttpsClient:
//  - https:// only (plain http:// only to a loopback host); the server's
//    certificate is verified against the system trust store plus
//    ClientOptions::ca_file and must be for the URL's host; no proxy
//    (ClientOptions::proxy is not used); HTTP/1.1, one connection per request
//    ("Connection: close"), redirects not followed (a 3xx is a response).
//  - sends the request's headers, then Content-Length (for a body, or any
//    POST/PUT) and a User-Agent naming webpushd unless the request has one;
//    libwebsockets adds Host, Pragma and Cache-Control. Content-Length, Host,
//    Connection and Transfer-Encoding may not be given (Errc::bad_request).
//  - the response body is kept up to max_response bytes; a larger one ends the
//    exchange with Errc::too_large. Any status is a response (a 404 is not an
//    error); errors are what kept a complete response from arriving.
//
// Thread: the loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/event/loop.h"
#include "webpush/transport/errc.h"

struct lws;
struct lws_vhost;
struct ssl_ctx_st;

namespace webpush::transport {

class ClientVhost;

struct HttpRequest {
  std::string method = "POST";
  std::string url;  ///< https://host[:port]/path?query (http:// to loopback only)
  std::vector<std::pair<std::string, std::string>> headers;  ///< sent in this order
  std::string body;
  /// From request() to the end of the response body; past it: Errc::timeout.
  /// (libwebsockets also gives up on a step — connecting, the TLS handshake,
  /// waiting for the response's headers — after 20 s.)
  Duration timeout{20 * 1000};
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;  ///< the Content-Type header as sent; empty when absent
};

class HttpClient {
 public:
  /// Gets exactly one call per request, on the loop thread, never from inside
  /// request() (always on a later turn of the loop).
  using Callback = std::function<void(Result<HttpResponse>)>;

  virtual ~HttpClient() = default;
  /// Starts one exchange. `done` gets the response (any status), or an error:
  /// Errc::bad_url, bad_request (refused before anything was sent), dns,
  /// connect (refused, unreachable), tls (handshake failed, certificate not
  /// trusted), timeout, too_large, io (the connection failed before the response
  /// was complete). Destroying the client cancels what is in flight: `done` is
  /// then never called.
  virtual void request(HttpRequest request, Callback done) = 0;
};

struct HttpsOptions {
  std::size_t max_response = 1024 * 1024;  ///< response body bytes kept; more is Errc::too_large
};

class HttpsClient final : public HttpClient {
 public:
  /// `client` is borrowed (its loop and options) and must outlive this object.
  /// Errors: Errc::setup (no TLS context; ca_file not readable PEM
  /// certificates; libwebsockets refused the vhost).
  static Result<std::unique_ptr<HttpsClient>> create(ClientVhost& client, HttpsOptions options = {});
  /// Cancels every exchange in flight (no callback is called).
  ~HttpsClient() override;
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  void request(HttpRequest request, Callback done) override;
  /// Exchanges started and not yet answered.
  [[nodiscard]] std::size_t in_flight() const noexcept { return exchanges_.size(); }

  struct Exchange;  // one request in flight; internal

 private:
  // Ends an exchange: its connection goes, `done` gets `result` on a later turn.
  void finish(Exchange& exchange, Result<HttpResponse> result) noexcept;
  HttpsClient(event::EventLoop& loop, HttpsOptions options);

  event::EventLoop* loop_;
  HttpsOptions options_;
  std::shared_ptr<ssl_ctx_st> tls_;  // the vhost's client TLS context (outlives the vhost)
  lws_vhost* vhost_ = nullptr;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Exchange>> exchanges_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // deferred callbacks check it
};

}  // namespace webpush::transport
