// Run: one loadtest, on the process's event loop. It ramps the user agents up
// (--ramp-rate connections a second), waits until their subscriptions are
// registered, then starts the HttpSender on the open-loop schedule and
// matches every decrypted message to the Ledger; after the send phase it
// drains (waits for what is still owed, up to a limit) and stops. Once a
// second it closes an interval: a row of Results, and the callbacks for the
// progress line and the interval log.
//
// --connect-only: no sender; the agents are held connected for the duration
// and the run reports what they cost.
//
// Thread: the loop thread (the sender has its own).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/event/loop.h"
#include "webpush/load/http_sender.h"
#include "webpush/load/results.h"
#include "webpush/protocol/session.h"

namespace webpush::load {

/// A running count, for the progress line.
struct Progress {
  double elapsed_s = 0;
  const char* phase = "";  ///< "connecting", "sending", "draining", "holding"
  std::int64_t user_agents = 0;
  std::int64_t connected = 0;
  std::int64_t registered = 0;
  std::int64_t subscriptions = 0;
  std::int64_t posted = 0;
  std::int64_t accepted = 0;
  std::int64_t received = 0;
  std::int64_t scheduled = 0;  ///< messages the run sends in all
  std::int64_t p99_us = 0;     ///< end-to-end p99 of the last interval
};

struct RunConfig {
  std::string server;  ///< ws:// or wss://
  bool insecure = false;
  std::string ca_file;
  int user_agents = 100;
  int subscriptions = 1;  ///< per user agent
  double ramp_rate = 1000;
  bool connect_only = false;
  double rate = 100;              ///< messages a second
  double duration_s = 10;         ///< of the send phase (or of the hold, --connect-only)
  std::int64_t messages = 0;      ///< 0: rate × duration
  double connect_timeout_s = 60;  ///< for every subscription to be registered
  double drain_timeout_s = 10;
  protocol::SessionConfig session;
  SenderConfig sender;
  std::string vapid_public_key;  ///< base64url; empty: subscriptions without a key
  /// Send to these subscriptions (another user agent's) instead of simulated
  /// ones: no user agents run, and what arrives is not tracked.
  std::vector<PushTarget> external_targets;
  std::string command;  ///< for the results

  std::function<void(const Progress&)> on_progress;
  /// Each closed interval, with its end-to-end histogram (for the interval log).
  std::function<void(const IntervalRow&, const Histogram&)> on_interval;
  /// The push service's resident set size, when it can be read (--embedded).
  std::function<std::int64_t()> service_rss;
};

/// Runs one loadtest on `loop` to the end (or until stop_requested() holds, e.g.
/// after SIGINT: the run then stops at once and reports what it has).
/// Errors: Errc::setup, transport::Errc (the server URL).
Result<Results> run_loadtest(event::EventLoop& loop, const RunConfig& config,
                             const std::function<bool()>& stop_requested);

/// The process's resident set size now and at its peak, and its CPU time.
struct ProcessUsage {
  std::int64_t rss_bytes = 0;
  std::int64_t peak_rss_bytes = 0;
  double cpu_seconds = 0;
};
/// Reads /proc/<pid> (0: this process); zeros when it cannot.
ProcessUsage process_usage(int pid = 0);

}  // namespace webpush::load
