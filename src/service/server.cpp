#include "webpush/service/server.h"
#include "webpush/event/trace.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <libwebsockets.h>
#include <spdlog/spdlog.h>

#include "webpush/core/bytes.h"
#include "webpush/core/utf8.h"
#include "webpush/event/loop.h"
#include "webpush/event/timer.h"
#include "webpush/service/push_service.h"

namespace webpush::service {

namespace {

constexpr std::string_view kPingPayload = "webpushd";

// lws_hdr_copy for a known token; nullopt when absent or empty.
std::optional<std::string> token_header(lws* wsi, lws_token_indexes token) {
  const int n = lws_hdr_total_length(wsi, token);
  if (n <= 0) return std::nullopt;
  std::string value(static_cast<std::size_t>(n) + 1, '\0');
  const int copied = lws_hdr_copy(wsi, value.data(), n + 1, token);
  if (copied < 0) return std::nullopt;
  value.resize(static_cast<std::size_t>(copied));
  return value;
}

// A header lws has no token for (LWS_WITH_CUSTOM_HEADERS); `name` is lower-case with
// the trailing colon, e.g. "ttl:".
std::optional<std::string> custom_header(lws* wsi, std::string_view name) {
  const int nlen = static_cast<int>(name.size());
  const int n = lws_hdr_custom_length(wsi, name.data(), nlen);
  if (n <= 0) return std::nullopt;
  std::string value(static_cast<std::size_t>(n) + 1, '\0');
  const int copied = lws_hdr_custom_copy(wsi, value.data(), n + 1, name.data(), nlen);
  if (copied < 0) return std::nullopt;
  value.resize(static_cast<std::size_t>(copied));
  return value;
}

// Why a bind failed, found by trying it again: lws only says that it failed.
std::string bind_failure(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::strerror(errno);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = 0;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    ::inet_pton(AF_INET6, host.c_str(), &a.sin6_addr);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  const int err = errno;
  ::close(fd);
  return rc == 0 ? std::string("libwebsockets could not create the listening socket") : std::strerror(err);
}

}  // namespace

class Server::Impl {
 public:
  // One WebSocket. Owned by Impl::ws_ from ESTABLISHED to CLOSED.
  class WsConn final : public WsPeer {
   public:
    WsConn(Impl& impl, lws* wsi)
        : impl_(impl),
          wsi_(wsi),
          hello_timer_(*impl.loop_, [this] { on_hello_timer(); }),
          keepalive_timer_(*impl.loop_, [this] { on_keepalive_timer(); }) {}

    void cancel_timers() {
      hello_timer_.cancel();
      keepalive_timer_.cancel();
    }
    WsConn(const WsConn&) = delete;
    WsConn& operator=(const WsConn&) = delete;

    void send_text(std::string frame) override {
      if (closing_) return;
      out_.push_back(std::move(frame));
      lws_callback_on_writable(wsi_);
    }

    void close(int code, std::string_view reason) override {
      if (closing_) return;
      closing_ = true;
      close_code_ = code;
      close_reason_ = std::string(reason.substr(0, 120));
      cancel_timers();
      // If the peer never lets us write the Close frame, give up after a while.
      lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, 10);
      lws_callback_on_writable(wsi_);
    }

    void identified() override {
      hello_timer_.cancel();
      waiting_for_pong_ = false;
      schedule_keepalive(impl_.config_.ws_ping_interval);
    }

    void start() { hello_timer_.arm(impl_.config_.handshake_timeout); }

