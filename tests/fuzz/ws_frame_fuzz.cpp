// The bytes check-service reads from the service under test (ws_wire.h): the
// answer to the upgrade request, then WebSocket frames. The first input byte
// picks the size of the pieces the rest is fed in (as reads would cut it) and
// the decoder's payload limit; the rest goes to parse_upgrade_response and,
// after the head it reports (or from the start), to a FrameDecoder until it
// errors or has nothing left; its first 125 bytes as a Close payload. Nothing
// may crash or leak; what is returned must hold what ws_wire.h promises.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "webpush/conformance/ws_wire.h"

namespace ws_frame_fuzz {

using namespace webpush::conformance;

// RFC 6455 §1.3's key: a head answering it with s3pPLMBiTxaQ9kYGzzhZRbK+xOo= is accepted.
constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";

bool is_control(Opcode op) { return (static_cast<std::uint8_t>(op) & 0x08) != 0; }

bool holds_promises(const Frame& f, std::size_t limit) {
  if (f.payload.size() > limit) return false;
  if (is_control(f.opcode) && (!f.fin || f.payload.size() > 125)) return false;
  const auto op = static_cast<std::uint8_t>(f.opcode);
  return op <= 2 || (op >= 8 && op <= 10);
}

// The upgrade head's size, or 0 (nothing to skip) when it is incomplete or refused.
std::size_t head_size(std::string_view in) {
  auto head = parse_upgrade_response(in, kKey);
  if (!head || !head->has_value()) return 0;
  if ((*head)->status != 101 || (*head)->size > in.size()) __builtin_trap();
  return (*head)->size;
}

// Feeds `in` in pieces of `piece` bytes, taking frames after each, until an error.
void decode(std::string_view in, std::size_t piece, std::size_t limit) {
  FrameDecoder decoder(limit);
  std::size_t fed = 0;
  std::size_t taken = 0;
  while (fed < in.size()) {
    const std::string_view part = in.substr(fed, piece);
    decoder.feed(part);
    fed += part.size();
    for (;;) {
      auto frame = decoder.next();
      if (!frame) return;
      if (!frame->has_value()) break;
      if (!holds_promises(**frame, limit)) __builtin_trap();
      taken += (*frame)->payload.size() + 2;
    }
    if (taken + decoder.buffered() > fed) __builtin_trap();  // bytes out of nowhere
  }
}

}  // namespace ws_frame_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ws_frame_fuzz;
  if (size == 0) return 0;
  const std::size_t piece = 1 + (data[0] & 0x3f) * 7;                            // 1 to 442 bytes a read
  const std::size_t limit = (data[0] & 0x40) != 0 ? 125 : std::size_t{1} << 16;  // a small and a large limit
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  decode(in.substr(head_size(in)), piece, limit);
  // A Close payload reads back into the same bytes.
  const std::string_view close = in.substr(0, 125);
  const CloseInfo info = parse_close_payload(close);
  if (close.size() >= 2 && close_payload(info.code, info.reason) != close) __builtin_trap();
  return 0;
}
