#include "glib_pump.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <vector>

#include <glib.h>

#include "webpush/core/log.h"
#include "webpush/event/errc.h"

namespace webpush::glib {

namespace {

// Bounded, in case a source is always ready; the rest waits for the next turn.
constexpr int kMaxDispatches = 64;
// When GLib wants something FdWatch cannot report (writability), it is polled.
constexpr gint kPollMs = 100;

}  // namespace

Result<std::unique_ptr<GlibPump>> GlibPump::create(event::EventLoop& loop, std::string logger, std::string prefix) {
  GMainContext* ctx = g_main_context_default();
  // Counted per thread: a second pump on the same thread acquires it again.
  if (!g_main_context_acquire(ctx)) {
    return fail(event::Errc::setup, "GLib's default main context is owned by another thread");
  }
  std::unique_ptr<GlibPump> pump(new GlibPump(loop, ctx, std::move(logger), std::move(prefix)));
  pump->schedule();
  return pump;
}

GlibPump::GlibPump(event::EventLoop& loop, GMainContext* ctx, std::string logger, std::string prefix)
    : loop_(&loop), ctx_(ctx), logger_(std::move(logger)), prefix_(std::move(prefix)), timer_(loop, [this] {
        run();
      }) {}

GlibPump::~GlibPump() {
  watches_.clear();
  timer_.cancel();
  // Another pump may have left a descriptor to this one (each watches what it
  // saw at its last run): the wakeup makes every other pump run and look again.
  g_main_context_wakeup(ctx_);
  g_main_context_release(ctx_);
}

void GlibPump::schedule() { timer_.arm(Duration{0}); }

void GlibPump::run() {
  for (int i = 0; i < kMaxDispatches && g_main_context_iteration(ctx_, FALSE); ++i) {
  }
  gint max_priority = 0;
  const bool ready = g_main_context_prepare(ctx_, &max_priority);
  gint timeout = -1;
  std::vector<GPollFD> fds(8);
  gint n = g_main_context_query(ctx_, max_priority, &timeout, fds.data(), static_cast<gint>(fds.size()));
  if (n > static_cast<gint>(fds.size())) {
    fds.resize(static_cast<std::size_t>(n));
    n = g_main_context_query(ctx_, max_priority, &timeout, fds.data(), n);
  }
  if (ready || timeout == 0) {
    schedule();
    return;
  }
  fds.resize(static_cast<std::size_t>(n));
  bool needs_polling = false;
  std::map<int, bool> wanted;
  for (const auto& f : fds) {
    if ((f.events & G_IO_IN) != 0) {
      wanted[f.fd] = true;
    } else if (f.events != 0) {
      needs_polling = true;  // writability or priority data: FdWatch reports readability only
    }
  }
  watch(wanted, needs_polling);
  if (needs_polling && (timeout < 0 || timeout > kPollMs)) timeout = kPollMs;
  if (timeout > 0) {
    timer_.arm(Duration{timeout});
  } else {
    timer_.cancel();
  }
}

// Keeps a watch on a dup() of each descriptor in `wanted` (an FdWatch owns and
// closes its descriptor; GLib's stay GLib's) and drops the others.
void GlibPump::watch(const std::map<int, bool>& wanted, bool& needs_polling) {
  for (auto it = watches_.begin(); it != watches_.end();) {
    it = wanted.count(it->first) != 0 ? std::next(it) : watches_.erase(it);
  }
  for (const auto& [fd, unused] : wanted) {
    if (watches_.count(fd) != 0) continue;
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) {
      layer_logger(logger_.c_str()).warn("{}: cannot watch GLib descriptor {}: {}", prefix_, fd, std::strerror(errno));
      needs_polling = true;
      continue;
    }
    auto w = event::FdWatch::create(*loop_, event::UniqueFd(copy), [this] { schedule(); });
    if (!w) {
      layer_logger(logger_.c_str()).warn("{}: cannot watch GLib descriptor {}: {}", prefix_, fd, w.error().message());
      needs_polling = true;
      continue;
    }
    watches_[fd] = std::move(*w);
  }
}

}  // namespace webpush::glib