    // LWS_CALLBACK_SERVER_WRITEABLE: one write per call, as lws asks.
    int writeable() {
      if (ping_due_) {
        ping_due_ = false;
        // A payload, unlike ARS' empty Ping: lws 4.1 drops empty Pongs before the
        // protocol callback, so only an echoed payload proves the peer alive.
        std::array<unsigned char, LWS_PRE + kPingPayload.size()> buf{};
        std::memcpy(buf.data() + LWS_PRE, kPingPayload.data(), kPingPayload.size());
        if (lws_write(wsi_, buf.data() + LWS_PRE, kPingPayload.size(), LWS_WRITE_PING) < 0) return -1;
      } else if (!out_.empty()) {
        std::string& frame = out_.front();
        scratch_.resize(LWS_PRE + frame.size());
        std::memcpy(scratch_.data() + LWS_PRE, frame.data(), frame.size());
        const int n = lws_write(wsi_, scratch_.data() + LWS_PRE, frame.size(), LWS_WRITE_TEXT);
        if (event::Trace::enabled()) {
          if (const auto id = event::notification_version(frame); !id.empty()) {
            event::Trace::emit("ws.out", fmt::format("id={} bytes={}", id, frame.size()));
          }
        }
        out_.pop_front();
        if (n < 0) return -1;
        if (scratch_.capacity() > 16 * 1024) std::vector<unsigned char>().swap(scratch_);
      } else if (closing_) {
        lws_close_reason(wsi_, static_cast<lws_close_status>(close_code_),
                         reinterpret_cast<unsigned char*>(close_reason_.data()), close_reason_.size());
        return -1;
      }
      if (ping_due_ || !out_.empty() || closing_) lws_callback_on_writable(wsi_);
      return 0;
    }

    // LWS_CALLBACK_RECEIVE: `in` may be part of a frame, or one frame of a fragmented message.
    // Returns -1 to drop the connection.
    int receive(const void* in, std::size_t len) {
      if (closing_) return 0;
      if (!in_message_) {
        in_message_ = true;
        rx_.clear();
        if (lws_frame_is_binary(wsi_)) {
          in_message_ = false;
          impl_.service_->ws_binary(session_);
          return 0;
        }
      }
      // Fault for check-service's tests: a message over 16 KiB is dropped, with
      // no reply and no close (the rest of its fragments too).
      if (dropping_ || (impl_.config_.has(Fault::hang_on_big_frame) && rx_.size() + len > kFaultFrameBytes)) {
        rx_.clear();
        dropping_ = !(lws_is_final_fragment(wsi_) && lws_remaining_packet_payload(wsi_) == 0);
        in_message_ = dropping_;
        return 0;
      }
      if (rx_.size() + len > impl_.config_.max_frame_bytes) {
        in_message_ = false;
        rx_.clear();
        impl_.service_->ws_fail(session_, kCloseTooBig, "MessageTooBig");
        return 0;
      }
      rx_.append(static_cast<const char*>(in), len);
      if (lws_is_final_fragment(wsi_) && lws_remaining_packet_payload(wsi_) == 0) {
        in_message_ = false;
        std::string message;
        message.swap(rx_);
        if (!is_valid_utf8(as_bytes(message))) {
          // lws 4.1 checks text frames only when its *context* has
          // LWS_SERVER_OPTION_VALIDATE_UTF8, and the shared loop's has not: answer
          // as lws would, Close 1007 "bad utf8".
          std::array<unsigned char, 8> why{'b', 'a', 'd', ' ', 'u', 't', 'f', '8'};
          lws_close_reason(wsi_, LWS_CLOSE_STATUS_INVALID_PAYLOAD, why.data(), why.size());
          return -1;
        }
        impl_.service_->ws_text(session_, message);
      }
      return 0;
    }

    void pong() {
      if (!waiting_for_pong_ || closing_) return;
      waiting_for_pong_ = false;
      schedule_keepalive(impl_.config_.ws_ping_interval);
    }

    PushService::Session* session_ = nullptr;

   private:
    void schedule_keepalive(std::chrono::milliseconds after) { keepalive_timer_.arm(after); }

    void on_hello_timer() {
      impl_.guard([&] { impl_.service_->ws_fail(session_, kCloseServerError, "HandshakeTimeout"); });
    }

    // ARS PingManager: wait the interval, send a Ping, wait the timeout for the Pong.
    void on_keepalive_timer() {
      impl_.guard([&] {
        if (closing_) return;
        if (waiting_for_pong_) {
          impl_.service_->ws_fail(session_, kCloseServerError, "PongTimeout");
          return;
        }
        waiting_for_pong_ = true;
        ping_due_ = true;
        lws_callback_on_writable(wsi_);
        schedule_keepalive(impl_.config_.ws_pong_timeout);
      });
    }

