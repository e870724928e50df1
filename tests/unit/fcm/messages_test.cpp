#include "webpush/fcm/messages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pb_wire.h"

namespace webpush::fcm {
// Named: the unity build puts this file in one unit with the layer's other tests.
namespace fcm_messages_test {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---- protobuf wire format, written and read here without the generated code ----

using namespace pb_wire;  // NOLINT(google-build-using-namespace): test helpers

// ---- LoginRequest --------------------------------------------------------------

TEST(FcmMessages, LoginRequestCarriesWhatChromeSends) {
  const LoginParams params{
      .device = {.android_id = 0x1234abcd5678ef01, .security_token = 18446744073709551615u},
      .received_persistent_ids = {"0:1700000000000%7031b2e6f9fd7ecd", "0:2"},
  };
  const std::vector<Field> fields = walk(encode_login_request(params));
  EXPECT_EQ(one(fields, 1).bytes, "chrome-63.0.3234.0");
  EXPECT_EQ(one(fields, 2).bytes, "mcs.android.com");
  EXPECT_EQ(one(fields, 3).bytes, "1311862289879068417");
  EXPECT_EQ(one(fields, 4).bytes, "1311862289879068417");
  EXPECT_EQ(one(fields, 5).bytes, "18446744073709551615");
  EXPECT_EQ(one(fields, 6).bytes, "android-1234abcd5678ef01");
  EXPECT_EQ(one(fields, 12).wire_type, 0);
  EXPECT_EQ(one(fields, 12).number, 0u);  // adaptive_heartbeat false
  EXPECT_EQ(one(fields, 14).number, 1u);  // use_rmq2
  EXPECT_EQ(one(fields, 16).number, 2u);  // auth_service ANDROID_ID
  EXPECT_EQ(one(fields, 17).number, 1u);  // network_type
  EXPECT_THAT(strings(fields, 10), ElementsAre("0:1700000000000%7031b2e6f9fd7ecd", "0:2"));
  const std::vector<Field> setting = walk(one(fields, 8).bytes);
  EXPECT_EQ(one(setting, 1).bytes, "new_vc");
  EXPECT_EQ(one(setting, 2).bytes, "1");
  EXPECT_TRUE(all(fields, 7).empty());   // last_rmq_id: RMQ1, not sent
  EXPECT_TRUE(all(fields, 13).empty());  // heartbeat_stat
}

TEST(FcmMessages, LoginRequestUsesTheGivenVersionAndSendsNoIdsWhenThereAreNone) {
  const LoginParams params{.device = {.android_id = 10, .security_token = 1}, .chrome_version = "120.0.1"};
  const std::vector<Field> fields = walk(encode_login_request(params));
  EXPECT_EQ(one(fields, 1).bytes, "chrome-120.0.1");
  EXPECT_EQ(one(fields, 6).bytes, "android-a");
  EXPECT_EQ(one(fields, 5).bytes, "1");
  EXPECT_TRUE(all(fields, 10).empty());
}

// ---- LoginResponse -------------------------------------------------------------

TEST(FcmMessages, DecodesALoginResponse) {
  const std::string body = pb_bytes(1, "chrome-63.0.3234.0") + pb_bytes(2, "jid") +
                           pb_bytes(4, pb_bytes(1, "hbping") + pb_bytes(2, "60")) + pb_varint(5, 1) + pb_varint(6, 1) +
                           pb_bytes(7, pb_varint(1, 0) + pb_varint(3, 900000)) + pb_varint(8, 1700000000123);
  auto login = decode_login_response(body);
  ASSERT_TRUE(login.has_value()) << login.error();
  EXPECT_EQ(login->id, "chrome-63.0.3234.0");
  EXPECT_FALSE(login->error.has_value());
  EXPECT_EQ(login->heartbeat_interval_ms, 900000);
  EXPECT_EQ(login->last_stream_id_received, 1);
  EXPECT_EQ(login->server_timestamp_ms, 1700000000123);
}

TEST(FcmMessages, ALoginResponseWithOnlyAnIdHasNothingElse) {
  auto login = decode_login_response(pb_bytes(1, ""));
  ASSERT_TRUE(login.has_value()) << login.error();
  EXPECT_EQ(login->id, "");
  EXPECT_FALSE(login->error || login->heartbeat_interval_ms || login->last_stream_id_received ||
               login->server_timestamp_ms);
  // A heartbeat_config without interval_ms gives no interval.
  auto no_interval = decode_login_response(pb_bytes(1, "x") + pb_bytes(7, pb_varint(1, 1)));
  ASSERT_TRUE(no_interval.has_value()) << no_interval.error();
  EXPECT_FALSE(no_interval->heartbeat_interval_ms.has_value());
}

TEST(FcmMessages, ALoginResponseErrorIsReportedAsItsCodeAndMessage) {
  auto refused = decode_login_response(pb_bytes(1, "x") + pb_bytes(3, pb_varint(1, 401) + pb_bytes(2, "bad auth")));
  ASSERT_TRUE(refused.has_value()) << refused.error();
  EXPECT_EQ(refused->error, "code 401: bad auth");
  auto bare = decode_login_response(pb_bytes(1, "x") + pb_bytes(3, pb_varint(1, 503)));
  ASSERT_TRUE(bare.has_value()) << bare.error();
  EXPECT_EQ(bare->error, "code 503");
}

// ---- Heartbeat -----------------------------------------------------------------

TEST(FcmMessages, HeartbeatKnownBytes) {
  EXPECT_EQ(encode_heartbeat({}), "");
  EXPECT_EQ(encode_heartbeat({.last_stream_id_received = 7}), bytes({0x10, 7}));
  EXPECT_EQ(encode_heartbeat({.stream_id = 1, .last_stream_id_received = 300, .status = 1}),
            bytes({0x08, 1, 0x10, 0xac, 0x02, 0x18, 1}));
}

TEST(FcmMessages, HeartbeatRoundTrips) {
  const std::vector<Heartbeat> cases = {
      {},
      {.stream_id = 0},
      {.last_stream_id_received = 2147483647},
      {.stream_id = -1, .last_stream_id_received = 5, .status = -9000000000},
  };
  for (const Heartbeat& h : cases) {
    auto back = decode_heartbeat(encode_heartbeat(h));
    ASSERT_TRUE(back.has_value()) << back.error();
    EXPECT_EQ(back->stream_id, h.stream_id);
    EXPECT_EQ(back->last_stream_id_received, h.last_stream_id_received);
    EXPECT_EQ(back->status, h.status);
  }
}

// ---- DataMessageStanza ---------------------------------------------------------

DataMessage sample_message() {
  return DataMessage{
      .id = "msg-1",
      .from = "BDOU99",
      .to = "to",
      .category = "org.chromium.linux",
      .token = "collapse",
      .reg_id = "reg",
      .persistent_id = "0:1700000000000%7031b2e6f9fd7ecd",
      .app_data = {{"content-encoding", "aes128gcm"}, {"subtype", "wp:laptop#1"}},
      .raw_data = std::string("\x00\x01\xff payload", 11),
      .stream_id = 3,
      .last_stream_id_received = 2,
      .ttl = 2419200,
      .sent = 1700000000123,
      .immediate_ack = true,
  };
}

void expect_same(const DataMessage& a, const DataMessage& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.category, b.category);
  EXPECT_EQ(a.token, b.token);
  EXPECT_EQ(a.reg_id, b.reg_id);
  EXPECT_EQ(a.persistent_id, b.persistent_id);
  EXPECT_EQ(a.app_data, b.app_data);
  EXPECT_EQ(a.raw_data, b.raw_data);
  EXPECT_EQ(a.stream_id, b.stream_id);
  EXPECT_EQ(a.last_stream_id_received, b.last_stream_id_received);
  EXPECT_EQ(a.ttl, b.ttl);
  EXPECT_EQ(a.sent, b.sent);
  EXPECT_EQ(a.immediate_ack, b.immediate_ack);
}

// The stanza written by hand, fields in number order (as protobuf serializes them).
std::string sample_message_bytes() {
  return pb_bytes(2, "msg-1") + pb_bytes(3, "BDOU99") + pb_bytes(4, "to") + pb_bytes(5, "org.chromium.linux") +
         pb_bytes(6, "collapse") + pb_bytes(7, pb_bytes(1, "content-encoding") + pb_bytes(2, "aes128gcm")) +
         pb_bytes(7, pb_bytes(1, "subtype") + pb_bytes(2, "wp:laptop#1")) +
         pb_bytes(9, "0:1700000000000%7031b2e6f9fd7ecd") + bytes({0x50, 3}) + bytes({0x58, 2}) + pb_bytes(13, "reg") +
         bytes({0x88, 0x01, 0x80, 0xd4, 0x93, 0x01}) +                        // ttl (17) 2419200
         bytes({0x90, 0x01, 0xfb, 0xd0, 0x95, 0xff, 0xbc, 0x31}) +            // sent (18) 1700000000123
         bytes({0xaa, 0x01, 11}) + std::string("\x00\x01\xff payload", 11) +  // raw_data (21)
         bytes({0xc0, 0x01, 0x01});                                           // immediate_ack (24)
}

TEST(FcmMessages, DataMessageKnownBytes) {
  EXPECT_EQ(encode_data_message(sample_message()), sample_message_bytes());
  auto decoded = decode_data_message(sample_message_bytes());
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  expect_same(*decoded, sample_message());
}

TEST(FcmMessages, DataMessageRoundTrips) {
  DataMessage minimal{.from = "f", .category = "c"};
  DataMessage empty_raw{.from = "", .category = "", .raw_data = std::string()};
  DataMessage negative{.from = "f", .category = "c", .stream_id = -1, .ttl = 0, .sent = -1};
  for (const DataMessage& m : {sample_message(), minimal, empty_raw, negative}) {
    auto back = decode_data_message(encode_data_message(m));
    ASSERT_TRUE(back.has_value()) << back.error();
    expect_same(*back, m);
  }
}

TEST(FcmMessages, ADataMessageWithoutPersistentIdDecodes) {
  auto decoded = decode_data_message(pb_bytes(3, "sender") + pb_bytes(5, "cat"));
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_EQ(decoded->persistent_id, "");
  EXPECT_FALSE(decoded->raw_data.has_value());
  EXPECT_FALSE(decoded->immediate_ack);
  EXPECT_TRUE(decoded->app_data.empty());
}

TEST(FcmMessages, AppDataValueFindsTheFirstEntryCaseSensitively) {
  DataMessage m{.app_data = {{"crypto-key", "dh=a"}, {"Encryption", "x"}, {"crypto-key", "dh=b"}}};
  ASSERT_NE(m.app_data_value("crypto-key"), nullptr);
  EXPECT_EQ(*m.app_data_value("crypto-key"), "dh=a");
  EXPECT_EQ(m.app_data_value("encryption"), nullptr);
  EXPECT_EQ(m.app_data_value(""), nullptr);
}

TEST(FcmMessages, AppDataAtTheLimitsDecodes) {
  std::string body = pb_bytes(3, "f") + pb_bytes(5, "c");
  body += pb_bytes(7, pb_bytes(1, std::string(kMaxAppDataKeyBytes, 'k')) + pb_bytes(2, ""));
  for (std::size_t i = 1; i < kMaxAppDataEntries; ++i) body += pb_bytes(7, pb_bytes(1, "k") + pb_bytes(2, "v"));
  auto decoded = decode_data_message(body);
  ASSERT_TRUE(decoded.has_value()) << decoded.error();
  EXPECT_EQ(decoded->app_data.size(), kMaxAppDataEntries);
  EXPECT_EQ(decoded->app_data.front().first.size(), kMaxAppDataKeyBytes);
}

// ---- IqStanza ------------------------------------------------------------------

TEST(FcmMessages, StreamAckKnownBytes) {
  // type SET, id "", extension {id 13, data ""}, last_stream_id_received 5: as Chromium's BuildStreamAck.
  EXPECT_EQ(encode_stream_ack(5), bytes({0x10, 1, 0x1a, 0, 0x3a, 4, 0x08, 13, 0x12, 0, 0x50, 5}));
}

TEST(FcmMessages, SelectiveAckKnownBytes) {
  const std::vector<std::string> ids = {"a", "bc"};
  const std::string ack = pb_bytes(1, "a") + pb_bytes(1, "bc");
  EXPECT_EQ(encode_selective_ack(ids, std::nullopt),
            bytes({0x10, 1, 0x1a, 0}) + pb_bytes(7, pb_varint(1, 12) + pb_bytes(2, ack)));
  EXPECT_EQ(encode_selective_ack(ids, 9),
            bytes({0x10, 1, 0x1a, 0}) + pb_bytes(7, pb_varint(1, 12) + pb_bytes(2, ack)) + bytes({0x50, 9}));
}

TEST(FcmMessages, SelectiveAckRoundTrips) {
  const std::vector<std::string> ids = {"0:1%abc", "", std::string(300, 'x')};
  auto iq = decode_iq_stanza(encode_selective_ack(ids, 42));
  ASSERT_TRUE(iq.has_value()) << iq.error();
  EXPECT_EQ(iq->type, IqStanza::Type::set);
  EXPECT_EQ(iq->id, "");
  EXPECT_EQ(iq->extension_id, kSelectiveAckExtension);
  EXPECT_EQ(iq->last_stream_id_received, 42);
  auto back = decode_selective_ack(iq->extension_data);
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(*back, ids);
  auto none = decode_selective_ack("");
  ASSERT_TRUE(none.has_value()) << none.error();
  EXPECT_TRUE(none->empty());
}

TEST(FcmMessages, DecodesEveryIqType) {
  const std::vector<std::pair<int, IqStanza::Type>> rows = {
      {0, IqStanza::Type::get}, {1, IqStanza::Type::set}, {2, IqStanza::Type::result}, {3, IqStanza::Type::error}};
  for (const auto& [wire, type] : rows) {
    auto iq = decode_iq_stanza(pb_varint(2, static_cast<std::uint64_t>(wire)) + pb_bytes(3, "iq-1") +
                               pb_bytes(8, "0:9") + pb_varint(10, 4));
    ASSERT_TRUE(iq.has_value()) << iq.error();
    EXPECT_EQ(iq->type, type);
    EXPECT_EQ(iq->id, "iq-1");
    EXPECT_FALSE(iq->extension_id.has_value());
    EXPECT_EQ(iq->persistent_id, "0:9");
    EXPECT_EQ(iq->last_stream_id_received, 4);
  }
}

// ---- StreamErrorStanza ---------------------------------------------------------

TEST(FcmMessages, DecodesAStreamError) {
  auto both = decode_stream_error(pb_bytes(1, "conflict") + pb_bytes(2, "another session"));
  ASSERT_TRUE(both.has_value()) << both.error();
  EXPECT_EQ(*both, "conflict: another session");
  auto type_only = decode_stream_error(pb_bytes(1, "policy-violation"));
  ASSERT_TRUE(type_only.has_value()) << type_only.error();
  EXPECT_EQ(*type_only, "policy-violation");
}

// ---- errors --------------------------------------------------------------------

struct ErrRow {
  std::string_view name;
  std::function<std::optional<Error>(std::string_view)> decode;
  std::string body;
  Errc code;
  std::string_view message;
};

template <class F>
std::function<std::optional<Error>(std::string_view)> error_of(F decoder) {
  return [decoder](std::string_view body) -> std::optional<Error> {
    auto result = decoder(body);
    if (result) return std::nullopt;
    return result.error();
  };
}

std::string app_data_entries(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += pb_bytes(7, pb_bytes(1, "k") + pb_bytes(2, "v"));
  return out;
}

std::vector<ErrRow> error_rows() {
  const auto login = error_of(decode_login_response);
  const auto heartbeat = error_of(decode_heartbeat);
  const auto data = error_of(decode_data_message);
  const auto iq = error_of(decode_iq_stanza);
  const auto ack = error_of(decode_selective_ack);
  const auto stream_error = error_of(decode_stream_error);
  const std::string from_category = pb_bytes(3, "f") + pb_bytes(5, "c");
  const std::string set_iq = pb_varint(2, 1) + pb_bytes(3, "");
  return {
      {"login truncated", login, bytes({0x0a, 5, 'a', 'b'}), Errc::bad_message, "LoginResponse: not a valid"},
      {"login wire type 7", login, bytes({0x0f}), Errc::bad_message, "LoginResponse"},
      {"login empty", login, "", Errc::missing_field, "LoginResponse: no id"},
      {"login error without code", login, pb_bytes(1, "x") + pb_bytes(3, pb_bytes(2, "m")), Errc::missing_field,
       "LoginResponse: no code in error"},
      {"login setting without value", login, pb_bytes(1, "x") + pb_bytes(4, pb_bytes(1, "n")), Errc::missing_field,
       "LoginResponse: no name or value in setting 0"},
      {"login error extension without data", login,
       pb_bytes(1, "x") + pb_bytes(3, pb_varint(1, 1) + pb_bytes(4, pb_varint(1, 12))), Errc::missing_field,
       "LoginResponse: no id or data in error.extension"},
      {"heartbeat truncated varint", heartbeat, bytes({0x08, 0x80}), Errc::bad_message, "Heartbeat: not a valid"},
      {"heartbeat group", heartbeat, bytes({0x0b}), Errc::bad_message, "Heartbeat"},
      {"data truncated", data, from_category + bytes({0x4a, 10, 'x'}), Errc::bad_message, "DataMessageStanza"},
      {"data no from", data, pb_bytes(5, "c") + pb_bytes(9, "0:1"), Errc::missing_field, "DataMessageStanza: no from"},
      {"data no category", data, pb_bytes(3, "f"), Errc::missing_field, "DataMessageStanza: no category"},
      {"data app_data without value", data, from_category + pb_bytes(7, pb_bytes(1, "k")), Errc::missing_field,
       "DataMessageStanza: no value in app_data 0"},
      {"data app_data without key", data, from_category + app_data_entries(2) + pb_bytes(7, pb_bytes(2, "v")),
       Errc::missing_field, "DataMessageStanza: no key in app_data 2"},
      {"data too many app_data", data, from_category + app_data_entries(kMaxAppDataEntries + 1), Errc::bad_value,
       "DataMessageStanza: 1001 app_data entries"},
      {"data app_data key too long", data,
       from_category + app_data_entries(1) +
           pb_bytes(7, pb_bytes(1, std::string(kMaxAppDataKeyBytes + 1, 'k')) + pb_bytes(2, "v")),
       Errc::bad_value, "DataMessageStanza: app_data 1 key of 1025 bytes"},
      {"iq not protobuf", iq, bytes({0xff, 0xff}), Errc::bad_message, "IqStanza: not a valid"},
      {"iq no type", iq, pb_bytes(3, "id"), Errc::missing_field, "IqStanza: no type"},
      {"iq unknown type", iq, pb_varint(2, 7) + pb_bytes(3, "id"), Errc::bad_value, "IqStanza: unknown type 7"},
      {"iq no id", iq, pb_varint(2, 1), Errc::missing_field, "IqStanza: no id"},
      {"iq extension without id", iq, set_iq + pb_bytes(7, pb_bytes(2, "")), Errc::missing_field,
       "IqStanza: no id in extension"},
      {"iq extension without data", iq, set_iq + pb_bytes(7, pb_varint(1, 13)), Errc::missing_field,
       "IqStanza: no data in extension"},
      {"iq error without code", iq, set_iq + pb_bytes(6, pb_bytes(2, "m")), Errc::missing_field,
       "IqStanza: no code in error"},
      {"iq error extension without data", iq, set_iq + pb_bytes(6, pb_varint(1, 1) + pb_bytes(4, pb_varint(1, 12))),
       Errc::missing_field, "IqStanza: no id or data in error.extension"},
      {"selective ack truncated", ack, bytes({0x0a, 3, 'a'}), Errc::bad_message, "SelectiveAck: not a valid"},
      {"stream error no type", stream_error, pb_bytes(2, "text"), Errc::missing_field, "StreamErrorStanza: no type"},
      {"stream error truncated", stream_error, bytes({0x0a}), Errc::bad_message, "StreamErrorStanza: not a valid"},
  };
}

TEST(FcmMessages, ErrorRows) {
  for (const ErrRow& row : error_rows()) {
    SCOPED_TRACE(row.name);
    const std::optional<Error> error = row.decode(row.body);
    ASSERT_TRUE(error.has_value());
    EXPECT_TRUE(error->is(row.code)) << *error;
    EXPECT_THAT(error->message(), HasSubstr(row.message));
  }
}

}  // namespace fcm_messages_test
}  // namespace webpush::fcm
