#include "webpush/load/run.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "webpush/event/scheduler.h"
#include "webpush/load/user_agent.h"
#include "webpush/transport/ws_client.h"

namespace webpush::load {

namespace {

// The tick ramps connections up and watches the phases: fine-grained while
// ramping, coarser after (with thousands of sockets every turn of the loop costs).
constexpr Duration kRampTick{10};
constexpr Duration kTick{50};
constexpr Duration kInterval{1000};

enum class Phase { connecting, holding, sending, draining, done };

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::connecting: return "connecting";
    case Phase::holding: return "holding";
    case Phase::sending: return "sending";
    case Phase::draining: return "draining";
    case Phase::done: return "done";
  }
  return "";
}

std::int64_t seconds_to_us(double s) { return static_cast<std::int64_t>(std::llround(s * 1e6)); }

class Runner final : public UserAgentEvents {
 public:
  Runner(event::EventLoop& loop, const RunConfig& config, std::function<bool()> stop_requested)
      : loop_(&loop),
        config_(config),
        stop_requested_(std::move(stop_requested)),
        scheduler_(loop),
        targets_(config.external_targets.empty()
                     ? static_cast<std::size_t>(config.user_agents) * static_cast<std::size_t>(config.subscriptions)
                     : config.external_targets.size()),
        registered_once_(targets_.size(), false) {
    for (std::size_t i = 0; i < config.external_targets.size(); ++i) targets_.set(i, config.external_targets[i]);
  }
  ~Runner() override {
    agents_.clear();
    // The agents' closed connections wait in the loop's deferred queue: destroy
    // them while the client vhost they were made on still exists.
    loop_->run_until([this] { return loop_->deferred_pending() == 0; }, Duration{1000});
  }

  Result<Results> execute();

  void on_ready(UserAgent& agent, std::int64_t connect_us) override;
  void on_down(UserAgent& agent, bool was_ready, protocol::DisconnectReason reason, int close_code) override;
  void on_registered(UserAgent& agent, int slot, const PushTarget& target) override;
  void on_register_failed(UserAgent& agent, int slot, const std::string& reason) override;
  void on_message(UserAgent& agent, int slot, const Result<Bytes>& plaintext) override;

 private:
  Result<void> setup();
  void tick();
  void ramp(std::int64_t now);
  void advance(std::int64_t now);
  Result<void> start_sending(std::int64_t now);
  void close_interval(std::int64_t now);
  void finish(std::int64_t now);
  [[nodiscard]] std::size_t global_slot(const UserAgent& agent, int slot) const noexcept {
    return static_cast<std::size_t>(agent.index()) * static_cast<std::size_t>(config_.subscriptions) +
           static_cast<std::size_t>(slot);
  }
  void count(std::string what) { ++results_.failures[std::move(what)]; }

  event::EventLoop* loop_;
  const RunConfig& config_;
  std::function<bool()> stop_requested_;
  SystemClock clock_;
  RandomJitter jitter_;
  event::LoopScheduler scheduler_;
  std::unique_ptr<transport::ClientVhost> vhost_;
  std::unique_ptr<transport::WsConnectionFactory> factory_;
  UserAgentContext context_;
  std::vector<std::unique_ptr<UserAgent>> agents_;
  std::unique_ptr<event::ScheduledTimer> tick_timer_;
  std::unique_ptr<event::ScheduledTimer> interval_timer_;
  Targets targets_;
  std::vector<bool> registered_once_;
  std::unique_ptr<Ledger> ledger_;
  std::optional<Schedule> schedule_;
  std::unique_ptr<HttpSender> sender_;
  Results results_;
  Histogram interval_e2e_ = Histogram::latency();
  Phase phase_ = Phase::connecting;
  std::int64_t start_us_ = 0;
  std::int64_t all_started_us_ = 0;  // when the last user agent started (0: not yet)
  std::int64_t send_deadline_us_ = 0;
  std::int64_t phase_deadline_us_ = 0;
  std::int64_t interval_start_us_ = 0;
  std::int64_t connected_ = 0;
  std::int64_t accepted_seen_ = 0;  // sender's accepted count at the last interval
  std::int64_t received_in_interval_ = 0;
  std::optional<Error> error_;
};

