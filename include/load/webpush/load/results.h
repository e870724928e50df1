// What a loadtest run measured: the whole-run histograms, the counters, and one
// row per second (for the progress line, the HTML report and the interval log).
// Plain data: the run fills it, the CLI prints it, the report draws it, and
// `loadtest merge` rebuilds the latency part of it from interval logs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "webpush/load/histogram.h"

namespace webpush::load {

/// One second of the run (the last one may be shorter).
struct IntervalRow {
  double start_s = 0;          ///< seconds since the run's start
  double length_s = 0;         ///< normally 1.0
  std::int64_t connected = 0;  ///< user agents connected at the end of the interval
  std::int64_t sent = 0;       ///< POSTs answered 2xx in the interval
  std::int64_t received = 0;   ///< messages decrypted in the interval
  /// End-to-end latency (µs) of the messages received in the interval; empty
  /// histogram when none arrived.
  std::int64_t p50_us = 0;
  std::int64_t p90_us = 0;
  std::int64_t p99_us = 0;
  std::int64_t max_us = 0;
};

struct Results {
  // ---- what was asked -------------------------------------------------------------
  std::string server;              ///< the push service's WebSocket URL
  std::string command;             ///< the command line, for reports
  std::int64_t start_unix_ms = 0;  ///< wall clock at the start of the run
  int user_agents = 0;
  int subscriptions_per_agent = 0;
  double rate = 0;  ///< scheduled messages per second (0 in --connect-only)

  // ---- latency (µs) ---------------------------------------------------------------
  Histogram connect = Histogram::latency();  ///< start of the attempt → hello answered
  Histogram post = Histogram::latency();     ///< POST sent → 2xx answered
  Histogram e2e = Histogram::latency();      ///< POST sent → decrypted at the user agent
  /// Scheduled time → decrypted: the open-loop figure, which a sender that
  /// fell behind its schedule cannot flatter (coordinated omission).
  Histogram e2e_from_schedule = Histogram::latency();

  // ---- counts ---------------------------------------------------------------------
  std::int64_t connected_peak = 0;
  std::int64_t registered = 0;    ///< subscriptions registered
  std::int64_t scheduled = 0;     ///< messages due by the end of the send phase
  std::int64_t posted = 0;        ///< POSTs sent
  std::int64_t accepted = 0;      ///< answered 2xx
  std::int64_t received = 0;      ///< first deliveries decrypted
  std::int64_t lost = 0;          ///< accepted but not received by the end of the drain
  std::int64_t duplicated = 0;    ///< deliveries of a message already received
  std::int64_t out_of_order = 0;  ///< received after a later message of the same subscription
  std::int64_t decrypt_failed = 0;
  /// False when the run sent to another user agent's subscriptions: then
  /// received, lost, duplicated and out_of_order mean nothing.
  bool receipt_tracked = true;
  /// The run was stopped early (SIGINT/SIGTERM): `unresolved` messages were
  /// accepted and not received yet, which says nothing about the service.
  bool interrupted = false;
  std::int64_t unresolved = 0;
  double send_seconds = 0;  ///< length of the send phase
  /// Failures by reason: "connect: connect_refused", "post: 503", "register: …".
  std::map<std::string, std::int64_t> failures;

  // ---- the loadtest's own cost ------------------------------------------------------
  double cpu_seconds = 0;           ///< user + system CPU time of the loadtest process
  double sender_cpu_seconds = 0;    ///< of that, the sender's thread (encrypt, sign, POST)
  std::int64_t rss_bytes = 0;       ///< peak resident set size of the loadtest process
  std::int64_t rss_idle_bytes = 0;  ///< before the first user agent: the rest is theirs
  /// Resident set size of the push service when its peak connections were
  /// held, and before the first one, when it can be read (--embedded; 0 otherwise).
  std::int64_t service_rss_bytes = 0;
  std::int64_t service_rss_idle_bytes = 0;

  std::vector<IntervalRow> intervals;

  [[nodiscard]] double achieved_rate() const noexcept {
    return send_seconds > 0 ? static_cast<double>(accepted) / send_seconds : 0;
  }
};

}  // namespace webpush::load
