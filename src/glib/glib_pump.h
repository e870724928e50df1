// GlibPump: GLib's default main context, driven by our event loop.
//
// GDBus (and libnotify over it) completes its work by attaching sources to
// GLib's default main context from its worker thread: method calls to an
// exported object, replies to asynchronous calls, signals. Someone must iterate
// that context, or nothing is ever answered and those sources pile up in a
// long-running daemon. Pumping it from a periodic timer would cost wake-ups
// and delay every event by a tick. Instead the loop thread acquires the
// context for the pump's lifetime — GLib then signals the context's wakeup
// descriptor whenever another thread attaches a source — and the descriptors
// g_main_context_query() reports (in practice only that one) are watched with
// FdWatch (on dup()s: an FdWatch owns its descriptor); GLib's own timeout, if
// any, arms a Timer. An idle daemon gets no extra wake-up, and a reply or a
// click is handled at once.
//
// Each module that speaks GLib (webpushd-notify.so, webpushd-unifiedpush.so)
// links its own copy, so a process may hold several pumps on the one default
// context, on the one loop thread: each iterates the whole context (whichever
// runs first dispatches what is ready, for every module), acquiring it is
// counted per thread, and a pump that goes away wakes the context so that the
// others look again at what to watch.
//
// Thread: the loop thread only. Never destroy a pump (or its owner) from inside
// a GLib callback that the pump dispatched: defer it to the loop.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "webpush/core/error.h"
#include "webpush/event/fd_watch.h"
#include "webpush/event/loop.h"
#include "webpush/event/timer.h"

using GMainContext = struct _GMainContext;

namespace webpush::glib {

class GlibPump {
 public:
  /// Acquires the default main context for the calling thread and starts
  /// driving it. Problems later on (a descriptor that cannot be watched) are
  /// logged to the spdlog logger `logger`, prefixed with "`prefix`: ".
  /// Errors: event::Errc::setup (the context is owned by another thread).
  static Result<std::unique_ptr<GlibPump>> create(event::EventLoop& loop, std::string logger, std::string prefix);

  /// Stops watching, wakes the context (for the other pumps) and releases it.
  ~GlibPump();
  GlibPump(const GlibPump&) = delete;
  GlibPump& operator=(const GlibPump&) = delete;

  /// Runs the context on a later turn. Call it after anything on the loop
  /// thread that may have attached a source (GLib signals the wakeup
  /// descriptor only for sources attached from other threads). The work runs
  /// from a timer, never inside a descriptor callback, since it may replace
  /// the watches.
  void schedule();

 private:
  GlibPump(event::EventLoop& loop, GMainContext* ctx, std::string logger, std::string prefix);
  void run();
  void watch(const std::map<int, bool>& wanted, bool& needs_polling);

  event::EventLoop* loop_;
  GMainContext* ctx_;
  std::string logger_;
  std::string prefix_;
  event::Timer timer_;
  std::map<int, std::unique_ptr<event::FdWatch>> watches_;  // GLib's fd → a watch on its dup
};

}  // namespace webpush::glib
