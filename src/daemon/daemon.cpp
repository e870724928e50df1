#include "webpush/daemon/daemon.h"

#include <malloc.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fcm_codec_loader.h"
#include "internal.h"
#include "webpush/core/log.h"
#include "webpush/daemon/control.h"
#include "webpush/daemon/netlink.h"
#include "webpush/daemon/service_manager.h"
#include "webpush/event/loop.h"
#include "webpush/event/scheduler.h"
#include "webpush/event/signal_watch.h"
#include "webpush/event/timer.h"
#include "webpush/sinks/exec.h"
#include "webpush/sinks/jsonl.h"
#include "webpush/sinks/notify.h"
#include "webpush/transport/http_client.h"
#include "webpush/transport/tls_stream.h"

namespace webpush::daemon {

namespace {

using detail::log;

std::vector<sinks::Sink*> pointers(const std::vector<std::unique_ptr<sinks::Sink>>& owned) {
  std::vector<sinks::Sink*> out;
  out.reserve(owned.size());
  for (const auto& s : owned) out.push_back(s.get());
  return out;
}

void apply_log_level(const std::string& level) {
  if (level.empty()) return;
  spdlog::set_level(spdlog::level::from_str(level));
}

// "mcs://host:port" split; nullopt when it is not that.
std::optional<std::pair<std::string, int>> mcs_host_port(std::string_view server) {
  constexpr std::string_view kScheme = "mcs://";
  if (!server.starts_with(kScheme)) return std::nullopt;
  server.remove_prefix(kScheme.size());
  const auto colon = server.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  int port = 0;
  const auto digits = server.substr(colon + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port < 1 || port > 65535) return std::nullopt;
  return std::pair{std::string(server.substr(0, colon)), port};
}

// FCM options implied by the store, without an [fcm] section: Google's
// servers, and the autopush link's timeouts and backoff (as the CLI sets them
// for a configured one).
FcmOptions implied_fcm_options(const DaemonConfig& config) {
  FcmOptions f;
  const protocol::SessionConfig& autopush = config.agent.session;
  f.request_timeout = autopush.request_timeout;
  f.session.login_timeout = autopush.request_timeout;
  f.session.heartbeat_timeout = autopush.request_timeout;
  f.session.backoff = autopush.backoff;
  return f;
}

// The FCM options to run with: the configured ones, else those implied by the
// store (subscriptions of an MCS server, or a stored device); nullopt: no FCM.
Result<std::optional<FcmOptions>> fcm_options(const DaemonConfig& config, store::Store& store) {
  if (config.fcm) return config.fcm;
  auto subs = store.list_subscriptions();
  if (!subs) return tl::unexpected(subs.error());
  for (const auto& s : *subs) {
    if (auto hp = mcs_host_port(s.server)) {
      FcmOptions f = implied_fcm_options(config);
      f.mcs_host = hp->first;
      f.mcs_port = hp->second;
      return f;
    }
  }
  auto device = store.get_fcm_device();
  if (!device) return tl::unexpected(device.error());
  if (*device) return std::optional<FcmOptions>(implied_fcm_options(config));
  return std::optional<FcmOptions>();
}

}  // namespace

Result<std::vector<std::unique_ptr<sinks::Sink>>> build_sinks(const SinkConfig& config, event::EventLoop& loop,
                                                              store::Store& store) {
  std::vector<std::unique_ptr<sinks::Sink>> out;
  if (!config.jsonl.empty()) {
    auto jsonl = sinks::JsonlSink::open(config.jsonl);
    if (!jsonl) return tl::unexpected(jsonl.error());
    out.push_back(std::move(*jsonl));
  }
  if (!config.exec.empty()) {
    sinks::ExecOptions exec;
    exec.command = config.exec;
    exec.time_limit = config.exec_timeout;
    // A command still queued at a stop has not run: its message is handed over
    // again at the next start rather than lost.
    exec.on_not_run = [&store](std::int64_t id) {
      if (auto ok = store.mark_undelivered(id); !ok) {
        log().error("message {} stays marked delivered though its command did not run: {}", id, ok.error().message());
      }
    };
    auto sink = sinks::ExecSink::create(loop, std::move(exec));
    if (!sink) return tl::unexpected(sink.error());
    out.push_back(std::move(*sink));
  }
  if (config.notify) {
    // Optional: without a session bus or a notification server the other sinks go on.
    auto notify = sinks::make_notify_sink(loop);
    if (notify) {
      out.push_back(std::move(*notify));
    } else {
      log().warn("desktop notifications unavailable: {}", notify.error().message());
    }
  }
  return out;
}

// Declared in the order of construction; destroyed in reverse, so everything
// on the loop goes before the loop, and the agent before the store.
struct Daemon::Parts {
  DaemonConfig config;
  ReloadFn reload;
  DaemonSeams seams;
  SystemClock system_clock;
  RandomJitter random_jitter;
  std::optional<store::Store> store;
  std::unique_ptr<event::EventLoop> loop;
  std::unique_ptr<event::LoopScheduler> scheduler;
  bool memory_released = false;  ///< start-up memory given back (once)
  std::unique_ptr<transport::ClientVhost> client;
  std::unique_ptr<transport::WsConnectionFactory> ws_factory;
  std::unique_ptr<transport::HttpsClient> fcm_http;          // made when FCM runs without a fake
  std::unique_ptr<transport::TlsStreamFactory> fcm_streams;  // likewise
  std::vector<std::unique_ptr<sinks::Sink>> sinks;
  std::vector<std::unique_ptr<sinks::Sink>> retired;  // replaced by a reload, finishing their work
  std::unique_ptr<Agent> agent;
  std::unique_ptr<FcmLink> fcm;  // uses the agent's dispatcher; null without FCM
  std::unique_ptr<ControlServer> control;
  std::unique_ptr<DistributorHost> unifiedpush;  // made by run(), after the agent started
  std::unique_ptr<event::SignalWatch> signals;
  std::unique_ptr<NetlinkWatcher> netlink;
  std::unique_ptr<event::Timer> prune_timer;
  std::unique_ptr<event::Timer> stop_timer;
  bool stopping = false;

