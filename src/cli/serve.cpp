// `webpushd serve`: runs the embedded push service in the foreground.
//
// The first line on stdout is the WebSocket URL actually bound, flushed at once,
// so that scripts and tests can start the service on port 0 and read where it is.
// Logs go to stderr.
#include "serve.h"
#include "webpush/event/trace.h"

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
                 "directory of the service database (default: <global --state-dir>/service, else "
                 "$XDG_STATE_HOME/webpushd/service)")
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
  // Hidden (group ""): breaks one rule on purpose, so that tests/conformance can
  // show that check-service notices. Not for anything else.
  sub.add_option("--fault", o.faults, "break a rule on purpose (check-service's tests)")->type_name("NAME")->group("");
  sub.add_flag("--trace", o.trace,
               "print each message's steps (accepted, frame written) with a microsecond timestamp on stderr");
  sub.add_flag("-v,--verbose", o.verbose, "more log output (repeat for more)");
  sub.add_flag("-q,--quiet", o.quiet, "less log output");
}

namespace {

// A bad option value: the message printed before exiting with kExitUsage.
using UsageError = std::string;
using Checked = tl::expected<void, UsageError>;

Checked set_listen(const ServeOptions& o, service::ServiceConfig& config) {
  auto listen = service::parse_listen(o.listen);
  if (!listen) return tl::unexpected(listen.error().message());
  config.listen_host = listen->host;
  config.listen_port = listen->port;
  config.public_url = o.public_url;
  return {};
}

Checked set_tls(const ServeOptions& o, service::ServiceConfig& config) {
  if (o.tls_cert.empty() != o.tls_key.empty())
    return tl::unexpected(UsageError("--tls-cert and --tls-key go together"));
  config.tls_cert = o.tls_cert;
  config.tls_key = o.tls_key;
  return {};
}

Checked set_durations(const ServeOptions& o, service::ServiceConfig& config) {
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
      return tl::unexpected(fmt::format("{} {}: must be a positive number of seconds", d.name, d.value));
    }
  }
  if (!std::isfinite(o.min_ping_interval) || o.min_ping_interval < 0) {
    return tl::unexpected(UsageError("--min-ping-interval: must be zero or more seconds"));
  }
  config.min_client_ping =
      std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(o.min_ping_interval * 1000)));
  return {};
}

Checked set_limits(const ServeOptions& o, service::ServiceConfig& config) {
  if (o.max_data_bytes < 4096) {
    // RFC 8030 §7.2: a push service must accept bodies of 4096 bytes.
    return tl::unexpected(fmt::format("--max-data-bytes {}: must be at least 4096", o.max_data_bytes));
  }
  config.msg_limit = o.msg_limit;
  config.max_data_bytes = o.max_data_bytes;
  return {};
}

Checked set_broadcasts(const ServeOptions& o, service::ServiceConfig& config) {
  for (const auto& b : o.broadcasts) {
    const auto eq = b.find('=');
    if (eq == std::string::npos || eq == 0)
      return tl::unexpected(fmt::format("--broadcast '{}': expected ID=VERSION", b));
    config.broadcasts[b.substr(0, eq)] = b.substr(eq + 1);
  }
  return {};
}

Checked set_faults(const ServeOptions& o, service::ServiceConfig& config) {
  for (const auto& name : o.faults) {
    auto fault = service::parse_fault(name);
    if (!fault) return tl::unexpected(fault.error().message());
    config.faults.insert(*fault);
  }
  return {};
}

std::filesystem::path service_state_dir(const ServeOptions& o, const std::string& global_state_dir) {
  if (!o.state_dir.empty()) return o.state_dir;
  if (!global_state_dir.empty()) return std::filesystem::path(global_state_dir) / "service";
  return default_state_dir() / "service";
}

// The service configuration the options describe, or what is wrong with them.
tl::expected<service::ServiceConfig, UsageError> config_from_options(const ServeOptions& o,
                                                                     const std::string& global_state_dir) {
  service::ServiceConfig config;
  for (auto* set : {set_listen, set_tls, set_durations, set_limits, set_broadcasts, set_faults}) {
    if (auto ok = set(o, config); !ok) return tl::unexpected(ok.error());
  }
  config.state_dir = service_state_dir(o, global_state_dir);
  if (auto url = service::effective_public_url(config, config.listen_port == 0 ? 1 : config.listen_port); !url) {
    return tl::unexpected(url.error().message());
  }
  return config;
}

