// PushService without sockets: a fake peer records what the service sends, a
// fake clock moves time by hand, the store lives in memory.
#include "webpush/service/push_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fake_clock.h"

namespace webpush::service {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;

class FakePeer final : public WsPeer {
 public:
  void send_text(std::string frame) override {
    if (!closed) frames.push_back(std::move(frame));
  }
  void close(int code, std::string_view reason) override {
    if (closed) return;
    closed = true;
    close_code = code;
    close_reason = std::string(reason);
  }
  void identified() override { was_identified = true; }

  /// Frames sent since the last call, as JSON ("{}" parses to an empty object).
  std::vector<nlohmann::json> take() {
    std::vector<nlohmann::json> out;
    for (const auto& f : frames) out.push_back(nlohmann::json::parse(f));
    frames.clear();
    return out;
  }

  std::vector<std::string> frames;
  bool closed = false;
  int close_code = 0;
  std::string close_reason;
  bool was_identified = false;
};

class PushServiceTest : public ::testing::Test {
 protected:
  PushServiceTest() { make_service(ServiceConfig{}); }

  void make_service(ServiceConfig config) {
    service_ = std::make_unique<PushService>(std::move(config), "http://push.test", *store_, clock_);
  }

  struct Ua {
    std::unique_ptr<FakePeer> peer = std::make_unique<FakePeer>();
    PushService::Session* session = nullptr;
  };

  Ua open() {
    Ua ua;
    ua.session = service_->ws_open(*ua.peer);
    return ua;
  }

  std::string hello(Ua& ua, const std::string& uaid = "") {
    service_->ws_text(ua.session, uaid.empty() ? std::string(R"({"messageType":"hello"})")
                                               : R"({"messageType":"hello","uaid":")" + uaid + "\"}");
    auto frames = ua.peer->take();
    if (frames.empty() || frames[0]["messageType"] != "hello") throw std::runtime_error("no hello reply");
    // Stored messages flushed right after the reply stay queued for the test.
    for (std::size_t i = 1; i < frames.size(); ++i) ua.peer->frames.push_back(frames[i].dump());
    return frames[0]["uaid"];
  }

  std::string subscribe(Ua& ua, const std::string& chid) {
    service_->ws_text(ua.session, R"({"messageType":"register","channelID":")" + chid + "\"}");
    auto frames = ua.peer->take();
    if (frames.size() != 1 || frames[0]["status"] != 200) throw std::runtime_error("register failed");
    return frames[0]["pushEndpoint"];
  }

  HttpResponse post(const std::string& endpoint, int ttl, const std::string& topic = "") {
    HttpRequest r;
    r.method = "POST";
    r.path = endpoint.substr(std::string("http://push.test").size());
    r.headers.emplace("ttl", std::to_string(ttl));
    if (!topic.empty()) r.headers.emplace("topic", topic);
    return service_->http(r);
  }

  void ack(Ua& ua, const nlohmann::json& n) {
    service_->ws_text(ua.session,
                      nlohmann::json{{"messageType", "ack"},
                                     {"updates", {{{"channelID", n["channelID"]}, {"version", n["version"]}}}}}
                          .dump());
  }

  void close(Ua& ua) { service_->ws_closed(ua.session); }

  fakes::FakeClock clock_;
  std::unique_ptr<ServiceStore> store_ = make_memory_store();
  std::unique_ptr<PushService> service_;
};

const std::string kChid = "3a2f1c58-8d5e-4b8e-9f3c-2e6a7d1b4c90";

TEST_F(PushServiceTest, HelloIdentifiesThePeer) {
  auto ua = open();
  EXPECT_FALSE(ua.peer->was_identified);
  hello(ua);
  EXPECT_TRUE(ua.peer->was_identified);
  EXPECT_EQ(service_->stats().hellos, 1);
}

TEST_F(PushServiceTest, MessagesExpireByTheClockWithoutWaiting) {
  auto ua = open();
  const auto uaid = hello(ua);
  const auto endpoint = subscribe(ua, kChid);
  close(ua);
  ASSERT_EQ(post(endpoint, 10).status, 201);
  ASSERT_EQ(post(endpoint, 60).status, 201);
  clock_.advance(std::chrono::seconds(10));

  auto back = open();
  hello(back, uaid);
  EXPECT_THAT(back.peer->take(), SizeIs(1));
  EXPECT_EQ(service_->stats().messages_expired, 1);

  clock_.advance(std::chrono::seconds(50));
  service_->purge_expired();
  EXPECT_EQ(service_->stats().messages_expired, 2);
}

TEST_F(PushServiceTest, BatchesWaitForAllAcks) {
  auto ua = open();
  const auto uaid = hello(ua);
  const auto endpoint = subscribe(ua, kChid);
  close(ua);
  for (int i = 0; i < 13; ++i) ASSERT_EQ(post(endpoint, 60).status, 201);

  auto back = open();
  hello(back, uaid);
  auto batch = back.peer->take();
  ASSERT_THAT(batch, SizeIs(10));
  for (std::size_t i = 0; i + 1 < batch.size(); ++i) ack(back, batch[i]);
  EXPECT_THAT(back.peer->take(), IsEmpty());
  ack(back, batch.back());
  EXPECT_THAT(back.peer->take(), SizeIs(3));
}

TEST_F(PushServiceTest, MessageLimitDropsTheUser) {
  ServiceConfig config;
  config.msg_limit = 3;
  make_service(config);
  auto ua = open();
  const auto uaid = hello(ua);
  const auto endpoint = subscribe(ua, kChid);
  close(ua);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(post(endpoint, 60).status, 201);
  auto back = open();
  hello(back, uaid);
  EXPECT_TRUE(back.peer->closed);
  EXPECT_EQ(back.peer->close_code, 1000);
  EXPECT_THAT(back.peer->take(), IsEmpty());
  EXPECT_FALSE(store_->has_user(uaid).value());
  EXPECT_EQ(post(endpoint, 60).status, 410);
}

TEST_F(PushServiceTest, ClientPingsAreRateLimitedByTheClock) {
  auto ua = open();
  hello(ua);
  service_->ws_text(ua.session, "{}");
  EXPECT_EQ(ua.peer->frames, std::vector<std::string>{"{}"});
  ua.peer->frames.clear();
  clock_.advance(std::chrono::seconds(45));
  service_->ws_text(ua.session, "{}");
  EXPECT_EQ(ua.peer->frames, std::vector<std::string>{"{}"});
  clock_.advance(std::chrono::seconds(44));
  service_->ws_text(ua.session, "{}");
  EXPECT_TRUE(ua.peer->closed);
  EXPECT_EQ(ua.peer->close_code, 1011);
}

TEST_F(PushServiceTest, GhostedSessionGetsNothingMore) {
  auto first = open();
  const auto uaid = hello(first);
  const auto endpoint = subscribe(first, kChid);
  auto second = open();
  hello(second, uaid);
  EXPECT_TRUE(first.peer->closed);
  EXPECT_EQ(first.peer->close_code, 1011);
  ASSERT_EQ(post(endpoint, 0).status, 201);
  EXPECT_THAT(first.peer->take(), IsEmpty());
  EXPECT_THAT(second.peer->take(), SizeIs(1));
  close(first);  // the older socket's close must not unmap the newer one
  ASSERT_EQ(post(endpoint, 0).status, 201);
  EXPECT_THAT(second.peer->take(), SizeIs(1));
}

}  // namespace
}  // namespace webpush::service
