#include "webpush/fcm/mcs_framing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pb_wire.h"

namespace webpush::fcm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using pb_wire::bytes;

std::string frame(std::uint8_t tag, std::string_view body, VersionPrefix prefix = VersionPrefix::none) {
  auto encoded = encode_frame(tag, body, prefix);
  EXPECT_TRUE(encoded.has_value());
  return encoded.value_or(std::string());
}

// What a decoder makes of `stream` fed in pieces of `piece` bytes: the frames,
// and the error that stopped it, if any.
struct Decoded {
  std::vector<Frame> frames;
  std::optional<Error> error;
};

Decoded decode(std::string_view stream, std::size_t piece, McsDecoder::Options options = {}) {
  McsDecoder decoder(options);
  Decoded out;
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    std::string_view in = stream.substr(at, piece);
    for (;;) {
      auto next = decoder.next(in);
      if (!next) {
        out.error = next.error();
        return out;
      }
      if (!next->has_value()) break;
      out.frames.push_back(std::move(**next));
    }
    EXPECT_TRUE(in.empty());
  }
  return out;
}

// A server's opening: version, LoginResponse, an empty HeartbeatPing, a DataMessageStanza of 300 bytes (a two-byte
// varint), a Close.
std::string sample_stream(std::vector<Frame>& frames) {
  frames = {
      {static_cast<std::uint8_t>(Tag::login_response),
       "\x0a\x03"
       "abc"},
      {static_cast<std::uint8_t>(Tag::heartbeat_ping), ""},
      {static_cast<std::uint8_t>(Tag::data_message_stanza), std::string(300, '\xa5')},
      {static_cast<std::uint8_t>(Tag::close), ""},
  };
  std::string stream(1, static_cast<char>(kMcsVersion));
  for (const Frame& f : frames) stream += frame(f.tag, f.body);
  return stream;
}

TEST(McsFraming, EncodesTagVarintAndBody) {
  EXPECT_EQ(frame(7, "xy"), bytes({7, 2, 'x', 'y'}));
  EXPECT_EQ(frame(2, "", VersionPrefix::with_version), bytes({41, 2, 0}));
  const std::string big = frame(8, std::string(300, 'a'));
  EXPECT_EQ(big.substr(0, 3), bytes({8, 0xac, 0x02}));
  EXPECT_EQ(big.size(), 3u + 300u);
  auto tagged = encode_frame(Tag::heartbeat_ack, "", VersionPrefix::none);
  ASSERT_TRUE(tagged.has_value());
  EXPECT_EQ(*tagged, bytes({1, 0}));
}

TEST(McsFraming, Varint32Encodings) {
  const std::vector<std::pair<std::uint32_t, std::string>> rows = {
      {0, bytes({0})},
      {127, bytes({0x7f})},
      {128, bytes({0x80, 0x01})},
      {16383, bytes({0xff, 0x7f})},
      {16384, bytes({0x80, 0x80, 0x01})},
      {0xffffffffu, bytes({0xff, 0xff, 0xff, 0xff, 0x0f})},
  };
  for (const auto& [value, expected] : rows) {
    std::string out;
    append_varint32(value, out);
    EXPECT_EQ(out, expected) << value;
  }
}

TEST(McsFraming, EncoderRefusesBodyOverLimit) {
  auto encoded = encode_frame(Tag::data_message_stanza, std::string(11, 'a'), VersionPrefix::none, 10);
  ASSERT_FALSE(encoded.has_value());
  EXPECT_TRUE(encoded.error().is(Errc::frame_too_large));
  EXPECT_THAT(encoded.error().message(), HasSubstr("MCS: frame length 11 over the limit of 10"));
  EXPECT_TRUE(encode_frame(Tag::data_message_stanza, std::string(10, 'a'), VersionPrefix::none, 10).has_value());
}

TEST(McsFraming, RoundTripsEveryPieceSize) {
  std::vector<Frame> frames;
  const std::string stream = sample_stream(frames);
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    const Decoded got = decode(stream, piece);
    ASSERT_FALSE(got.error.has_value()) << "piece " << piece << ": " << *got.error;
    EXPECT_EQ(got.frames, frames) << "piece " << piece;
  }
}

