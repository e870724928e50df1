#include "webpush/fcm/mcs_framing.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

namespace webpush::fcm {

std::string_view to_string(Tag tag) noexcept {
  switch (tag) {
    case Tag::heartbeat_ping: return "heartbeat_ping";
    case Tag::heartbeat_ack: return "heartbeat_ack";
    case Tag::login_request: return "login_request";
    case Tag::login_response: return "login_response";
    case Tag::close: return "close";
    case Tag::message_stanza: return "message_stanza";
    case Tag::presence_stanza: return "presence_stanza";
    case Tag::iq_stanza: return "iq_stanza";
    case Tag::data_message_stanza: return "data_message_stanza";
    case Tag::batch_presence_stanza: return "batch_presence_stanza";
    case Tag::stream_error_stanza: return "stream_error_stanza";
    case Tag::http_request: return "http_request";
    case Tag::http_response: return "http_response";
    case Tag::bind_account_request: return "bind_account_request";
    case Tag::bind_account_response: return "bind_account_response";
    case Tag::talk_metadata: return "talk_metadata";
  }
  return "unknown";
}

std::optional<Tag> known_tag(std::uint8_t byte) noexcept {
  if (byte > static_cast<std::uint8_t>(Tag::talk_metadata)) return std::nullopt;
  return static_cast<Tag>(byte);
}

bool McsDecoder::at_boundary() const noexcept {
  return state_ == State::tag || (state_ == State::version && !options_.expect_version);
}

tl::unexpected<Error> McsDecoder::fail_with(Errc code, std::string message) {
  state_ = State::failed;
  body_.clear();
  body_.shrink_to_fit();
  error_ = Error(code, std::move(message));
  return tl::unexpected<Error>(*error_);
}

Result<void> McsDecoder::read_version(std::string_view& in) {
  const auto version = static_cast<std::uint8_t>(in.front());
  in.remove_prefix(1);
  ++offset_;
  // Chromium's client accepts 41 and later, and 38 (an older server); so do we.
  if (version < kMcsVersion && version != kMcsLegacyVersion) {
    return fail_with(Errc::bad_version, fmt::format("MCS: version {}, expected {}", version, kMcsVersion));
  }
  version_ = version;
  state_ = State::tag;
  return {};
}

// One byte at a time: a varint may be cut anywhere by the reads.
Result<void> McsDecoder::read_length(std::string_view& in) {
  while (!in.empty()) {
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    ++offset_;
    length_ |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * length_bytes_);
    ++length_bytes_;
    const bool more = (byte & 0x80) != 0;
    if (more && length_bytes_ == kMaxVarintBytes) {
      return fail_with(Errc::varint_too_long,
                       fmt::format("MCS: varint longer than {} bytes in the length of frame {} at stream offset {}",
                                   kMaxVarintBytes, frames_, frame_start_));
    }
    if (more) continue;
    if (length_ > std::numeric_limits<std::uint32_t>::max()) {
      return fail_with(Errc::varint_too_long,
                       fmt::format("MCS: varint over 32 bits in the length of frame {} at stream "
                                   "offset {}",
                                   frames_, frame_start_));
    }
    if (length_ > options_.max_frame_size) {
      return fail_with(Errc::frame_too_large,
                       fmt::format("MCS: frame length {} over the limit of {} (frame {}, tag {}, at stream offset {})",
                                   length_, options_.max_frame_size, frames_, tag_, frame_start_));
    }
    state_ = State::body;
    return {};
  }
  return {};
}

void McsDecoder::read_body(std::string_view& in) {
  if (body_.empty()) body_.reserve(static_cast<std::size_t>(length_));
  const std::size_t want = static_cast<std::size_t>(length_) - body_.size();
  const std::size_t take = std::min(want, in.size());
  body_.append(in.substr(0, take));
  in.remove_prefix(take);
  offset_ += take;
}

Frame McsDecoder::take_frame() {
  Frame frame{tag_, std::move(body_)};
  body_ = std::string();
  tag_ = 0;
  length_ = 0;
  length_bytes_ = 0;
  ++frames_;
  state_ = State::tag;
  return frame;
}

Result<std::optional<Frame>> McsDecoder::next(std::string_view& in) {
  if (state_ == State::failed) return tl::unexpected<Error>(*error_);
  if (state_ == State::version && !options_.expect_version) state_ = State::tag;
  for (;;) {
    switch (state_) {
      case State::version:
        if (in.empty()) return std::nullopt;
        if (auto ok = read_version(in); !ok) return tl::unexpected<Error>(ok.error());
        break;
      case State::tag:
        if (in.empty()) return std::nullopt;
        frame_start_ = offset_;
        tag_ = static_cast<std::uint8_t>(in.front());
        in.remove_prefix(1);
        ++offset_;
        state_ = State::length;
        break;
      case State::length:
        if (auto ok = read_length(in); !ok) return tl::unexpected<Error>(ok.error());
        if (state_ == State::length) return std::nullopt;  // the varint goes on in the next read
        break;
      case State::body:
        read_body(in);
        if (body_.size() == length_) return take_frame();
        return std::nullopt;
      case State::failed: return tl::unexpected<Error>(*error_);
    }
  }
}

void append_varint32(std::uint32_t value, std::string& out) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

Result<std::string> encode_frame(std::uint8_t tag, std::string_view body, VersionPrefix prefix,
                                 std::size_t max_frame_size) {
  if (body.size() > max_frame_size || body.size() > std::numeric_limits<std::uint32_t>::max()) {
    return fail(Errc::frame_too_large,
                fmt::format("MCS: frame length {} over the limit of {} (tag {}, to send)", body.size(),
                            std::min<std::size_t>(max_frame_size, std::numeric_limits<std::uint32_t>::max()), tag));
  }
  std::string out;
  out.reserve(2 + kMaxVarintBytes + body.size());
  if (prefix == VersionPrefix::with_version) out.push_back(static_cast<char>(kMcsVersion));
  out.push_back(static_cast<char>(tag));
  append_varint32(static_cast<std::uint32_t>(body.size()), out);
  out.append(body);
  return out;
}

Result<std::string> encode_frame(Tag tag, std::string_view body, VersionPrefix prefix, std::size_t max_frame_size) {
  return encode_frame(static_cast<std::uint8_t>(tag), body, prefix, max_frame_size);
}

}  // namespace webpush::fcm
