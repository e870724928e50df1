// `webpushd unsubscribe NAME|ID` and `webpushd status`.
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "control_client.h"
#include "webpush/daemon/agent.h"
#include "webpush/daemon/control.h"
#include "webpush/daemon/one_shot.h"
#include "webpush/store/store.h"
#include "webpush/transport/ws_client.h"

namespace webpush::cli {

void add_unsubscribe_options(CLI::App& sub, UnsubscribeOptions& o) {
  sub.add_option("subscription", o.target, "the subscription's name or id")->required()->type_name("NAME|ID");
  sub.add_flag("--insecure", o.insecure, "allow plain ws:// to a host that is not loopback");
  sub.add_option("--timeout", o.timeout, "seconds to wait for the push service")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 600.0));
}

namespace {

std::optional<std::int64_t> as_id(const std::string& s) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoll(s);
}

}  // namespace

namespace {

// The request for `target`: a subscription named like a number is found by name first.
nlohmann::json unsubscribe_request(ControlClient& control, const std::string& target) {
  nlohmann::json req = {{"cmd", "unsubscribe"}};
  const auto id = as_id(target);
  if (!id) {
    req["name"] = target;
    return req;
  }
  auto list = control.request({{"cmd", "list"}});
  bool named = false;
  if (list) {
    for (const auto& s : list->at("subscriptions")) named = named || s.value("name", "") == target;
  }
  if (named) {
    req["name"] = target;
  } else {
    req["id"] = *id;
  }
  return req;
}

// A running daemon owns the connection and the store: ask it.
int unsubscribe_via_daemon(ControlClient& control, const UnsubscribeOptions& o) {
  const nlohmann::json req = unsubscribe_request(control, o.target);
  auto reply = control.request(req, std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout * 1000)));
  if (!reply) {
    print_error(reply.error().message());
    return kExitFailure;
  }
  return kExitOk;
}

// The subscription named `target`, else the one with that id.
Result<std::optional<store::Subscription>> find_target(store::Store& store, const std::string& target) {
  auto sub = store.find_subscription_by_name(target);
  if (sub && !*sub) {
    if (const auto id = as_id(target)) sub = store.find_subscription_by_id(*id);
  }
  return sub;
}