// Every cut of the stream into two reads, and into three around each frame boundary.
TEST(McsFraming, RoundTripsEverySplit) {
  std::vector<Frame> frames;
  const std::string stream = sample_stream(frames);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    McsDecoder decoder;
    std::vector<Frame> got;
    for (std::string_view part : {std::string_view(stream).substr(0, cut), std::string_view(stream).substr(cut)}) {
      for (;;) {
        auto next = decoder.next(part);
        ASSERT_TRUE(next.has_value()) << next.error();
        if (!next->has_value()) break;
        got.push_back(**next);
      }
    }
    EXPECT_EQ(got, frames) << "cut at " << cut;
    EXPECT_TRUE(decoder.at_boundary());
    EXPECT_EQ(decoder.offset(), stream.size());
    EXPECT_EQ(decoder.frames(), frames.size());
  }
}

TEST(McsFraming, SeveralFramesInOneReadComeOutOneByOne) {
  std::vector<Frame> frames;
  const std::string stream = sample_stream(frames);
  McsDecoder decoder;
  std::string_view in = stream;
  auto first = decoder.next(in);
  ASSERT_TRUE(first.has_value() && first->has_value());
  EXPECT_EQ(**first, frames[0]);
  EXPECT_EQ(decoder.version(), kMcsVersion);
  // Only the first frame's bytes were consumed: the rest is still the caller's.
  EXPECT_EQ(in.size(), stream.size() - 1 - 2 - frames[0].body.size());
  auto second = decoder.next(in);
  ASSERT_TRUE(second.has_value() && second->has_value());
  EXPECT_EQ((*second)->tag, static_cast<std::uint8_t>(Tag::heartbeat_ping));
  EXPECT_TRUE((*second)->body.empty());
}

TEST(McsFraming, TruncatedInputNeedsMore) {
  const std::vector<std::string> prefixes = {
      "",
      bytes({41}),
      bytes({41, 8}),
      bytes({41, 8, 0xac}),
      bytes({41, 8, 0xac, 0x02}),
      bytes({41, 8, 0xac, 0x02}) + std::string(299, 'a'),
  };
  for (const std::string& prefix : prefixes) {
    McsDecoder decoder;
    std::string_view in = prefix;
    auto next = decoder.next(in);
    ASSERT_TRUE(next.has_value()) << next.error();
    EXPECT_FALSE(next->has_value()) << prefix.size();
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(decoder.frames(), 0u);
    EXPECT_FALSE(decoder.at_boundary() && prefix.size() > 1);
  }
}

TEST(McsFraming, ZeroLengthBodyCompletesWithoutMoreInput) {
  McsDecoder decoder({.expect_version = false});
  std::string_view in = std::string_view("\x00\x00", 2);
  auto next = decoder.next(in);
  ASSERT_TRUE(next.has_value() && next->has_value());
  EXPECT_EQ(**next, (Frame{0, ""}));
  EXPECT_TRUE(in.empty());
  EXPECT_TRUE(decoder.at_boundary());
}

TEST(McsFraming, WithoutVersionTheFirstByteIsATag) {
  const std::string stream = frame(2, "login") + frame(0, "");
  const Decoded got = decode(stream, 3, {.expect_version = false});
  ASSERT_FALSE(got.error.has_value());
  EXPECT_THAT(got.frames, ElementsAre(Frame{2, "login"}, Frame{0, ""}));
}

TEST(McsFraming, AcceptedVersions) {
  for (int version : {41, 42, 255, 38}) {
    McsDecoder decoder;
    std::string stream = bytes({version}) + frame(3, "ok");
    std::string_view in = stream;
    auto next = decoder.next(in);
    ASSERT_TRUE(next.has_value()) << version << ": " << next.error();
    ASSERT_TRUE(next->has_value());
    EXPECT_EQ(decoder.version(), version);
  }
}

struct ErrRow {
  std::string name;
  std::string stream;
  McsDecoder::Options options;
  Errc code;
  std::string message;
  std::size_t frames_before = 0;
};

