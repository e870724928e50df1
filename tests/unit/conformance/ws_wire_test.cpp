// The client's side of the WebSocket wire (ws_wire.h): frames encoded and
// decoded at the length boundaries, every framing error a service can make,
// partial feeds, Close payloads, Sec-WebSocket-Accept and the upgrade answer.
#include "webpush/conformance/ws_wire.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace webpush::conformance {
namespace {

constexpr std::array<std::uint8_t, 4> kMask = {0x37, 0xfa, 0x21, 0x3d};
constexpr std::size_t kLimit = 1 << 20;

// What a server would send for `client_frame`: the same frame, unmasked.
std::string unmasked(std::string_view client_frame) {
  std::string out(client_frame.substr(0, 2));
  out[1] = static_cast<char>(static_cast<std::uint8_t>(out[1]) & 0x7f);
  const std::uint8_t len7 = static_cast<std::uint8_t>(client_frame[1]) & 0x7f;
  const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  out.append(client_frame.substr(2, ext));
  const std::string_view mask = client_frame.substr(2 + ext, 4);
  const std::string_view payload = client_frame.substr(6 + ext);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  }
  return out;
}

// A server frame written byte by byte: first byte, second byte, extended length, payload.
std::string raw(std::vector<std::uint8_t> head, std::string_view payload = {}) {
  std::string out(head.begin(), head.end());
  out.append(payload);
  return out;
}

