#include "webpush/service/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <libwebsockets.h>
#include <spdlog/spdlog.h>

#include "webpush/service/push_service.h"

namespace webpush::service {

namespace {

// A libwebsockets timer with a back pointer. `sul` is the first member of a
// standard-layout struct, so the lws_sorted_usec_list_t* handed to the callback
// converts back to the Timer.
struct Timer {
  lws_sorted_usec_list_t sul;
  void* owner;
};
static_assert(std::is_standard_layout_v<Timer>);

Timer* timer_of(lws_sorted_usec_list_t* sul) noexcept { return reinterpret_cast<Timer*>(sul); }

constexpr std::string_view kPingPayload = "webpushd";

lws_usec_t to_usec(std::chrono::milliseconds ms) { return static_cast<lws_usec_t>(ms.count()) * LWS_US_PER_MS; }

void lws_log(int level, const char* line) noexcept {
  try {
    auto log = spdlog::get("lws");
    if (!log) return;
    std::string_view text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    // lws reports expected events (a peer vanishing, a refused bind) as errors;
    // the service reports what matters itself, so lws stays at debug.
    log->debug("{}{}", level & LLL_ERR ? "error: " : "", text);
  } catch (...) {
  }
}

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
    WsConn(Impl& impl, lws* wsi) : impl_(impl), wsi_(wsi) {
      hello_timer_.owner = this;
      keepalive_timer_.owner = this;
    }
    ~WsConn() { cancel_timers(); }

    void cancel_timers() noexcept {
      lws_sul_cancel(&hello_timer_.sul);
      lws_sul_cancel(&keepalive_timer_.sul);
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
      lws_sul_cancel(&hello_timer_.sul);
      lws_sul_cancel(&keepalive_timer_.sul);
      // If the peer never lets us write the Close frame, give up after a while.
      lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, 10);
      lws_callback_on_writable(wsi_);
    }

    void identified() override {
      lws_sul_cancel(&hello_timer_.sul);
      waiting_for_pong_ = false;
      schedule_keepalive(impl_.config_.ws_ping_interval);
    }

    void start() {
      lws_sul_schedule(impl_.context_, 0, &hello_timer_.sul, &WsConn::on_hello_timer,
                       to_usec(impl_.config_.handshake_timeout));
    }

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
    void receive(const void* in, std::size_t len) {
      if (closing_) return;
      if (!in_message_) {
        in_message_ = true;
        rx_.clear();
        if (lws_frame_is_binary(wsi_)) {
          in_message_ = false;
          impl_.service_->ws_binary(session_);
          return;
        }
      }
      if (rx_.size() + len > impl_.config_.max_frame_bytes) {
        in_message_ = false;
        rx_.clear();
        impl_.service_->ws_fail(session_, kCloseTooBig, "MessageTooBig");
        return;
      }
      rx_.append(static_cast<const char*>(in), len);
      if (lws_is_final_fragment(wsi_) && lws_remaining_packet_payload(wsi_) == 0) {
        in_message_ = false;
        std::string message;
        message.swap(rx_);
        impl_.service_->ws_text(session_, message);
      }
    }

    void pong() {
      if (!waiting_for_pong_ || closing_) return;
      waiting_for_pong_ = false;
      schedule_keepalive(impl_.config_.ws_ping_interval);
    }

    PushService::Session* session_ = nullptr;

   private:
    void schedule_keepalive(std::chrono::milliseconds after) {
      lws_sul_schedule(impl_.context_, 0, &keepalive_timer_.sul, &WsConn::on_keepalive_timer, to_usec(after));
    }

    static void on_hello_timer(lws_sorted_usec_list_t* sul) noexcept {
      auto* self = static_cast<WsConn*>(timer_of(sul)->owner);
      self->impl_.guard([&] { self->impl_.service_->ws_fail(self->session_, kCloseServerError, "HandshakeTimeout"); });
    }

