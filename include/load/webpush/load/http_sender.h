// HttpSender: loadtest's application server. On its own thread (so that
// encryption has a core of its own), it takes message after message off the
// open-loop Schedule, encrypts and VAPID-signs each for its subscription
// (round robin over the Targets), and POSTs it over a small pool of
// keep-alive connections (libcurl's multi interface). A message is posted
// when it is due and a connection is free; when none is, it waits, and the
// wait shows in the latency measured from its scheduled time.
//
// Thread: start()/stop()/the queries from the loop thread; the work on the
// sender's own thread. Counters are atomic; the histogram and the failure
// counts are read after stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "webpush/core/error.h"
#include "webpush/load/histogram.h"
#include "webpush/load/ledger.h"
#include "webpush/load/push_request.h"

namespace webpush::load {

/// The subscriptions a run sends to, by index; an entry changes when its user
/// agent had to register again (the service forgot its uaid).
class Targets {
 public:
  explicit Targets(std::size_t count) : targets_(count) {}
  void set(std::size_t index, PushTarget target);
  [[nodiscard]] PushTarget get(std::size_t index) const;
  [[nodiscard]] std::size_t size() const noexcept { return targets_.size(); }

 private:
  mutable std::mutex mutex_;
  std::vector<PushTarget> targets_;
};

struct SenderConfig {
  PushOptions push;
  std::size_t payload_size = 128;
  int connections = 8;      ///< keep-alive connections to the service
  long timeout_ms = 30000;  ///< per POST
  std::string ca_file;      ///< extra CA certificates (PEM) next to the system store
};

/// A monotonic clock in microseconds, shared by the sender and the user agents.
std::int64_t monotonic_us() noexcept;

class HttpSender {
 public:
  /// The ledger, targets and schedule are borrowed and must outlive the sender.
  HttpSender(SenderConfig config, Ledger& ledger, Targets& targets, Schedule schedule);
  ~HttpSender();
  HttpSender(const HttpSender&) = delete;
  HttpSender& operator=(const HttpSender&) = delete;

  /// Starts the thread. Errors: Errc::setup (libcurl, the thread).
  Result<void> start();
  /// Stops sending (what is in flight is abandoned) and joins the thread.
  void stop();

  [[nodiscard]] std::int64_t posted() const noexcept { return posted_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t accepted() const noexcept { return accepted_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }
  /// Every message has been posted and answered (or stop() was called).
  [[nodiscard]] bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  /// When the last answer came, µs on monotonic_us(); 0 before finished().
  [[nodiscard]] std::int64_t finished_at_us() const noexcept { return finished_at_us_.load(); }

  // After stop():
  [[nodiscard]] const Histogram& post_latency() const noexcept { return post_latency_; }
  [[nodiscard]] const std::map<std::string, std::int64_t>& failures() const noexcept { return failures_; }
  /// CPU time the sender's thread used (encrypting, signing, HTTP).
  [[nodiscard]] double cpu_seconds() const noexcept { return cpu_seconds_; }

 private:
  struct Engine;
  void run() noexcept;
  void post(std::int64_t seq);  // encrypts, signs and hands one message to an idle connection
  void collect();               // takes in the answers that arrived
  void count_failure(std::string reason);

  SenderConfig config_;
  Ledger* ledger_;
  Targets* targets_;
  Schedule schedule_;
  std::unique_ptr<Engine> engine_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};
  std::atomic<std::int64_t> finished_at_us_{0};
  std::atomic<std::int64_t> posted_{0};
  std::atomic<std::int64_t> accepted_{0};
  std::atomic<std::int64_t> refused_{0};
  Histogram post_latency_ = Histogram::latency();
  std::map<std::string, std::int64_t> failures_;
  double cpu_seconds_ = 0;
};

}  // namespace webpush::load
