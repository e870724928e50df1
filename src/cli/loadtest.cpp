// `webpushd loadtest`: many user agents and an application server in one
// process against a push service (or, with --embedded, against `webpushd
// serve` started as a child on a free loopback port), with a progress line
// while it runs and a summary, JSON, an HdrHistogram log and an HTML report
// at the end. `loadtest merge` combines the logs of several machines.
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "child_process.h"
#include "commands.h"
#include "sender.h"
#include "webpush/core/base64url.h"
#include "webpush/event/loop.h"
#include "webpush/event/signal_watch.h"
#include "webpush/event/trace.h"
#include "webpush/load/interval_log.h"
#include "webpush/load/report.h"
#include "webpush/load/run.h"
#include "webpush/load/summary.h"

namespace webpush::cli {

namespace {

void add_agent_options(CLI::App& sub, LoadtestOptions& o) {
  sub.add_flag("--embedded", o.embedded,
               "start `webpushd serve` on a free loopback port and load-test it (no --server needed)");
  sub.add_option("--user-agents", o.user_agents, "simulated user agents, one WebSocket each")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  sub.add_option("--subscriptions", o.subscriptions, "subscriptions per user agent")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  sub.add_option("--ramp-rate", o.ramp_rate, "new connections per second while ramping up (0: all at once)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  sub.add_flag("--connect-only", o.connect_only,
               "connect and register, hold the connections for --duration, send nothing: what each costs");
  sub.add_option("--connect-timeout", o.connect_timeout,
                 "seconds, after the last user agent started, to wait for every registration before sending")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 3600.0));
  sub.add_option("--ping-interval", o.ping_interval, "seconds between each user agent's keepalive pings")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0));
  sub.add_flag("--insecure", o.insecure, "allow plain ws:// to a host that is not loopback");
  sub.add_option("--ca-file", o.ca_file, "extra CA certificates (PEM) to trust, next to the system store")
      ->check(CLI::ExistingFile);
}

void add_sender_options(CLI::App& sub, LoadtestOptions& o) {
  sub.add_option("--rate", o.rate, "messages per second, on an open-loop schedule")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e6));
  auto* duration = sub.add_option("--duration", o.duration, "seconds of sending (of holding, with --connect-only)")
                       ->capture_default_str()
                       ->check(CLI::Range(0.1, 86400.0));
  sub.add_option("--messages", o.messages, "send this many messages instead of rate x duration")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{100'000'000}))
      ->excludes(duration);
  sub.add_option("--payload-size", o.payload_size, "plaintext bytes per message (at least 20)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{20}, std::size_t{3993}));
  sub.add_option("--encoding", o.encoding, "content coding")
      ->capture_default_str()
      ->check(CLI::IsMember({"aes128gcm", "aesgcm"}));
  sub.add_option("--ttl", o.ttl, "TTL header, seconds")->capture_default_str()->check(CLI::Range(0, 2419200));
  sub.add_option("--urgency", o.urgency, "Urgency header: very-low, low, normal or high")
      ->check(CLI::IsMember({"very-low", "low", "normal", "high"}));
  sub.add_option("--topic", o.topic, "Topic header (a later message replaces an undelivered one)");
  sub.add_option("--vapid-key-file", o.vapid_key_file, "sign with this VAPID key (default: a fresh key per run)")
      ->check(CLI::ExistingFile);
  sub.add_option("--vapid-subject", o.vapid_subject, "VAPID contact URI")->capture_default_str();
  sub.add_flag("--no-vapid", o.no_vapid, "send without VAPID (subscriptions are registered without a key)");
  sub.add_option("--subscription", o.subscription_files,
                 "send to this PushSubscription JSON (repeatable; e.g. a webpushd daemon's) instead of simulated "
                 "user agents; what arrives is then not tracked. A subscription bound to a VAPID key needs "
                 "--vapid-key-file with that key")
      ->check(CLI::ExistingFile)
      ->type_name("FILE.json");
  sub.add_option("--connections", o.connections, "keep-alive HTTP connections the sender POSTs over")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  sub.add_option("--drain-timeout", o.drain_timeout,
                 "seconds to wait after the last POST for accepted messages still owed; then they are lost")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
}

void add_output_options(CLI::App& sub, LoadtestOptions& o) {
  sub.add_flag("--json", o.json, "print the results as one JSON object instead of the table");
  sub.add_flag("--no-progress", o.no_progress, "no progress line on stderr");
  sub.add_flag("--trace", o.trace,
               "print each POST (sent, answered, message id) with a microsecond timestamp on stderr");
  sub.add_option("--hdr-log", o.hdr_log, "write the end-to-end latency as an HdrHistogram interval log (1 s)")
      ->type_name("FILE");
  sub.add_option("--report", o.report, "write a self-contained HTML report with charts")->type_name("FILE.html");
}

}  // namespace