  [[nodiscard]] const Clock& clock() const { return seams.clock != nullptr ? *seams.clock : system_clock; }
};

Result<std::unique_ptr<Daemon>> Daemon::create(DaemonConfig config, ReloadFn reload, DaemonSeams seams) {
  auto p = std::make_unique<Parts>();
  p->config = std::move(config);
  p->reload = std::move(reload);
  p->seams = std::move(seams);
  apply_log_level(p->config.log_level);

  auto store = store::Store::open(p->config.state_dir, store::OpenMode::daemon);
  if (!store) return tl::unexpected(store.error());
  p->store.emplace(std::move(*store));
  auto loop = event::EventLoop::create();
  if (!loop) return tl::unexpected(loop.error());
  p->loop = std::move(*loop);
  p->scheduler = std::make_unique<event::LoopScheduler>(*p->loop);
  transport::ConnectionFactory* connections = p->seams.connections;
  if (connections == nullptr) {
    auto client = transport::ClientVhost::create(*p->loop, p->config.client);
    if (!client) return tl::unexpected(client.error());
    p->client = std::move(*client);
    const auto& a = p->config.agent;
    p->ws_factory = std::make_unique<transport::WsConnectionFactory>(
        *p->client, transport::WsOptions{a.server, a.insecure, a.max_frame, a.session.request_timeout});
    connections = p->ws_factory.get();
  }
  auto sinks = build_sinks(p->config.sinks, *p->loop, *p->store);
  if (!sinks) return tl::unexpected(sinks.error());
  p->sinks = std::move(*sinks);

  Jitter& jitter = p->seams.jitter != nullptr ? *p->seams.jitter : p->random_jitter;
  p->agent = std::make_unique<Agent>(*p->store, *connections, *p->scheduler, p->config.agent, p->clock(), jitter);
  p->agent->set_sinks(pointers(p->sinks));

  std::unique_ptr<Daemon> d(new Daemon(std::move(p)));
  if (auto ok = d->create_fcm(); !ok) return tl::unexpected(ok.error());
  Parts& parts = *d->parts_;
  Daemon* self = d.get();
  parts.agent->set_state_observer([self](const AgentStatus& s) {
    self->notify(fmt::format("STATUS={}{}{}", protocol::to_string(s.state), s.detail.empty() ? "" : ": ", s.detail));
    if (s.state == protocol::SessionState::ready) self->release_startup_memory();
  });
  auto signals =
      event::SignalWatch::create(*parts.loop, {SIGINT, SIGTERM, SIGHUP}, [self](int signo) { self->on_signal(signo); });
  if (!signals) return tl::unexpected(signals.error());
  parts.signals = std::move(*signals);
  auto control =
      ControlServer::create(*parts.loop, *parts.agent, *parts.store, control_socket_path(parts.config.state_dir));
  if (!control) return tl::unexpected(control.error());
  parts.control = std::move(*control);
  ControlServer* ctl = parts.control.get();
  ctl->set_fcm(parts.fcm.get());
  parts.agent->set_event_observer([ctl](const sinks::Event& e) { ctl->broadcast(e); });
  if (parts.seams.watch_network) {
    auto netlink = NetlinkWatcher::create(*parts.loop, [self] {
      self->parts_->agent->on_network_change();
      if (self->parts_->fcm) self->parts_->fcm->on_network_change();
    });
    if (netlink) {
      parts.netlink = std::move(*netlink);
    } else {
      log().warn("no network change notifications: {}", netlink.error().message());
    }
  }
  parts.prune_timer = std::make_unique<event::Timer>(*parts.loop, [self] { self->prune(); });
  parts.stop_timer = std::make_unique<event::Timer>(*parts.loop, [self] { self->parts_->loop->stop(); });
  return d;
}

Result<void> Daemon::create_fcm() {
  Parts& p = *parts_;
  auto options = fcm_options(p.config, *p.store);
  if (!options) return tl::unexpected(options.error());
  if (!*options) return {};
  if (auto codec = detail::load_fcm_codec(); !codec) return tl::unexpected(codec.error());
  transport::HttpClient* http = p.seams.fcm_http;
  transport::StreamConnectionFactory* streams = p.seams.fcm_streams;
  if ((http == nullptr || streams == nullptr) && !p.client) {
    auto client = transport::ClientVhost::create(*p.loop, p.config.client);
    if (!client) return tl::unexpected(client.error());
    p.client = std::move(*client);
  }
  if (http == nullptr) {
    auto made = transport::HttpsClient::create(*p.client);
    if (!made) return tl::unexpected(made.error());
    p.fcm_http = std::move(*made);
    http = p.fcm_http.get();
  }
  if (streams == nullptr) {
    transport::TlsStreamOptions tls;
    tls.host = (*options)->mcs_host;
    tls.port = static_cast<std::uint16_t>((*options)->mcs_port);
    tls.connect_timeout = (*options)->request_timeout;
    auto made = transport::TlsStreamFactory::create(*p.client, std::move(tls));
    if (!made) return tl::unexpected(made.error());
    p.fcm_streams = std::move(*made);
    streams = p.fcm_streams.get();
  }
  Jitter& jitter = p.seams.jitter != nullptr ? *p.seams.jitter : p.random_jitter;
  p.fcm = std::make_unique<FcmLink>(*p.store, *http, *streams, *p.scheduler, p.agent->dispatcher(),
                                    std::move(**options), p.clock(), jitter);
  return {};
}

FcmLink* Daemon::fcm() noexcept { return parts_->fcm.get(); }

Daemon::Daemon(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Daemon::~Daemon() = default;  // Parts' member order: the loop's users, then the loop, then the store

Agent& Daemon::agent() noexcept { return *parts_->agent; }
store::Store& Daemon::store() noexcept { return *parts_->store; }
event::EventLoop& Daemon::loop() noexcept { return *parts_->loop; }

Result<void> Daemon::run() {
  if (auto ok = parts_->agent->start(); !ok) return ok;
  if (parts_->fcm) {
    if (auto ok = parts_->fcm->start(); !ok) return ok;
  }
  start_unifiedpush();
  prune();
  // The store is open and the first connection is under way.
  notify("READY=1");
  log().info("webpushd running: server {}, state {}", parts_->config.agent.server, parts_->config.state_dir.string());
  return parts_->loop->run();
}

void Daemon::start_unifiedpush() {
  Parts& p = *parts_;
  p.unifiedpush = DistributorHost::start(p.config.unifiedpush,
                                         {p.agent.get(), &*p.store, p.loop.get(), p.scheduler.get(), &p.clock()},
                                         p.config.retention.max_age, p.seams.bus);
  DistributorHost* host = p.unifiedpush.get();
  p.control->set_unifiedpush_status([host] { return host->status_json(); });
}

void Daemon::release_startup_memory() {
  Parts& p = *parts_;
  if (p.memory_released) return;
  p.memory_released = true;
  // After the callback that reported the connection, when its buffers are freed too.
  p.scheduler->defer([&p] {
    if (p.seams.release_memory) {
      p.seams.release_memory();
    } else {
      ::malloc_trim(0);
    }
  });
}

void Daemon::notify(const std::string& line) {
  if (parts_->seams.sd_notify) {
    parts_->seams.sd_notify(line);
    return;
  }
  // Not under a service manager: nothing is sent. A failure costs systemd's view of the state, nothing else.
  if (auto sent = notify_service_manager(line); !sent) log().debug("{}", sent.error().message());
}

void Daemon::prune() {
  Parts& p = *parts_;
  auto n = p.store->prune(p.clock().now().wall_ms, p.config.retention);
  if (!n) log().warn("pruning the inbox failed: {}", n.error().message());
  if (n && *n > 0) log().info("pruned {} old message(s) from the inbox", *n);
  p.prune_timer->arm(std::chrono::hours(24));
}

void Daemon::stop() {
  Parts& p = *parts_;
  if (p.stopping) return;
  p.stopping = true;
  notify("STOPPING=1");
  if (p.unifiedpush) p.unifiedpush->stop();
  p.agent->shutdown();
  if (p.fcm) p.fcm->shutdown();
  p.stop_timer->arm(p.config.close_linger);  // let the close frame go out
}

void Daemon::reload() {
  Parts& p = *parts_;
  if (!p.reload) return;
  auto reloaded = p.reload();
  if (!reloaded) {
    log().error("SIGHUP: config not reloaded: {}", reloaded.error().message());
    return;
  }
  auto fresh = build_sinks(reloaded->sinks, *p.loop, *p.store);
  if (!fresh) {
    log().error("SIGHUP: sinks not reloaded: {}", fresh.error().message());
    return;
  }
  p.agent->set_sinks(pointers(*fresh));
  retire(std::move(p.sinks));
  p.sinks = std::move(*fresh);
  apply_log_level(reloaded->log_level);
  log().info("SIGHUP: reloaded sinks and log level");
}

void Daemon::retire(std::vector<std::unique_ptr<sinks::Sink>> old) {
  // A replaced sink finishes what it accepted (a running command completes) and
  // is destroyed on a later turn: never inside this callback, never blocking.
  for (auto& sink : old) {
    sinks::Sink* raw = sink.get();
    parts_->retired.push_back(std::move(sink));
    raw->retire([this, raw] {
      auto& r = parts_->retired;
      const auto it = std::find_if(r.begin(), r.end(), [raw](const auto& s) { return s.get() == raw; });
      if (it == r.end()) return;
      parts_->loop->destroy_later(std::move(*it));
      r.erase(it);
    });
  }
}

void Daemon::on_signal(int signo) {
  if (signo == SIGHUP) {
    reload();
    return;
  }
  if (!parts_->stopping) log().info("stopping ({})", signo == SIGINT ? "SIGINT" : "SIGTERM");
  stop();
}

}  // namespace webpush::daemon
