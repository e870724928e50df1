// Group "vapid".
#include "webpush/conformance/check.h"

namespace webpush::conformance {

std::span<const Check> vapid_checks() { return {}; }

}  // namespace webpush::conformance