TEST(McsFraming, Errors) {
  const std::vector<ErrRow> rows = {
      {"version 40", bytes({40, 3, 0}), {}, Errc::bad_version, "MCS: version 40, expected 41"},
      {"version 0", bytes({0}), {}, Errc::bad_version, "MCS: version 0, expected 41"},
      {"version 39", bytes({39}), {}, Errc::bad_version, "MCS: version 39, expected 41"},
      {"six-byte varint",
       bytes({41, 8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}),
       {},
       Errc::varint_too_long,
       "MCS: varint longer than 5 bytes in the length of frame 0 at stream offset 1"},
      {"varint over 32 bits",
       bytes({41, 8, 0xff, 0xff, 0xff, 0xff, 0x1f}),
       {.max_frame_size = ~std::size_t{0}},
       Errc::varint_too_long,
       "MCS: varint over 32 bits"},
      {"over the limit",
       bytes({41, 8, 0xff, 0xac, 0xe2, 0x04}),  // 9999999
       {},
       Errc::frame_too_large,
       "MCS: frame length 9999999 over the limit of 4194304 (frame 0, tag 8, at stream offset 1)"},
      {"one over a small limit",
       bytes({41, 0, 0}) + bytes({7, 11}) + std::string(11, 'a'),
       {.max_frame_size = 10},
       Errc::frame_too_large,
       "MCS: frame length 11 over the limit of 10 (frame 1, tag 7, at stream offset 3)",
       1},
      {"over the limit without version",
       bytes({8, 0x81, 0x01}),
       {.expect_version = false, .max_frame_size = 128},
       Errc::frame_too_large,
       "MCS: frame length 129 over the limit of 128 (frame 0, tag 8, at stream offset 0)"},
  };
  for (const ErrRow& row : rows) {
    for (std::size_t piece : {std::size_t{1}, std::size_t{2}, row.stream.size()}) {
      const Decoded got = decode(row.stream, piece, row.options);
      ASSERT_TRUE(got.error.has_value()) << row.name << ", piece " << piece;
      EXPECT_TRUE(got.error->is(row.code)) << row.name << ": " << *got.error;
      EXPECT_EQ(got.error->domain(), Domain::fcm);
      EXPECT_THAT(got.error->message(), HasSubstr(row.message)) << row.name;
      EXPECT_EQ(got.frames.size(), row.frames_before) << row.name;
    }
  }
}

TEST(McsFraming, ErrorIsSticky) {
  McsDecoder decoder;
  std::string bad = bytes({40});
  std::string_view in = bad;
  ASSERT_FALSE(decoder.next(in).has_value());
  std::string good = frame(3, "x");
  std::string_view more = good;
  auto again = decoder.next(more);
  ASSERT_FALSE(again.has_value());
  EXPECT_TRUE(again.error().is(Errc::bad_version));
  EXPECT_EQ(again.error().to_string(), "fcm.bad_version: MCS: version 40, expected 41");
}

TEST(McsFraming, FrameAtTheLimitIsAccepted) {
  const std::string stream = bytes({41}) + frame(8, std::string(64, 'z'));
  const Decoded got = decode(stream, 5, {.max_frame_size = 64});
  ASSERT_FALSE(got.error.has_value());
  ASSERT_EQ(got.frames.size(), 1u);
  EXPECT_EQ(got.frames[0].body, std::string(64, 'z'));
}

TEST(McsFraming, NonMinimalVarintIsAcceptedAsProtobufDoes) {
  const std::string stream = bytes({41, 7, 0x82, 0x80, 0x00}) + "hi";
  const Decoded got = decode(stream, 1);
  ASSERT_FALSE(got.error.has_value());
  EXPECT_THAT(got.frames, ElementsAre(Frame{7, "hi"}));
}

TEST(McsFraming, TagNames) {
  EXPECT_EQ(to_string(Tag::login_request), "login_request");
  EXPECT_EQ(to_string(Tag::data_message_stanza), "data_message_stanza");
  EXPECT_EQ(known_tag(8), Tag::data_message_stanza);
  EXPECT_EQ(known_tag(15), Tag::talk_metadata);
  EXPECT_EQ(known_tag(16), std::nullopt);
  EXPECT_EQ(known_tag(255), std::nullopt);
  for (int b = 0; b <= 15; ++b) EXPECT_NE(to_string(*known_tag(static_cast<std::uint8_t>(b))), "unknown");
  EXPECT_EQ(to_string(Errc::frame_too_large), "frame_too_large");
}

}  // namespace
}  // namespace webpush::fcm
