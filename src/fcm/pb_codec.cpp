#include "pb_codec.h"

namespace webpush::fcm::pb_codec {

const Codec& table() noexcept {
  static const Codec kTable = [] {
    Codec codec{};
    add_messages(codec);
    add_checkin(codec);
    return codec;
  }();
  return kTable;
}

}  // namespace webpush::fcm::pb_codec
