// `webpushd loadtest` against the real `webpushd serve` on loopback: every
// accepted message arrives once; a service that drops every connection
// mid-run loses nothing (the user agents reconnect and the stored messages
// follow); POSTs the service refuses with 503 are counted, not hidden, and so
// is a message it delivers twice.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <future>

#include <nlohmann/json.hpp>

#include "cli/cli_process.h"
#include "support/http_client.h"
#include "support/service_process.h"
#include "support/support.h"

namespace webpush::testing {
namespace loadtest_test {

using nlohmann::json;

std::vector<std::string> loadtest_args(const ServiceProcess& service, std::vector<std::string> more) {
  std::vector<std::string> args = {"--server", service.ws_url(), "loadtest", "--json", "--no-progress"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

json parse_results(const CliResult& r) {
  const auto lines = r.out_lines();
  if (lines.empty()) throw SupportError("loadtest printed nothing:\n" + r.describe());
  return json::parse(lines.back());
}

std::int64_t failures_starting(const json& results, const std::string& prefix) {
  std::int64_t n = 0;
  for (const auto& [what, count] : results.at("failures").items()) {
    if (what.rfind(prefix, 0) == 0) n += count.get<std::int64_t>();
  }
  return n;
}

json service_stats(const ServiceProcess& service) {
  return json::parse(http_request(service.port(), "GET", "/stats").body);
}

/// Waits until the service has accepted `n` messages (its /stats).
void wait_accepted(const ServiceProcess& service, std::int64_t n) {
  const auto deadline = Clock::now() + Millis(20000);
  while (service_stats(service).value("messages_accepted", 0) < n) {
    if (remaining(deadline).count() == 0) throw SupportError("the service never accepted " + std::to_string(n));
    http_request(service.port(), "GET", "/stats");  // a round trip paces the poll
  }
}

void expect_exactly_once(const json& r) {
  EXPECT_EQ(r.at("lost"), 0) << r.dump(2);
  EXPECT_EQ(r.at("duplicated"), 0) << r.dump(2);
  EXPECT_EQ(r.at("decrypt_failed"), 0) << r.dump(2);
  EXPECT_EQ(r.at("received"), r.at("accepted")) << r.dump(2);
  EXPECT_EQ(r.at("latency_us").at("e2e").at("count"), r.at("received"));
}

class Loadtest : public ::testing::Test {
 protected:
  TempDir dir{"webpushd-loadtest"};
  void SetUp() override { isolate_environment(dir.path()); }
};

TEST_F(Loadtest, EveryAcceptedMessageArrivesOnce) {
  ServiceProcess service({.state_dir = dir.path() / "service"});
  const auto r = run_cli(
      loadtest_args(service, {"--user-agents", "20", "--subscriptions", "2", "--rate", "200", "--duration", "2"}),
      Millis(60000));
  ASSERT_EQ(r.status, 0) << r.describe();
  const json results = parse_results(r);
  EXPECT_EQ(results.at("registered"), 40);
  EXPECT_EQ(results.at("connected_peak"), 20);
  EXPECT_EQ(results.at("scheduled"), 400);
  EXPECT_EQ(results.at("accepted"), 400);
  expect_exactly_once(results);
  EXPECT_GT(results.at("latency_us").at("e2e").at("p50"), 0);
  EXPECT_FALSE(results.at("intervals").empty());
}

TEST_F(Loadtest, UserAgentsReconnectWhenTheServiceDropsEveryConnection) {
  ServiceProcess service({.state_dir = dir.path() / "service"});
  auto run = std::async(std::launch::async, [&] {
    return run_cli(
        loadtest_args(service, {"--user-agents", "10", "--rate", "100", "--duration", "4", "--drain-timeout", "20"}),
        Millis(90000));
  });
  wait_accepted(service, 100);
  service.restart();  // every WebSocket dropped; the uaids and stored messages stay
  const auto r = run.get();
  const json results = parse_results(r);
  EXPECT_GE(failures_starting(results, "disconnected: "), 10) << results.dump(2);
  EXPECT_GT(results.at("accepted"), 100);
  EXPECT_EQ(results.at("lost"), 0) << results.dump(2);
  EXPECT_EQ(results.at("decrypt_failed"), 0) << results.dump(2);
  EXPECT_EQ(results.at("received"), results.at("accepted")) << results.dump(2);
  // An ack still on its way when the service stopped was never recorded: the
  // service delivers that message again (Web Push is at least once). Counted,
  // and the exit status says so.
  EXPECT_LE(results.at("duplicated").get<std::int64_t>(), 10) << "more than one ack in flight per user agent";
  EXPECT_EQ(r.status, results.at("duplicated") == 0 ? 0 : 1) << r.describe();
}

TEST_F(Loadtest, PostsTheServiceRefusesAreCountedNotHidden) {
  const auto flag = dir.path() / "disk-full";
  // The fault suite's shim: while `flag` exists, the service's database writes fail
  // with ENOSPC and it answers 503 to each POST. Only the service inherits it.
  setenv("LD_PRELOAD", WEBPUSHD_ENOSPC_SHIM, 1);
  setenv("WEBPUSHD_ENOSPC_DIR", (dir.path() / "service").c_str(), 1);
  setenv("WEBPUSHD_ENOSPC_FLAG", flag.c_str(), 1);
  ServiceProcess service({.state_dir = dir.path() / "service"});
  unsetenv("LD_PRELOAD");
  auto run = std::async(std::launch::async, [&] {
    return run_cli(loadtest_args(service, {"--user-agents", "5", "--rate", "100", "--duration", "3"}), Millis(60000));
  });
  wait_accepted(service, 50);
  std::ofstream(flag) << "full\n";
  const auto accepted_then = service_stats(service).value("messages_accepted", 0);
  const auto deadline = Clock::now() + Millis(10000);
  while (service.log().find("push: ") == std::string::npos && remaining(deadline).count() > 0) {
    http_request(service.port(), "GET", "/stats");
  }
  std::filesystem::remove(flag);
  const auto r = run.get();
  const json results = parse_results(r);
  EXPECT_GT(failures_starting(results, "post: HTTP 503"), 0) << results.dump(2);
  EXPECT_EQ(results.at("posted").get<std::int64_t>(),
            results.at("accepted").get<std::int64_t>() + failures_starting(results, "post: "));
  EXPECT_GT(results.at("accepted"), accepted_then);
  EXPECT_EQ(results.at("lost"), 0) << results.dump(2);
  EXPECT_EQ(results.at("received"), results.at("accepted")) << results.dump(2);
  // An ack the full disk kept the service from recording makes it close the
  // connection (1011) and deliver that message again: counted, and the exit
  // status says so.
  if (results.at("duplicated") != 0) {
    EXPECT_GT(failures_starting(results, "disconnected: "), 0) << results.dump(2);
    EXPECT_EQ(r.status, 1) << r.describe();
  } else {
    EXPECT_EQ(r.status, 0) << r.describe() << service.log();
  }
}

}  // namespace loadtest_test
}  // namespace webpush::testing
