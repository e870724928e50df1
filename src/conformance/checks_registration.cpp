// Group "registration".
#include "webpush/conformance/check.h"

namespace webpush::conformance {

std::span<const Check> registration_checks() { return {}; }

}  // namespace webpush::conformance
