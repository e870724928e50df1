// Secrets stay secret: a full round trip (subscribe through the running daemon,
// a message POSTed and delivered to a JSON-lines file and an exec command) with
// the daemon logging at trace level (-vv), then the log, the exec command's
// environment and the daemon's command line are searched for the
// subscription's private key and auth secret in every encoding a log line or a
// variable could carry them in.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <openssl/evp.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/daemon_process.h"
#include "support/secrets.h"
#include "support/service_process.h"
#include "support/support.h"
#include "support/web_push.h"
#include "webpush/core/base64url.h"
#include "webpush/core/bytes.h"

namespace webpush::testing {
namespace secrets_test {

using nlohmann::json;

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Whether a line of `log` holds both `a` and `b`.
bool has_line(const std::string& log, const std::string& a, const std::string& b) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return true;
  }
  return false;
}

void expect_no_secret(const std::string& where, const std::string& text, const Secrets& s) {
  for (const auto& [what, bytes] :
       {std::pair{"private key", &s.private_key}, std::pair{"auth secret", &s.auth_secret}}) {
    for (const auto& spelling : spellings(*bytes)) {
      EXPECT_EQ(text.find(spelling), std::string::npos) << where << " holds the " << what << " as '" << spelling << "'";
    }
  }
}

TEST(Secrets, ATraceLevelRoundTripLogsNoPrivateKeyAndNoAuthSecret) {
  TempDir tmp{"webpushd-secrets"};
  const auto ua_dir = tmp.path() / "ua";
  const auto env_file = tmp.path() / "exec-env.txt";
  ServiceProcess service({.state_dir = tmp.path() / "svc"});
  DaemonProcess daemon(
      {.state_dir = ua_dir,
       .server = service.ws_url(),
       .extra_args = {"--no-notify", "--exec", "sh -c 'cat >/dev/null; env >> " + env_file.string() + "'"},
       .global_args = {"-vv"}});
  daemon.wait_log("running");

  const auto sub = subscribe(ua_dir, service.ws_url(), "secret");  // through the running daemon
  ASSERT_EQ(post_message(service.port(), sub, "a round trip").status, 201);
  daemon.wait_event([](const json& j) { return j.value("payload", "") == "a round trip"; });
  const auto deadline = Clock::now() + Millis(5000);
  while (read_text(env_file).find("WEBPUSH_VERSION=") == std::string::npos && remaining(deadline).count() > 0) {
    daemon.read_for(Millis(50));
  }
  const std::string cmdline = read_text("/proc/" + std::to_string(daemon.pid()) + "/cmdline");
  EXPECT_EQ(daemon.stop(), 0);

  const Secrets secrets = read_secrets(ua_dir / "webpushd.db", "secret");
  ASSERT_EQ(secrets.private_key.size(), 32u);
  ASSERT_EQ(secrets.auth_secret.size(), 16u);
  // The search means something only if the log is as verbose as it gets and
  // covers the whole trip; the auth secret in the subscription JSON that
  // `subscribe` prints is where it belongs (the application server needs it).
  EXPECT_TRUE(has_line(daemon.log(), "trace [daemon] frame out:", R"("messageType":"register")")) << daemon.log();
  EXPECT_TRUE(has_line(daemon.log(), "trace [daemon] frame in:", R"("messageType":"notification")"));
  EXPECT_EQ(sub.auth, base64url_encode(secrets.auth_secret));
  const std::string env = read_text(env_file);
  ASSERT_NE(env.find("WEBPUSH_VERSION="), std::string::npos) << "the exec command did not run";
  expect_no_secret("the trace log", daemon.log(), secrets);
  expect_no_secret("the exec command's environment", env, secrets);
  expect_no_secret("the daemon's command line", cmdline, secrets);
  std::printf(
      "[ measure  ] searched a %zu-byte trace log, a %zu-byte exec environment and the command line for "
      "the private key and auth secret in 7 spellings each: none found\n",
      daemon.log().size(), env.size());
}

}  // namespace secrets_test
}  // namespace webpush::testing