// No daemon: tell the service the subscription belongs to ourselves.
int unsubscribe_one_shot(store::Store& store, const store::Subscription& sub, const UnsubscribeOptions& o) {
  const std::string server = sub.server;
  if (auto ok = transport::check_server_url(server, o.insecure); !ok) {
    print_error(ok.error().message());
    return kExitUsage;
  }
  daemon::OneShotOptions options;
  options.server = server;
  options.insecure = o.insecure;
  options.client = {"", proxy_for(server, ""), true};
  options.timeout = Duration(static_cast<std::int64_t>(o.timeout * 1000));
  std::fprintf(stderr, "webpushd: unregistering '%s' from %s ...\n", sub.name.c_str(), server.c_str());
  const std::int64_t id = sub.id;
  auto done = daemon::run_one_shot(
      store, options, [id](daemon::Agent& agent, auto finish) { agent.unsubscribe(id, std::move(finish)); });
  if (!done && done.error() == daemon::Errc::timeout) {
    // The keys are already gone; only the courtesy to the service is missing.
    std::fprintf(stderr, "webpushd: deleted locally; %s did not confirm within %.0f s\n", server.c_str(), o.timeout);
    return kExitOk;
  }
  if (!done) {
    print_error(done.error().message());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int run_unsubscribe(const GlobalOptions& g, const UnsubscribeOptions& o) {
  GlobalOptions quiet = g;
  if (g.verbose == 0) quiet.quiet = true;
  setup_logging(quiet);
  if (auto control = ControlClient::connect(state_dir(g))) return unsubscribe_via_daemon(*control, o);
  auto store = store::Store::open(state_dir(g), store::OpenMode::client);
  if (!store) {
    print_error(store.error().message());
    return kExitFailure;
  }
  auto sub = find_target(*store, o.target);
  if (!sub) {
    print_error(sub.error().message());
    return kExitFailure;
  }
  if (!*sub) {
    print_error(fmt::format("no subscription named '{}'", o.target));
    return kExitFailure;
  }
  if ((*sub)->fcm) {  // the FCM registration needs the daemon's checkin identity and Firebase app
    print_error("FCM subscriptions need the daemon: start webpushd run");
    return kExitFailure;
  }
  return unsubscribe_one_shot(*store, **sub, o);
}

void add_status_options(CLI::App& sub, bool& json) { sub.add_flag("--json", json, "print the status as JSON"); }

namespace {

// One line per sink that refused a message and catches up from the inbox.
void print_sinks_behind(const nlohmann::ordered_json& status) {
  const auto it = status.find("sinks_behind");
  if (it == status.end() || !it->is_array()) return;
  for (const auto& b : *it) {
    if (!b.is_object()) continue;
    const auto text = [&](const char* key) {
      const auto v = b.find(key);
      return v != b.end() && v->is_string() ? v->get<std::string>() : std::string("?");
    };
    const auto from = b.find("from_message");
    std::printf("%-16s %s: %s (message #%s and later wait in the inbox)\n", "sink behind", text("sink").c_str(),
                text("error").c_str(), from != b.end() && from->is_number_integer() ? from->dump().c_str() : "?");
  }
}

// The status for people: one labelled line per field that has a value.
// The distributor's line, and one per app.
void print_unifiedpush(const nlohmann::ordered_json& status) {
  const auto it = status.find("unifiedpush");
  if (it == status.end() || !it->is_object()) return;
  const std::string state = it->value("state", "");
  const std::string detail = it->value("detail", "");
  if (state == "serving") {
    std::printf("%-16s serving as %s\n", "unifiedpush", it->value("name", "").c_str());
  } else {
    std::printf("%-16s %s%s%s\n", "unifiedpush", state.c_str(), detail.empty() ? "" : ": ", detail.c_str());
  }
  for (const auto& app : it->value("apps", nlohmann::ordered_json::array())) {
    const auto& err = app["last_error"];
    std::printf("%-16s %s (%s): %lld pending, %lld forwarded%s%s\n", "  app",
                printable(app.value("service", ""), 64).c_str(), printable(app.value("subscription", ""), 64).c_str(),
                static_cast<long long>(app.value("pending", 0)), static_cast<long long>(app.value("forwarded", 0)),
                err.is_string() ? ", last error: " : "",
                err.is_string() ? printable(err.get<std::string>(), 200).c_str() : "");
  }
}

// Chrome's push service (FCM), when the daemon runs it: state, times, counters.
void print_fcm(const nlohmann::ordered_json& status) {
  const auto it = status.find("fcm");
  if (it == status.end() || !it->is_object()) return;
  const std::string state = it->value("state", "");
  const std::string detail = it->value("detail", "");
  std::printf("%-16s %s%s%s\n", "fcm", state.c_str(), detail.empty() ? "" : ": ", printable(detail, 200).c_str());
  for (const auto& [label, key] :
       {std::pair{"  connected since", "connected_since"}, std::pair{"  last heartbeat", "last_heartbeat"}}) {
    const auto t = it->find(key);
    if (t != it->end() && t->is_string()) std::printf("%-16s %s\n", label, t->get<std::string>().c_str());
  }
  if (const auto c = it->find("counters"); c != it->end() && c->is_object()) {
    std::printf("%-16s %lld received, %lld duplicates, %lld decrypt errors, %lld reconnects\n", "  counters",
                static_cast<long long>(c->value("received", 0)), static_cast<long long>(c->value("duplicates", 0)),
                static_cast<long long>(c->value("decrypt_errors", 0)),
                static_cast<long long>(c->value("reconnects", 0)));
  }
}

void print_status_table(const nlohmann::ordered_json& status) {
  auto field = [&](const char* label, const char* key) {
    const auto it = status.find(key);
    if (it == status.end() || it->is_null()) return;
    std::printf("%-16s %s\n", label, it->is_string() ? it->get<std::string>().c_str() : it->dump().c_str());
  };
  field("state", "state");
  field("detail", "detail");
  field("server", "server");
  field("uaid", "uaid");
  field("connected since", "connected_since");
  field("last message", "last_message_at");
  field("subscriptions", "subscriptions");
  field("store error", "store_error");
  print_sinks_behind(status);
  print_unifiedpush(status);
  print_fcm(status);
  if (const auto it = status.find("inbox"); it != status.end()) {
    std::printf("%-16s %lld stored, %lld delivered, %lld failed\n", "inbox",
                static_cast<long long>(it->value("stored", 0)), static_cast<long long>(it->value("delivered", 0)),
                static_cast<long long>(it->value("failed", 0)));
  }
  if (const auto it = status.find("counters"); it != status.end()) {
    std::printf("%-16s %lld received, %lld duplicates, %lld decrypt errors, %lld reconnects\n", "counters",
                static_cast<long long>(it->value("received", 0)), static_cast<long long>(it->value("duplicates", 0)),
                static_cast<long long>(it->value("decrypt_errors", 0)),
                static_cast<long long>(it->value("reconnects", 0)));
    if (const long long ignored = it->value("ignored_frames", 0LL); ignored > 0) {
      std::printf("%-16s %lld (unusable frames from the service, logged and skipped)\n", "ignored frames", ignored);
    }
  }
}

}  // namespace

int run_status(const GlobalOptions& g, bool json) {
  auto control = ControlClient::connect(state_dir(g));
  nlohmann::ordered_json status;
  if (control) {
    auto reply = control->request({{"cmd", "status"}}, std::chrono::seconds(5));
    if (!reply) {
      print_error(reply.error().message());
      return kExitFailure;
    }
    status = reply->at("status");
  } else {
    // No daemon: say so, with what the store knows.
    status = {{"state", "not running"}, {"connected", false}, {"detail", "no webpushd daemon is running"}};
    auto store = store::Store::open(state_dir(g), store::OpenMode::read_only);
    if (store) {
      auto subs = store->list_subscriptions();
      if (subs) status["subscriptions"] = subs->size();
      if (auto stats = store->inbox_stats()) {
        status["inbox"] = {{"stored", stats->stored}, {"delivered", stats->delivered}, {"failed", stats->failed}};
      }
      if (subs && !subs->empty()) {
        status["server"] = subs->front().server;
        if (auto uaid = store->get_uaid(subs->front().server); uaid && *uaid) status["uaid"] = **uaid;
      }
    }
  }
  const bool connected = status.value("connected", false);
  if (json) {
    std::printf("%s\n", status.dump().c_str());
  } else {
    print_status_table(status);
  }
  // Scripts and monitoring use the exit code: 1 when not connected.
  return connected ? kExitOk : kExitFailure;
}

}  // namespace webpush::cli
