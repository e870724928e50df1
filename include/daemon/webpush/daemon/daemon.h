// daemon::Daemon — a running webpushd: the composition of the store, the event
// loop, the WebSocket client, the Agent, the FCM link (Chrome's push service,
// when [fcm] is configured or the store holds FCM state), the sinks, the
// control socket, signals (SIGINT/SIGTERM stop, SIGHUP reloads sinks and log
// level), retention pruning, network-change watching and sd_notify. `webpushd run` parses its options and
// hands them here.
//
// The I/O seams are injectable (DaemonSeams) so that unit tests run a whole
// daemon with a fake push-service connection and a fake clock; production uses
// the defaults.
//
// Thread: create and run on one thread; it becomes the loop thread.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/daemon/agent.h"
#include "webpush/daemon/distributor_host.h"
#include "webpush/daemon/fcm_link.h"
#include "webpush/store/store.h"
#include "webpush/transport/connection.h"
#include "webpush/transport/ws_client.h"

namespace webpush::daemon {

/// The sinks a daemon feeds; what SIGHUP reloads.
struct SinkConfig {
  std::string jsonl;  ///< FILE, "-" for stdout, empty for none
  std::string exec;   ///< command line, empty for none
  Duration exec_timeout{30'000};
  bool notify = true;  ///< desktop notifications (skipped with a warning where unavailable)
};

struct DaemonConfig {
  std::filesystem::path state_dir;
  AgentOptions agent;
  transport::ClientOptions client;
  SinkConfig sinks;
  UnifiedPushConfig unifiedpush;
  store::RetentionPolicy retention;
  std::string log_level;  ///< empty: leave as configured
  /// Chrome's push service ([fcm]); without it an FcmLink still runs when the
  /// store holds an FCM device or subscriptions (Google's URLs, the stored
  /// subscriptions' MCS server).
  std::optional<FcmOptions> fcm;
  /// After a stop, how long the loop goes on so the close frame can go out.
  Duration close_linger{300};
};

/// What SIGHUP re-reads (from the config file): sinks and the log level.
struct Reloaded {
  SinkConfig sinks;
  std::string log_level;
};
using ReloadFn = std::function<Result<Reloaded>()>;

/// Replaceable I/O; a null member means the real one.
struct DaemonSeams {
  transport::ConnectionFactory* connections = nullptr;
  const Clock* clock = nullptr;
  Jitter* jitter = nullptr;
  std::function<void(const std::string&)> sd_notify;  ///< "READY=1", "STATUS=…", "STOPPING=1"
  bool watch_network = true;                          ///< netlink (off in tests)
  /// Gives the heap's free pages back to the system (malloc_trim): once, when
  /// the first connection is up and start-up's temporary allocations are freed.
  std::function<void()> release_memory;
  /// The session bus for the UnifiedPush distributor (a fake in tests); null:
  /// the real one, when a session bus is present.
  BusFactory bus;
  /// The FCM link's MCS stream and HTTPS client (fakes in tests); null: the
  /// real ones on the daemon's client vhost.
  transport::StreamConnectionFactory* fcm_streams = nullptr;
  transport::HttpClient* fcm_http = nullptr;
};

class Daemon {
 public:
  /// Opens the store (taking the daemon lock), creates the loop and everything
  /// on it. Errors: store (locked, unreadable), event/transport setup, a sink
  /// that cannot be opened.
  static Result<std::unique_ptr<Daemon>> create(DaemonConfig config, ReloadFn reload, DaemonSeams seams = {});
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Starts the agent, prunes the inbox, says READY and runs the loop until a
  /// stop signal or stop(). Errors: the store at start, the loop failing.
  Result<void> run();
  /// Stops as SIGTERM does: the agent commits what arrived and closes, then the loop ends.
  void stop();
  /// Reloads as SIGHUP does.
  void reload();

  [[nodiscard]] Agent& agent() noexcept;
  [[nodiscard]] store::Store& store() noexcept;
  [[nodiscard]] event::EventLoop& loop() noexcept;
  /// The FCM link; null when FCM is neither configured nor stored.
  [[nodiscard]] FcmLink* fcm() noexcept;

 private:
  struct Parts;
  explicit Daemon(std::unique_ptr<Parts> parts);
  void on_signal(int signo);
  void retire(std::vector<std::unique_ptr<sinks::Sink>> old);
  void prune();
  void notify(const std::string& line);
  void release_startup_memory();
  void start_unifiedpush();
  Result<void> create_fcm();

  std::unique_ptr<Parts> parts_;
};

/// Builds the sinks of `config` on `loop`. The notify sink is optional: where it
/// is unavailable, a warning is logged and the others go on. Errors: a jsonl
/// file that cannot be opened, an exec command that cannot be used.
Result<std::vector<std::unique_ptr<sinks::Sink>>> build_sinks(const SinkConfig& config, event::EventLoop& loop);

}  // namespace webpush::daemon