    // ARS PingManager: wait the interval, send a Ping, wait the timeout for the Pong.
    static void on_keepalive_timer(lws_sorted_usec_list_t* sul) noexcept {
      auto* self = static_cast<WsConn*>(timer_of(sul)->owner);
      self->impl_.guard([&] {
        if (self->closing_) return;
        if (self->waiting_for_pong_) {
          self->impl_.service_->ws_fail(self->session_, kCloseServerError, "PongTimeout");
          return;
        }
        self->waiting_for_pong_ = true;
        self->ping_due_ = true;
        lws_callback_on_writable(self->wsi_);
        self->schedule_keepalive(self->impl_.config_.ws_pong_timeout);
      });
    }

    Impl& impl_;
    lws* wsi_;
    std::deque<std::string> out_;
    std::vector<unsigned char> scratch_;
    std::string rx_;
    bool in_message_ = false;
    bool closing_ = false;
    int close_code_ = 0;
    std::string close_reason_;
    bool ping_due_ = false;
    bool waiting_for_pong_ = false;
    Timer hello_timer_{};
    Timer keepalive_timer_{};
  };

  // One HTTP request in progress.
  struct HttpConn {
    HttpRequest request;
    bool body_expected = false;
    bool answered = false;
    HttpResponse response;
  };

  explicit Impl(ServiceConfig config) : config_(std::move(config)) {}

  ~Impl() { destroy(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Result<void> listen() {
    lws_set_log_level(LLL_ERR | LLL_WARN | LLL_NOTICE, lws_log);

    host_ = config_.listen_host == "localhost" ? "127.0.0.1" : config_.listen_host;
    const bool v6 = host_.find(':') != std::string::npos;
    const bool any = host_ == "0.0.0.0" || host_ == "::";
    tls_ = !config_.tls_cert.empty();

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

    std::uint64_t options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (!v6) options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (tls_) options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;

    lws_context_creation_info info{};
    info.options = options;
    info.user = this;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.max_http_header_data = 8192;
    info.max_http_header_pool = 64;
    info.timeout_secs = 20;
    info.keepalive_timeout = 30;
    info.retry_and_idle_policy = &retry_;
    context_ = lws_create_context(&info);
    if (!context_) return fail(Errc::internal, "libwebsockets: cannot create a context");

    lws_context_creation_info vinfo{};
    vinfo.options = options;
    vinfo.port = config_.listen_port;
    vinfo.iface = any ? nullptr : host_.c_str();
    vinfo.protocols = protocols_.data();
    vinfo.vhost_name = "webpushd";
    vinfo.retry_and_idle_policy = &retry_;
    vinfo.keepalive_timeout = 30;
    vinfo.timeout_secs = 20;
    vinfo.alpn = "http/1.1";
    const std::string cert = config_.tls_cert.string();
    const std::string key = config_.tls_key.string();
    if (tls_) {
      if (::access(cert.c_str(), R_OK) != 0) {
        return fail(Errc::tls_failed, fmt::format("--tls-cert {}: {}", cert, std::strerror(errno)));
      }
      if (::access(key.c_str(), R_OK) != 0) {
        return fail(Errc::tls_failed, fmt::format("--tls-key {}: {}", key, std::strerror(errno)));
      }
      vinfo.ssl_cert_filepath = cert.c_str();
      vinfo.ssl_private_key_filepath = key.c_str();
    }
    vhost_ = lws_create_vhost(context_, &vinfo);
    if (!vhost_) {
      if (tls_) {
        return fail(Errc::tls_failed, fmt::format("cannot listen on {}: the TLS certificate or key was refused, or {}",
                                                  address(), bind_failure(host_, config_.listen_port)));
      }
      return fail(Errc::listen_failed,
                  fmt::format("cannot listen on {}: {}", address(), bind_failure(host_, config_.listen_port)));
    }
    port_ = static_cast<std::uint16_t>(lws_get_vhost_listen_port(vhost_));
    return {};
  }

  [[nodiscard]] std::string address() const {
    const bool v6 = host_.find(':') != std::string::npos;
    return fmt::format("{}{}{}:{}", v6 ? "[" : "", host_, v6 ? "]" : "", config_.listen_port);
  }

  Result<void> run(PushService& service) {
    service_ = &service;
    purge_timer_.owner = this;
    schedule_purge();
    int rc = 0;
    while (!stop_.load(std::memory_order_acquire) && rc >= 0) rc = lws_service(context_, 0);
    destroy();
    if (rc < 0) return fail(Errc::internal, "libwebsockets: the event loop failed");
    return {};
  }

  void stop() noexcept {
    stop_.store(true, std::memory_order_release);
    const std::lock_guard lock(context_mutex_);
    if (context_) lws_cancel_service(context_);
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
    auto* self = static_cast<Impl*>(lws_context_user(lws_get_context(wsi)));
    if (!self || !self->service_) return 0;  // nothing is served before run()
    int rc = 0;
    if (!self->guard([&] { rc = self->on_callback(wsi, reason, in, len); })) rc = -1;
    return rc;
  }

  ServiceConfig config_;
  lws_context* context_ = nullptr;
  PushService* service_ = nullptr;
  std::uint16_t port_ = 0;
  std::string host_;
  bool tls_ = false;

 private:
  void destroy() noexcept {
    lws_sul_cancel(&purge_timer_.sul);
    // Timers live in the context's lists: unhook them all before it goes.
    for (auto& [wsi, conn] : ws_) conn->cancel_timers();
    const std::lock_guard lock(context_mutex_);
    if (context_) {
      lws_context_destroy(context_);
      context_ = nullptr;
      vhost_ = nullptr;
    }
    ws_.clear();
    http_.clear();
  }

  static void log_error(const char* what) noexcept {
    try {
      if (auto log = spdlog::get("service")) log->error("internal error in a libwebsockets callback: {}", what);
    } catch (...) {
    }
  }

  void schedule_purge() {
    lws_sul_schedule(context_, 0, &purge_timer_.sul, &Impl::on_purge_timer, to_usec(config_.purge_interval));
  }

  static void on_purge_timer(lws_sorted_usec_list_t* sul) noexcept {
    auto* self = static_cast<Impl*>(timer_of(sul)->owner);
    self->guard([&] {
      self->service_->purge_expired();
      self->schedule_purge();
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
      case LWS_CALLBACK_ESTABLISHED: {
        auto conn = std::make_unique<WsConn>(*this, wsi);
        WsConn* raw = conn.get();
        ws_[wsi] = std::move(conn);
        raw->session_ = service_->ws_open(*raw);
        raw->start();
        return 0;
      }
      case LWS_CALLBACK_RECEIVE: {
        if (auto* c = ws(wsi)) c->receive(in, len);
        return 0;
      }
      case LWS_CALLBACK_RECEIVE_PONG: {
        if (auto* c = ws(wsi)) c->pong();
        return 0;
      }
      case LWS_CALLBACK_SERVER_WRITEABLE: {
        auto* c = ws(wsi);
        return c ? c->writeable() : 0;
      }
      case LWS_CALLBACK_CLOSED: {
        const auto it = ws_.find(wsi);
        if (it != ws_.end()) {
          std::unique_ptr<WsConn> conn = std::move(it->second);
          ws_.erase(it);
          service_->ws_closed(conn->session_);
        }
        return 0;
      }

      // ---- HTTP ----
      case LWS_CALLBACK_HTTP: return on_http(wsi, in, len);
      case LWS_CALLBACK_HTTP_BODY: {
        auto* h = http(wsi);
        if (!h) return 0;
        const std::size_t keep = config_.max_data_bytes + 1;
        if (h->request.body.size() < keep) {
          h->request.body.append(static_cast<const char*>(in), std::min(len, keep - h->request.body.size()));
        }
        h->request.body_size += len;
        return 0;
      }
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
  std::atomic<bool> stop_{false};
  std::mutex context_mutex_;  // stop() may run on another thread than destroy()
  Timer purge_timer_{};
  std::unordered_map<lws*, std::unique_ptr<WsConn>> ws_;
  std::unordered_map<lws*, std::unique_ptr<HttpConn>> http_;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::listen(const ServiceConfig& config) {
  auto impl = std::make_unique<Impl>(config);
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

Result<void> Server::run(PushService& service) { return impl_->run(service); }

void Server::stop() noexcept { impl_->stop(); }

}  // namespace webpush::service