    Impl& impl_;
    lws* wsi_;
    std::deque<std::string> out_;
    std::vector<unsigned char> scratch_;
    std::string rx_;
    bool in_message_ = false;
    bool dropping_ = false;  // Fault::hang_on_big_frame: the rest of a dropped message
    bool closing_ = false;
    int close_code_ = 0;
    std::string close_reason_;
    bool ping_due_ = false;
    bool waiting_for_pong_ = false;
    event::Timer hello_timer_;
    event::Timer keepalive_timer_;
  };

  // One HTTP request in progress.
  struct HttpConn {
    HttpRequest request;
    bool body_expected = false;
    bool answered = false;
    HttpResponse response;
  };

  // What the vhost's user pointer points to. lws 4.1 can keep a vhost, and call
  // its protocol with it, after lws_vhost_destroy() (see shut_down()); the
  // binding lives as long as the vhost, so such a late callback finds no Impl
  // rather than a destroyed one. Freed by whichever of the two goes last.
  struct Binding {
    Impl* impl = nullptr;
    bool vhost_freed = false;
  };

  Impl(event::EventLoop& loop, ServiceConfig config)
      : loop_(&loop),
        config_(std::move(config)),
        purge_timer_(loop, [this] { on_purge_timer(); }),
        binding_(std::make_unique<Binding>(Binding{this})) {}

