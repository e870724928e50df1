#include "webpush/protocol/messages.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace webpush::protocol {
namespace protocol_messages_test {

using nlohmann::json;

constexpr const char* kChid = "3a2f1c58-8d5e-4b8e-9f3c-2e6a7d1b4c90";

TEST(ServerMessages, ParsesHelloReply) {
  auto m = parse_server_message(
      R"({"messageType":"hello","uaid":"5f0b3c1e9a7d4e21b6c3a8f04d2e7b19","status":200,"use_webpush":true,)"
      R"("broadcasts":{"remote-settings/monitor_changes":"\"1\"","errors":{"x":"Broadcast not found"}},"env":"prod","ping":60})");
  ASSERT_TRUE(m) << m.error();
  const auto& h = std::get<HelloReply>(*m);
  EXPECT_EQ(h.uaid, "5f0b3c1e9a7d4e21b6c3a8f04d2e7b19");
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(h.use_webpush);
  ASSERT_EQ(h.broadcasts.size(), 1u);  // the nested errors object is dropped
  EXPECT_EQ(h.broadcasts.at("remote-settings/monitor_changes"), "\"1\"");
}

TEST(ServerMessages, ParsesNotifications) {
  auto full = parse_server_message(std::string(R"({"messageType":"notification","channelID":")") + kChid +
                                   R"(","version":"gAAAA","data":"6nqA","headers":{"encoding":"aesgcm",)"
                                   R"("encryption":"salt=abc","crypto_key":"dh=xyz"},"reliability_id":"r"})");
  ASSERT_TRUE(full) << full.error();
  const auto& n = std::get<Notification>(*full);
  EXPECT_EQ(n.channel_id, kChid);
  EXPECT_EQ(n.version, "gAAAA");
  EXPECT_EQ(n.data, "6nqA");
  ASSERT_TRUE(n.headers);
  EXPECT_EQ(n.headers->encoding, "aesgcm");
  EXPECT_EQ(n.headers->encryption, "salt=abc");
  EXPECT_EQ(n.headers->crypto_key, "dh=xyz");

  auto empty = parse_server_message(std::string(R"({"messageType":"notification","channelID":")") + kChid +
                                    R"(","version":"v1"})");
  ASSERT_TRUE(empty) << empty.error();
  EXPECT_FALSE(std::get<Notification>(*empty).data);
  EXPECT_FALSE(std::get<Notification>(*empty).headers);
}

TEST(ServerMessages, RegisterReplyKeepsErrorTextInEndpoint) {
  auto m = parse_server_message(std::string(R"({"messageType":"register","channelID":")") + kChid +
                                R"(","status":400,"pushEndpoint":"Failed to generate endpoint"})");
  ASSERT_TRUE(m) << m.error();
  const auto& r = std::get<RegisterReply>(*m);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.push_endpoint, "Failed to generate endpoint");
}

TEST(ServerMessages, PingsAndUnknownTypes) {
  EXPECT_TRUE(std::holds_alternative<Pong>(*parse_server_message("{}")));
  EXPECT_TRUE(std::holds_alternative<Pong>(*parse_server_message(R"({"messageType":"ping"})")));
  EXPECT_TRUE(std::holds_alternative<Pong>(*parse_server_message(R"({"status":200})")));
  auto err = parse_server_message(R"({"messageType":"error","reason":"overloaded","status":503})");
  ASSERT_TRUE(err);
  EXPECT_EQ(std::get<UnknownMessage>(*err).message_type, "error");
  // Firefox matches types case-insensitively.
  auto upper = parse_server_message(R"({"messageType":"HELLO","uaid":"abc","status":200})");
  ASSERT_TRUE(upper);
  EXPECT_TRUE(std::holds_alternative<HelloReply>(*upper));
}

struct ErrRow {
  const char* desc;
  std::string frame;
  Errc code;
  const char* part;
};

