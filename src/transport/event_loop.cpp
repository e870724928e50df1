#include "webpush/transport/event_loop.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fmt/format.h>

#include "internal.h"
#include "webpush/core/log.h"
#include "webpush/core/url.h"

namespace webpush::transport {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::setup: return "setup";
    case Errc::bad_url: return "bad_url";
    case Errc::connect: return "connect";
    case Errc::dns: return "dns";
  }
  return "unknown";
}

namespace detail {

spdlog::logger& log() { return layer_logger("transport"); }

namespace {

// Raw descriptors (signalfd, timerfd, netlink, pipes) adopted into the loop.
int raw_callback(lws* wsi, lws_callback_reasons reason, void*, void*, std::size_t) noexcept {
  auto* watch = static_cast<FdWatch*>(lws_get_opaque_user_data(wsi));
  switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
      if (watch != nullptr) watch->dispatch_readable();
      return 0;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
      if (watch != nullptr) watch->dispatch_writable();
      return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
      if (watch != nullptr) watch->detached();
      return 0;
    default: return 0;
  }
}

// Adds the user's CA file to the client trust store, next to the system's
// default paths (lws alone would use the file instead of the system store).
int loop_protocol_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) noexcept {
  if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
    auto* loop = static_cast<EventLoop*>(lws_context_user(lws_get_context(wsi)));
    auto* ctx = static_cast<SSL_CTX*>(user);
    if (loop != nullptr && ctx != nullptr) {
      SSL_CTX_set_default_verify_paths(ctx);
      const std::string& ca = loop->options().ca_file;
      if (!ca.empty() && SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
        ERR_clear_error();
        log().error("cannot load CA file {}: not readable PEM certificates", ca);
      }
    }
    return 0;
  }
  return ws_client_callback(wsi, reason, user, in, len);
}

const lws_protocols kProtocols[] = {
    {kWsProtocol, loop_protocol_callback, 0, 64 * 1024, 0, nullptr, 0},
    {kRawProtocol, raw_callback, 0, 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

void lws_log_to_spdlog(int level, const char* line) {
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (level & LLL_ERR) {
    log().debug("lws: {}", text);
  } else {
    log().trace("lws: {}", text);
  }
}

}  // namespace
}  // namespace detail

Result<std::unique_ptr<EventLoop>> EventLoop::create(const LoopOptions& options) {
  std::unique_ptr<EventLoop> loop(new EventLoop(options));
  lws_set_log_level(LLL_ERR | LLL_WARN, detail::lws_log_to_spdlog);

  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = detail::kProtocols;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.gid = static_cast<gid_t>(-1);
  info.uid = static_cast<uid_t>(-1);
  info.user = loop.get();
  info.timeout_secs = 20;
  info.connect_timeout_secs = 20;
  std::string proxy_host;
  if (!options.proxy.empty()) {
    const auto colon = options.proxy.rfind(':');
    proxy_host = options.proxy.substr(0, colon);
    info.http_proxy_address = proxy_host.c_str();
    info.http_proxy_port =
        colon == std::string::npos ? 3128u : static_cast<unsigned>(std::stoul(options.proxy.substr(colon + 1)));
  }
  if (options.tcp_keepalive) {
    // Idle 60 s, then 3 probes 10 s apart: a dead peer is noticed by the
    // kernel even if every higher layer were silent.
    info.ka_time = 60;
    info.ka_probes = 3;
    info.ka_interval = 10;
  }
  loop->context_ = lws_create_context(&info);
  if (loop->context_ == nullptr) return fail(Errc::setup, "cannot create the libwebsockets context");
  loop->vhost_ = lws_get_vhost_by_name(loop->context_, "default");
  if (loop->vhost_ == nullptr) return fail(Errc::setup, "libwebsockets created no default vhost");
  return loop;
}

EventLoop::~EventLoop() {
  if (context_ != nullptr) lws_context_destroy(context_);
}

int EventLoop::run() {
  while (!stopping_) {
    if (lws_service(context_, 0) < 0) break;
  }
  return 0;
}

void EventLoop::stop() {
  stopping_ = true;
  lws_cancel_service(context_);
}

// ---- Timer --------------------------------------------------------------------

