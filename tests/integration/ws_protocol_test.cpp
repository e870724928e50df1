// The user-agent side of `webpushd serve`: the autopush WebSocket protocol as
// the service speaks it (docs/protocol.md §1), message by message, with the close
// codes of §1.13.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fixture.h"

namespace webpush::testing {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;

class WsProtocol : public ServiceTest {};

// ---- hello ---------------------------------------------------------------------------

TEST_F(WsProtocol, HelloWithoutUaidGetsANewSimpleUaid) {
  auto ua = connect();
  ua.ws().send_text(R"({"messageType":"hello","use_webpush":true})");
  const auto reply = nlohmann::json::parse(ua.ws().recv_text());
  EXPECT_EQ(reply["messageType"], "hello");
  EXPECT_EQ(reply["status"], 200);
  EXPECT_EQ(reply["use_webpush"], true);
  EXPECT_EQ(reply["broadcasts"], nlohmann::json::object());
  ASSERT_TRUE(reply["uaid"].is_string());
  EXPECT_TRUE(protocol::is_simple_uaid(reply["uaid"].get<std::string>())) << reply;
}

TEST_F(WsProtocol, SubProtocolIsEchoedWhenOfferedAndNotRequired) {
  auto with = connect();
  EXPECT_EQ(with.ws().accepted_subprotocol(), std::optional<std::string>("push-notification"));
  with.hello();

  WsOptions none;
  none.subprotocol = std::nullopt;
  auto without = connect(none);
  EXPECT_EQ(without.ws().accepted_subprotocol(), std::nullopt);
  without.hello();
}

TEST_F(WsProtocol, UnknownOrMalformedUaidIsReplaced) {
  const std::string unknown = "0123456789abcdef0123456789abcdef";
  for (const std::string& sent :
       {unknown, std::string("not-a-uaid"), std::string(""), std::string("01234567-89ab-cdef-0123-456789abcdef"),
        std::string("0123456789ABCDEF0123456789ABCDEF")}) {
    auto ua = connect();
    const std::string uaid = ua.hello(sent);
    EXPECT_NE(uaid, sent);
    EXPECT_TRUE(protocol::is_simple_uaid(uaid));
  }
}

TEST_F(WsProtocol, KnownUaidIsKept) {
  auto first = subscribe();
  first.ua.ws().send_close();
  auto again = connect();
  EXPECT_EQ(again.hello(first.uaid), first.uaid);
}

TEST_F(WsProtocol, UaidIsStoredOnlyAtTheFirstRegister) {
  std::string uaid;
  {
    auto ua = connect();
    uaid = ua.hello();
  }
  auto again = connect();
  EXPECT_NE(again.hello(uaid), uaid) << "a uaid without any register is not kept (ARS deferred user creation)";
}

TEST_F(WsProtocol, HelloLegacyChannelIdsMustBeUuids) {
  auto ok = connect();
  ok.ws().send_text(
      R"({"messageType":"hello","use_webpush":true,"channelIDs":["3a2f1c58-8d5e-4b8e-9f3c-2e6a7d1b4c90"]})");
  EXPECT_EQ(nlohmann::json::parse(ok.ws().recv_text())["status"], 200);

  auto bad = connect();
  bad.ws().send_text(R"({"messageType":"hello","use_webpush":true,"channelIDs":["nope"]})");
  EXPECT_EQ(bad.ws().wait_close(), 1011);
}

TEST_F(WsProtocol, FirstMessageMustBeHello) {
  auto ua = connect();
  ua.ws().send_text(R"({"messageType":"register","channelID":"3a2f1c58-8d5e-4b8e-9f3c-2e6a7d1b4c90"})");
  EXPECT_EQ(ua.ws().wait_close(), 1011);

  auto ping_first = connect();
  ping_first.ws().send_text("{}");
  EXPECT_EQ(ping_first.ws().wait_close(), 1011);
}

TEST_F(WsProtocol, SecondHelloCloses) {
  auto ua = connect();
  ua.hello();
  ua.ws().send_text(R"({"messageType":"hello","use_webpush":true})");
  EXPECT_EQ(ua.ws().wait_close(), 1011);
}

TEST_F(WsProtocol, InvalidJsonOrUnknownTypeCloses1011) {
  for (const char* frame :
       {"not json", "[1,2]", R"({"messageType":"bogus"})", R"({"messageType":7})", R"({"no":"type"})"}) {
    auto ua = connect();
    ua.hello();
    ua.ws().send_text(frame);
    EXPECT_EQ(ua.ws().wait_close(), 1011) << frame;
  }
}

TEST_F(WsProtocol, BinaryFrameCloses1003) {
  auto before = connect();
  before.ws().send_binary("\x01\x02");
  EXPECT_EQ(before.ws().wait_close(), 1003);

  auto after = connect();
  after.hello();
  after.ws().send_binary(R"({"messageType":"ping"})");
  EXPECT_EQ(after.ws().wait_close(), 1003);
}

TEST_F(WsProtocol, FragmentedMessageIsReassembled) {
  auto ua = connect();
  const std::string hello = R"({"messageType":"hello","use_webpush":true,"broadcasts":{}})";
  ua.ws().send_frame(Opcode::text, hello.substr(0, 10), false);
  ua.ws().send_frame(Opcode::continuation, hello.substr(10, 20), false);
  ua.ws().send_frame(Opcode::continuation, hello.substr(30), true);
  EXPECT_EQ(nlohmann::json::parse(ua.ws().recv_text())["messageType"], "hello");
}

TEST_F(WsProtocol, LargeMessagesUpTo64KiB) {
  auto ua = connect();
  ua.hello();
  // An unknown extra field is ignored, so a 60 KiB register is still a register.
  const std::string chid = new_channel_id();
  const std::string big =
      R"({"messageType":"register","channelID":")" + chid + R"(","pad":")" + std::string(60 * 1024, 'x') + R"("})";
  ua.ws().send_text(big);
  EXPECT_EQ(nlohmann::json::parse(ua.ws().recv_text())["status"], 200);

  ua.ws().send_text(std::string(70 * 1024, ' '));
  EXPECT_EQ(ua.ws().wait_close(), 1009);
}

TEST_F(WsProtocol, HandshakeTimeoutClosesWithoutHello) {
  start({"--handshake-timeout", "0.3"});
  auto silent = connect();
  const auto t0 = Clock::now();
  EXPECT_EQ(silent.ws().wait_close(Millis(3000)), 1011);
  EXPECT_EQ(silent.ws().close_frame()->close_reason(), "HandshakeTimeout");
  EXPECT_GE(Clock::now() - t0, Millis(250));

  auto prompt = connect();
  prompt.hello();
  // Past the hello deadline, the identified socket stays open.
  EXPECT_EQ(prompt.ws().try_recv_text(Millis(500)), std::nullopt);
  EXPECT_THAT(prompt.barrier(), IsEmpty());
}

// ---- register / unregister ------------------------------------------------------------

TEST_F(WsProtocol, RegisterReturnsAV1Endpoint) {
  auto ua = connect();
  ua.hello();
  const std::string chid = new_channel_id();
  const auto reply = ua.register_channel(chid);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.channel_id, chid);
  const std::string prefix = service().http_base() + "/wpush/v1/";
  ASSERT_EQ(reply.push_endpoint.rfind(prefix, 0), 0u) << reply.push_endpoint;
  // 32 random bytes, base64url: 43 characters.
  EXPECT_EQ(reply.push_endpoint.size() - prefix.size(), 43u);
}

