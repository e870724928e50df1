// `webpushd send` and `webpushd vapid-keygen` against `webpushd serve`: exit 0 on
// 201, 1 on 404 / 410 / 401, 2 on a subscription file that is not one; a key from
// vapid-keygen (0600 PEM) signs for the subscription bound to it and no other key does.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_process.h"
#include "support/push_client.h"
#include "support/service_process.h"
#include "support/support.h"
#include "webpush/core/base64url.h"
#include "webpush/crypto/keys.h"

namespace webpush::testing {
namespace {

using nlohmann::json;

class SendTest : public ::testing::Test {
 protected:
  void SetUp() override { isolate_environment(tmp.path()); }

  std::string write(const std::string& name, const std::string& content) {
    const auto p = tmp.path() / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

  // A PushSubscription for `endpoint` with fresh keys nobody holds the private half of.
  static std::string subscription_for(const std::string& endpoint) {
    auto key = crypto::KeyPair::generate();
    auto auth = crypto::generate_auth_secret();
    if (!key || !auth) throw SupportError("key generation failed");
    return json{{"endpoint", endpoint},
                {"expirationTime", nullptr},
                {"keys", {{"p256dh", base64url_encode(key->public_bytes())}, {"auth", base64url_encode(*auth)}}}}
        .dump();
  }

  TempDir tmp{"webpushd-cli-send"};
  std::filesystem::path ua_dir = tmp.path() / "ua";
  std::filesystem::path svc_dir = tmp.path() / "svc";
};

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

void expect_failure(const CliResult& r, int status, const std::string& http_status) {
  EXPECT_EQ(r.status, status) << r.describe();
  EXPECT_EQ(first_line(r.out), http_status) << r.describe();
}

TEST_F(SendTest, ExitCodesFollowTheServicesAnswer) {
  ServiceProcess service({.state_dir = svc_dir});
  const std::string sub = subscribe(ua_dir, service.ws_url(), "laptop");
  const std::string endpoint = json::parse(sub).at("endpoint").get<std::string>();

  // 201 → 0, with the Location of the message.
  CliResult r = run_cli({"send", write("ok.json", sub), "--payload", "hello", "--ttl", "30", "--urgency", "high"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(first_line(r.out), "201") << r.describe();
  EXPECT_NE(r.out.find("\nLocation: " + service.http_base() + "/m/"), std::string::npos) << r.describe();

  // A token the service never issued → 404 → 1.
  const auto random = crypto::random_bytes(32);
  ASSERT_TRUE(random);
  const std::string unknown = endpoint.substr(0, endpoint.rfind('/') + 1) + base64url_encode(*random);
  r = run_cli({"send", write("unknown.json", subscription_for(unknown)), "--payload", "hello"});
  expect_failure(r, 1, "404");

  // A channel the user agent unregistered → 410 → 1.
  auto ua = PushClient::connect(service.port());
  ua.hello();
  const std::string channel = new_channel_id();
  const std::string forgotten = ua.subscribe(channel);
  ua.unregister(channel);
  r = run_cli({"send", write("gone.json", subscription_for(forgotten)), "--payload", "hello"});
  expect_failure(r, 1, "410");
}

TEST_F(SendTest, ASubscriptionFileThatIsNotOneIsAUsageError) {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"not-json.json", "{not json"},
      {"empty.json", ""},
      {"array.json", "[]"},
      {"no-keys.json", R"({"endpoint":"http://127.0.0.1:9/wpush/v1/x"})"},
      {"no-endpoint.json", R"({"keys":{"p256dh":"BAAA","auth":"AAAA"}})"},
      {"bad-p256dh.json",
       R"({"endpoint":"http://127.0.0.1:9/wpush/v1/x","keys":{"p256dh":"AAAA","auth":"AAAAAAAAAAAAAAAAAAAAAA"}})"},
  };
  for (const auto& [name, content] : rows) {
    SCOPED_TRACE(name);
    const CliResult r = run_cli({"send", write(name, content), "--payload", "hello"});
    EXPECT_EQ(r.status, 2) << r.describe();
    EXPECT_EQ(r.out, "") << r.describe();
    EXPECT_EQ(split_lines(r.err).size(), 1u) << r.describe();
    EXPECT_NE(r.err.find(name), std::string::npos) << r.describe();
  }
  CliResult r = run_cli({"send", (tmp.path() / "missing.json").string(), "--payload", "hello"});
  EXPECT_EQ(r.status, 2) << r.describe();
  EXPECT_NE(r.err.find("missing.json"), std::string::npos) << r.describe();
  // "-" reads the subscription from stdin, which is empty here.
  r = run_cli({"send", "-", "--payload", "hello"});
  EXPECT_EQ(r.status, 2) << r.describe();
  EXPECT_EQ(split_lines(r.err).size(), 1u) << r.describe();
}

TEST_F(SendTest, VapidKeygenKeySignsForItsSubscriptionOnly) {
  const std::string pem = (tmp.path() / "vapid.pem").string();
  CliResult r = run_cli({"vapid-keygen", pem});
  ASSERT_EQ(r.status, 0) << r.describe();
  const auto out = r.out_lines();
  ASSERT_EQ(out.size(), 1u) << r.describe();
  const std::string public_key = out[0];
  EXPECT_TRUE(std::regex_match(public_key, std::regex("B[A-Za-z0-9_-]{86}"))) << public_key;  // 65 bytes, 0x04…
  struct stat st {};
  ASSERT_EQ(::stat(pem.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(pem);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str().rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << text.str();

  // An existing file is never overwritten.
  r = run_cli({"vapid-keygen", pem});
  EXPECT_EQ(r.status, 1) << r.describe();
  EXPECT_EQ(r.out, "") << r.describe();
  std::ifstream again(pem);
  std::stringstream unchanged;
  unchanged << again.rdbuf();
  EXPECT_EQ(unchanged.str(), text.str());

  const std::string other = (tmp.path() / "other.pem").string();
  ASSERT_EQ(run_cli({"vapid-keygen", other}).status, 0);

  ServiceProcess service({.state_dir = svc_dir});
  const std::string sub = write("v2.json", subscribe(ua_dir, service.ws_url(), "bound", public_key));

  r = run_cli(
      {"send", sub, "--payload", "signed", "--vapid-key-file", pem, "--vapid-subject", "mailto:ops@example.org"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(first_line(r.out), "201") << r.describe();

  r = run_cli({"send", sub, "--payload", "signed", "--vapid-key-file", other});
  expect_failure(r, 1, "401");
  EXPECT_NE(r.out.find("mismatch"), std::string::npos) << r.describe();

  r = run_cli({"send", sub, "--payload", "unsigned"});
  expect_failure(r, 1, "401");
}

}  // namespace
}  // namespace webpush::testing
