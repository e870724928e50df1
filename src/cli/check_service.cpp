// `webpushd check-service`: a black-box conformance check of a push service,
// run from the user agent's side (WebSocket) and the application server's
// (HTTP) at once. One row per check as it finishes, a summary, --json, and an
// HTML page with --report. Exit 0 only when every check that ran passed.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "child_process.h"
#include "commands.h"
#include "webpush/conformance/report.h"
#include "webpush/conformance/runner.h"
#include "webpushd_version.h"

namespace webpush::cli {

namespace {

namespace cf = conformance;

std::string groups_footer() {
  std::string out = "Groups (--only takes a group or a check id; --list shows every check):\n";
  for (const auto& g : cf::all_groups()) {
    out += fmt::format("  {:<13} {} ({} checks{})\n", g.id, g.title, g.checks.size(),
                       g.id == "limits" ? ", with --probe-limits" : "");
  }
  out +=
      "\nEach row: PASS, FAIL with what the service did, or SKIP with why. Where a standard allows two\n"
      "behaviours (404 or 410, 401 or 403) both pass and the row says which. Every check unregisters\n"
      "what it registered. Exit status: 0 every check that ran passed, 1 a check failed or the service\n"
      "could not be reached, 2 usage error.";
  return out;
}

std::vector<std::string> split_only(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    std::size_t start = 0;
    while (start <= item.size()) {
      const auto comma = item.find(',', start);
      const auto part = item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!part.empty()) out.push_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

cf::CheckOptions check_options(const CheckServiceOptions& o, std::string server) {
  cf::CheckOptions c;
  c.server = std::move(server);
  c.ca_file = o.ca_file;
  c.insecure = o.insecure;
  c.probe_limits = o.probe_limits;
  c.reply_timeout = cf::Millis(static_cast<long>(o.timeout * 1000));
  c.handshake_wait = cf::Millis(static_cast<long>(o.handshake_wait * 1000));
  c.ping_wait = cf::Millis(static_cast<long>(o.ping_wait * 1000));
  return c;
}

void print_list() {
  for (const auto& g : cf::all_groups()) {
    fmt::print("{}\n", cf::render_group_heading(g));
    for (const auto& c : g.checks) {
      fmt::print("  {:<34} {}  [{}]{}\n", c.id, c.title, c.reference, c.probe_limits ? " (--probe-limits)" : "");
    }
  }
}

int finish(const cf::Report& report, const CheckServiceOptions& o) {
  if (o.json) {
    fmt::print("{}\n", cf::to_json(report).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    fmt::print("\n{}\n", cf::render_text_summary(report));
  }
  if (!o.report.empty()) {
    std::ofstream out(o.report, std::ios::binary | std::ios::trunc);
    out << cf::render_html(report);
    if (!out.flush()) {
      print_error(fmt::format("cannot write the report {}", o.report));
      return kExitFailure;
    }
    if (!o.json) fmt::print("report: {}\n", o.report);
  }
  return report.passed() ? kExitOk : kExitFailure;
}

// The rows as the checks finish; on a terminal, the running check's id until
// its row replaces it (a check may wait minutes: --ping-wait, --probe-limits).
cf::Report run_selected(cf::Context& context, const std::vector<cf::Selected>& selected, bool json) {
  const bool live = !json && isatty(STDOUT_FILENO) == 1;
  const cf::Group* current = nullptr;
  auto on_start = [&](const cf::Selected& s) {
    if (json) return;
    if (s.group != current) {
      current = s.group;
      fmt::print("\n{}\n", cf::render_group_heading(*current));
    }
    if (live) fmt::print("  ....  {}", s.check->id);
    std::fflush(stdout);
  };
  auto on_row = [&](const cf::Row& row) {
    if (json) return;
    fmt::print("{}{}", live ? "\r\033[K" : "", cf::render_text_row(row));
    std::fflush(stdout);
  };
  return cf::run_checks(context, selected, on_start, on_row);
}

}  // namespace

void add_check_service_options(CLI::App& sub, CheckServiceOptions& o) {
  sub.add_option("url", o.url, "the service's WebSocket URL (ws:// or wss://); the same as --server")->type_name("URL");
  sub.add_flag("--embedded", o.embedded, "start `webpushd serve` on a free loopback port and check it");
  sub.add_option("--only", o.only, "run only these checks or groups (comma-separated, repeatable)")
      ->type_name("ID,...");
  sub.add_flag("--list", o.list, "list the checks (id, what it checks, standard) and exit");
  sub.add_flag("--json", o.json, "print the results as one JSON object instead of the rows");
  sub.add_option("--report", o.report, "write a self-contained HTML report")->type_name("FILE.html");
  sub.add_flag("--probe-limits", o.probe_limits,
               "also probe where the service draws its lines (ping rate, frame size, registrations, stored "
               "messages); may get the checker's uaids dropped");
  sub.add_flag("--insecure", o.insecure, "allow plain ws:// to a host that is not loopback");
  sub.add_option("--ca-file", o.ca_file, "extra CA certificates (PEM) to trust, next to the system store")
      ->type_name("FILE");
  sub.add_option("--timeout", o.timeout, "seconds a reply or a notification may take")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  sub.add_option("--handshake-wait", o.handshake_wait,
                 "seconds to wait for the service to close a connection that sends no hello")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  sub.add_option("--ping-wait", o.ping_wait,
                 "seconds to wait for the service's WebSocket Ping (autopush sends one every 300 s)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  sub.get_option("--embedded")->excludes("url");
  sub.footer(groups_footer());
}

int run_check_service(const GlobalOptions& g, const CheckServiceOptions& o) {
  if (o.list) {
    print_list();
    return kExitOk;
  }
  auto selected = cf::select_checks(split_only(o.only));
  if (!selected) {
    print_error(selected.error().message() + " (see --help)");
    return kExitUsage;
  }
  if (!o.embedded && o.url.empty() && !g.server_given) {
    print_error("check-service needs the service's URL: check-service ws://HOST:PORT/ (or --embedded; see --help)");
    return kExitUsage;
  }
  // wss:// writes go through OpenSSL, which cannot ask for MSG_NOSIGNAL: a service
  // that drops a connection mid-write must be a failed check, not a dead checker.
  std::signal(SIGPIPE, SIG_IGN);
  EmbeddedService embedded;
  if (o.embedded) {
    // Short timers, so that the handshake and keepalive checks need not wait for autopush's 5 s and 300 s.
    if (auto ok = start_embedded_service(embedded, "check", {"--handshake-timeout", "2", "--ws-ping-interval", "2"});
        !ok) {
      print_error(ok.error().message());
      return kExitFailure;
    }
  }
  const std::string server = o.embedded ? embedded.url : !o.url.empty() ? o.url : g.server;
  cf::Context context(check_options(o, server));
  if (auto ready = context.prepare(); !ready) {
    print_error(ready.error().message());
    return kExitFailure;
  }
  // One line instead of a column of rows that all say the service cannot be reached.
  if (auto reachable = context.raw_connection(); !reachable) {
    print_error(fmt::format("cannot reach {}: {}", server, reachable.error().message()));
    return kExitFailure;
  }
  if (!o.json) fmt::print("webpushd check-service {} ({} checks)\n", server, selected->size());
  cf::Report report = run_selected(context, *selected, o.json);
  report.version = WEBPUSHD_VERSION;
  return finish(report, o);
}

}  // namespace webpush::cli