TEST_F(WsProtocol, RegisterWithKeyPaddedOrNotReturnsAV2Endpoint) {
  auto ua = connect();
  ua.hello();
  const auto key = make_key();
  std::string padded = padded_public_key(key);
  std::string unpadded = padded.substr(0, padded.find('='));
  for (const auto& k : {padded, unpadded}) {
    const auto reply = ua.register_channel(new_channel_id(), k);
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.push_endpoint.rfind(service().http_base() + "/wpush/v2/", 0), 0u) << reply.push_endpoint;
  }
}

TEST_F(WsProtocol, RegisterWithUndecodableKeyIs400) {
  auto ua = connect();
  ua.hello();
  const auto reply = ua.register_channel(new_channel_id(), "not*base64!");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.push_endpoint, "Failed to generate endpoint");
  // The socket stays usable.
  EXPECT_EQ(ua.register_channel(new_channel_id()).status, 200);
}

TEST_F(WsProtocol, RegisterAgainIsIdempotent) {
  auto s = subscribe();
  EXPECT_EQ(s.ua.subscribe(s.channel_id), s.endpoint);
}

TEST_F(WsProtocol, RegisterNeedsALowerCaseHyphenatedChannelId) {
  for (const char* chid : {"3A2F1C58-8D5E-4B8E-9F3C-2E6A7D1B4C90", "3a2f1c588d5e4b8e9f3c2e6a7d1b4c90", "nope", ""}) {
    auto ua = connect();
    ua.hello();
    ua.ws().send_text(std::string(R"({"messageType":"register","channelID":")") + chid + "\"}");
    EXPECT_EQ(ua.ws().wait_close(), 1011) << chid;
  }
}

