// `webpushd run`: the daemon in the foreground.
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "config.h"
#include "webpush/daemon/agent.h"
#include "webpush/daemon/control.h"
#include "webpush/daemon/netlink.h"
#include "webpush/sinks/exec.h"
#include "webpush/sinks/jsonl.h"
#include "webpush/sinks/notify.h"
#include "webpush/store/store.h"
#include "webpush/transport/event_loop.h"
#include "webpush/transport/ws_client.h"

namespace webpush::cli {

void add_run_options(CLI::App& sub, RunOptions& o) {
  sub.add_flag("--no-notify", o.no_notify, "do not raise desktop notifications");
  sub.add_option("--jsonl", o.jsonl, "write every event as a JSON line to FILE, or - for stdout")->type_name("FILE|-");
  sub.add_option("--exec", o.exec, "run CMD for every message, payload on stdin (not yet available)")->type_name("CMD");
  sub.add_option("--ping-interval", o.ping_interval,
                 "seconds of silence before a keepalive ping (autopush closes below 45)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0));
  sub.add_option("--request-timeout", o.request_timeout, "seconds to wait for a reply or a pong")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 600.0));
  sub.add_option("--backoff-initial", o.backoff_initial, "first reconnect delay in seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  sub.add_option("--backoff-max", o.backoff_max, "longest reconnect delay in seconds")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0));
  sub.add_flag("--insecure", o.insecure, "allow plain ws:// to a host that is not loopback");
  sub.add_option("--ca-file", o.ca_file, "extra CA certificates (PEM) to trust")->check(CLI::ExistingFile);
  sub.add_option("--proxy", o.proxy, "HTTP CONNECT proxy HOST:PORT (default: https_proxy / all_proxy)");
  sub.add_option("--retention-days", o.retention_days, "keep delivered and failed messages this many days")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 36500.0));
  sub.add_option("--retention-messages", o.retention_messages, "keep at most this many delivered/failed messages")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000'000}));
}

namespace {

// SIGINT/SIGTERM/SIGHUP as readable events on the loop.
class Signals {
 public:
  static Result<std::unique_ptr<Signals>> create(transport::EventLoop& loop, std::function<void(int)> handler) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    const int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return fail(transport::Errc::setup, "signalfd failed");
    std::unique_ptr<Signals> s(new Signals());
    s->handler_ = std::move(handler);
    Signals* raw = s.get();
    auto watch = transport::FdWatch::create(loop, fd, [raw, fd] {
      signalfd_siginfo info{};
      while (read(fd, &info, sizeof info) == sizeof info) raw->handler_(static_cast<int>(info.ssi_signo));
    });
    if (!watch) return tl::unexpected(watch.error());
    s->watch_ = std::move(*watch);
    return s;
  }

 private:
  Signals() = default;
  std::function<void(int)> handler_;
  std::unique_ptr<transport::FdWatch> watch_;
};

// Flags given on the command line win over the config file, which wins over defaults.
struct Effective {
  RunOptions run;
  std::string server;
  std::string log_level;  // empty: from -v/-q
};

Result<Effective> effective_options(const GlobalOptions& g, const RunOptions& flags, const CLI::App& sub) {
  Effective e{flags, g.server, ""};
  std::filesystem::path path = g.config;
  if (path.empty()) {
    path = default_config_path();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return e;  // the default file is optional
  }
  auto cfg = load_config(path);
  if (!cfg) return tl::unexpected(cfg.error());
  auto take = [&](const char* flag, auto& field, const auto& value) {
    if (value && sub.count(flag) == 0) field = *value;
  };
  if (cfg->server && !g.server_given) e.server = *cfg->server;
  if (cfg->log_level && g.verbose == 0 && !g.quiet) e.log_level = *cfg->log_level;
  take("--ping-interval", e.run.ping_interval, cfg->ping_interval);
  take("--request-timeout", e.run.request_timeout, cfg->request_timeout);
  take("--backoff-initial", e.run.backoff_initial, cfg->backoff_initial);
  take("--backoff-max", e.run.backoff_max, cfg->backoff_max);
  take("--insecure", e.run.insecure, cfg->insecure);
  take("--ca-file", e.run.ca_file, cfg->ca_file);
  take("--proxy", e.run.proxy, cfg->proxy);
  take("--jsonl", e.run.jsonl, cfg->jsonl);
  take("--exec", e.run.exec, cfg->exec);
  if (cfg->exec_timeout) e.run.exec_timeout = *cfg->exec_timeout;
  if (cfg->notify && sub.count("--no-notify") == 0) e.run.no_notify = !*cfg->notify;
  take("--retention-days", e.run.retention_days, cfg->retention_max_age_days);
  take("--retention-messages", e.run.retention_messages, cfg->retention_max_messages);
  return e;
}

