// `webpushd subscribe`: a new subscription, printed as PushSubscription JSON.
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "control_client.h"
#include "webpush/core/base64url.h"
#include "webpush/crypto/keys.h"
#include "webpush/daemon/agent.h"
#include "webpush/daemon/one_shot.h"
#include "webpush/event/trace.h"
#include "webpush/store/store.h"
#include "webpush/transport/ws_client.h"

namespace webpush::cli {

void add_subscribe_options(CLI::App& sub, SubscribeOptions& o) {
  sub.add_option("--name", o.name, "a unique name for the subscription (default: generated)");
  sub.add_option("--vapid-key", o.vapid_key,
                 "bind the subscription to this application server key (base64url P-256 point)")
      ->type_name("B64URL");
  sub.add_flag("--insecure", o.insecure, "allow plain ws:// to a host that is not loopback");
  sub.add_option("--ca-file", o.ca_file, "extra CA certificates (PEM) to trust")->check(CLI::ExistingFile);
  sub.add_option("--proxy", o.proxy, "HTTP CONNECT proxy HOST:PORT");
  sub.add_option("--service", o.service,
                 "the push service to subscribe with: autopush (--server) or fcm (Chrome's, through the daemon)")
      ->capture_default_str()
      ->check(CLI::IsMember({"autopush", "fcm"}));
  sub.add_option("--timeout", o.timeout, "seconds to wait for the push service")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 600.0));
  sub.add_flag_callback(
      "--trace", [] { event::Trace::enable(stderr); },
      "print every step of the connection this command makes (DNS, TCP, TLS, upgrade, frames) on stderr");
}

namespace {

std::string generated_name() {
  auto r = crypto::random_bytes(3);
  return "sub-" + (r ? to_hex(*r) : std::string("000000"));
}

// The --vapid-key bytes; nullopt when they are not a base64url P-256 point.
std::optional<Bytes> decode_vapid_key(const std::string& text) {
  auto decoded = base64_any_decode(text);
  if (!decoded || !crypto::PublicKey::from_bytes(*decoded)) return std::nullopt;
  return std::move(*decoded);
}

// A running daemon owns the connection and the store: ask it.
int subscribe_via_daemon(ControlClient& control, const SubscribeOptions& o, const std::string& name,
                         const std::optional<Bytes>& key) {
  std::fprintf(stderr, "webpushd: asking the running daemon to subscribe ...\n");
  if (event::Trace::enabled()) {
    std::fprintf(stderr, "webpushd: --trace: the daemon's connection is not this command's; `run --trace` shows it\n");
  }
  nlohmann::json req = {{"cmd", "subscribe"}, {"name", name}};
  if (o.service != "autopush") req["service"] = o.service;
  if (key) req["vapid_key"] = base64url_encode(*key);
  auto reply = control.request(req, std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout * 1000)));
  if (!reply) {
    print_error(reply.error().message());
    return kExitFailure;
  }
  std::printf("%s\n", reply->at("subscription").dump().c_str());
  std::fprintf(stderr, "webpushd: subscription '%s' created\n", name.c_str());
  return kExitOk;
}

// No daemon: connect to the service ourselves for as long as registering takes.
int subscribe_one_shot(const GlobalOptions& g, const SubscribeOptions& o, const std::string& name,
                       const std::optional<Bytes>& key) {
  auto store = store::Store::open(state_dir(g), store::OpenMode::client);
  if (!store) {
    print_error(store.error().message());
    return kExitFailure;
  }
  daemon::OneShotOptions options;
  options.server = g.server;
  options.insecure = o.insecure;
  options.client = {o.ca_file, proxy_for(g.server, o.proxy), true};
  options.timeout = Duration(static_cast<std::int64_t>(o.timeout * 1000));
  std::fprintf(stderr, "webpushd: registering with %s ...\n", g.server.c_str());
  std::optional<store::Subscription> created;
  auto done = daemon::run_one_shot(*store, options, [&](daemon::Agent& agent, auto finish) {
    agent.subscribe(name, key, [&created, finish](Result<store::Subscription> sub) {
      if (!sub) {
        finish(tl::unexpected(sub.error()));
        return;
      }
      created = std::move(*sub);
      finish({});
    });
  });
  if (!done) {
    print_error(done.error().message());
    return kExitFailure;
  }
  std::printf("%s\n", daemon::subscription_json(*created).c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "webpushd: subscription '%s' created\n", created->name.c_str());
  return kExitOk;
}

}  // namespace

int run_subscribe(const GlobalOptions& g, const SubscribeOptions& o) {
  GlobalOptions quiet = g;
  if (g.verbose == 0) quiet.quiet = true;  // stdout is the JSON; keep stderr short
  setup_logging(quiet);
  if (auto ok = transport::check_server_url(g.server, o.insecure); !ok) {
    print_error(ok.error().message());
    return kExitUsage;
  }
  std::optional<Bytes> key;
  if (!o.vapid_key.empty()) {
    key = decode_vapid_key(o.vapid_key);
    if (!key) {
      print_error("--vapid-key must be a base64url P-256 public key (65 bytes, starting with 0x04)");
      return kExitUsage;
    }
  }
  const std::string name = o.name.empty() ? generated_name() : o.name;
  if (auto control = ControlClient::connect(state_dir(g))) return subscribe_via_daemon(*control, o, name, key);
  if (o.service == "fcm") {
    print_error("FCM subscriptions need the daemon: start webpushd run");
    return kExitFailure;
  }
  return subscribe_one_shot(g, o, name, key);
}

}  // namespace webpush::cli