TEST_F(WsProtocol, UnregisterIsIdempotentAndEndsTheEndpoint) {
  auto s = subscribe();
  EXPECT_EQ(push(s.endpoint).status, 201);
  const auto n = s.ua.recv_notification();
  s.ua.ack(n.channel_id, n.version);
  EXPECT_EQ(s.ua.unregister(s.channel_id, 200).status, 200);
  EXPECT_EQ(s.ua.unregister(s.channel_id).status, 200);
  EXPECT_EQ(s.ua.unregister(new_channel_id()).status, 200);
  expect_error(push(s.endpoint), 410, 106);
}

TEST_F(WsProtocol, UnregisterAcceptsAnyUuidSpelling) {
  auto s = subscribe();
  std::string simple;
  for (char c : s.channel_id) {
    if (c != '-') simple += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  const auto reply = s.ua.unregister(simple);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.channel_id, s.channel_id);
  expect_error(push(s.endpoint), 410, 106);

  s.ua.ws().send_text(R"({"messageType":"unregister","channelID":"nope"})");
  EXPECT_EQ(s.ua.ws().wait_close(), 1011);
}

// ---- ping, nack, broadcasts --------------------------------------------------------------

TEST_F(WsProtocol, PingIsAnsweredOnceThenRateLimited) {
  auto ua = connect();
  ua.hello();
  ua.ws().send_text("{}");
  EXPECT_EQ(ua.ws().recv_text(), "{}");
  // ARS: client pings closer than 45 s apart close the socket.
  ua.ws().send_text(R"({"messageType":"ping"})");
  EXPECT_EQ(ua.ws().wait_close(), 1011);
}

TEST_F(WsProtocol, PingIntervalIsConfigurable) {
  start({"--min-ping-interval", "0"});
  auto ua = connect();
  ua.hello();
  for (int i = 0; i < 3; ++i) {
    ua.ws().send_text(i % 2 ? R"({"messageType":"ping"})" : "{}");
    EXPECT_EQ(ua.ws().recv_text(), "{}");
  }
}

TEST_F(WsProtocol, NackGetsNoReplyAndIsCounted) {
  auto ua = connect();
  ua.hello();
  ua.nack("some-version", 302);
  EXPECT_THAT(ua.barrier(), IsEmpty());
  EXPECT_EQ(stats()["messages_nacked"], 1);

  ua.ws().send_text(R"({"messageType":"nack","code":301})");  // no version
  EXPECT_EQ(ua.ws().wait_close(), 1011);
}

