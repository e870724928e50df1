// `webpushd run`: the daemon in the foreground.
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "webpush/daemon/agent.h"
#include "webpush/daemon/netlink.h"
#include "webpush/sinks/jsonl.h"
#include "webpush/store/store.h"
#include "webpush/transport/event_loop.h"
#include "webpush/transport/ws_client.h"

namespace webpush::cli {

void add_run_options(CLI::App& sub, RunOptions& o) {
  sub.add_flag("--no-notify", o.no_notify, "do not raise desktop notifications");
  sub.add_option("--jsonl", o.jsonl, "write every event as a JSON line to FILE, or - for stdout")->type_name("FILE|-");
  sub.add_option("--exec", o.exec, "run CMD for every message, payload on stdin")->type_name("CMD");
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

}  // namespace

int run_daemon(const GlobalOptions& g, const RunOptions& o) {
  setup_logging(g);
  auto log = spdlog::default_logger();
  if (auto ok = transport::check_server_url(g.server, o.insecure); !ok) {
    print_error(ok.error().message());
    return kExitUsage;
  }
  if (o.ping_interval < 60) {
    log->warn("--ping-interval {} s: autopush closes connections that ping more often than every 45 s",
              o.ping_interval);
  }
  const auto dir = state_dir(g);
  auto store = store::Store::open(dir, store::OpenMode::daemon);
  if (!store) {
    print_error(store.error().message());
    return kExitFailure;
  }
  auto loop = transport::EventLoop::create({o.ca_file, proxy_for(g.server, o.proxy), true});
  if (!loop) {
    print_error(loop.error().message());
    return kExitFailure;
  }

  std::vector<std::unique_ptr<sinks::Sink>> owned_sinks;
  if (!o.jsonl.empty()) {
    auto jsonl = sinks::JsonlSink::open(o.jsonl);
    if (!jsonl) {
      print_error(jsonl.error().message());
      return kExitFailure;
    }
    owned_sinks.push_back(std::move(*jsonl));
  }
  std::vector<sinks::Sink*> sink_ptrs;
  for (auto& s : owned_sinks) sink_ptrs.push_back(s.get());

  daemon::AgentOptions options;
  options.server = g.server;
  options.insecure = o.insecure;
  options.session.ping_interval = Duration(static_cast<std::int64_t>(o.ping_interval * 1000));
  options.session.pong_timeout = Duration(static_cast<std::int64_t>(o.request_timeout * 1000));
  options.session.request_timeout = Duration(static_cast<std::int64_t>(o.request_timeout * 1000));
  options.session.backoff.initial = Duration(static_cast<std::int64_t>(o.backoff_initial * 1000));
  options.session.backoff.cap = Duration(static_cast<std::int64_t>(o.backoff_max * 1000));

  SystemClock clock;
  RandomJitter jitter;
  {
    daemon::Agent agent(**loop, *store, options, clock, jitter);
    agent.set_sinks(sink_ptrs);

    transport::Timer stop_timer(**loop, [&] { (*loop)->stop(); });
    bool stopping = false;
    auto signals = Signals::create(**loop, [&](int signo) {
      if (signo == SIGHUP) {
        log->info("SIGHUP: nothing to reload in this version");
        return;
      }
      if (stopping) return;
      stopping = true;
      log->info("stopping ({})", signo == SIGINT ? "SIGINT" : "SIGTERM");
      agent.shutdown();
      stop_timer.arm(Duration{300});  // let the close frame go out
    });
    if (!signals) {
      print_error(signals.error().message());
      return kExitFailure;
    }
    auto netlink = daemon::NetlinkWatcher::create(**loop, [&] { agent.on_network_change(); });
    if (!netlink) log->warn("no network change notifications: {}", netlink.error().message());

    if (auto ok = agent.start(); !ok) {
      print_error(ok.error().message());
      return kExitFailure;
    }
    log->info("webpushd running: server {}, state {}", g.server, dir.string());
    (*loop)->run();
  }
  return kExitOk;
}

}  // namespace webpush::cli