TEST(ServerMessages, ErrRows) {
  const std::vector<ErrRow> rows = {
      {"not JSON", "hello", Errc::not_json, "not JSON"},
      {"array", "[1,2]", Errc::not_json, "not a JSON object"},
      {"hello without uaid", R"({"messageType":"hello","status":200})", Errc::missing_field, "'uaid'"},
      {"hello with empty uaid", R"({"messageType":"hello","uaid":""})", Errc::invalid_value, "uaid of 0"},
      {"hello with a 129-char uaid", R"({"messageType":"hello","uaid":")" + std::string(129, 'a') + R"("})",
       Errc::invalid_value, "uaid of 129"},
      {"hello uaid number", R"({"messageType":"hello","uaid":5})", Errc::wrong_type, "'uaid' is not a string"},
      {"register without status", R"({"messageType":"register","channelID":"x"})", Errc::missing_field, "'status'"},
      {"register status string", R"({"messageType":"register","channelID":"x","status":"200"})", Errc::wrong_type,
       "'status' is not an integer"},
      {"notification without version", std::string(R"({"messageType":"notification","channelID":")") + kChid + "\"}",
       Errc::missing_field, "'version'"},
      {"notification data number",
       std::string(R"({"messageType":"notification","channelID":")") + kChid + R"(","version":"v","data":1})",
       Errc::wrong_type, "'data'"},
      {"notification headers array",
       std::string(R"({"messageType":"notification","channelID":")") + kChid + R"(","version":"v","headers":[]})",
       Errc::wrong_type, "'headers'"},
  };
  for (const auto& row : rows) {
    auto m = parse_server_message(row.frame);
    ASSERT_FALSE(m) << row.desc;
    EXPECT_EQ(m.error(), row.code) << row.desc << ": " << m.error();
    EXPECT_NE(m.error().message().find(row.part), std::string::npos) << row.desc << ": " << m.error().message();
  }
}

TEST(ClientMessages, SerializeAsAutopushExpects) {
  EXPECT_EQ(json::parse(serialize(ClientMessage{Hello{}})),
            json::parse(R"({"messageType":"hello","use_webpush":true,"broadcasts":{}})"));
  EXPECT_EQ(json::parse(serialize(ClientMessage{Hello{"5f0b3c1e9a7d4e21b6c3a8f04d2e7b19", {}}})),
            json::parse(R"({"messageType":"hello","use_webpush":true,"broadcasts":{},)"
                        R"("uaid":"5f0b3c1e9a7d4e21b6c3a8f04d2e7b19"})"));
  EXPECT_EQ(serialize(ClientMessage{Ping{}}), "{}");
  EXPECT_EQ(json::parse(serialize(ClientMessage{Ack{{{kChid, "v1", 101}}}})),
            json::parse(std::string(R"({"messageType":"ack","updates":[{"channelID":")") + kChid +
                        R"(","version":"v1","code":101}]})"));
}

TEST(ClientMessages, RoundTripThroughServerParser) {
  const std::vector<ClientMessage> messages = {
      Hello{"5f0b3c1e9a7d4e21b6c3a8f04d2e7b19", {{"a", "\"1\""}}},
      Register{kChid, "BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs="},
      Unregister{kChid, 200},
      Ack{{{kChid, "v1", 100}, {kChid, "v2", 102}}},
      Nack{"v1", 302},
      Ping{},
      BroadcastSubscribe{{{"x", "y"}}},
  };
  for (const auto& m : messages) {
    const std::string text = serialize(m);
    auto back = parse_client_message(text);
    ASSERT_TRUE(back) << text << ": " << back.error();
    EXPECT_EQ(back->index(), m.index()) << text;
    EXPECT_EQ(serialize(*back), text);
  }
}