void apply_log_level(const std::string& level) {
  if (!level.empty()) spdlog::set_level(spdlog::level::from_str(level));
}

Result<std::vector<std::unique_ptr<sinks::Sink>>> build_sinks(const RunOptions& o, transport::EventLoop& loop) {
  std::vector<std::unique_ptr<sinks::Sink>> out;
  if (!o.jsonl.empty()) {
    auto jsonl = sinks::JsonlSink::open(o.jsonl);
    if (!jsonl) return tl::unexpected(jsonl.error());
    out.push_back(std::move(*jsonl));
  }
  if (!o.exec.empty()) {
    sinks::ExecOptions exec;
    exec.command = o.exec;
    exec.time_limit = Duration(static_cast<std::int64_t>(o.exec_timeout * 1000));
    auto sink = sinks::ExecSink::create(loop, std::move(exec));
    if (!sink) return tl::unexpected(sink.error());
    out.push_back(std::move(*sink));
  }
  if (!o.no_notify) {
    // Optional: without a session bus or a notification server the other sinks go on.
    auto notify = sinks::make_notify_sink(loop);
    if (notify) {
      out.push_back(std::move(*notify));
    } else {
      spdlog::warn("desktop notifications unavailable: {}", notify.error().message());
    }
  }
  return out;
}

std::vector<sinks::Sink*> pointers(const std::vector<std::unique_ptr<sinks::Sink>>& owned) {
  std::vector<sinks::Sink*> out;
  for (const auto& s : owned) out.push_back(s.get());
  return out;
}

// Under systemd (stderr connected to the journal), log to journald instead.
void use_journal_if_systemd() {
  if (std::getenv("JOURNAL_STREAM") == nullptr) return;
  auto journal = std::make_shared<spdlog::sinks::systemd_sink_mt>("webpushd");
  auto logger = std::make_shared<spdlog::logger>("webpushd", journal);
  logger->set_level(spdlog::get_level());
  spdlog::set_default_logger(logger);
}

}  // namespace

