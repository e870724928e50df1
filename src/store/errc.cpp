#include "webpush/store/errc.h"

namespace webpush::store {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::io: return "io";
    case Errc::not_a_database: return "not_a_database";
    case Errc::corrupt: return "corrupt";
    case Errc::newer_schema: return "newer_schema";
    case Errc::old_schema: return "old_schema";
    case Errc::locked: return "locked";
    case Errc::permission: return "permission";
    case Errc::read_only: return "read_only";
    case Errc::constraint: return "constraint";
    case Errc::not_found: return "not_found";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::busy: return "busy";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

}  // namespace webpush::store
