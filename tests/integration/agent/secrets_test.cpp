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
#include "support/service_process.h"
#include "support/support.h"
#include "support/web_push.h"
#include "webpush/core/base64url.h"
#include "webpush/core/bytes.h"

namespace webpush::testing {
namespace secrets_test {

using nlohmann::json;

/// The raw private key and auth secret of subscription `name`, read from the database behind the store's back.
struct Secrets {
  Bytes private_key;
  Bytes auth_secret;
};

Secrets read_secrets(const std::filesystem::path& db, const std::string& name) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    throw SupportError("cannot open " + db.string());
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> conn(raw, &sqlite3_close);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(conn.get(), "SELECT private_key, auth_secret FROM subscriptions WHERE name = ?1", -1, &stmt,
                     nullptr);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> owned(stmt, &sqlite3_finalize);
  sqlite3_bind_text(stmt, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(stmt) != SQLITE_ROW) throw SupportError("no subscription " + name + " in " + db.string());
  const auto blob = [&](int col) {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, col));
    return Bytes(p, p + sqlite3_column_bytes(stmt, col));
  };
  return {blob(0), blob(1)};
}

std::string standard_base64(ByteView b) {
  std::string out(4 * ((b.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), b.data(), static_cast<int>(b.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

/// Every spelling of `secret` worth searching for: hex (both cases), base64
/// and base64url (padded or not), and the raw bytes.
std::vector<std::string> spellings(ByteView secret) {
  std::string b64 = standard_base64(secret);
  std::string b64_bare = b64.substr(0, b64.find('='));
  return {to_hex(secret),
          upper(to_hex(secret)),
          b64,
          b64_bare,
          base64url_encode(secret),
          base64url_encode(secret) + std::string((4 - base64url_encode(secret).size() % 4) % 4, '='),
          std::string(as_chars(secret))};
}

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