TEST(ClientMessages, ServerSideErrRowsMatchAutopushStrictness) {
  const std::vector<ErrRow> rows = {
      {"upper-case channelID in register",
       R"({"messageType":"register","channelID":"3A2F1C58-8D5E-4B8E-9F3C-2E6A7D1B4C90"})", Errc::invalid_value,
       "lower-case hyphenated UUID"},
      {"simple-form channelID in register",
       R"({"messageType":"register","channelID":"3a2f1c588d5e4b8e9f3c2e6a7d1b4c90"})", Errc::invalid_value, "UUID"},
      {"braced channelID", R"({"messageType":"register","channelID":"{3a2f1c58-8d5e-4b8e-9f3c-2e6a7d1b4c90}"})",
       Errc::invalid_value, "UUID"},
      {"register without channelID", R"({"messageType":"register"})", Errc::missing_field, "'channelID'"},
      {"ack with a non-UUID channel", R"({"messageType":"ack","updates":[{"channelID":"nope","version":"v"}]})",
       Errc::invalid_value, "not a UUID"},
      {"ack without updates", R"({"messageType":"ack"})", Errc::missing_field, "'updates'"},
      {"nack without version", R"({"messageType":"nack","code":301})", Errc::missing_field, "'version'"},
      {"hello with a non-UUID channelIDs element", R"({"messageType":"hello","channelIDs":["x"]})", Errc::invalid_value,
       "channelIDs"},
      {"hello with a numeric broadcast version", R"({"messageType":"hello","broadcasts":{"a":1}})", Errc::wrong_type,
       "non-string version"},
      {"unknown type", R"({"messageType":"subscribe"})", Errc::unknown_message_type, "'subscribe'"},
      {"type in other case", R"({"messageType":"Hello"})", Errc::unknown_message_type, "'Hello'"},
      {"no type", R"({"uaid":"x"})", Errc::missing_field, "messageType"},
      {"binary junk", std::string("\x00\x01", 2), Errc::not_json, "not JSON"},
  };
  for (const auto& row : rows) {
    auto m = parse_client_message(row.frame);
    ASSERT_FALSE(m) << row.desc;
    EXPECT_EQ(m.error(), row.code) << row.desc << ": " << m.error();
    EXPECT_NE(m.error().message().find(row.part), std::string::npos) << row.desc << ": " << m.error().message();
  }
}

TEST(Identifiers, UuidForms) {
  EXPECT_TRUE(is_canonical_uuid(kChid));
  EXPECT_FALSE(is_canonical_uuid("3A2F1C58-8D5E-4B8E-9F3C-2E6A7D1B4C90"));
  EXPECT_TRUE(is_any_uuid("3A2F1C58-8D5E-4B8E-9F3C-2E6A7D1B4C90"));
  EXPECT_TRUE(is_any_uuid("3a2f1c588d5e4b8e9f3c2e6a7d1b4c90"));
  EXPECT_FALSE(is_any_uuid("3a2f1c58-8d5e-4b8e-9f3c-2e6a7d1b4c9"));
  EXPECT_FALSE(is_any_uuid("3a2f1c58_8d5e-4b8e-9f3c-2e6a7d1b4c90"));
  std::array<std::uint8_t, 16> ff{};
  ff.fill(0xff);
  EXPECT_EQ(uuid_v4(ff), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  std::array<std::uint8_t, 16> zero{};
  EXPECT_EQ(uuid_v4(zero), "00000000-0000-4000-8000-000000000000");
  EXPECT_TRUE(is_canonical_uuid(uuid_v4(zero)));
  EXPECT_TRUE(is_simple_uaid("5f0b3c1e9a7d4e21b6c3a8f04d2e7b19"));
  EXPECT_FALSE(is_simple_uaid("5F0B3C1E9A7D4E21B6C3A8F04D2E7B19"));
  EXPECT_FALSE(is_simple_uaid("5f0b3c1e-9a7d-4e21-b6c3-a8f04d2e7b19"));
}

}  // namespace protocol_messages_test
}  // namespace webpush::protocol
