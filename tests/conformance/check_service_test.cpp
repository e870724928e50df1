// `webpushd check-service` against the real `webpushd serve` on loopback:
//  - serve passes every check, --probe-limits ones included, and none is skipped;
//  - `serve --fault NAME` breaks one rule on purpose, and the check for that
//    rule fails with what the service did instead in its observed text;
//  - the usage errors, --list and --report.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_process.h"
#include "support/service_process.h"
#include "support/support.h"

namespace webpush::testing {
namespace check_service_test {

using nlohmann::json;

const std::vector<std::string> kGroups = {"handshake", "registration", "delivery", "vapid", "keepalive", "limits"};

// Timers short enough that the handshake, keepalive and limits checks need not
// wait for autopush's seconds and minutes.
const std::vector<std::string> kFastTimers = {"--handshake-timeout", "1", "--ws-ping-interval",  "1",
                                              "--ws-pong-timeout",   "1", "--min-ping-interval", "2"};

struct CheckRun {
  CliResult cli;
  json report;  ///< the --json object (discarded when stdout's last line is not JSON)

  /// The row of check `id`, or null.
  [[nodiscard]] const json* row(const std::string& id) const {
    if (!report.is_object() || !report.contains("checks")) return nullptr;
    for (const auto& r : report["checks"]) {
      if (r.value("id", "") == id) return &r;
    }
    return nullptr;
  }
};

// `webpushd check-service URL --json ARGS…`.
CheckRun check_service(const std::string& url, const std::vector<std::string>& args, Millis timeout = Millis(180000)) {
  std::vector<std::string> argv = {"check-service", url, "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  CheckRun run{run_cli(argv, timeout), json()};
  const auto lines = run.cli.out_lines();
  if (!lines.empty()) run.report = json::parse(lines.back(), nullptr, false);
  return run;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class CheckService : public ::testing::Test {
 protected:
  TempDir dir{"webpushd-conformance"};
  void SetUp() override { isolate_environment(dir.path()); }

  // `webpushd serve` with the short timers and `more` (e.g. {"--fault", "uaid-dashed"}).
  // ServiceProcess cannot move: returned as a prvalue, it is built in the caller's variable.
  ServiceProcess serve(const std::vector<std::string>& more = {}) {
    std::vector<std::string> args = kFastTimers;
    args.insert(args.end(), more.begin(), more.end());
    return ServiceProcess({.state_dir = dir.path() / "service", .extra_args = args});
  }
};

TEST_F(CheckService, ServePassesEveryCheck) {
  auto service = serve();
  const CheckRun run = check_service(service.ws_url(), {"--probe-limits", "--ping-wait", "5"});
  ASSERT_TRUE(run.report.is_object()) << run.cli.describe();
  const std::string shown = run.report.dump(2) + "\nstderr:\n" + run.cli.err + "\nservice log:\n" + service.log();
  EXPECT_EQ(run.cli.status, 0) << shown;
  EXPECT_EQ(run.report.at("passed"), true) << shown;
  EXPECT_EQ(run.report.at("probe_limits"), true) << shown;
  EXPECT_EQ(run.report.at("counts").at("fail"), 0) << shown;
  EXPECT_EQ(run.report.at("counts").at("skip"), 0) << shown;
  std::set<std::string> groups;
  for (const auto& row : run.report.at("checks")) {
    groups.insert(row.at("group").get<std::string>());
    EXPECT_EQ(row.at("result"), "pass") << row.dump(2);
    EXPECT_TRUE(row.at("id").get<std::string>().starts_with(row.at("group").get<std::string>() + ".")) << row.dump(2);
  }
  for (const auto& g : kGroups) EXPECT_TRUE(groups.contains(g)) << "no check of group " << g << " ran\n" << shown;
}

// One rule broken on purpose, the check that must notice, and what its observed
// text must show of what the service did (a regular expression).
struct FaultCase {
  std::string name;  // test name
  std::string fault;
  std::string check;
  std::vector<std::string> args;
  std::string observed;
};

class FaultIsCaught : public CheckService, public ::testing::WithParamInterface<FaultCase> {};

TEST_P(FaultIsCaught, TheCheckFailsAndSaysWhatItSaw) {
  const FaultCase& c = GetParam();
  auto service = serve({"--fault", c.fault});
  std::vector<std::string> args = {"--only", c.check, "--timeout", "3"};
  args.insert(args.end(), c.args.begin(), c.args.end());
  const CheckRun run = check_service(service.ws_url(), args, Millis(60000));
  ASSERT_TRUE(run.report.is_object()) << run.cli.describe();
  const std::string shown = run.report.dump(2) + "\nstderr:\n" + run.cli.err;
  EXPECT_EQ(run.cli.status, 1) << shown;
  EXPECT_EQ(run.report.at("passed"), false) << shown;
  const json* row = run.row(c.check);
  ASSERT_NE(row, nullptr) << "no row " << c.check << "\n" << shown;
  EXPECT_EQ(row->at("result"), "fail") << shown;
  const std::string observed = row->at("observed").get<std::string>();
  EXPECT_TRUE(std::regex_search(observed, std::regex(c.observed)))
      << "observed text \"" << observed << "\" does not match /" << c.observed << "/";
}

const FaultCase kFaultCases[] = {
    // A new uaid in the 8-4-4-4-12 form: the observed text quotes it.
    {"UaidDashed",
     "uaid-dashed",
     "handshake.new-uaid",
     {},
     "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"},
    // The channel still takes pushes after its unregister: the POST's 201.
    {"KeepUnregistered", "keep-unregistered", "registration.unregister", {}, "accepted with 201"},
    // The data no longer decrypts: the decryption error.
    {"CorruptData", "corrupt-data", "delivery.aes128gcm", {}, "decrypt.*failed authentication"},
    // A token with an altered signature is accepted: its 201.
    {"VapidIgnoreSignature", "vapid-ignore-signature", "vapid.bad-signature", {}, "accepted with 201"},
    // `{}` gets nothing back.
    {"NoPingReply", "no-ping-reply", "keepalive.client-ping", {}, "no \\{\\} reply within"},
    // A big frame is swallowed: neither an answer nor a close.
    {"HangOnBigFrame", "hang-on-big-frame", "limits.frame-size", {"--probe-limits"}, "neither answered nor closed"},
};

INSTANTIATE_TEST_SUITE_P(CheckService, FaultIsCaught, ::testing::ValuesIn(kFaultCases),
                         [](const ::testing::TestParamInfo<FaultCase>& p) { return p.param.name; });

// The fault lets a bad signature through and nothing else: the token's claims
// and its key binding are still checked.
TEST_F(CheckService, VapidFaultBreaksOnlyTheSignatureRule) {
  auto service = serve({"--fault", "vapid-ignore-signature"});
  const CheckRun run = check_service(service.ws_url(), {"--only", "vapid"}, Millis(60000));
  ASSERT_TRUE(run.report.is_object()) << run.cli.describe();
  ASSERT_GE(run.report.at("checks").size(), 2u) << run.report.dump(2);
  for (const auto& row : run.report.at("checks")) {
    EXPECT_EQ(row.at("result"), row.at("id") == "vapid.bad-signature" ? "fail" : "pass") << row.dump(2);
  }
}

TEST_F(CheckService, UsageErrorsListAndReport) {
  // No URL: one line saying so, exit 2.
  const auto no_url = run_cli({"check-service"});
  EXPECT_EQ(no_url.status, 2) << no_url.describe();
  ASSERT_EQ(no_url.err_lines().size(), 1u) << no_url.describe();
  EXPECT_NE(no_url.err.find("URL"), std::string::npos) << no_url.describe();
  EXPECT_TRUE(no_url.out.empty()) << no_url.describe();

  // An unknown --only item: exit 2, naming the groups there are.
  const auto nosuch = run_cli({"check-service", "ws://127.0.0.1:9/", "--only", "nosuch"});
  EXPECT_EQ(nosuch.status, 2) << nosuch.describe();
  EXPECT_NE(nosuch.err.find("nosuch"), std::string::npos) << nosuch.describe();
  for (const auto& g : kGroups) EXPECT_NE(nosuch.err.find(g), std::string::npos) << g << "\n" << nosuch.describe();

  // --list: every group's heading, and each row's id under it.
  const auto list = run_cli({"check-service", "--list"});
  EXPECT_EQ(list.status, 0) << list.describe();
  for (const auto& g : kGroups) {
    EXPECT_NE(list.out.find("(" + g + ")\n"), std::string::npos) << g << "\n" << list.describe();
  }
  EXPECT_NE(list.out.find("handshake.new-uaid"), std::string::npos) << list.describe();

  // --report: an HTML page naming every check that ran.
  auto service = serve();
  const auto page = dir.path() / "report.html";
  const CheckRun run =
      check_service(service.ws_url(), {"--only", "handshake", "--report", page.string()}, Millis(60000));
  ASSERT_TRUE(run.report.is_object()) << run.cli.describe();
  EXPECT_EQ(run.cli.status, 0) << run.report.dump(2);
  const std::string html = read_file(page);
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>")) << html.substr(0, 200);
  ASSERT_FALSE(run.report.at("checks").empty());
  for (const auto& row : run.report.at("checks")) {
    const std::string id = row.at("id").get<std::string>();
    EXPECT_TRUE(id.starts_with("handshake.")) << id;
    EXPECT_NE(html.find("<code>" + id + "</code>"), std::string::npos) << id << " is not in the report";
  }
}

TEST_F(CheckService, ServeFaultIsHiddenAndChecked) {
  const auto help = run_cli({"serve", "--help"});
  EXPECT_EQ(help.status, 0) << help.describe();
  EXPECT_EQ(help.out.find("--fault"), std::string::npos) << help.describe();

  const auto unknown =
      run_cli({"serve", "--listen", "127.0.0.1:0", "--state-dir", (dir.path() / "s").string(), "--fault", "nosuch"});
  EXPECT_EQ(unknown.status, 2) << unknown.describe();
  EXPECT_NE(unknown.err.find("--fault 'nosuch'"), std::string::npos) << unknown.describe();
  for (const char* name : {"uaid-dashed", "keep-unregistered", "corrupt-data", "vapid-ignore-signature",
                           "no-ping-reply", "hang-on-big-frame"}) {
    EXPECT_NE(unknown.err.find(name), std::string::npos) << name << "\n" << unknown.describe();
  }
}

}  // namespace check_service_test
}  // namespace webpush::testing
