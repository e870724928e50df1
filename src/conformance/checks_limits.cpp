// Group "limits".
#include "webpush/conformance/check.h"

namespace webpush::conformance {

std::span<const Check> limits_checks() { return {}; }

}  // namespace webpush::conformance