Result<void> Runner::setup() {
  if (config_.external_targets.empty()) {
    if (auto ok = transport::check_server_url(config_.server, config_.insecure); !ok) return ok;
  }
  auto vhost = transport::ClientVhost::create(*loop_, {config_.ca_file, {}, true});
  if (!vhost) return tl::unexpected(vhost.error());
  vhost_ = std::move(*vhost);
  factory_ = std::make_unique<transport::WsConnectionFactory>(
      *vhost_, transport::WsOptions{config_.server, config_.insecure, 64 * 1024, config_.session.request_timeout});
  context_ = {config_.session, factory_.get(), &scheduler_, &clock_,
              &jitter_,        &monotonic_us,  this,        config_.vapid_public_key};
  auto ticker = scheduler_.make_timer(event::TimerClock::monotonic, [this] { tick(); });
  if (!ticker) return tl::unexpected(ticker.error());
  tick_timer_ = std::move(*ticker);
  auto interval = scheduler_.make_timer(event::TimerClock::monotonic, [this] {
    close_interval(monotonic_us());
    if (phase_ != Phase::done) interval_timer_->arm(kInterval);
  });
  if (!interval) return tl::unexpected(interval.error());
  interval_timer_ = std::move(*interval);
  agents_.reserve(static_cast<std::size_t>(config_.user_agents));
  return {};
}

Result<Results> Runner::execute() {
  if (auto ok = setup(); !ok) return tl::unexpected(ok.error());
  results_.server = config_.server;
  results_.command = config_.command;
  results_.start_unix_ms = clock_.now().wall_ms;
  results_.user_agents = config_.user_agents;
  results_.subscriptions_per_agent = config_.subscriptions;
  results_.rate = config_.connect_only ? 0 : config_.rate;
  results_.rss_idle_bytes = process_usage().rss_bytes;
  results_.receipt_tracked = config_.external_targets.empty();
  if (!results_.receipt_tracked) {
    results_.user_agents = 0;
    results_.registered = static_cast<std::int64_t>(targets_.size());
  }
  if (config_.service_rss) results_.service_rss_idle_bytes = config_.service_rss();
  start_us_ = interval_start_us_ = monotonic_us();
  tick_timer_->arm(Duration{0});
  interval_timer_->arm(kInterval);
  if (auto ran = loop_->run(); !ran) return tl::unexpected(ran.error());
  if (error_) return tl::unexpected(*error_);
  return std::move(results_);
}

void Runner::tick() {
  const std::int64_t now = monotonic_us();
  if (stop_requested_ && stop_requested_()) {
    results_.interrupted = true;
    finish(now);
    return;
  }
  ramp(now);
  advance(now);
  const bool ramping = results_.receipt_tracked && static_cast<std::int64_t>(agents_.size()) < config_.user_agents;
  if (phase_ != Phase::done) tick_timer_->arm(ramping ? kRampTick : kTick);
}

void Runner::ramp(std::int64_t now) {
  const auto n = config_.external_targets.empty() ? static_cast<std::int64_t>(config_.user_agents) : 0;
  const auto due =
      config_.ramp_rate <= 0
          ? n
          : std::min<std::int64_t>(
                n, static_cast<std::int64_t>(static_cast<double>(now - start_us_) * config_.ramp_rate / 1e6) + 1);
  while (static_cast<std::int64_t>(agents_.size()) < due) {
    auto agent = std::make_unique<UserAgent>(static_cast<int>(agents_.size()), config_.subscriptions, context_);
    if (auto ok = agent->start(); !ok) count("start: " + ok.error().message());
    agents_.push_back(std::move(agent));
  }
  if (all_started_us_ == 0 && static_cast<std::int64_t>(agents_.size()) == n) all_started_us_ = now;
}

