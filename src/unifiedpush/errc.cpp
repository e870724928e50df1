#include "webpush/unifiedpush/bus.h"

namespace webpush::unifiedpush {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::bad_request: return "bad_request";
    case Errc::unavailable: return "unavailable";
    case Errc::connector: return "connector";
    case Errc::timeout: return "timeout";
    case Errc::registration: return "registration";
    case Errc::store: return "store";
  }
  return "unknown";
}

std::string_view to_string(FailReason r) noexcept {
  switch (r) {
    case FailReason::internal_error: return "INTERNAL_ERROR";
    case FailReason::network: return "NETWORK";
    case FailReason::vapid_required: return "VAPID_REQUIRED";
  }
  return "INTERNAL_ERROR";
}

}  // namespace webpush::unifiedpush
