#include "webpush/load/summary.h"

#include <cmath>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace webpush::load {

namespace {

struct Named {
  const char* name;
  const Histogram* histogram;
};

std::vector<Named> latency_rows(const Results& r) {
  return {{"connect", &r.connect},
          {"POST -> 2xx", &r.post},
          {"end-to-end", &r.e2e},
          {"e2e from schedule", &r.e2e_from_schedule}};
}

std::string format_bytes(double bytes) {
  if (bytes >= 1e6) return fmt::format("{:.1f} MB", bytes / 1e6);
  if (bytes >= 1e3) return fmt::format("{:.1f} kB", bytes / 1e3);
  return fmt::format("{:.0f} B", bytes);
}

nlohmann::json histogram_json(const Histogram& h) {
  return {{"count", h.total()},
          {"min", h.min()},
          {"mean", h.mean()},
          {"p50", h.value_at_percentile(50)},
          {"p90", h.value_at_percentile(90)},
          {"p99", h.value_at_percentile(99)},
          {"p99_9", h.value_at_percentile(99.9)},
          {"max", h.max()}};
}

nlohmann::json intervals_json(const Results& r) {
  auto rows = nlohmann::json::array();
  for (const auto& i : r.intervals) {
    rows.push_back({{"start_s", i.start_s},
                    {"length_s", i.length_s},
                    {"connected", i.connected},
                    {"sent", i.sent},
                    {"received", i.received},
                    {"p50_us", i.p50_us},
                    {"p90_us", i.p90_us},
                    {"p99_us", i.p99_us},
                    {"max_us", i.max_us}});
  }
  return rows;
}

std::int64_t per(std::int64_t grown, std::int64_t count) {
  return count > 0 ? std::max<std::int64_t>(grown, 0) / count : 0;
}

std::string cost_lines(const Results& r) {
  const std::int64_t agents = std::max<std::int64_t>(r.connected_peak, 0);
  std::string out = fmt::format("loadtest     CPU {:.2f} s, peak RSS {}", r.cpu_seconds,
                                format_bytes(static_cast<double>(r.rss_bytes)));
  if (agents > 0) {
    out += fmt::format(" ({} per user agent)",
                       format_bytes(static_cast<double>(per(r.rss_bytes - r.rss_idle_bytes, agents))));
  }
  out += "\n";
  if (r.sender_cpu_seconds > 0) {
    out += fmt::format("sender       CPU {:.2f} s: {:.0f} encrypted + signed POSTs per CPU second\n",
                       r.sender_cpu_seconds, static_cast<double>(r.posted) / r.sender_cpu_seconds);
  }
  if (r.service_rss_bytes > 0) {
    out +=
        fmt::format("service      RSS {} ({} per connection)\n", format_bytes(static_cast<double>(r.service_rss_bytes)),
                    format_bytes(static_cast<double>(per(r.service_rss_bytes - r.service_rss_idle_bytes, agents))));
  }
  return out;
}

std::string failure_lines(const Results& r) {
  if (r.failures.empty()) return "failures     none\n";
  std::string out = "failures\n";
  for (const auto& [what, n] : r.failures) out += fmt::format("  {:>10}  {}\n", n, what);
  return out;
}

}  // namespace

std::string format_latency(std::int64_t us) {
  if (us < 1000) return fmt::format("{} us", us);
  // Three significant digits, the unit chosen after rounding (999,999 µs is "1.00 s").
  double v = static_cast<double>(us) / 1e3;
  const char* unit = "ms";
  const auto rounded = [](double x) {
    return x < 10 ? std::round(x * 100) / 100 : x < 100 ? std::round(x * 10) / 10 : std::round(x);
  };
  if (rounded(v) >= 1000) {
    v /= 1e3;
    unit = "s";
  }
  const double r = rounded(v);
  return fmt::format("{:.{}f} {}", r, r < 10 ? 2 : r < 100 ? 1 : 0, unit);
}