  ~Impl() { shut_down(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void set_up_protocols() {
    protocols_[0] = lws_protocols{};
    protocols_[0].name = "push-notification";
    protocols_[0].callback = &Impl::callback;
    protocols_[0].per_session_data_size = 0;
    protocols_[0].rx_buffer_size = 4096;
    protocols_[1] = lws_protocols{};  // terminator

    // No lws-driven validity pings or hangups: the service pings on its own schedule.
    retry_ = lws_retry_bo_t{};
    retry_.secs_since_valid_ping = 0;
    retry_.secs_since_valid_hangup = 0;
  }

  static Result<void> check_tls_files(const std::string& cert, const std::string& key) {
    if (::access(cert.c_str(), R_OK) != 0) {
      return fail(Errc::tls_failed, fmt::format("--tls-cert {}: {}", cert, std::strerror(errno)));
    }
    if (::access(key.c_str(), R_OK) != 0) {
      return fail(Errc::tls_failed, fmt::format("--tls-key {}: {}", key, std::strerror(errno)));
    }
    return {};
  }

  // Why lws_create_vhost failed, as far as can be told.
  [[nodiscard]] Result<void> vhost_failure() const {
    if (tls_) {
      return fail(Errc::tls_failed, fmt::format("cannot listen on {}: the TLS certificate or key was refused, or {}",
                                                address(), bind_failure(host_, config_.listen_port)));
    }
    return fail(Errc::listen_failed,
                fmt::format("cannot listen on {}: {}", address(), bind_failure(host_, config_.listen_port)));
  }

  Result<void> listen() {
    host_ = config_.listen_host == "localhost" ? "127.0.0.1" : config_.listen_host;
    const bool v6 = host_.find(':') != std::string::npos;
    const bool any = host_ == "0.0.0.0" || host_ == "::";
    tls_ = !config_.tls_cert.empty();
    set_up_protocols();

    // Per vhost in lws 4.1: DISABLE_IPV6 (an IPv4 host gets IPv4 sockets even on
    // a loop with IPv6) and DO_SSL_GLOBAL_INIT (without it the vhost ignores its
    // certificate). The rest of the old context settings (timeouts, header pool)
    // are the event loop's.
    std::uint64_t options = 0;
    if (!v6) options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (tls_) options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;

    lws_context_creation_info vinfo{};
    vinfo.options = options;
    vinfo.port = config_.listen_port;
    vinfo.iface = any ? nullptr : host_.c_str();
    vinfo.protocols = protocols_.data();
    vinfo.vhost_name = "webpushd";
    vinfo.user = binding_.get();
    vinfo.finalize = &Impl::on_vhost_freed;
    vinfo.finalize_arg = binding_.get();
    vinfo.retry_and_idle_policy = &retry_;
    vinfo.keepalive_timeout = 30;
    vinfo.timeout_secs = 20;
    vinfo.alpn = "http/1.1";
    const std::string cert = config_.tls_cert.string();
    const std::string key = config_.tls_key.string();
    if (tls_) {
      if (auto ok = check_tls_files(cert, key); !ok) return ok;
      vinfo.ssl_cert_filepath = cert.c_str();
      vinfo.ssl_private_key_filepath = key.c_str();
    }
    vhost_ = lws_create_vhost(loop_->context(), &vinfo);
    if (!vhost_) return vhost_failure();
    port_ = static_cast<std::uint16_t>(lws_get_vhost_listen_port(vhost_));
    return {};
  }

  [[nodiscard]] std::string address() const {
    const bool v6 = host_.find(':') != std::string::npos;
    return fmt::format("{}{}{}:{}", v6 ? "[" : "", host_, v6 ? "]" : "", config_.listen_port);
  }

  void start(PushService& service) {
    service_ = &service;
    purge_timer_.arm(config_.purge_interval);
  }

  // Runs f, logging instead of letting an exception reach libwebsockets.
  template <class F>
  bool guard(F&& f) noexcept {
    try {
      f();
      return true;
    } catch (const std::exception& e) {
      log_error(e.what());
    } catch (...) {
      log_error("unknown exception");
    }
    return false;
  }

  static int callback(lws* wsi, lws_callback_reasons reason, void* /*user*/, void* in, std::size_t len) noexcept {
    lws_vhost* vhost = lws_get_vhost(wsi);
    auto* binding = vhost ? static_cast<Binding*>(lws_vhost_user(vhost)) : nullptr;
    Impl* self = binding ? binding->impl : nullptr;
    if (!self) return -1;  // a vhost lws kept after the Server went: refuse whatever comes
    if (reason == LWS_CALLBACK_USER && in != nullptr) return self->collect(wsi, in);
    if (!self->service_) return 0;  // nothing is served before start()
    int rc = 0;
    if (!self->guard([&] { rc = self->on_callback(wsi, reason, in, len); })) rc = -1;
    return rc;
  }

  event::EventLoop* loop_;
  ServiceConfig config_;
  PushService* service_ = nullptr;
  std::uint16_t port_ = 0;
  std::string host_;
  bool tls_ = false;

 private:
  // lws 4.1.6's lws_vhost_destroy() closes nothing: it never marks the vhost as
  // going, so its listening socket keeps accepting and its connections stay
  // open (calling this protocol) until the context is destroyed. So the vhost is
  // emptied first: every wsi bound to it, the listener included, is closed at
  // once (the reason lws uses when a context goes, so no Close frame and no
  // half-close wait), which delivers the usual CLOSED callbacks while the Impl
  // still exists; then nothing is bound and lws_vhost_destroy() frees the vhost
  // on the spot.
  void shut_down() noexcept {
    purge_timer_.cancel();
    for (auto& [wsi, conn] : ws_) conn->cancel_timers();
    if (vhost_) {
      std::vector<lws*> bound;
      lws_callback_all_protocol_vhost_args(vhost_, nullptr, LWS_CALLBACK_USER, &bound, 0);
      for (lws* wsi : bound) lws_close_free_wsi(wsi, LWS_CLOSE_STATUS_NOSTATUS_CONTEXT_DESTROY, "service stopped");
      lws_vhost_destroy(vhost_);
      vhost_ = nullptr;
    }
    ws_.clear();
    http_.clear();
    if (!binding_->vhost_freed) {
      // lws still holds the vhost (or never said it freed it): it frees the binding.
      binding_->impl = nullptr;
      (void)binding_.release();
    }
  }

  // LWS_CALLBACK_USER from shut_down(): lists the vhost's wsis.
  int collect(lws* wsi, void* list) noexcept {
    return guard([&] { static_cast<std::vector<lws*>*>(list)->push_back(wsi); }) ? 0 : -1;
  }

  static void on_vhost_freed(lws_vhost* /*vhost*/, void* arg) noexcept {
    auto* binding = static_cast<Binding*>(arg);
    if (binding->impl == nullptr) {
      delete binding;
    } else {
      binding->vhost_freed = true;
    }
  }

  static void log_error(const char* what) noexcept {
    try {
      if (auto log = spdlog::get("service")) log->error("internal error in a libwebsockets callback: {}", what);
    } catch (...) {
    }
  }

  void on_purge_timer() {
    guard([&] {
      service_->purge_expired();
      purge_timer_.arm(config_.purge_interval);
    });
  }

  int on_callback(lws* wsi, lws_callback_reasons reason, void* in, std::size_t len) {
    switch (reason) {
      // ---- WebSocket ----
      case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        // The WebSocket lives on "/" only, as autopush's.
        const auto uri = token_header(wsi, WSI_TOKEN_GET_URI);
        return uri && *uri == "/" ? 0 : 1;
      }
      case LWS_CALLBACK_ESTABLISHED: on_ws_established(wsi); return 0;
      case LWS_CALLBACK_RECEIVE: {
        auto* c = ws(wsi);
        return c ? c->receive(in, len) : 0;
      }
      case LWS_CALLBACK_RECEIVE_PONG: {
        if (auto* c = ws(wsi)) c->pong();
        return 0;
      }
      case LWS_CALLBACK_SERVER_WRITEABLE: {
        auto* c = ws(wsi);
        return c ? c->writeable() : 0;
      }
      case LWS_CALLBACK_CLOSED: on_ws_closed(wsi); return 0;

      // ---- HTTP ----
      case LWS_CALLBACK_HTTP: return on_http(wsi, in, len);
      case LWS_CALLBACK_HTTP_BODY: on_http_body(wsi, in, len); return 0;
      case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
        if (auto* h = http(wsi); h && !h->answered) answer(wsi, *h);
        return 0;
      }
      case LWS_CALLBACK_HTTP_WRITEABLE: return http_writeable(wsi);
      case LWS_CALLBACK_CLOSED_HTTP:
      case LWS_CALLBACK_HTTP_DROP_PROTOCOL: http_.erase(wsi); return 0;

      default: return 0;
    }
  }

