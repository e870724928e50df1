// The user agent against `webpushd serve` on loopback, with the real
// transport: subscribe and receive, recovery after the service restarts, a
// half-open link, and a uaid reset by the service.
#include <signal.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/service_process.h"
#include "support/support.h"
#include "support/web_push.h"
#include "webpush/core/base64url.h"
#include "webpush/core/bytes.h"

namespace webpush::testing {
namespace {

using nlohmann::json;

HttpResult post(const ServiceProcess& service, const PushSubscription& sub, const std::string& text, int ttl = 600) {
  return post_message(service.port(), sub, text, ttl);
}

auto message_with(const std::string& payload) {
  return [payload](const json& j) { return j.value("type", "") == "message" && j.value("payload", "") == payload; };
}

class AgentTest : public ::testing::Test {
 protected:
  TempDir tmp{"webpushd-agent"};
  std::filesystem::path ua_dir = tmp.path() / "ua";
  std::filesystem::path svc_dir = tmp.path() / "svc";
};

TEST_F(AgentTest, SubscribeThenReceiveAnEncryptedMessage) {
  ServiceProcess service({.state_dir = svc_dir});
  const auto sub = subscribe(ua_dir, service.ws_url(), "laptop");
  DaemonProcess daemon({.state_dir = ua_dir, .server = service.ws_url()});
  daemon.wait_log("connected to");

  const auto r = post(service, sub, "hello from the test");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string location = r.header("location").value_or("");
  const std::string message_id = location.substr(location.rfind('/') + 1);

  const json event = daemon.wait_event(message_with("hello from the test"));
  EXPECT_EQ(event["subscription"], "laptop");
  EXPECT_EQ(event["version"], message_id);
  EXPECT_EQ(event["payload_b64"], base64url_encode(as_bytes("hello from the test")));
  // The line itself, byte for byte in the shape of docs/cli.md.
  const std::string& line = daemon.raw_lines().back();
  const std::string expected_prefix = R"({"type":"message","subscription":"laptop","channel_id":")";
  EXPECT_EQ(line.substr(0, expected_prefix.size()), expected_prefix) << line;
  EXPECT_NE(line.find(R"(","version":")" + message_id + R"(","received_at":")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"(Z","payload":"hello from the test","payload_b64":")"), std::string::npos) << line;
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(AgentTest, ReconnectsAfterTheServiceRestartsAndGetsStoredMessages) {
  auto service = std::make_unique<ServiceProcess>(ServiceOptions{.state_dir = svc_dir});
  const std::uint16_t port = service->port();
  const auto sub = subscribe(ua_dir, service->ws_url(), "phone");
  DaemonProcess daemon({.state_dir = ua_dir,
                        .server = service->ws_url(),
                        .extra_args = {"--backoff-initial", "0.2", "--backoff-max", "1"}});
  daemon.wait_log("connected to");

  service->kill();
  daemon.wait_log("disconnected");
  service.reset();
  // Back on the same port with the same state: the endpoint is still valid.
  ServiceProcess again({.state_dir = svc_dir, .listen = "127.0.0.1:" + std::to_string(port)});
  ASSERT_EQ(post(again, sub, "stored while you were away").status, 201);
  // Backoff is capped at 1 s here: a reconnect must come well inside 5 s.
  const Millis took = daemon.wait_log("connected to", Millis(5000));
  std::printf("[ measure  ] reconnect after the service came back: %lld ms\n", static_cast<long long>(took.count()));
  daemon.wait_event(message_with("stored while you were away"));
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(AgentTest, HalfOpenLinkIsDetectedByThePingTimeout) {
  ServiceProcess service({.state_dir = svc_dir});
  subscribe(ua_dir, service.ws_url(), "desk");
  DaemonProcess daemon({.state_dir = ua_dir,
                        .server = service.ws_url(),
                        .extra_args = {"--ping-interval", "1", "--request-timeout", "2", "--backoff-initial", "5"}});
  daemon.wait_log("connected to");
  // The service stops reading: the socket stays open, nothing answers.
  ASSERT_EQ(::kill(service.pid(), SIGSTOP), 0);
  const Millis took = daemon.wait_log("ping timeout", Millis(8000));
  ::kill(service.pid(), SIGCONT);
  std::printf("[ measure  ] half-open link detected after %lld ms (ping interval 1 s + timeout 2 s)\n",
              static_cast<long long>(took.count()));
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(AgentTest, UaidResetByTheServiceResubscribes) {
  ServiceProcess service({.state_dir = svc_dir, .extra_args = {"--msg-limit", "3"}});
  const auto old_sub = subscribe(ua_dir, service.ws_url(), "tablet");
  for (int i = 0; i < 6; ++i) ASSERT_EQ(post(service, old_sub, "backlog " + std::to_string(i)).status, 201);

  // Flushing more stored messages than the limit makes the service drop the uaid.
  DaemonProcess daemon({.state_dir = ua_dir,
                        .server = service.ws_url(),
                        .extra_args = {"--backoff-initial", "0.2", "--backoff-max", "1"}});
  const json changed =
      daemon.wait_event([](const json& j) { return j.value("type", "") == "subscription_changed"; }, Millis(10000));
  EXPECT_EQ(changed["subscription"], "tablet");
  EXPECT_EQ(changed["old_endpoint"], old_sub.endpoint);
  EXPECT_NE(changed["new_endpoint"], old_sub.endpoint);
  const auto new_sub = parse_subscription(changed["new_subscription"]);
  EXPECT_EQ(new_sub.endpoint, changed["new_endpoint"]);
  EXPECT_NE(new_sub.p256dh, old_sub.p256dh);

  EXPECT_EQ(post(service, old_sub, "to the old endpoint").status, 410);
  ASSERT_EQ(post(service, new_sub, "to the new endpoint").status, 201);
  daemon.wait_event(message_with("to the new endpoint"));
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(AgentTest, RestartDoesNotDeliverTwice) {
  ServiceProcess service({.state_dir = svc_dir});
  const auto sub = subscribe(ua_dir, service.ws_url(), "kiosk");
  {
    DaemonProcess daemon({.state_dir = ua_dir, .server = service.ws_url()});
    daemon.wait_log("connected to");
    ASSERT_EQ(post(service, sub, "once").status, 201);
    daemon.wait_event(message_with("once"));
    EXPECT_EQ(daemon.stop(), 0);
  }
  DaemonProcess daemon({.state_dir = ua_dir, .server = service.ws_url()});
  daemon.wait_log("connected to");
  ASSERT_EQ(post(service, sub, "twice?").status, 201);
  daemon.wait_event(message_with("twice?"));
  for (const auto& line : daemon.raw_lines()) EXPECT_EQ(line.find("\"once\""), std::string::npos) << line;
}

}  // namespace
}  // namespace webpush::testing
