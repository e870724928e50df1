// What a trace line makes of a WebSocket frame (webpush/event/trace.h): any
// bytes a service, or anything between it and us, may send. shorten_frame and
// quote_trace_value must not crash, leak or run long; the line must stay one
// line of valid UTF-8, of bounded size; and a string under a secret-like key
// must not survive, wherever the input puts it.
//
// The event layer is not built in a fuzz build: this target compiles its one
// pure file, src/event/trace.cpp, with core (tests/fuzz/meson.build).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "webpush/core/bytes.h"
#include "webpush/core/utf8.h"
#include "webpush/event/trace.h"

namespace trace_frame_fuzz {

using namespace webpush::event;

// A string step may end past kTraceFrameMax by what one shortened string adds:
// at most 128 + 8 bytes kept, the quotes and "…(N)".
constexpr std::size_t kSlack = 256;

void check_line(std::string_view frame) {
  const std::string shortened = shorten_frame(frame);
  if (shortened.size() > kTraceFrameMax + kSlack) __builtin_trap();
  const std::string value = quote_trace_value(shortened);
  if (value.find_first_of("\n\r") != std::string::npos) __builtin_trap();
  if (!webpush::is_valid_utf8(webpush::as_bytes(value))) __builtin_trap();
  (void)notification_version(frame);
}

// The input, made a JSON string's content, as an auth value inside a frame.
void check_secret(std::string_view in) {
  std::string secret;
  for (const char c : in.substr(0, 512)) {
    if (c != '"' && c != '\\') secret += c;
  }
  constexpr std::string_view kBefore = R"({"messageType":"x","keys":[1,{"Auth":")";
  constexpr std::string_view kAfter = R"("}]})";
  // A secret that is part of the frame's own text would be found for that reason.
  if (secret.size() < 8 || kBefore.find(secret) != std::string_view::npos) return;
  const std::string frame = std::string(kBefore) + secret + std::string(kAfter);
  if (shorten_frame(frame).find(secret) != std::string::npos) __builtin_trap();
}

}  // namespace trace_frame_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace trace_frame_fuzz;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_line(in);
  check_secret(in);
  return 0;
}
