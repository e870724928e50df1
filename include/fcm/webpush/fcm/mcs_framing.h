// The framing of Google's MCS stream (mtalk.google.com:5228, inside TLS), with
// no I/O: the server's first byte is its protocol version; every message after
// it is one tag byte (which protobuf message follows), the body's length as a
// base-128 varint32 (1 to 5 bytes) and the protobuf body. The client sends the
// same, its version byte before its LoginRequest. See docs/fcm.md.
//
// Pure and single-threaded: an McsDecoder belongs to one connection and is
// called by one thread; the free functions may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webpush/core/error.h"
#include "webpush/fcm/errc.h"

namespace webpush::fcm {

/// The protocol version the client sends and expects (Chromium's kMCSVersion).
inline constexpr std::uint8_t kMcsVersion = 41;
/// An older version Chromium still accepts from the server.
inline constexpr std::uint8_t kMcsLegacyVersion = 38;
/// The most bytes a varint32 length takes.
inline constexpr std::size_t kMaxVarintBytes = 5;
/// The default bound on one frame's body.
inline constexpr std::size_t kDefaultMaxFrameSize = std::size_t{4} << 20;  // 4 MiB

/// The message tags of MCS (Chromium's MCSProtoTag); the values are the wire's.
enum class Tag : std::uint8_t {
  heartbeat_ping = 0,
  heartbeat_ack = 1,
  login_request = 2,
  login_response = 3,
  close = 4,
  message_stanza = 5,
  presence_stanza = 6,
  iq_stanza = 7,
  data_message_stanza = 8,
  batch_presence_stanza = 9,
  stream_error_stanza = 10,
  http_request = 11,
  http_response = 12,
  bind_account_request = 13,
  bind_account_response = 14,
  talk_metadata = 15,
};

/// "heartbeat_ping", "data_message_stanza", …
[[nodiscard]] std::string_view to_string(Tag tag) noexcept;
/// The Tag a wire byte names; nullopt for a byte no known message has (16 to 255).
[[nodiscard]] std::optional<Tag> known_tag(std::uint8_t byte) noexcept;

/// One message off the stream. `tag` is the wire byte as received: the framing
/// does not depend on it, so an unknown tag is the caller's to refuse.
struct Frame {
  std::uint8_t tag = 0;
  std::string body;  ///< the protobuf bytes, possibly empty

  friend bool operator==(const Frame&, const Frame&) = default;
};

/// Reads the server's stream, fed in pieces of any size (as TLS reads cut it).
/// Memory is bounded: it holds at most one frame's body (up to max_frame_size)
/// and a few header bytes, and never copies bytes past the frame it completes.
/// After an error the stream is unusable: every later call returns that error.
class McsDecoder {
 public:
  struct Options {
    /// Whether the stream starts with the server's version byte (a client's
    /// decoder: yes; a decoder past the handshake, or of the client's frames
    /// in a test server that reads the version itself: no).
    bool expect_version = true;
    /// Bodies above this are refused as soon as their length is read.
    std::size_t max_frame_size = kDefaultMaxFrameSize;
  };

  McsDecoder() : McsDecoder(Options{}) {}
  explicit McsDecoder(Options options) : options_(options) {}

  /// Consumes bytes from the front of `in` up to the end of the next complete
  /// frame and returns it; consumes all of `in` and returns nullopt when the
  /// frame is not complete yet (call again with the next read). A frame with
  /// an empty body is returned as soon as its length is read. Call repeatedly
  /// until nullopt to drain several frames out of one read.
  /// Errors: Errc::bad_version (the first byte), Errc::varint_too_long,
  /// Errc::frame_too_large — each message names the frame and stream offset.
  Result<std::optional<Frame>> next(std::string_view& in);

  /// The server's version byte, once read.
  [[nodiscard]] std::optional<std::uint8_t> version() const noexcept { return version_; }
  /// Bytes consumed so far.
  [[nodiscard]] std::uint64_t offset() const noexcept { return offset_; }
  /// Complete frames returned so far.
  [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
  /// True between frames (no partial frame held, version read when expected).
  [[nodiscard]] bool at_boundary() const noexcept;

 private:
  enum class State : std::uint8_t { version, tag, length, body, failed };

  Result<void> read_version(std::string_view& in);
  Result<void> read_length(std::string_view& in);
  void read_body(std::string_view& in);
  Frame take_frame();
  tl::unexpected<Error> fail_with(Errc code, std::string message);

  Options options_;
  State state_ = State::version;
  std::optional<std::uint8_t> version_;
  std::uint8_t tag_ = 0;
  std::uint64_t length_ = 0;
  std::size_t length_bytes_ = 0;
  std::string body_;
  std::uint64_t offset_ = 0;
  std::uint64_t frames_ = 0;
  std::uint64_t frame_start_ = 0;
  std::optional<Error> error_;
};

/// What encode_frame writes before the frame.
enum class VersionPrefix : std::uint8_t { none, with_version };

/// Appends `value` as a base-128 varint (1 to 5 bytes) to `out`.
void append_varint32(std::uint32_t value, std::string& out);

/// [version byte] tag, varint32 length, body: a frame as the client sends it
/// (the first one, a LoginRequest, with VersionPrefix::with_version).
/// Errors: Errc::frame_too_large when body is over `max_frame_size`.
Result<std::string> encode_frame(std::uint8_t tag, std::string_view body, VersionPrefix prefix = VersionPrefix::none,
                                 std::size_t max_frame_size = kDefaultMaxFrameSize);
/// The same for a known tag.
Result<std::string> encode_frame(Tag tag, std::string_view body, VersionPrefix prefix = VersionPrefix::none,
                                 std::size_t max_frame_size = kDefaultMaxFrameSize);

}  // namespace webpush::fcm
