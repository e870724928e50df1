// daemon::DistributorHost — the UnifiedPush distributor inside a running
// daemon: the session bus connection, the distributor over the Agent, and
// what `webpushd status` says about it. It never stops the daemon: without a
// session bus, without D-Bus support, or with the name taken, the daemon runs
// on and the status says why there is no distributor.
//
// Thread: the loop thread only. Everything passed in is borrowed and must
// outlive the host.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/daemon/agent.h"
#include "webpush/event/loop.h"
#include "webpush/event/scheduler.h"
#include "webpush/store/store.h"
#include "webpush/unifiedpush/bus.h"
#include "webpush/unifiedpush/distributor.h"

namespace webpush::daemon {

struct UnifiedPushConfig {
  bool enabled = true;            ///< `[unifiedpush] enabled`; `run --no-unifiedpush` clears it
  Duration call_timeout{25'000};  ///< `[unifiedpush] call_timeout`
};

/// Makes the bus connection; the default is unifiedpush::connect_session_bus.
using BusFactory = std::function<Result<std::unique_ptr<unifiedpush::Bus>>(event::EventLoop&, unifiedpush::BusOptions)>;

struct UnifiedPushStatus {
  std::string state = "off";  ///< off, starting (asking for the name), serving, unavailable
  std::string detail;
  std::string name{unifiedpush::kDistributorName};
  std::vector<unifiedpush::AppStatus> apps;
};

class DistributorHost {
 public:
  struct Parts {
    Agent* agent;
    store::Store* store;
    event::EventLoop* loop;
    event::Scheduler* scheduler;
    const Clock* clock;
  };

  /// Starts the distributor if `config` enables it and a session bus is there
  /// (or `bus_factory` is given, as in tests). Never fails; see status().
  static std::unique_ptr<DistributorHost> start(const UnifiedPushConfig& config, Parts parts,
                                                std::chrono::milliseconds max_age, BusFactory bus_factory = {});
  ~DistributorHost();
  DistributorHost(const DistributorHost&) = delete;
  DistributorHost& operator=(const DistributorHost&) = delete;

  /// No more calls to apps (the daemon is stopping).
  void stop();
  [[nodiscard]] UnifiedPushStatus status();
  /// status() as the "unifiedpush" object of `webpushd status --json`.
  [[nodiscard]] nlohmann::ordered_json status_json();

 private:
  class AgentRegistrar;
  DistributorHost() = default;
  void open(const UnifiedPushConfig& config, Parts parts, std::chrono::milliseconds max_age, BusFactory factory);

  UnifiedPushStatus status_;
  std::unique_ptr<AgentRegistrar> registrar_;
  std::unique_ptr<unifiedpush::Bus> bus_;
  std::unique_ptr<unifiedpush::Distributor> distributor_;
};

}  // namespace webpush::daemon
