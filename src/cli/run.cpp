// `webpushd run`: the daemon in the foreground.
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "config.h"
#include "webpush/daemon/daemon.h"
#include "webpush/event/trace.h"
#include "webpush/transport/ws_client.h"

namespace webpush::cli {

namespace {

// CLI::Range lets NaN through (it is neither below nor above); this does not.
CLI::Validator in_range(NumberRange r) {
  return CLI::Validator(
      [r](std::string& text) -> std::string {
        double v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || v < r.min || v > r.max) {
          return fmt::format("value {} not in range {} to {}", text, r.min, r.max);
        }
        return "";
      },
      fmt::format("NUMBER in [{} - {}]", r.min, r.max));
}

}  // namespace

void add_run_options(CLI::App& sub, RunOptions& o) {
  sub.add_flag("--no-notify", o.no_notify, "do not raise desktop notifications");
  sub.add_flag("--no-unifiedpush", o.no_unifiedpush,
               "do not serve desktop apps as the UnifiedPush distributor on the session bus");
  sub.add_flag("--trace", o.trace,
               "print every step of a push's path on stderr (DNS, TCP, TLS, upgrade, frames, decrypt, inbox, ack, "
               "sink), one line each with a microsecond timestamp");
  sub.add_option("--jsonl", o.jsonl, "write every event as a JSON line to FILE, or - for stdout")->type_name("FILE|-");
  sub.add_option("--exec", o.exec, "run CMD for every message, payload on stdin, WEBPUSH_* metadata in the environment")
      ->type_name("CMD");
  sub.add_option("--ping-interval", o.ping_interval,
                 "seconds of silence before a keepalive ping (autopush closes below 45)")
      ->capture_default_str()
      ->check(in_range(kPingIntervalRange));
  sub.add_option("--request-timeout", o.request_timeout,
                 "seconds to wait for the service: a connection's upgrade, a reply or a pong")
      ->capture_default_str()
      ->check(in_range(kRequestTimeoutRange));
  sub.add_option("--backoff-initial", o.backoff_initial, "first reconnect delay in seconds")
      ->capture_default_str()
      ->check(in_range(kBackoffInitialRange));
  sub.add_option("--backoff-max", o.backoff_max, "longest reconnect delay in seconds")
      ->capture_default_str()
      ->check(in_range(kBackoffMaxRange));
  sub.add_flag("--insecure", o.insecure, "allow plain ws:// to a host that is not loopback");
  sub.add_option("--ca-file", o.ca_file, "extra CA certificates (PEM) to trust")->check(CLI::ExistingFile);
  sub.add_option("--proxy", o.proxy, "HTTP CONNECT proxy HOST:PORT (default: https_proxy / all_proxy)");
  sub.add_option("--retention-days", o.retention_days, "keep delivered and failed messages this many days")
      ->capture_default_str()
      ->check(in_range(kRetentionDaysRange));
  sub.add_option("--retention-messages", o.retention_messages, "keep at most this many delivered/failed messages")
      ->capture_default_str()
      ->check(in_range(kRetentionMessagesRange));
}

namespace {

// Flags given on the command line win over the config file, which wins over defaults.
struct Effective {
  RunOptions run;
  std::string server;
  std::string log_level;                  // empty: from -v/-q
  std::optional<daemon::FcmOptions> fcm;  // [fcm] given
};

// The [fcm] table as the daemon's options; base_url replaces every Google URL
// with the same paths under it.
daemon::FcmOptions fcm_options(const Config& cfg) {
  daemon::FcmOptions f;
  if (cfg.fcm_base_url) {
    std::string base = *cfg.fcm_base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    f.urls = {base + "/checkin", base + "/c2dm/register3", base + "/v1", base + "/v1", base + "/fcm/send"};
  }
  if (cfg.fcm_mcs) {
    const auto colon = cfg.fcm_mcs->rfind(':');  // checked by the parser
    f.mcs_host = cfg.fcm_mcs->substr(0, colon);
    if (f.mcs_host.size() > 2 && f.mcs_host.front() == '[') f.mcs_host = f.mcs_host.substr(1, f.mcs_host.size() - 2);
    const std::string_view port = std::string_view(*cfg.fcm_mcs).substr(colon + 1);
    std::from_chars(port.data(), port.data() + port.size(), f.mcs_port);
  }
  if (cfg.fcm_project_id) f.firebase = fcm::FirebaseApp{*cfg.fcm_project_id, *cfg.fcm_app_id, *cfg.fcm_api_key};
  if (cfg.fcm_heartbeat_interval) {
    f.session.heartbeat_interval = Duration(static_cast<std::int64_t>(*cfg.fcm_heartbeat_interval * 1000));
  }
  return f;
}

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
  if (cfg->unifiedpush_enabled && sub.count("--no-unifiedpush") == 0) {
    e.run.no_unifiedpush = !*cfg->unifiedpush_enabled;
  }
  if (cfg->unifiedpush_call_timeout) e.run.unifiedpush_call_timeout = *cfg->unifiedpush_call_timeout;
  take("--retention-days", e.run.retention_days, cfg->retention_max_age_days);
  take("--retention-messages", e.run.retention_messages, cfg->retention_max_messages);
  if (cfg->fcm) e.fcm = fcm_options(*cfg);
  return e;
}