CLI::App* add_loadtest_options(CLI::App& sub, LoadtestOptions& o) {
  add_agent_options(sub, o);
  add_sender_options(sub, o);
  add_output_options(sub, o);
  // Sending to another user agent's subscriptions runs no user agents of its own.
  sub.get_option("--subscription")->excludes("--embedded")->excludes("--connect-only");
  auto* merge = sub.add_subcommand("merge", "merge HdrHistogram logs of several loadtest runs and print the summary");
  merge->add_option("files", o.merge_files, "interval logs written with --hdr-log")->required()->type_name("FILE...");
  merge->add_flag("--json", o.merge_json, "print the merged latency as JSON");
  sub.require_subcommand(0, 1);
  sub.footer(
      "Against --server URL (a service you may load), --embedded, or --subscription FILE.json.\n"
      "Latency: connect (attempt -> hello answered), POST -> 2xx, end-to-end (POST -> decrypted at the\n"
      "user agent), and end-to-end from each message's scheduled time (message i is due at start + i/rate,\n"
      "so a sender that falls behind cannot hide it). Progress on stderr each second; --json for machines.\n"
      "Exit status: 0 when every accepted message arrived once and decrypted (with --connect-only: every\n"
      "user agent connected and registered); 1 when one was lost, duplicated or undecryptable, nothing\n"
      "was accepted, the run was interrupted, or on an error; 2 for a usage error. With --topic, a\n"
      "message the service replaced before delivery counts as lost.");
  return merge;
}

namespace {

// Each user agent holds a socket (and with --embedded the service, which
// inherits the limit, holds the other end): raise the soft descriptor limit as
// far as the hard one allows, and say when it, or the ephemeral port range,
// caps the run.
void raise_fd_limit(const LoadtestOptions& o) {
  const auto wanted = static_cast<rlim_t>(o.user_agents) + 256;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = std::min(limit.rlim_max, wanted);
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < wanted) {
    print_error(
        fmt::format("warning: the descriptor limit ({}) caps this run below {} user agents; raise the hard "
                    "limit (ulimit -Hn, LimitNOFILE=)",
                    limit.rlim_cur, o.user_agents));
  }
  std::ifstream range_file("/proc/sys/net/ipv4/ip_local_port_range");
  long low = 0;
  long high = 0;
  if (range_file >> low >> high && o.user_agents > high - low + 1) {
    print_error(
        fmt::format("warning: the ephemeral port range ({}-{}) allows {} connections to one address; "
                    "this run wants {}",
                    low, high, high - low + 1, o.user_agents));
  }
}

Result<std::optional<crypto::KeyPair>> vapid_key(const LoadtestOptions& o) {
  if (o.no_vapid) return std::optional<crypto::KeyPair>{};
  auto key = o.vapid_key_file.empty() ? crypto::KeyPair::generate() : load_vapid_key(o.vapid_key_file);
  if (!key) return tl::unexpected(key.error());
  return std::optional<crypto::KeyPair>(std::move(*key));
}

// One line on stderr, rewritten in place on a terminal, a new line every 10 s otherwise.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0) {}
  void show(const load::Progress& p) {
    if (!enabled_ || (!tty_ && p.elapsed_s - last_s_ < 10)) return;
    last_s_ = p.elapsed_s;
    std::string line = fmt::format("{:6.1f} s  {:<10} connected {}/{}  registered {}/{}", p.elapsed_s, p.phase,
                                   p.connected, p.user_agents, p.registered, p.subscriptions);
    if (p.scheduled > 0) {
      line += fmt::format("  sent {}/{}  received {}  p99 {}", p.accepted, p.scheduled, p.received,
                          load::format_latency(p.p99_us));
    }
    std::fprintf(stderr, tty_ ? "\r%s\033[K" : "%s\n", line.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void end() {
    if (enabled_ && tty_ && shown_) std::fputs("\n", stderr);
  }

 private:
  bool enabled_;
  bool tty_;
  bool shown_ = false;
  double last_s_ = -100;
};

load::RunConfig make_config(const LoadtestOptions& o, const std::string& server, const crypto::KeyPair* vapid) {
  load::RunConfig c;
  c.server = server;
  c.insecure = o.insecure;
  c.ca_file = o.ca_file;
  c.user_agents = o.user_agents;
  c.subscriptions = o.subscriptions;
  c.ramp_rate = o.ramp_rate;
  c.connect_only = o.connect_only;
  c.rate = o.rate;
  c.duration_s = o.duration;
  c.messages = o.messages;
  c.connect_timeout_s = o.connect_timeout;
  c.drain_timeout_s = o.drain_timeout;
  c.session.ping_interval = Duration(static_cast<std::int64_t>(o.ping_interval * 1000));
  c.sender.payload_size = o.payload_size;
  c.sender.connections = o.connections;
  c.sender.ca_file = o.ca_file;
  c.sender.push.encoding = o.encoding;
  c.sender.push.ttl = o.ttl;
  c.sender.push.urgency = o.urgency;
  c.sender.push.topic = o.topic;
  c.sender.push.vapid = vapid;
  c.sender.push.vapid_subject = o.vapid_subject;
  if (vapid != nullptr) c.vapid_public_key = base64url_encode(vapid->public_bytes());
  return c;
}

Result<std::vector<load::PushTarget>> read_targets(const std::vector<std::string>& files) {
  std::vector<load::PushTarget> targets;
  for (const auto& file : files) {
    std::ifstream in(file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto sub = parse_push_subscription(text);
    if (!sub) return tl::unexpected(sub.error().with_context(file));
    targets.push_back({sub->endpoint, sub->p256dh, sub->auth});
  }
  return targets;
}

// --hdr-log: one interval line a second, written as the run goes (a run cut
// short still leaves a readable log). A few kB a second, written on the loop.
class HdrLog {
 public:
  Result<void> open(const std::string& path) {
    if (path.empty()) return {};
    auto w = load::IntervalLogWriter::open(path, static_cast<std::int64_t>(std::time(nullptr)) * 1000);
    if (!w) return tl::unexpected(w.error());
    writer_.emplace(std::move(*w));
    return {};
  }
  void write(const load::IntervalRow& row, const load::Histogram& h) {
    if (!writer_ || failed_) return;
    if (auto ok = writer_->write(row.start_s, row.length_s, h); !ok) {
      print_error(ok.error().message());
      failed_ = true;
    }
  }
  [[nodiscard]] Result<void> close() {
    if (!writer_ || failed_) return {};
    return writer_->close();
  }

 private:
  std::optional<load::IntervalLogWriter> writer_;
  bool failed_ = false;
};

Result<void> write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return fail(SendErrc::http, fmt::format("cannot write {}", path));
  return {};
}

Result<load::Results> run_with_loop(load::RunConfig& config, const EmbeddedService* embedded, ProgressLine& progress) {
  auto loop = event::EventLoop::create();
  if (!loop) return tl::unexpected(loop.error());
  bool interrupted = false;
  auto signals = event::SignalWatch::create(**loop, {SIGINT, SIGTERM}, [&](int) { interrupted = true; });
  if (!signals) return tl::unexpected(signals.error());
  config.on_progress = [&](const load::Progress& p) { progress.show(p); };
  if (embedded != nullptr) {
    const int pid = embedded->child->pid();
    config.service_rss = [pid] { return load::process_usage(pid).rss_bytes; };
  }
  auto results = load::run_loadtest(**loop, config, [&] { return interrupted; });
  progress.end();
  return results;
}

}  // namespace