struct Timer::Impl {
  lws_sorted_usec_list_t sul{};  // first member: the callback casts back to Impl
  EventLoop* loop;
  std::function<void()> callback;

  static void fire(lws_sorted_usec_list_t* sul) noexcept {
    auto* self = reinterpret_cast<Impl*>(sul);
    try {
      self->callback();
    } catch (const std::exception& e) {
      detail::log().error("timer callback failed: {}", e.what());
    }
  }
};

Timer::Timer(EventLoop& loop, std::function<void()> callback) : impl_(std::make_unique<Impl>()) {
  impl_->loop = &loop;
  impl_->callback = std::move(callback);
}

Timer::~Timer() { cancel(); }

void Timer::arm(Duration delay) {
  const auto us = std::max<std::int64_t>(0, delay.count()) * 1000;
  lws_sul_schedule(impl_->loop->context(), 0, &impl_->sul, Impl::fire, us);
}

void Timer::cancel() { lws_sul_cancel(&impl_->sul); }

// ---- FdWatch --------------------------------------------------------------------

Result<std::unique_ptr<FdWatch>> FdWatch::create(EventLoop& loop, int fd, std::function<void()> on_readable,
                                                 std::function<void()> on_writable) {
  std::unique_ptr<FdWatch> watch(new FdWatch());
  watch->on_readable_ = std::move(on_readable);
  watch->on_writable_ = std::move(on_writable);
  lws_sock_file_fd_type desc{};
  desc.filefd = fd;
  watch->wsi_ = lws_adopt_descriptor_vhost(loop.vhost(), LWS_ADOPT_RAW_FILE_DESC, desc, detail::kRawProtocol, nullptr);
  if (watch->wsi_ == nullptr) return fail(Errc::setup, fmt::format("cannot watch descriptor {}", fd));
  lws_set_opaque_user_data(watch->wsi_, watch.get());
  return watch;
}

FdWatch::~FdWatch() {
  if (wsi_ != nullptr) {
    // Detach first so the close callback does not reach a dying object; lws
    // closes the descriptor with the wsi.
    lws_set_opaque_user_data(wsi_, nullptr);
    // Async: the owner may be destroying this watch from inside its own callback.
    lws_set_timeout(wsi_, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
  }
}

void FdWatch::want_writable() {
  if (wsi_ != nullptr) lws_callback_on_writable(wsi_);
}

void FdWatch::dispatch_writable() noexcept {
  if (!on_writable_) return;
  try {
    on_writable_();
  } catch (const std::exception& e) {
    detail::log().error("descriptor callback failed: {}", e.what());
  }
}

void FdWatch::dispatch_readable() noexcept {
  try {
    on_readable_();
  } catch (const std::exception& e) {
    detail::log().error("descriptor callback failed: {}", e.what());
  }
}

// ---- BootTimer -------------------------------------------------------------------

Result<std::unique_ptr<BootTimer>> BootTimer::create(EventLoop& loop, std::function<void()> callback) {
  std::unique_ptr<BootTimer> t(new BootTimer());
  t->callback_ = std::move(callback);
  t->fd_ = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  if (t->fd_ < 0) return fail(Errc::setup, fmt::format("timerfd_create(CLOCK_BOOTTIME): {}", std::strerror(errno)));
  BootTimer* raw = t.get();
  auto watch = FdWatch::create(loop, t->fd_, [raw] {
    std::uint64_t expirations = 0;
    if (read(raw->fd_, &expirations, sizeof expirations) == sizeof expirations) raw->callback_();
  });
  if (!watch) {
    t->fd_ = -1;  // closed by the failed adoption
    return tl::unexpected(watch.error());
  }
  t->watch_ = std::move(*watch);
  return t;
}

BootTimer::~BootTimer() {
  watch_.reset();  // closes fd_
}

void BootTimer::arm(Duration delay) {
  itimerspec spec{};
  const auto ms = std::max<std::int64_t>(1, delay.count());  // 0 would disarm
  spec.it_value.tv_sec = ms / 1000;
  spec.it_value.tv_nsec = (ms % 1000) * 1'000'000;
  timerfd_settime(fd_, 0, &spec, nullptr);
}

void BootTimer::cancel() {
  itimerspec spec{};
  timerfd_settime(fd_, 0, &spec, nullptr);
}

}  // namespace webpush::transport