std::string latency_table(const Results& r) {
  std::string out = fmt::format("{:<18} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9}\n", "latency", "p50", "p90", "p99",
                                "p99.9", "max", "count");
  for (const auto& [name, h] : latency_rows(r)) {
    if (h->total() == 0) continue;
    out += fmt::format("{:<18} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9}\n", name,
                       format_latency(h->value_at_percentile(50)), format_latency(h->value_at_percentile(90)),
                       format_latency(h->value_at_percentile(99)), format_latency(h->value_at_percentile(99.9)),
                       format_latency(h->max()), h->total());
  }
  return out;
}

std::string summary_table(const Results& r) {
  std::string out = latency_table(r) + "\n";
  out +=
      fmt::format("connections  {} user agents, peak {} connected, {} of {} subscriptions registered\n", r.user_agents,
                  r.connected_peak, r.registered, static_cast<std::int64_t>(r.user_agents) * r.subscriptions_per_agent);
  if (r.rate > 0) {
    out += fmt::format("messages     {} scheduled, {} posted, {} accepted (2xx), {} received\n", r.scheduled, r.posted,
                       r.accepted, r.received);
    out += fmt::format("rate         {:.1f} msg/s scheduled, {:.1f} msg/s achieved over {:.1f} s\n", r.rate,
                       r.achieved_rate(), r.send_seconds);
    out += r.receipt_tracked
               ? fmt::format("delivery     {} lost, {} duplicated, {} out of order, {} decrypt failures\n", r.lost,
                             r.duplicated, r.out_of_order, r.decrypt_failed)
               : std::string("delivery     not tracked: the subscriptions belong to another user agent\n");
  }
  if (r.interrupted) {
    out += fmt::format("interrupted  the run was stopped early; {} accepted messages were not received yet\n",
                       r.unresolved);
  }
  return out + failure_lines(r) + cost_lines(r);
}

std::string results_json(const Results& r) {
  nlohmann::json j = {
      {"server", r.server},
      {"command", r.command},
      {"start_unix_ms", r.start_unix_ms},
      {"user_agents", r.user_agents},
      {"subscriptions_per_agent", r.subscriptions_per_agent},
      {"rate_scheduled", r.rate},
      {"rate_achieved", r.achieved_rate()},
      {"send_seconds", r.send_seconds},
      {"connected_peak", r.connected_peak},
      {"registered", r.registered},
      {"scheduled", r.scheduled},
      {"posted", r.posted},
      {"accepted", r.accepted},
      {"received", r.received},
      {"lost", r.lost},
      {"duplicated", r.duplicated},
      {"out_of_order", r.out_of_order},
      {"decrypt_failed", r.decrypt_failed},
      {"receipt_tracked", r.receipt_tracked},
      {"interrupted", r.interrupted},
      {"unresolved", r.unresolved},
      {"failures", r.failures},
      {"latency_us",
       {{"connect", histogram_json(r.connect)},
        {"post", histogram_json(r.post)},
        {"e2e", histogram_json(r.e2e)},
        {"e2e_from_schedule", histogram_json(r.e2e_from_schedule)}}},
      {"loadtest",
       {{"cpu_seconds", r.cpu_seconds},
        {"sender_cpu_seconds", r.sender_cpu_seconds},
        {"peak_rss_bytes", r.rss_bytes},
        {"idle_rss_bytes", r.rss_idle_bytes}}},
      {"service", {{"rss_bytes", r.service_rss_bytes}, {"idle_rss_bytes", r.service_rss_idle_bytes}}},
      {"intervals", intervals_json(r)},
  };
  return j.dump();
}

bool has_delivery_fault(const Results& r) noexcept {
  if (r.interrupted || r.lost > 0 || r.duplicated > 0 || r.decrypt_failed > 0) return true;
  const std::int64_t wanted = static_cast<std::int64_t>(r.user_agents) * r.subscriptions_per_agent;
  if (r.rate == 0) return r.registered < wanted || r.connected_peak < r.user_agents;  // --connect-only
  return r.scheduled > 0 && r.accepted == 0;
}

}  // namespace webpush::load