  void on_ws_established(lws* wsi) {
    auto conn = std::make_unique<WsConn>(*this, wsi);
    WsConn* raw = conn.get();
    ws_[wsi] = std::move(conn);
    raw->session_ = service_->ws_open(*raw);
    raw->start();
  }

  void on_ws_closed(lws* wsi) {
    const auto it = ws_.find(wsi);
    if (it != ws_.end()) {
      std::unique_ptr<WsConn> conn = std::move(it->second);
      ws_.erase(it);
      service_->ws_closed(conn->session_);
    }
  }

  // Keeps one byte more than the service accepts (so it can tell 413), counts all of it.
  void on_http_body(lws* wsi, void* in, std::size_t len) {
    auto* h = http(wsi);
    if (!h) return;
    const std::size_t keep = config_.max_data_bytes + 1;
    if (h->request.body.size() < keep) {
      h->request.body.append(static_cast<const char*>(in), std::min(len, keep - h->request.body.size()));
    }
    h->request.body_size += len;
  }

  WsConn* ws(lws* wsi) {
    const auto it = ws_.find(wsi);
    return it == ws_.end() ? nullptr : it->second.get();
  }

  HttpConn* http(lws* wsi) {
    const auto it = http_.find(wsi);
    return it == http_.end() ? nullptr : it->second.get();
  }

