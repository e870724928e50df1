// The autopush message codec on hostile frames, both directions. Whatever the
// server-side parser accepts must serialize to a frame it accepts again.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "webpush/protocol/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace webpush::protocol;
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  auto server = parse_server_message(frame);
  if (server) (void)serialize(*server);
  auto client = parse_client_message(frame);
  if (client) {
    auto again = parse_client_message(serialize(*client));
    if (!again || again->index() != client->index()) __builtin_trap();
  }
  return 0;
}