TEST_F(WsProtocol, BroadcastSubscribeAnswersOnlyDeltas) {
  auto ua = connect();
  ua.hello();
  ua.ws().send_text(
      R"({"messageType":"broadcast_subscribe","broadcasts":{"remote-settings/monitor_changes":"\"0\""}})");
  // No broadcast is defined by default: nothing changed, nothing to say.
  EXPECT_THAT(ua.barrier(), IsEmpty());
}

TEST_F(WsProtocol, ConfiguredBroadcastsAreAnnounced) {
  start({"--broadcast", "test/one=v2"});
  auto ua = connect();
  const auto hello = ua.hello_reply(std::nullopt, {{"test/one", "v1"}, {"unknown", "x"}});
  EXPECT_EQ(hello.broadcasts, (protocol::Broadcasts{{"test/one", "v2"}}));

  ua.ws().send_text(R"({"messageType":"broadcast_subscribe","broadcasts":{"test/one":"v2"}})");
  EXPECT_THAT(ua.barrier(), IsEmpty()) << "already current: no delta";
  ua.ws().send_text(R"({"messageType":"broadcast_subscribe","broadcasts":{"test/one":"v0"}})");
  const auto m = nlohmann::json::parse(ua.ws().recv_text());
  EXPECT_EQ(m["messageType"], "broadcast");
  EXPECT_EQ(m["broadcasts"], nlohmann::json({{"test/one", "v2"}}));
}

// ---- one connection per uaid, keepalive ------------------------------------------------

TEST_F(WsProtocol, NewerHelloForTheSameUaidClosesTheOlderSocket) {
  auto first = subscribe();
  auto second = connect();
  EXPECT_EQ(second.hello(first.uaid), first.uaid);
  EXPECT_EQ(first.ua.ws().wait_close(), 1011);
  // Messages now go to the newer socket.
  ASSERT_EQ(push(first.endpoint).status, 201);
  const auto n = second.recv_notification();
  EXPECT_EQ(n.channel_id, first.channel_id);
}

TEST_F(WsProtocol, WebSocketPingsAreSentAndAPongKeepsTheSocket) {
  // A generous Pong timeout: this test is about Pings being sent and answered.
  start({"--ws-ping-interval", "0.2", "--ws-pong-timeout", "3"});
  auto ua = connect();
  ua.hello();
  // recv with auto-pong: wait until three Pings went by, answering each.
  const auto deadline = Clock::now() + Millis(5000);
  while (ua.ws().pings_received() < 3 && Clock::now() < deadline) {
    ASSERT_EQ(ua.ws().try_recv_text(Millis(100)), std::nullopt);
  }
  EXPECT_GE(ua.ws().pings_received(), 3);
  EXPECT_THAT(ua.barrier(), IsEmpty());
}

TEST_F(WsProtocol, MissingPongCloses1011) {
  start({"--ws-ping-interval", "0.2", "--ws-pong-timeout", "0.3"});
  auto ua = connect();
  ua.hello();
  ua.ws().auto_pong = false;
  const auto t0 = Clock::now();
  EXPECT_EQ(ua.ws().wait_close(Millis(5000)), 1011);
  EXPECT_EQ(ua.ws().close_frame()->close_reason(), "PongTimeout");
  EXPECT_EQ(ua.ws().pings_received(), 1);
  EXPECT_GE(Clock::now() - t0, Millis(400));
}

TEST_F(WsProtocol, NoPingsBeforeHello) {
  start({"--ws-ping-interval", "0.1", "--handshake-timeout", "0.6"});
  auto ua = connect();
  ua.ws().auto_pong = false;
  EXPECT_EQ(ua.ws().wait_close(Millis(3000)), 1011);
  EXPECT_EQ(ua.ws().pings_received(), 0);
}

}  // namespace
}  // namespace webpush::testing