  int on_http(lws* wsi, void* in, std::size_t len) {
    auto conn = std::make_unique<HttpConn>();
    HttpConn& h = *conn;
    http_[wsi] = std::move(conn);
    h.request.path.assign(static_cast<const char*>(in), ::strnlen(static_cast<const char*>(in), len));
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
      h.request.method = "POST";
    } else if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0) {
      h.request.method = "DELETE";
    } else if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0) {
      h.request.method = "GET";
    } else if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0) {
      h.request.method = "HEAD";
    } else if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0) {
      h.request.method = "PUT";
    } else {
      h.request.method = "OTHER";
    }
    auto& headers = h.request.headers;
    const auto put = [&](const char* name, std::optional<std::string> value) {
      if (value) headers.emplace(name, std::move(*value));
    };
    put("authorization", token_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION));
    put("content-encoding", token_header(wsi, WSI_TOKEN_HTTP_CONTENT_ENCODING));
    put("content-length", token_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH));
    put("transfer-encoding", token_header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING));
    put("ttl", custom_header(wsi, "ttl:"));
    put("topic", custom_header(wsi, "topic:"));
    put("urgency", custom_header(wsi, "urgency:"));
    put("crypto-key", custom_header(wsi, "crypto-key:"));
    put("encryption", custom_header(wsi, "encryption:"));
    put("encryption-key", custom_header(wsi, "encryption-key:"));

    const auto length = headers.find("content-length");
    const bool has_length = length != headers.end() && length->second != "0";
    const bool chunked = headers.count("transfer-encoding") != 0;
    if ((h.request.method == "POST" || h.request.method == "PUT") && chunked && !has_length) {
      // lws 4.1 does not de-chunk request bodies; application servers send Content-Length.
      h.response.status = 411;
      h.response.body =
          R"({"code":411,"errno":null,"error":"Length Required","message":"Send the body with Content-Length","more_info":"http://autopush.readthedocs.io/en/latest/http.html#error-codes"})";
      h.answered = true;
      lws_callback_on_writable(wsi);
      return 0;
    }
    h.body_expected = has_length && (h.request.method == "POST" || h.request.method == "PUT");
    if (!h.body_expected) answer(wsi, h);
    return 0;
  }

  void answer(lws* wsi, HttpConn& h) {
    h.answered = true;
    h.response = service_->http(h.request);
    lws_callback_on_writable(wsi);
  }

  int http_writeable(lws* wsi) {
    auto* h = http(wsi);
    if (!h || !h->answered) return 0;
    const HttpResponse& r = h->response;
    std::vector<unsigned char> buf(LWS_PRE + 2048 + r.body.size());
    unsigned char* start = buf.data() + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = buf.data() + buf.size() - 1;
    const char* content_type = r.content_type.empty() ? nullptr : r.content_type.c_str();
    if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(r.status), content_type, r.body.size(), &p, end)) {
      return -1;
    }
    for (const auto& [name, value] : r.headers) {
      std::string lname = name + ":";
      std::transform(lname.begin(), lname.end(), lname.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(lname.c_str()),
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), &p, end)) {
        return -1;
      }
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
    if (!r.body.empty()) {
      std::memcpy(buf.data() + LWS_PRE, r.body.data(), r.body.size());
      if (lws_write(wsi, buf.data() + LWS_PRE, r.body.size(), LWS_WRITE_HTTP_FINAL) < 0) return -1;
    }
    http_.erase(wsi);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  }

  std::array<lws_protocols, 2> protocols_{};
  lws_retry_bo_t retry_{};
  lws_vhost* vhost_ = nullptr;
  event::Timer purge_timer_;
  std::unique_ptr<Binding> binding_;
  std::unordered_map<lws*, std::unique_ptr<WsConn>> ws_;
  std::unordered_map<lws*, std::unique_ptr<HttpConn>> http_;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::listen(event::EventLoop& loop, const ServiceConfig& config) {
  auto impl = std::make_unique<Impl>(loop, config);
  if (auto ok = impl->listen(); !ok) return tl::unexpected(ok.error());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::uint16_t Server::port() const noexcept { return impl_->port_; }

std::string Server::ws_url() const {
  std::string host = impl_->host_;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}/", impl_->tls_ ? "wss" : "ws", v6 ? "[" : "", host, v6 ? "]" : "", impl_->port_);
}

void Server::start(PushService& service) { impl_->start(service); }

}  // namespace webpush::service