int run_daemon(const GlobalOptions& g, const RunOptions& flags, const CLI::App& sub) {
  setup_logging(g);
  use_journal_if_systemd();
  auto log = spdlog::default_logger();
  auto opts = effective_options(g, flags, sub);
  if (!opts) {
    print_error(opts.error().message());
    return kExitUsage;
  }
  const RunOptions& o = opts->run;
  apply_log_level(opts->log_level);
  if (auto ok = transport::check_server_url(opts->server, o.insecure); !ok) {
    print_error(ok.error().message());
    return kExitUsage;
  }
  if (o.ping_interval < 60) {
    log->warn("ping interval {} s: autopush closes connections that ping more often than every 45 s", o.ping_interval);
  }
  const auto dir = state_dir(g);
  auto store = store::Store::open(dir, store::OpenMode::daemon);
  if (!store) {
    print_error(store.error().message());
    return kExitFailure;
  }
  auto loop = transport::EventLoop::create({o.ca_file, proxy_for(opts->server, o.proxy), true});
  if (!loop) {
    print_error(loop.error().message());
    return kExitFailure;
  }
  auto built = build_sinks(o, **loop);
  if (!built) {
    print_error(built.error().message());
    return kExitFailure;
  }
  std::vector<std::unique_ptr<sinks::Sink>> owned_sinks = std::move(*built);

  daemon::AgentOptions options;
  options.server = opts->server;
  options.insecure = o.insecure;
  options.session.ping_interval = Duration(static_cast<std::int64_t>(o.ping_interval * 1000));
  options.session.pong_timeout = Duration(static_cast<std::int64_t>(o.request_timeout * 1000));
  options.session.request_timeout = Duration(static_cast<std::int64_t>(o.request_timeout * 1000));
  options.session.backoff.initial = Duration(static_cast<std::int64_t>(o.backoff_initial * 1000));
  options.session.backoff.cap = Duration(static_cast<std::int64_t>(o.backoff_max * 1000));
  const store::RetentionPolicy retention{
      std::chrono::milliseconds(static_cast<std::int64_t>(o.retention_days * 86'400'000.0)), o.retention_messages};

  SystemClock clock;
  RandomJitter jitter;
  {
    daemon::Agent agent(**loop, *store, options, clock, jitter);
    agent.set_sinks(pointers(owned_sinks));
    agent.set_state_observer([](const daemon::AgentStatus& s) {
      const std::string line =
          fmt::format("STATUS={}{}{}", protocol::to_string(s.state), s.detail.empty() ? "" : ": ", s.detail);
      sd_notify(0, line.c_str());
    });

    // Retention: at start, then daily.
    std::function<void()> prune;
    transport::Timer prune_timer(**loop, [&] { prune(); });
    prune = [&] {
      auto n = store->prune(clock.now().wall_ms, retention);
      if (!n) log->warn("pruning the inbox failed: {}", n.error().message());
      if (n && *n > 0) log->info("pruned {} old message(s) from the inbox", *n);
      prune_timer.arm(std::chrono::hours(24));
    };

    transport::Timer stop_timer(**loop, [&] { (*loop)->stop(); });
    bool stopping = false;
    auto signals = Signals::create(**loop, [&](int signo) {
      if (signo == SIGHUP) {
        // Reload sinks and log level; the connection is untouched.
        auto reloaded = effective_options(g, flags, sub);
        if (!reloaded) {
          log->error("SIGHUP: config not reloaded: {}", reloaded.error().message());
          return;
        }
        auto fresh = build_sinks(reloaded->run, **loop);
        if (!fresh) {
          log->error("SIGHUP: sinks not reloaded: {}", fresh.error().message());
          return;
        }
        agent.set_sinks(pointers(*fresh));
        owned_sinks = std::move(*fresh);
        apply_log_level(reloaded->log_level);
        log->info("SIGHUP: reloaded sinks and log level");
        return;
      }
      if (stopping) return;
      stopping = true;
      sd_notify(0, "STOPPING=1");
      log->info("stopping ({})", signo == SIGINT ? "SIGINT" : "SIGTERM");
      agent.shutdown();
      stop_timer.arm(Duration{300});  // let the close frame go out
    });
    if (!signals) {
      print_error(signals.error().message());
      return kExitFailure;
    }
    auto control = daemon::ControlServer::create(**loop, agent, *store, daemon::control_socket_path(dir));
    if (!control) {
      print_error(control.error().message());
      return kExitFailure;
    }
    agent.set_event_observer([&](const sinks::Event& e) { (*control)->broadcast(e); });
    auto netlink = daemon::NetlinkWatcher::create(**loop, [&] { agent.on_network_change(); });
    if (!netlink) log->warn("no network change notifications: {}", netlink.error().message());

    if (auto ok = agent.start(); !ok) {
      print_error(ok.error().message());
      return kExitFailure;
    }
    prune();
    // The store is open and the first connection is under way.
    sd_notify(0, "READY=1");
    log->info("webpushd running: server {}, state {}", opts->server, dir.string());
    (*loop)->run();
  }
  return kExitOk;
}

}  // namespace webpush::cli
