// Support for the tests of the GDBus bus module: a private dbus-daemon, a peer
// connection on it (the test's own GDBus, as an app would use it), calls from
// that peer completed on our event loop, and a capture of the "unifiedpush"
// logger.
//
// The peer's replies and method calls are dispatched on GLib's default main
// context, which the module's GlibPump and the test's own (glib_pump.h) run on
// the loop: tests drive the loop until a condition holds, with a deadline.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gio/gio.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include "webpush/core/clock.h"
#include "webpush/event/loop.h"

namespace webpush::unifiedpush::test {

inline constexpr Duration kDeadline{20'000};

/// dbus-daemon --session with session-bus.conf (nothing activatable), stopped
/// (SIGTERM, waited for) when destroyed.
class PrivateBus {
 public:
  /// Starts one and reads its address. nullptr (with a test failure) if it cannot.
  static std::unique_ptr<PrivateBus> start();
  ~PrivateBus();
  PrivateBus(const PrivateBus&) = delete;
  PrivateBus& operator=(const PrivateBus&) = delete;

  [[nodiscard]] const std::string& address() const noexcept { return address_; }
  /// Stops the daemon now: every connection to it ends.
  void stop();

 private:
  PrivateBus() = default;
  pid_t pid_ = -1;
  std::string address_;
};

/// Whether this build found dbus-daemon (the tests that need it skip without).
bool have_dbus_daemon();

struct VariantUnref {
  void operator()(GVariant* v) const noexcept { g_variant_unref(v); }
};
using VariantPtr = std::unique_ptr<GVariant, VariantUnref>;

/// The answer to an asynchronous call from the peer.
struct CallResult {
  bool done = false;
  VariantPtr value;        ///< the reply, or null on an error
  std::string error_name;  ///< the D-Bus error name, on an error
  std::string error_message;
};

/// A connection to the private bus, owned.
class Peer {
 public:
  /// Connects (synchronously: the daemon is another process). nullptr (with a test failure) if it cannot.
  static std::unique_ptr<Peer> connect(const std::string& address);
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  [[nodiscard]] GDBusConnection* connection() const noexcept { return conn_; }
  [[nodiscard]] std::string unique_name() const;
  /// RequestName with DO_NOT_QUEUE, synchronously; whether we are the primary owner.
  bool own_name(const std::string& name);
  /// Calls a method; the result is filled in when the reply is dispatched.
  /// `args` may be floating (it is taken) or null.
  std::shared_ptr<CallResult> call(const std::string& destination, const char* path, const char* interface,
                                   const char* method, GVariant* args);
  /// Sends a method call flagged NO_REPLY_EXPECTED.
  void send_no_reply(const std::string& destination, const char* path, const char* interface, const char* method,
                     GVariant* args);

 private:
  explicit Peer(GDBusConnection* conn) : conn_(conn) {}
  GDBusConnection* conn_;
};

/// Runs the loop until GLib's default context has dispatched what is already
/// attached to it: an idle source of the lowest priority, attached from
/// another thread (as GDBus does), runs after everything before it.
bool drain_glib(event::EventLoop& loop);

/// Captures what is logged to the "unifiedpush" logger (as "LEVEL text" lines) while it lives.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  [[nodiscard]] std::string text() const;
  [[nodiscard]] bool contains(std::string_view line) const { return text().find(line) != std::string::npos; }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

/// Sets or unsets an environment variable until the end of the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

/// A string-valued entry of an a{sv}, or nullopt when absent or not a string.
std::optional<std::string> dict_string(GVariant* dict, const char* key);

}  // namespace webpush::unifiedpush::test
