// The bytes an MCS server sends (mcs_framing.h): a version byte, then frames of
// tag, varint32 length and body. The first input byte picks the size of the
// pieces the rest is fed in (as TLS reads would cut it), the frame size limit
// and whether a version byte is expected. Nothing may crash or leak; every
// frame must hold what the header promises (body within the limit, bytes
// accounted for), the same stream fed at once must give the same frames and
// the same error, and the frames must survive encode_frame and a second decode.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/fcm/mcs_framing.h"

namespace mcs_framing_fuzz {

using namespace webpush::fcm;

struct Outcome {
  std::vector<Frame> frames;
  std::optional<Errc> error;
};

std::optional<Errc> code_of(const webpush::Error& e) {
  for (Errc c : {Errc::bad_version, Errc::varint_too_long, Errc::frame_too_large}) {
    if (e.is(c)) return c;
  }
  __builtin_trap();  // an error of another code or domain
}

Outcome decode(std::string_view stream, std::size_t piece, McsDecoder::Options options) {
  McsDecoder decoder(options);
  Outcome out;
  std::size_t fed = 0;
  while (fed < stream.size()) {
    std::string_view in = stream.substr(fed, piece);
    fed += in.size();
    for (;;) {
      auto next = decoder.next(in);
      if (!next) {
        out.error = code_of(next.error());
        if (next.error().message().rfind("MCS: ", 0) != 0) __builtin_trap();
        return out;
      }
      if (decoder.offset() != fed - in.size()) __builtin_trap();  // bytes lost or invented
      if (!next->has_value()) break;
      if ((*next)->body.size() > options.max_frame_size) __builtin_trap();
      out.frames.push_back(std::move(**next));
    }
    if (!in.empty()) __builtin_trap();  // nullopt only once the read is used up
  }
  return out;
}

// The frames, encoded again (without a version byte), decode to themselves.
void round_trip(const std::vector<Frame>& frames, std::size_t limit) {
  std::string encoded;
  for (const Frame& f : frames) {
    auto bytes = encode_frame(f.tag, f.body, VersionPrefix::none, limit);
    if (!bytes) __builtin_trap();
    encoded += *bytes;
  }
  const Outcome again = decode(encoded, encoded.size() + 1, {.expect_version = false, .max_frame_size = limit});
  if (again.error || again.frames != frames) __builtin_trap();
}

}  // namespace mcs_framing_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mcs_framing_fuzz;
  if (size == 0) return 0;
  const std::size_t piece = 1 + (data[0] & 0x1f) * 13;                          // 1 to 404 bytes a read
  const std::size_t limit = (data[0] & 0x20) != 0 ? 64 : kDefaultMaxFrameSize;  // a small and the default limit
  const bool expect_version = (data[0] & 0x40) == 0;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const McsDecoder::Options options{.expect_version = expect_version, .max_frame_size = limit};
  const Outcome pieces = decode(stream, piece, options);
  const Outcome whole = decode(stream, stream.size() + 1, options);
  if (pieces.frames != whole.frames || pieces.error != whole.error) __builtin_trap();
  round_trip(pieces.frames, limit);
  return 0;
}
