// histogram: the V2 encodings `loadtest merge` reads from other machines'
// logs. Decoding never crashes or claims unbounded memory, and whatever
// decodes encodes to something that decodes to the same counts.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "webpush/load/histogram.h"

namespace {

void check_round_trip(const webpush::load::Histogram& h) {
  auto again = webpush::load::Histogram::decode(h.encode());
  if (!again || again->total() != h.total() || again->max() != h.max()) __builtin_trap();
  if (again->value_at_percentile(99) != h.value_at_percentile(99)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using webpush::load::Histogram;
  if (auto h = Histogram::decode({data, size})) check_round_trip(*h);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto h = Histogram::decode_compressed_base64(text)) check_round_trip(*h);
  return 0;
}