// Declared in the order they may be destroyed in reverse: the server borrows
// the service, which borrows the store and the clock; all live on the loop.
struct ServiceParts {
  SystemClock clock;
  std::unique_ptr<service::ServiceStore> store;
  std::unique_ptr<service::PushService> push;
  std::unique_ptr<service::Server> server;
};

void warn_about(const service::ServiceConfig& config) {
  for (service::Fault fault : config.faults) {
    spdlog::get("service")->warn("fault {} injected: this service breaks a rule on purpose (for tests)",
                                 service::fault_name(fault));
  }
  if (!service::is_loopback_host(config.listen_host)) {
    spdlog::get("service")->warn(
        "listening on {}, which is not a loopback address: this is a push service for tests, "
        "with no rate limits, no authentication of user agents and no abuse protection",
        config.listen_host);
  }
}

// Opens the store, listens and starts the service, then prints the WebSocket URL.
// Returns kExitOk, or the exit code after printing why not.
int start_service(event::EventLoop& loop, const service::ServiceConfig& config, ServiceParts& parts) {
  auto opened = service::open_sqlite_store(config.state_dir);
  if (!opened) {
    print_error(
        fmt::format("cannot open the service database in {}: {}", config.state_dir.string(), opened.error().message()));
    return kExitFailure;
  }
  parts.store = std::move(*opened);
  auto listening = service::Server::listen(loop, config);
  if (!listening) {
    print_error(listening.error().message());
    return kExitFailure;
  }
  parts.server = std::move(*listening);
  auto public_url = service::effective_public_url(config, parts.server->port());
  if (!public_url) {
    print_error(public_url.error().message());
    return kExitUsage;
  }
  parts.push = std::make_unique<service::PushService>(config, *public_url, *parts.store, parts.clock);
  parts.server->start(*parts.push);

  std::printf("%s\n", parts.server->ws_url().c_str());
  std::fflush(stdout);
  spdlog::get("service")->info("push service: WebSocket {}, endpoints {}/wpush/…, state in {}", parts.server->ws_url(),
                               *public_url, config.state_dir.string());
  return kExitOk;
}

// Runs the loop until a signal stops it; returns the exit code.
int run_until_stopped(event::EventLoop& loop, ServiceParts& parts, const int& caught) {
  auto ran = loop.run();
  parts.server.reset();
  if (!ran) {
    print_error(ran.error().message());
    return kExitFailure;
  }
  spdlog::get("service")->info("push service stopped ({})", caught == SIGINT    ? "SIGINT"
                                                            : caught == SIGTERM ? "SIGTERM"
                                                                                : "loop ended");
  return kExitOk;
}

// Runs the service on its own loop until SIGINT/SIGTERM; returns the exit code.
int serve(const service::ServiceConfig& config) {
  // One loop for the service, as `run` has for the user agent. Its context
  // makes IPv6 sockets only for an IPv6 listen host.
  auto loop = event::EventLoop::create(event::LoopOptions{.ipv6 = config.listen_host.find(':') != std::string::npos});
  if (!loop) {
    print_error(loop.error().message());
    return kExitFailure;
  }
  ServiceParts parts;
  int caught = 0;
  // SIGINT/SIGTERM arrive as loop events (signalfd), blocked from here on. The
  // server stops accepting and drops its connections before the loop ends.
  auto signals = event::SignalWatch::create(**loop, {SIGINT, SIGTERM}, [&](int signo) {
    if (caught != 0) return;
    caught = signo;
    parts.server.reset();
    (*loop)->stop();
  });
  if (!signals) {
    print_error(signals.error().message());
    return kExitFailure;
  }
  warn_about(config);
  if (int started = start_service(**loop, config, parts); started != kExitOk) return started;
  return run_until_stopped(**loop, parts, caught);
}

}  // namespace

int run_serve(const ServeOptions& o, const std::string& global_state_dir, int verbose, bool quiet) {
  setup_logging(verbose + o.verbose, quiet || o.quiet);
  if (o.trace) event::Trace::enable(stderr);
  auto config = config_from_options(o, global_state_dir);
  if (!config) {
    print_error(config.error());
    return kExitUsage;
  }
  return serve(*config);
}

}  // namespace webpush::cli