void Runner::advance(std::int64_t now) {
  const auto subscriptions = static_cast<std::int64_t>(targets_.size());
  switch (phase_) {
    case Phase::connecting: {
      const bool all_started = !results_.receipt_tracked || all_started_us_ > 0;
      const bool timed_out = all_started && now - all_started_us_ > seconds_to_us(config_.connect_timeout_s);
      const bool ready =
          config_.connect_only ? connected_ == config_.user_agents : results_.registered == subscriptions;
      if (!ready && !timed_out) return;
      if (!ready) count("connect: not every user agent was ready before --connect-timeout");
      if (config_.connect_only) {
        phase_ = Phase::holding;
        phase_deadline_us_ = now + seconds_to_us(config_.duration_s);
      } else if (auto ok = start_sending(now); !ok) {
        error_ = ok.error();
        finish(now);
      }
      return;
    }
    case Phase::holding:
      if (config_.service_rss) results_.service_rss_bytes = std::max(results_.service_rss_bytes, config_.service_rss());
      if (now >= phase_deadline_us_) finish(now);
      return;
    case Phase::sending:
      if (!sender_->finished() && now < send_deadline_us_) return;
      if (!sender_->finished()) {
        sender_->stop();  // a service that stopped answering: what is left is counted, not waited for
        count("post: not answered by the send phase's deadline (last message due + the POST timeout)");
      }
      if (!results_.receipt_tracked) {
        finish(now);
        return;
      }
      phase_ = Phase::draining;
      phase_deadline_us_ = now + seconds_to_us(config_.drain_timeout_s);
      [[fallthrough]];
    case Phase::draining:
      // The exact check walks the ledger: only once the counts say it can pass.
      if ((results_.received >= sender_->accepted() && ledger_->outstanding() == 0) || now >= phase_deadline_us_) {
        finish(now);
      }
      return;
    case Phase::done: return;
  }
}

Result<void> Runner::start_sending(std::int64_t now) {
  const std::int64_t total = config_.messages > 0
                                 ? config_.messages
                                 : std::max<std::int64_t>(1, std::llround(config_.rate * config_.duration_s));
  ledger_ = std::make_unique<Ledger>(total, static_cast<std::int64_t>(targets_.size()));
  schedule_.emplace(now, config_.rate);
  results_.scheduled = total;
  send_deadline_us_ =
      schedule_->due_us(total) + static_cast<std::int64_t>(config_.sender.timeout_ms) * 1000 + 1'000'000;
  sender_ = std::make_unique<HttpSender>(config_.sender, *ledger_, targets_, *schedule_);
  phase_ = Phase::sending;
  return sender_->start();
}

void Runner::close_interval(std::int64_t now) {
  IntervalRow row;
  row.start_s = static_cast<double>(interval_start_us_ - start_us_) / 1e6;
  row.length_s = static_cast<double>(now - interval_start_us_) / 1e6;
  row.connected = connected_;
  const std::int64_t accepted = sender_ ? sender_->accepted() : 0;
  row.sent = accepted - accepted_seen_;
  row.received = received_in_interval_;
  row.p50_us = interval_e2e_.value_at_percentile(50);
  row.p90_us = interval_e2e_.value_at_percentile(90);
  row.p99_us = interval_e2e_.value_at_percentile(99);
  row.max_us = interval_e2e_.max();
  results_.intervals.push_back(row);
  if (config_.on_interval) config_.on_interval(row, interval_e2e_);
  if (config_.on_progress) {
    config_.on_progress(Progress{static_cast<double>(now - start_us_) / 1e6, phase_name(phase_),
                                 static_cast<std::int64_t>(agents_.size()), connected_, results_.registered,
                                 static_cast<std::int64_t>(targets_.size()), sender_ ? sender_->posted() : 0, accepted,
                                 results_.received, results_.scheduled, row.p99_us});
  }
  accepted_seen_ = accepted;
  received_in_interval_ = 0;
  interval_e2e_.reset();
  interval_start_us_ = now;
}

