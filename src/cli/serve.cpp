// `webpushd serve`: runs the embedded push service in the foreground.
//
// The first line on stdout is the WebSocket URL actually bound, flushed at once,
// so that scripts and tests can start the service on port 0 and read where it is.
// Logs go to stderr.
#include "serve.h"

#include "common.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "webpush/event/loop.h"
#include "webpush/event/signal_watch.h"
#include "webpush/service/config.h"
#include "webpush/service/push_service.h"
#include "webpush/service/server.h"
#include "webpush/service/store.h"

namespace webpush::cli {

namespace {

void setup_logging(int verbose, bool quiet) {
  spdlog::level::level_enum level = spdlog::level::info;
  if (quiet) level = spdlog::level::warn;
  if (verbose == 1) level = spdlog::level::debug;
  if (verbose >= 2) level = spdlog::level::trace;
  // "event" carries libwebsockets' own messages (at debug: -v shows them).
  for (const char* name : {"service", "event"}) {
    auto logger = spdlog::get(name);
    if (!logger) logger = spdlog::stderr_color_mt(name);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
    logger->set_level(level);
  }
}

// Seconds from the command line, as a duration; false if not positive and finite.
bool to_ms(double seconds, std::chrono::milliseconds& out) {
  if (!std::isfinite(seconds) || seconds <= 0 || seconds > 365.0 * 24 * 3600) return false;
  out = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
  if (out.count() == 0) out = std::chrono::milliseconds(1);
  return true;
}

}  // namespace

void add_serve_options(CLI::App& sub, ServeOptions& o) {
  sub.add_option("--listen", o.listen, "address and port to listen on (port 0: any free port)")
      ->capture_default_str()
      ->type_name("HOST:PORT");
  sub.add_option("--public-url", o.public_url,
                 "base URL of the endpoints and the VAPID audience (default: http(s)://HOST:PORT)")
      ->type_name("URL");
  sub.add_option("--state-dir", o.state_dir,
                 "directory of the service database (default: $XDG_STATE_HOME/webpushd/service)")
      ->type_name("DIR");
  sub.add_option("--tls-cert", o.tls_cert, "PEM certificate: serve wss:// and https://")->type_name("FILE");
  sub.add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert")->type_name("FILE");
  sub.add_option("--ws-ping-interval", o.ws_ping_interval, "seconds between WebSocket Ping frames to each client")
      ->capture_default_str()
      ->type_name("S");
  sub.add_option("--ws-pong-timeout", o.ws_pong_timeout, "seconds to wait for the Pong before closing (1011)")
      ->capture_default_str()
      ->type_name("S");
  sub.add_option("--handshake-timeout", o.handshake_timeout, "seconds a new WebSocket has to send its hello")
      ->capture_default_str()
      ->type_name("S");
  sub.add_option("--min-ping-interval", o.min_ping_interval,
                 "client `{}` pings closer together than this many seconds close the socket (1011)")
      ->capture_default_str()
      ->type_name("S");
  sub.add_option("--purge-interval", o.purge_interval, "seconds between sweeps of expired messages")
      ->capture_default_str()
      ->type_name("S");
  sub.add_option("--msg-limit", o.msg_limit,
                 "messages sent from storage in one session before the uaid is dropped (close 1000)")
      ->capture_default_str()
      ->type_name("N");
  sub.add_option("--max-data-bytes", o.max_data_bytes, "largest message body accepted (413 above)")
      ->capture_default_str()
      ->type_name("N");
  sub.add_option("--broadcast", o.broadcasts, "announce a Megaphone broadcast (repeatable)")->type_name("ID=VERSION");
  sub.add_flag("-v,--verbose", o.verbose, "more log output (repeat for more)");
  sub.add_flag("-q,--quiet", o.quiet, "less log output");
}

int run_serve(const ServeOptions& o, const std::string& global_state_dir, int verbose, bool quiet) {
  setup_logging(verbose + o.verbose, quiet || o.quiet);
  auto log = spdlog::get("service");

  service::ServiceConfig config;
  auto listen = service::parse_listen(o.listen);
  if (!listen) {
    print_error(listen.error().message());
    return kExitUsage;
  }
  config.listen_host = listen->host;
  config.listen_port = listen->port;
  config.public_url = o.public_url;
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    print_error("--tls-cert and --tls-key go together");
    return kExitUsage;
  }
  config.tls_cert = o.tls_cert;
  config.tls_key = o.tls_key;
  const struct {
    const char* name;
    double value;
    std::chrono::milliseconds* out;
  } durations[] = {
      {"--ws-ping-interval", o.ws_ping_interval, &config.ws_ping_interval},
      {"--ws-pong-timeout", o.ws_pong_timeout, &config.ws_pong_timeout},
      {"--handshake-timeout", o.handshake_timeout, &config.handshake_timeout},
      {"--purge-interval", o.purge_interval, &config.purge_interval},
  };
  for (const auto& d : durations) {
    if (!to_ms(d.value, *d.out)) {
      print_error(fmt::format("{} {}: must be a positive number of seconds", d.name, d.value));
      return kExitUsage;
    }
  }
  if (!std::isfinite(o.min_ping_interval) || o.min_ping_interval < 0) {
    print_error("--min-ping-interval: must be zero or more seconds");
    return kExitUsage;
  }
  config.min_client_ping =
      std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(o.min_ping_interval * 1000)));
  if (o.max_data_bytes < 4096) {
    // RFC 8030 §7.2: a push service must accept bodies of 4096 bytes.
    print_error(fmt::format("--max-data-bytes {}: must be at least 4096", o.max_data_bytes));
    return kExitUsage;
  }
  config.msg_limit = o.msg_limit;
  config.max_data_bytes = o.max_data_bytes;
  for (const auto& b : o.broadcasts) {
    const auto eq = b.find('=');
    if (eq == std::string::npos || eq == 0) {
      print_error(fmt::format("--broadcast '{}': expected ID=VERSION", b));
      return kExitUsage;
    }
    config.broadcasts[b.substr(0, eq)] = b.substr(eq + 1);
  }
  if (!o.state_dir.empty()) {
    config.state_dir = o.state_dir;
  } else if (!global_state_dir.empty()) {
    config.state_dir = std::filesystem::path(global_state_dir) / "service";
  } else {
    config.state_dir = default_state_dir() / "service";
  }
  if (auto url = service::effective_public_url(config, config.listen_port == 0 ? 1 : config.listen_port); !url) {
    print_error(url.error().message());
    return kExitUsage;
  }

  // One loop for the service, as `run` has for the user agent. Its context
  // makes IPv6 sockets only for an IPv6 listen host.
  auto loop = event::EventLoop::create(event::LoopOptions{.ipv6 = config.listen_host.find(':') != std::string::npos});
  if (!loop) {
    print_error(loop.error().message());
    return kExitFailure;
  }
  // Declared in the order they may be destroyed in reverse: the server borrows
  // the service, which borrows the store and the clock; all live on the loop.
  SystemClock clock;
  std::unique_ptr<service::ServiceStore> store;
  std::unique_ptr<service::PushService> push;
  std::unique_ptr<service::Server> server;
  int caught = 0;
  // SIGINT/SIGTERM arrive as loop events (signalfd), blocked from here on. The
  // server stops accepting and drops its connections before the loop ends.
  auto signals = event::SignalWatch::create(**loop, {SIGINT, SIGTERM}, [&](int signo) {
    if (caught != 0) return;
    caught = signo;
    server.reset();
    (*loop)->stop();
  });
  if (!signals) {
    print_error(signals.error().message());
    return kExitFailure;
  }

  if (!service::is_loopback_host(config.listen_host)) {
    log->warn(
        "listening on {}, which is not a loopback address: this is a push service for tests, "
        "with no rate limits, no authentication of user agents and no abuse protection",
        config.listen_host);
  }

  auto opened = service::open_sqlite_store(config.state_dir);
  if (!opened) {
    print_error(
        fmt::format("cannot open the service database in {}: {}", config.state_dir.string(), opened.error().message()));
    return kExitFailure;
  }
  store = std::move(*opened);
  auto listening = service::Server::listen(**loop, config);
  if (!listening) {
    print_error(listening.error().message());
    return kExitFailure;
  }
  server = std::move(*listening);
  auto public_url = service::effective_public_url(config, server->port());
  if (!public_url) {
    print_error(public_url.error().message());
    return kExitUsage;
  }
  push = std::make_unique<service::PushService>(config, *public_url, *store, clock);
  server->start(*push);

  std::printf("%s\n", server->ws_url().c_str());
  std::fflush(stdout);
  log->info("push service: WebSocket {}, endpoints {}/wpush/…, state in {}", server->ws_url(), *public_url,
            config.state_dir.string());

  auto ran = (*loop)->run();
  server.reset();
  if (!ran) {
    print_error(ran.error().message());
    return kExitFailure;
  }
  log->info("push service stopped ({})", caught == SIGINT ? "SIGINT" : caught == SIGTERM ? "SIGTERM" : "loop ended");
  return kExitOk;
}

}  // namespace webpush::cli