daemon::SinkConfig sink_config(const RunOptions& o) {
  daemon::SinkConfig c;
  c.jsonl = o.jsonl;
  c.exec = o.exec;
  c.exec_timeout = Duration(static_cast<std::int64_t>(o.exec_timeout * 1000));
  c.notify = !o.no_notify;
  return c;
}

Duration seconds(double s) { return Duration(static_cast<std::int64_t>(s * 1000)); }

daemon::DaemonConfig daemon_config(const GlobalOptions& g, const Effective& e) {
  const RunOptions& o = e.run;
  daemon::DaemonConfig c;
  c.state_dir = state_dir(g);
  c.agent.server = e.server;
  c.agent.insecure = o.insecure;
  c.agent.session.ping_interval = seconds(o.ping_interval);
  c.agent.session.pong_timeout = seconds(o.request_timeout);
  c.agent.session.request_timeout = seconds(o.request_timeout);
  c.agent.session.backoff.initial = seconds(o.backoff_initial);
  c.agent.session.backoff.cap = seconds(o.backoff_max);
  c.client = {o.ca_file, proxy_for(e.server, o.proxy), true};
  c.sinks = sink_config(o);
  c.unifiedpush = {!o.no_unifiedpush, seconds(o.unifiedpush_call_timeout)};
  c.retention = {std::chrono::milliseconds(static_cast<std::int64_t>(o.retention_days * 86'400'000.0)),
                 o.retention_messages};
  c.log_level = e.log_level;
  c.fcm = e.fcm;
  if (c.fcm) {  // the FCM link waits and backs off as the autopush one does
    c.fcm->request_timeout = seconds(o.request_timeout);
    c.fcm->session.login_timeout = seconds(o.request_timeout);
    c.fcm->session.heartbeat_timeout = seconds(o.request_timeout);
    c.fcm->session.backoff.initial = seconds(o.backoff_initial);
    c.fcm->session.backoff.cap = seconds(o.backoff_max);
  }
  return c;
}

// journald reads a syslog priority, "<N>", at the start of each line of a
// service's stderr (SyslogLevelPrefix=, on by default) and stamps the time itself.
class JournalPriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    // trace, debug, info, warn, error, critical: debug(7), debug, info(6), warning(4), err(3), crit(2)
    static constexpr std::string_view kPriority[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", ""};
    const auto level = static_cast<std::size_t>(msg.level);
    const std::string_view p = level < std::size(kPriority) ? kPriority[level] : "";
    dest.append(p.data(), p.data() + p.size());
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JournalPriorityFlag>();
  }
};

// $JOURNAL_STREAM is "DEVICE:INODE" of the journal's stream; a child whose stderr
// was redirected elsewhere inherits the variable, so it is compared with stderr.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (stream == nullptr || ::fstat(STDERR_FILENO, &st) != 0) return false;
  return fmt::format("{}:{}", st.st_dev, st.st_ino) == stream;
}

// Under systemd (stderr connected to the journal): lines with a priority and without a timestamp.
void use_journal_if_systemd() {
  if (!stderr_is_journal()) return;
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<JournalPriorityFlag>('*').set_pattern("%*[%n] %v");
  spdlog::default_logger()->set_formatter(std::move(formatter));
}

}  // namespace

int run_daemon(const GlobalOptions& g, const RunOptions& flags, const CLI::App& sub) {
  setup_logging(g);
  if (flags.trace) event::Trace::enable(stderr);
  use_journal_if_systemd();
  auto opts = effective_options(g, flags, sub);
  if (!opts) {
    print_error(opts.error().message());
    return kExitUsage;
  }
  if (auto ok = transport::check_server_url(opts->server, opts->run.insecure); !ok) {
    print_error(ok.error().message());
    return kExitUsage;
  }
  if (opts->run.ping_interval < 60) {
    spdlog::warn("ping interval {} s: autopush closes connections that ping more often than every 45 s",
                 opts->run.ping_interval);
  }
  if (opts->fcm && opts->fcm->session.heartbeat_interval < Duration(30'000)) {
    spdlog::warn(
        "[fcm] heartbeat_interval {} s: Chrome never heartbeats more often than every 30 s; meant for test stacks",
        opts->fcm->session.heartbeat_interval.count() / 1000.0);
  }
  // SIGHUP re-reads the config file; the flags given still win over it.
  auto reload = [&g, &flags, &sub]() -> Result<daemon::Reloaded> {
    auto e = effective_options(g, flags, sub);
    if (!e) return tl::unexpected(e.error());
    return daemon::Reloaded{sink_config(e->run), e->log_level};
  };
  auto d = daemon::Daemon::create(daemon_config(g, *opts), reload);
  if (!d) {
    print_error(d.error().message());
    return kExitFailure;
  }
  if (auto ran = (*d)->run(); !ran) {
    print_error(ran.error().message());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace webpush::cli