void Runner::finish(std::int64_t now) {
  if (phase_ == Phase::done) return;
  if (sender_) {
    sender_->stop();
    results_.posted = sender_->posted();
    results_.accepted = sender_->accepted();
    results_.post = sender_->post_latency();
    results_.sender_cpu_seconds = sender_->cpu_seconds();
    for (const auto& [what, n] : sender_->failures()) results_.failures[what] += n;
    const std::int64_t end = sender_->finished_at_us() > 0 ? sender_->finished_at_us() : now;
    results_.send_seconds = static_cast<double>(end - schedule_->start_us()) / 1e6;
  }
  if (ledger_ && results_.receipt_tracked) {
    // Cut short, messages still on their way are not lost: they are unresolved.
    (results_.interrupted ? results_.unresolved : results_.lost) = ledger_->outstanding();
    results_.duplicated = ledger_->duplicated();
    results_.out_of_order = ledger_->out_of_order();
  }
  if (now > interval_start_us_) close_interval(now);
  phase_ = Phase::done;
  const ProcessUsage usage = process_usage();
  results_.cpu_seconds = usage.cpu_seconds;
  results_.rss_bytes = usage.peak_rss_bytes;
  if (config_.service_rss) results_.service_rss_bytes = std::max(results_.service_rss_bytes, config_.service_rss());
  for (auto& agent : agents_) agent->stop();
  loop_->stop();
}

void Runner::on_ready(UserAgent& /*agent*/, std::int64_t connect_us) {
  ++connected_;
  results_.connected_peak = std::max(results_.connected_peak, connected_);
  results_.connect.record(connect_us);
}

void Runner::on_down(UserAgent& /*agent*/, bool was_ready, protocol::DisconnectReason reason, int close_code) {
  if (phase_ == Phase::done) return;
  if (was_ready) --connected_;
  const auto why = close_code != 0 ? fmt::format("{} {}", protocol::to_string(reason), close_code)
                                   : std::string(protocol::to_string(reason));
  count(fmt::format("{}: {}", was_ready ? "disconnected" : "connect", why));
}

void Runner::on_registered(UserAgent& agent, int slot, const PushTarget& target) {
  const std::size_t index = global_slot(agent, slot);
  targets_.set(index, target);
  if (registered_once_[index]) {
    count("register: again, after the service dropped the uaid");
    return;
  }
  registered_once_[index] = true;
  ++results_.registered;
}

void Runner::on_register_failed(UserAgent& /*agent*/, int /*slot*/, const std::string& reason) {
  count("register: " + reason);
}

void Runner::on_message(UserAgent& agent, int slot, const Result<Bytes>& plaintext) {
  const std::int64_t now = monotonic_us();
  if (!plaintext) {
    ++results_.decrypt_failed;
    count("decrypt: " + plaintext.error().message());
    return;
  }
  const auto id = decode_payload(*plaintext);
  const auto arrival =
      id && ledger_ ? ledger_->received(*id, static_cast<std::int64_t>(global_slot(agent, slot))) : Ledger::Arrival{};
  if (!arrival.known) {
    count("receive: a message this run did not send to that subscription");
    return;
  }
  if (!arrival.first) return;  // the ledger counts duplicates
  ++results_.received;
  ++received_in_interval_;
  if (arrival.posted_us > 0) {
    results_.e2e.record(now - arrival.posted_us);
    interval_e2e_.record(now - arrival.posted_us);
  }
  results_.e2e_from_schedule.record(now - schedule_->due_us(id->seq));
}

}  // namespace

Result<Results> run_loadtest(event::EventLoop& loop, const RunConfig& config,
                             const std::function<bool()>& stop_requested) {
  Runner runner(loop, config, stop_requested);
  return runner.execute();
}

ProcessUsage process_usage(int pid) {
  ProcessUsage u;
  const std::string dir = pid == 0 ? "/proc/self" : fmt::format("/proc/{}", pid);
  std::ifstream status(dir + "/status");
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream in(line);
    std::string key;
    std::int64_t kb = 0;
    in >> key >> kb;
    if (key == "VmRSS:") u.rss_bytes = kb * 1024;
    if (key == "VmHWM:") u.peak_rss_bytes = kb * 1024;
  }
  std::ifstream stat(dir + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return u;
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;  // fields 3..13
  double utime = 0;
  double stime = 0;
  fields >> utime >> stime;
  u.cpu_seconds = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return u;
}

}  // namespace webpush::load
