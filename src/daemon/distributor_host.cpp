#include "webpush/daemon/distributor_host.h"

#include <nlohmann/json.hpp>

#include "internal.h"

namespace webpush::daemon {

using detail::log;

// The distributor's registrations, made on the Agent's connection.
class DistributorHost::AgentRegistrar final : public unifiedpush::Registrar {
 public:
  explicit AgentRegistrar(Agent& agent) : agent_(&agent) {}

  void subscribe(std::string name, std::optional<Bytes> vapid, store::AppRegistration app, Subscribed done) override {
    agent_->subscribe(
        std::move(name), std::move(vapid),
        [done = std::move(done)](Result<store::Subscription> sub) {
          if (sub || !sub.error().is(Errc::timeout)) {
            done(std::move(sub));
            return;
          }
          // The push service did not answer: NETWORK, for the app.
          done(fail(unifiedpush::Errc::timeout, sub.error().message()));
        },
        std::move(app));
  }

  void unsubscribe(std::int64_t subscription_id, Unsubscribed done) override {
    agent_->unsubscribe(subscription_id, std::move(done));
  }

 private:
  Agent* agent_;
};

std::unique_ptr<DistributorHost> DistributorHost::start(const UnifiedPushConfig& config, Parts parts,
                                                        std::chrono::milliseconds max_age, BusFactory bus_factory) {
  std::unique_ptr<DistributorHost> host(new DistributorHost());
  host->open(config, parts, max_age, std::move(bus_factory));
  return host;
}

DistributorHost::~DistributorHost() = default;

void DistributorHost::open(const UnifiedPushConfig& config, Parts parts, std::chrono::milliseconds max_age,
                           BusFactory factory) {
  if (!config.enabled) {
    status_.detail = "turned off ([unifiedpush] enabled = false or --no-unifiedpush)";
    return;
  }
  if (!factory) {
    if (!unifiedpush::bus_support_built()) {
      status_.detail = "this build has no D-Bus support";
      return;
    }
    if (!unifiedpush::session_bus_present()) {
      status_.detail = "no session bus";
      log().info("unifiedpush: no session bus; the distributor is off");
      return;
    }
    factory = unifiedpush::connect_session_bus;
  }
  unifiedpush::BusOptions options{.call_timeout = config.call_timeout};
  options.on_state = [this](bool serving, const std::string& detail) {
    status_.state = serving ? "serving" : "unavailable";
    status_.detail = detail;
  };
  status_.state = "starting";
  auto bus = factory(*parts.loop, std::move(options));
  if (bus) {
    bus_ = std::move(*bus);
    registrar_ = std::make_unique<AgentRegistrar>(*parts.agent);
    distributor_ =
        std::make_unique<unifiedpush::Distributor>(*parts.store, *registrar_, *bus_, *parts.scheduler, *parts.clock,
                                                   unifiedpush::DistributorOptions{.max_age = max_age});
    auto started = distributor_->start();
    if (started) {
      unifiedpush::Distributor* d = distributor_.get();
      parts.agent->set_forwarder([d](const Message& m) { d->forward(m); });
      parts.agent->set_endpoint_observer([d](const store::Subscription& s) { d->endpoint_changed(s); });
      return;
    }
    distributor_.reset();
    bus_.reset();
    bus = tl::unexpected(started.error());
  }
  status_.state = "unavailable";
  status_.detail = bus.error().message();
  log().warn("unifiedpush: the distributor is off: {}", status_.detail);
}

void DistributorHost::stop() {
  if (distributor_) distributor_->stop();
}

UnifiedPushStatus DistributorHost::status() {
  UnifiedPushStatus out = status_;
  if (distributor_) out.apps = distributor_->apps();
  return out;
}

nlohmann::ordered_json DistributorHost::status_json() {
  const UnifiedPushStatus s = status();
  nlohmann::ordered_json j;
  j["state"] = s.state;
  j["detail"] = s.detail;
  j["name"] = s.name;
  j["apps"] = nlohmann::ordered_json::array();
  for (const auto& a : s.apps) {
    j["apps"].push_back({{"service", a.service},
                         {"token", a.token},
                         {"subscription", a.subscription},
                         {"api", a.api},
                         {"pending", a.pending},
                         {"forwarded", a.forwarded},
                         {"last_error", a.last_error ? nlohmann::ordered_json(*a.last_error) : nullptr}});
  }
  return j;
}

}  // namespace webpush::daemon
