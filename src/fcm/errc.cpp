#include "webpush/fcm/errc.h"

namespace webpush::fcm {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::bad_version: return "bad_version";
    case Errc::varint_too_long: return "varint_too_long";
    case Errc::frame_too_large: return "frame_too_large";
    case Errc::bad_message: return "bad_message";
    case Errc::missing_field: return "missing_field";
    case Errc::bad_value: return "bad_value";
    case Errc::bad_response: return "bad_response";
    case Errc::refused: return "refused";
    case Errc::no_codec: return "no_codec";
  }
  return "unknown";
}

}  // namespace webpush::fcm
