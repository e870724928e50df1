#include "webpush/event/loop.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <libwebsockets.h>

#include "internal.h"
#include "webpush/core/log.h"
#include "webpush/event/fd_watch.h"

namespace webpush::event {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::setup: return "setup";
    case Errc::io: return "io";
  }
  return "unknown";
}

namespace detail {

spdlog::logger& log() { return layer_logger("event"); }

namespace {

// Adopted descriptors: libwebsockets' raw-file role, one FdWatch per wsi.
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
      if (watch != nullptr) watch->hung_up();
      return 0;
    default: return 0;
  }
}

const lws_protocols kRawProtocols[] = {
    {kRawProtocol, raw_callback, 0, 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

// libwebsockets reports expected events (a peer vanishing, a refused bind) as
// errors; each layer reports what matters itself, so lws stays at debug.
void lws_log_to_spdlog(int level, const char* line) {
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  guarded("logging", [&] {
    if (level & LLL_ERR) {
      log().debug("lws: {}", text);
    } else {
      log().trace("lws: {}", text);
    }
  });
}

thread_local int loop_depth = 0;

struct InLoop {
  InLoop() noexcept { ++loop_depth; }
  ~InLoop() { --loop_depth; }
  InLoop(const InLoop&) = delete;
  InLoop& operator=(const InLoop&) = delete;
};

}  // namespace
}  // namespace detail

bool in_loop_callback() noexcept { return detail::loop_depth > 0; }

void assert_may_block(const char* what) noexcept {
#ifndef NDEBUG
  if (in_loop_callback()) {
    std::fprintf(stderr, "webpushd: blocking call on the event loop thread: %s\n", what);
    std::abort();
  }
#else
  (void)what;
#endif
}

// A sul with a back pointer: `sul` first in a standard-layout struct.
struct EventLoop::DeferTimer {
  lws_sorted_usec_list_t sul{};
  EventLoop* loop = nullptr;
};

Result<std::unique_ptr<EventLoop>> EventLoop::create(const LoopOptions& options) {
  std::unique_ptr<EventLoop> loop(new EventLoop());
  lws_set_log_level(LLL_ERR | LLL_WARN, detail::lws_log_to_spdlog);

  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  if (!options.ipv6) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.gid = static_cast<gid_t>(-1);
  info.uid = static_cast<uid_t>(-1);
  info.user = loop.get();
  info.timeout_secs = 20;
  info.connect_timeout_secs = 20;
  info.max_http_header_data = 8192;
  info.max_http_header_pool = 64;
  loop->context_ = lws_create_context(&info);
  if (loop->context_ == nullptr) return fail(Errc::setup, "cannot create the libwebsockets context");

  lws_context_creation_info vinfo{};
  vinfo.port = CONTEXT_PORT_NO_LISTEN;
  vinfo.protocols = detail::kRawProtocols;
  vinfo.vhost_name = "webpushd-raw";
  loop->raw_vhost_ = lws_create_vhost(loop->context_, &vinfo);
  if (loop->raw_vhost_ == nullptr) return fail(Errc::setup, "cannot create the libwebsockets vhost for descriptors");
  loop->defer_timer_ = std::make_unique<DeferTimer>();
  loop->defer_timer_->loop = loop.get();
  return loop;
}

EventLoop::~EventLoop() {
  if (defer_timer_) lws_sul_cancel(&defer_timer_->sul);
  // Deferred destruction must still happen: owners rely on it.
  while (!deferred_.empty()) run_deferred();
  if (context_ != nullptr) lws_context_destroy(context_);
}

Result<void> EventLoop::run() {
  const detail::InLoop in_loop;
  while (!stopping_) {
    if (lws_service(context_, 0) < 0) return fail(Errc::io, "the libwebsockets event loop failed");
  }
  return {};
}

void EventLoop::stop() {
  stopping_ = true;
  lws_cancel_service(context_);
}

bool EventLoop::run_until(const std::function<bool()>& done, Duration limit) {
  const detail::InLoop in_loop;
  struct Deadline {
    lws_sorted_usec_list_t sul{};
    lws_context* context = nullptr;
    bool expired = false;
  } deadline;
  deadline.context = context_;
  lws_sul_schedule(
      context_, 0, &deadline.sul,
      [](lws_sorted_usec_list_t* sul) {
        auto* d = reinterpret_cast<Deadline*>(sul);
        d->expired = true;
        lws_cancel_service(d->context);
      },
      std::max<std::int64_t>(0, limit.count()) * LWS_US_PER_MS);
  const bool outer = wake_after_timers_;
  wake_after_timers_ = true;
  while (!done() && !deadline.expired) {
    if (lws_service(context_, 0) < 0) break;
  }
  wake_after_timers_ = outer;
  lws_sul_cancel(&deadline.sul);
  return done();
}

void EventLoop::after_timer() noexcept {
  if (wake_after_timers_) lws_cancel_service(context_);
}

void EventLoop::defer(std::function<void()> work) {
  deferred_.push_back(std::move(work));
  schedule_deferred();
}

void EventLoop::schedule_deferred() {
  // 1 µs, not 0: libwebsockets runs every timer due at the time it read when
  // its pass began, so work deferred from deferred work would otherwise run in
  // the same pass instead of the next turn.
  lws_sul_schedule(
      context_, 0, &defer_timer_->sul,
      [](lws_sorted_usec_list_t* sul) { reinterpret_cast<DeferTimer*>(sul)->loop->run_deferred(); }, 1);
}

void EventLoop::run_deferred() noexcept {
  // Work deferred while this batch runs waits for the next turn.
  std::vector<std::function<void()>> batch;
  batch.swap(deferred_);
  for (auto& work : batch) detail::guarded("deferred work", work);
  after_timer();
}

}  // namespace webpush::event