std::string text_of(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

struct LengthRow {
  std::size_t size;
  std::uint8_t len7;        // the 7-bit length field
  std::size_t header_size;  // client frame header, mask included
};

class FrameLengths : public ::testing::TestWithParam<LengthRow> {};

TEST_P(FrameLengths, EncodeThenDecodeRoundTrips) {
  const LengthRow& row = GetParam();
  const std::string payload = text_of(row.size);
  const std::string frame = encode_client_frame(Opcode::binary, payload, kMask);
  ASSERT_EQ(frame.size(), row.header_size + row.size);
  EXPECT_EQ(static_cast<std::uint8_t>(frame[0]), 0x82);
  EXPECT_EQ(static_cast<std::uint8_t>(frame[1]), 0x80 | row.len7);
  if (row.size > 0) {
    EXPECT_NE(frame.substr(row.header_size, 16), payload.substr(0, 16)) << "the payload is not masked";
  }

  FrameDecoder decoder(kLimit);
  decoder.feed(unmasked(frame));
  auto decoded = decoder.next();
  ASSERT_TRUE(decoded) << decoded.error().message();
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ((*decoded)->opcode, Opcode::binary);
  EXPECT_TRUE((*decoded)->fin);
  EXPECT_EQ((*decoded)->payload, payload);
  EXPECT_EQ(decoder.buffered(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Boundaries, FrameLengths,
                         ::testing::Values(LengthRow{0, 0, 6}, LengthRow{125, 125, 6}, LengthRow{126, 126, 8},
                                           LengthRow{65535, 126, 8}, LengthRow{65536, 127, 14}));

TEST(WsWire, NotFinalFrameKeepsItsFinBit) {
  const std::string frame = encode_client_frame(Opcode::text, "part", kMask, /*fin=*/false);
  EXPECT_EQ(static_cast<std::uint8_t>(frame[0]), 0x01);
  FrameDecoder decoder(kLimit);
  decoder.feed(unmasked(frame));
  decoder.feed(unmasked(encode_client_frame(Opcode::continuation, "rest", kMask)));
  auto first = decoder.next();
  ASSERT_TRUE(first && first->has_value());
  EXPECT_FALSE((*first)->fin);
  EXPECT_EQ((*first)->payload, "part");
  auto second = decoder.next();
  ASSERT_TRUE(second && second->has_value());
  EXPECT_EQ((*second)->opcode, Opcode::continuation);
  EXPECT_TRUE((*second)->fin);
  EXPECT_EQ((*second)->payload, "rest");
}

TEST(WsWire, PartialFeedsGiveNothingUntilTheFrameIsComplete) {
  const std::string frame = raw({0x81, 126, 0x01, 0x00}, text_of(256)) + raw({0x8a, 0x02}, "hi");
  FrameDecoder decoder(kLimit);
  const std::size_t first_size = 4 + 256;
  for (std::size_t i = 0; i + 1 < first_size; ++i) {
    decoder.feed(frame.substr(i, 1));
    auto none = decoder.next();
    ASSERT_TRUE(none) << "after " << i + 1 << " bytes: " << none.error().message();
    ASSERT_FALSE(none->has_value()) << "a frame after " << i + 1 << " bytes";
    EXPECT_EQ(decoder.buffered(), i + 1);
  }
  decoder.feed(frame.substr(first_size - 1));
  auto text = decoder.next();
  ASSERT_TRUE(text && text->has_value());
  EXPECT_EQ((*text)->opcode, Opcode::text);
  EXPECT_EQ((*text)->payload, text_of(256));
  auto pong = decoder.next();
  ASSERT_TRUE(pong && pong->has_value());
  EXPECT_EQ((*pong)->opcode, Opcode::pong);
  EXPECT_EQ((*pong)->payload, "hi");
  auto empty = decoder.next();
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->has_value());
  EXPECT_EQ(decoder.buffered(), 0u);
}

struct BadFrameRow {
  std::string name;
  std::string bytes;
  std::size_t limit;
  std::string message;  // part of the error message
};

class BadFrames : public ::testing::TestWithParam<BadFrameRow> {};

TEST_P(BadFrames, AreRefusedAsProtocolErrors) {
  const BadFrameRow& row = GetParam();
  FrameDecoder decoder(row.limit);
  decoder.feed(row.bytes);
  auto frame = decoder.next();
  ASSERT_FALSE(frame) << "accepted";
  EXPECT_TRUE(frame.error().is(Errc::protocol)) << frame.error().to_string();
  EXPECT_NE(frame.error().message().find(row.message), std::string::npos) << frame.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    WsWire, BadFrames,
    ::testing::Values(BadFrameRow{"Masked", encode_client_frame(Opcode::text, "hi", kMask), kLimit, "masked"},
                      BadFrameRow{"Rsv1", raw({0xc1, 0x02}, "hi"), kLimit, "reserved bits"},
                      BadFrameRow{"Rsv3", raw({0x91, 0x02}, "hi"), kLimit, "reserved bits"},
                      BadFrameRow{"Opcode3", raw({0x83, 0x00}), kLimit, "reserved opcode 3"},
                      BadFrameRow{"Opcode11", raw({0x8b, 0x00}), kLimit, "reserved opcode 11"},
                      BadFrameRow{"PingOver125", raw({0x89, 126, 0x00, 126}, text_of(126)), kLimit, "over 125"},
                      BadFrameRow{"CloseOver125", raw({0x88, 126, 0x00, 200}, text_of(200)), kLimit, "over 125"},
                      BadFrameRow{"FragmentedPing", raw({0x09, 0x02}, "hi"), kLimit, "fragmented"},
                      BadFrameRow{"OverTheLimit", raw({0x81, 101}, text_of(101)), 100, "over the 100-byte limit"},
                      BadFrameRow{"OverTheLimitHeaderOnly", raw({0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0}), 100, "over the"},
                      BadFrameRow{"Length16NotMinimal", raw({0x81, 126, 0x00, 0x05}, "hello"), kLimit, "minimal"},
                      BadFrameRow{"Length64NotMinimal", raw({0x81, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff}), kLimit,
                                  "minimal"},
                      BadFrameRow{"Length64HighBit", raw({0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}), kLimit, "minimal"}),
    [](const ::testing::TestParamInfo<BadFrameRow>& p) { return p.param.name; });

TEST(WsWire, AControlFrameOf125BytesIsFine) {
  FrameDecoder decoder(kLimit);
  decoder.feed(raw({0x89, 125}, text_of(125)));
  auto ping = decoder.next();
  ASSERT_TRUE(ping) << ping.error().message();
  ASSERT_TRUE(ping->has_value());
  EXPECT_EQ((*ping)->opcode, Opcode::ping);
  EXPECT_EQ((*ping)->payload.size(), 125u);
}

TEST(WsWire, ClosePayloadRoundTrips) {
  const std::string payload = close_payload(1011, "PongTimeout");
  EXPECT_EQ(payload, std::string("\x03\xf3", 2) + "PongTimeout");
  const CloseInfo info = parse_close_payload(payload);
  EXPECT_EQ(info.code, 1011);
  EXPECT_EQ(info.reason, "PongTimeout");
}

TEST(WsWire, ClosePayloadWithoutACodeReadsAs1005) {
  EXPECT_EQ(parse_close_payload("").code, 1005);
  EXPECT_EQ(parse_close_payload("").reason, "");
  EXPECT_EQ(parse_close_payload("\x03").code, 1005);
  const CloseInfo code_only = parse_close_payload(std::string("\x03\xe8", 2));
  EXPECT_EQ(code_only.code, 1000);
  EXPECT_EQ(code_only.reason, "");
}

TEST(WsWire, ClosePayloadReasonIsCutToFitAControlFrame) {
  const std::string payload = close_payload(1000, std::string(200, 'x'));
  EXPECT_EQ(payload.size(), 125u);
}

TEST(WsWire, WebsocketAcceptMatchesRfc6455Example) {
  // RFC 6455 §1.3.
  EXPECT_EQ(websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// A response head: the status line, header lines (each ending in CRLF), the blank line.
std::string upgrade(std::string_view status_line, std::string_view headers) {
  return std::string(status_line) + "\r\n" + std::string(headers) + "\r\n";
}

TEST(WsWire, UpgradeResponseIsRead) {
  const std::string head = upgrade("HTTP/1.1 101 Switching Protocols",
                                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "sec-websocket-ACCEPT:  " +
                                       std::string(kAccept) + " \r\nSec-WebSocket-Protocol: push-notification\r\n");
  auto r = parse_upgrade_response(head + "\x81\x02hi", kKey);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->status, 101);
  EXPECT_EQ((*r)->status_line, "HTTP/1.1 101 Switching Protocols");
  EXPECT_EQ((*r)->subprotocol, "push-notification");
  EXPECT_EQ((*r)->size, head.size()) << "the frame after the head is not part of it";
}

TEST(WsWire, UpgradeResponseWithoutSubprotocol) {
  auto r = parse_upgrade_response(upgrade("HTTP/1.1 101 OK", "Sec-WebSocket-Accept: " + std::string(kAccept) + "\r\n"),
                                  kKey);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(r->has_value());
  EXPECT_FALSE((*r)->subprotocol.has_value());
}

TEST(WsWire, UpgradeResponseIsIncompleteUntilItsBlankLine) {
  const std::string head = upgrade("HTTP/1.1 101 OK", "Sec-WebSocket-Accept: " + std::string(kAccept) + "\r\n");
  for (std::size_t n = 0; n < head.size(); ++n) {
    auto r = parse_upgrade_response(head.substr(0, n), kKey);
    ASSERT_TRUE(r) << n << ": " << r.error().message();
    EXPECT_FALSE(r->has_value()) << n;
  }
}

struct BadUpgradeRow {
  std::string name;
  std::string data;
  std::string message;
};

class BadUpgrades : public ::testing::TestWithParam<BadUpgradeRow> {};

TEST_P(BadUpgrades, AreRefusedAsHandshakeErrors) {
  const BadUpgradeRow& row = GetParam();
  auto r = parse_upgrade_response(row.data, kKey);
  ASSERT_FALSE(r) << "accepted";
  EXPECT_TRUE(r.error().is(Errc::handshake)) << r.error().to_string();
  EXPECT_NE(r.error().message().find(row.message), std::string::npos) << r.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    WsWire, BadUpgrades,
    ::testing::Values(
        BadUpgradeRow{"Refused", upgrade("HTTP/1.1 404 Not Found", "Content-Length: 0\r\n"),
                      "upgrade refused: \"HTTP/1.1 404 Not Found\""},
        BadUpgradeRow{"Http10", upgrade("HTTP/1.0 101 OK", "Sec-WebSocket-Accept: x\r\n"), "not an HTTP/1.1"},
        BadUpgradeRow{"NotHttp", "SSH-2.0-OpenSSH_9.0\r\n\r\n", "not an HTTP/1.1"},
        BadUpgradeRow{"BadStatus", upgrade("HTTP/1.1 1x1 OK", ""), "bad status line"},
        BadUpgradeRow{"MissingAccept", upgrade("HTTP/1.1 101 OK", "Upgrade: websocket\r\n"),
                      "Sec-WebSocket-Accept missing"},
        BadUpgradeRow{"WrongAccept", upgrade("HTTP/1.1 101 OK", "Sec-WebSocket-Accept: AAAA\r\n"),
                      "Sec-WebSocket-Accept AAAA (expected s3pPLMBiTxaQ9kYGzzhZRbK+xOo=)"},
        BadUpgradeRow{"HeadOver16KiB", "HTTP/1.1 101 OK\r\nX: " + std::string(16 * 1024, 'a'), "over 16 KiB"}),
    [](const ::testing::TestParamInfo<BadUpgradeRow>& p) { return p.param.name; });

}  // namespace
}  // namespace webpush::conformance
