#include "webpush/conformance/runner.h"

#include "webpush/conformance/text.h"

#include <chrono>
#include <exception>

#include <fmt/format.h>

namespace webpush::conformance {

namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool wanted(const std::vector<std::string>& only, const Group& group, const Check& check) {
  if (only.empty()) return true;
  for (const auto& item : only) {
    if (item == group.id || item == check.id) return true;
  }
  return false;
}

Result<void> check_known(const std::vector<std::string>& only) {
  for (const auto& item : only) {
    bool known = false;
    for (const auto& g : all_groups()) {
      known = known || item == g.id;
      for (const auto& c : g.checks) known = known || item == c.id;
    }
    if (!known) {
      std::string groups;
      for (const auto& g : all_groups()) groups += fmt::format("{}{}", groups.empty() ? "" : ", ", g.id);
      return fail(Errc::setup,
                  fmt::format("--only: no check or group \"{}\" (groups: {}; check ids: --list)", item, groups));
    }
  }
  return {};
}

Row run_one(Context& context, const Selected& s) {
  Row row{s.group, s.check, {}, 0};
  if (s.check->probe_limits && !context.options().probe_limits) {
    row.outcome = Outcome::skip("runs only with --probe-limits (it may cost the checker its uaid)");
    return row;
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    row.outcome = s.check->run(context);
  } catch (const std::exception& e) {
    // A reply shaped in a way no check foresaw must cost one row, not the run.
    row.outcome = Outcome::fail(std::string("the check could not handle what the service sent: ") + e.what());
  }
  row.outcome.observed = clean_text(row.outcome.observed);
  row.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  return row;
}

}  // namespace

Result<std::vector<Selected>> select_checks(const std::vector<std::string>& only) {
  if (auto known = check_known(only); !known) return tl::unexpected(known.error());
  std::vector<Selected> out;
  for (const auto& g : all_groups()) {
    for (const auto& c : g.checks) {
      if (wanted(only, g, c)) out.push_back({&g, &c});
    }
  }
  return out;
}

Report run_checks(Context& context, const std::vector<Selected>& selected,
                  const std::function<void(const Selected&)>& on_start, const std::function<void(const Row&)>& on_row) {
  Report report;
  report.server = context.options().server;
  report.probe_limits = context.options().probe_limits;
  report.started_unix_ms = unix_ms();
  const auto start = std::chrono::steady_clock::now();
  for (const auto& s : selected) {
    if (on_start) on_start(s);
    report.rows.push_back(run_one(context, s));
    if (on_row) on_row(report.rows.back());
  }
  report.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace webpush::conformance