int run_loadtest(const GlobalOptions& g, const LoadtestOptions& o, const std::string& command_line) {
  if (!o.embedded && !g.server_given && o.subscription_files.empty()) {
    print_error("loadtest needs --server URL (a push service you may load) or --embedded (see --help)");
    return kExitUsage;
  }
  setup_logging(GlobalOptions{.verbose = g.verbose, .quiet = !g.verbose});
  raise_fd_limit(o);
  if (o.trace) event::Trace::enable(stderr);
  EmbeddedService embedded;
  if (o.embedded) {
    if (auto ok = start_embedded_service(embedded, "loadtest"); !ok) {
      print_error(ok.error().message());
      return kExitFailure;
    }
  }
  auto key = vapid_key(o);
  if (!key) {
    print_error(key.error().message());
    return kExitFailure;
  }
  const std::string server = o.embedded ? embedded.url : !o.subscription_files.empty() ? std::string() : g.server;
  auto config = make_config(o, server, *key ? &**key : nullptr);
  config.command = command_line;
  auto targets = read_targets(o.subscription_files);
  if (!targets) {
    print_error(targets.error().message());
    return kExitFailure;
  }
  config.external_targets = std::move(*targets);
  HdrLog hdr_log;
  if (auto ok = hdr_log.open(o.hdr_log); !ok) {
    print_error(ok.error().message());
    return kExitFailure;
  }
  config.on_interval = [&](const load::IntervalRow& row, const load::Histogram& h) { hdr_log.write(row, h); };
  ProgressLine progress(!o.no_progress && !o.json);
  auto results = run_with_loop(config, o.embedded ? &embedded : nullptr, progress);
  if (!results) {
    print_error(results.error().message());
    return kExitFailure;
  }
  std::fputs(o.json ? (load::results_json(*results) + "\n").c_str() : load::summary_table(*results).c_str(), stdout);
  bool written = true;
  if (auto ok = hdr_log.close(); !ok) {
    print_error(ok.error().message());
    written = false;
  }
  if (!o.report.empty()) {
    if (auto ok = write_text_file(o.report, load::render_report(*results)); !ok) {
      print_error(ok.error().message());
      written = false;
    }
  }
  return load::has_delivery_fault(*results) || !written ? kExitFailure : kExitOk;
}

int run_loadtest_merge(const LoadtestOptions& o) {
  auto merged = load::merge_interval_logs(o.merge_files);
  if (!merged) {
    print_error(merged.error().message());
    return kExitFailure;
  }
  load::Results results;
  results.e2e = std::move(*merged);
  if (o.merge_json) {
    std::fputs((load::results_json(results) + "\n").c_str(), stdout);
  } else {
    std::printf("merged %zu interval log(s): %lld end-to-end latencies\n\n%s", o.merge_files.size(),
                static_cast<long long>(results.e2e.total()), load::latency_table(results).c_str());
  }
  return kExitOk;
}

}  // namespace webpush::cli
